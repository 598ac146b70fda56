"""torch.utils.data.distributed: DistributedSampler (served by zengrad.data.sampler)."""

from __future__ import annotations

import importlib

from zengrad.utils.data import forwarding

__getattr__ = forwarding(__name__, importlib.import_module("zengrad.data.sampler"))
