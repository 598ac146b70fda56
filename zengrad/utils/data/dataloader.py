"""torch.utils.data.dataloader: DataLoader, default_collate, ... (served by zengrad.data.loader)."""

from __future__ import annotations

import importlib

from zengrad.utils.data import forwarding

__getattr__ = forwarding(__name__, importlib.import_module("zengrad.data.loader"))
