"""torch.utils.data.dataset: Dataset, TensorDataset, Subset, random_split, ...
(served by zengrad.data.dataset)."""

from __future__ import annotations

import importlib

from zengrad.utils.data import forwarding

__getattr__ = forwarding(__name__, importlib.import_module("zengrad.data.dataset"))
