"""torch.nn.parallel under zengrad, which computes on one device (the CPU through NumPy):

* DataParallel(module) is what torch's is on a machine without GPUs: a pass-through wrapper
  (forward calls module; its state_dict keys are 'module.<name>', as torch's), warning once
  that there is nothing to spread the batch over.
* data_parallel() needs devices and refuses with a clear error, as torch does without them.
* DistributedDataParallel (distributed.py) averages gradients over the ranks of
  zengrad.distributed (MPI processes).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from zengrad.nn.module import Module
from zengrad.nn.parallel.distributed import DistributedDataParallel


class DataParallel(Module):
    """module replicated over device_ids in torch; here (no GPUs, as torch without them)
    forward(*inputs, **kwargs) = module(*inputs, **kwargs) on the one device. device_ids is
    kept as [] like torch's on such a machine."""

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a zengrad.nn.Module, got "
                            f"{type(module).__name__}")
        warnings.warn(
            "DataParallel: zengrad has no GPUs, so the module runs as it is on one device (as "
            f"torch's DataParallel does on a machine without them); device_ids={device_ids!r} "
            "is not used",
            UserWarning,
            stacklevel=2,
        )
        self.module = module
        self.device_ids: list = []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs: Any, device_ids: Sequence[Any] | None = None,
                  output_device: Any = None, dim: int = 0,
                  module_kwargs: Any = None) -> Any:
    """torch's functional DataParallel: needs an accelerator, so it refuses as torch does."""
    raise RuntimeError("data_parallel: device type could not be determined (zengrad has no "
                       "GPUs); call the module directly, or wrap it in DataParallel")


__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
