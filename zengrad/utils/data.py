"""zengrad.utils.data: torch.utils.data's names, served by zengrad.data.

`from zengrad.utils.data import DataLoader, Dataset, TensorDataset, random_split` and
`zengrad.utils.data.DataLoader` both work; any other public name of zengrad.data (samplers,
...) is looked up there on first use, so this module never falls behind it.
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


def __getattr__(name: str):
    # names added to zengrad.data later (samplers, IterableDataset, ...) without a list here
    if not name.startswith("_") and hasattr(_data, name):
        return getattr(_data, name)
    raise AttributeError(
        f"module 'zengrad.utils.data' has no attribute {name!r} (zengrad.data does not "
        "provide it either)"
    )
