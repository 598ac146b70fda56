"""SyncBatchNorm: BatchNorm over (N, C, *) whose training statistics span every rank of
zengrad.distributed (the math is in zengrad.distributed.batchnorm).

Outside training, or without a process group of more than one rank, it is plain batch norm,
as torch's. Parameters and buffers are BatchNorm's, so state_dicts load either way;
convert_sync_batchnorm swaps the BatchNorm layers of a model for SyncBatchNorm ones.
"""

from __future__ import annotations

from typing import Any

from zengrad import distributed as dist
from zengrad.autograd.tensor import Tensor
from zengrad.distributed.batchnorm import sync_batch_norm
from zengrad.nn.module import Module
from zengrad.nn.norm import _BatchNorm
from zengrad.ops.batchnorm import batch_norm
from zengrad.ops.conv import shape_str


class SyncBatchNorm(_BatchNorm):
    """Normalize each channel of (N, C, *) over N and the other dims of all ranks' batches."""

    _layout = "(N, C, *)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        shape = input.array.shape if isinstance(input, Tensor) else None
        if shape is None or len(shape) < 2 or shape[1] != self.num_features:
            got = shape_str(shape) if shape is not None else type(input).__name__
            raise ValueError(
                f"SyncBatchNorm({self.num_features}): expected input of shape (N, C, *) with "
                f"C = {self.num_features}, got input of shape {got}"
            )
        sync = (self.training and dist.is_initialized()
                and dist.get_world_size(self.process_group) > 1)
        if not sync:
            return self._plain(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
            rm, rv = self.running_mean, self.running_var
        else:
            rm = rv = None
        return sync_batch_norm(input, rm, rv, self.weight, self.bias, factor, self.eps)

    def _plain(self, input: Tensor) -> Tensor:
        """BatchNorm on this rank's batch alone (as _BatchNorm.forward, any rank >= 2)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if keep else None,
                          self.running_var if keep else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """module with every BatchNorm*d replaced (recursively) by a SyncBatchNorm holding the
        same parameters (the same Parameter objects, as torch), buffers, training flag and
        requires_grad; a BatchNorm module itself comes back converted."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


__all__ = ["SyncBatchNorm"]
