"""zengrad.utils.data: torch.utils.data's names, served by zengrad.data.

`from zengrad.utils.data import DataLoader, Dataset, TensorDataset, random_split` and
`zengrad.utils.data.DataLoader` both work; any other public name of zengrad.data (samplers,
...) is looked up there on first use, so this module never falls behind it. torch's
submodules that programs import from (`torch.utils.data.dataset`, `.dataloader`,
`.sampler`) forward to zengrad.data's modules the same way.
"""

from __future__ import annotations

from zengrad import data as _data
from zengrad.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)

__all__ = [
    "ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate",
    "random_split",
]


def forwarding(module_name: str, source):
    """A module __getattr__ (PEP 562) that serves the public names of `source` (a module):
    names added there later need no list here."""

    def __getattr__(name: str):
        if not name.startswith("_") and hasattr(source, name):
            return getattr(source, name)
        raise AttributeError(
            f"module {module_name!r} has no attribute {name!r} ({source.__name__} does not "
            "provide it either)"
        )

    return __getattr__


__getattr__ = forwarding(__name__, _data)
