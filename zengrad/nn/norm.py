"""BatchNorm1d and BatchNorm2d over zengrad.ops.batchnorm, GroupNorm over zengrad.ops.groupnorm
(formulas and backward live there).

Buffers as PyTorch: running_mean (zeros), running_var (ones), num_batches_tracked (int64),
all in the state_dict. bias=False (keyword, as torch 2.13) keeps the scale without a shift.
momentum=None averages cumulatively: factor = 1 / num_batches_tracked.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import init
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.nn.placement import layer_device, place
from zengrad.ops.args import shape_str
from zengrad.ops.batchnorm import batch_norm
from zengrad.ops.groupnorm import group_norm


def register_affine(module: Module, affine: bool, shape, dtype: np.dtype, bias: bool) -> None:
    """module.weight = ones(shape) and module.bias = zeros(shape) (None when not bias) when
    affine, else both registered as None: the parameters of the normalization layers."""
    if affine:
        # made on the host: the layers take device="cpu" only (Module.to moves them)
        module.weight = Parameter(np.ones(shape, dtype))  # host
        if bias:
            module.bias = Parameter(np.zeros(shape, dtype))  # host
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(module: Module, affine: bool) -> None:
    """Back to weight = 1 and bias = 0 (what register_affine made), in place."""
    if affine:
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)


class _BatchNorm(Module):
    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        cls = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, Integral):
            raise TypeError(f"{cls}: num_features must be an int, got {num_features!r}")
        if num_features <= 0:
            raise ValueError(f"{cls}: num_features must be positive, got {num_features}")
        device = layer_device(device, cls)
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        register_affine(self, affine, self.num_features, dt, bias)
        if track_running_stats:
            n, buffer = self.num_features, Tensor._make  # the arrays as they are: no cast
            self.register_buffer("running_mean", buffer(np.zeros(n, dt), False, None))  # host
            self.register_buffer("running_var", buffer(np.ones(n, dt), False, None))  # host
            tracked = buffer(np.array(0, np.int64), False, None)  # host
            self.register_buffer("num_batches_tracked", tracked)
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        place(self, device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        reset_affine(self, self.affine)

    def forward(self, input: Tensor) -> Tensor:
        shape = input.array.shape if isinstance(input, Tensor) else None
        if shape is None or len(shape) not in self._ranks or shape[1] != self.num_features:
            got = shape_str(shape) if shape is not None else type(input).__name__
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected input of shape "
                f"{self._layout} with C = {self.num_features}, got input of shape {got}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        # batch statistics in training, and whenever there are no running statistics
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        # in training, buffers that are not tracked must not be updated
        keep = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Normalize each feature of (N, C) or each channel of (N, C, L) over the other dims."""

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Normalize each channel of (N, C, H, W) over (N, H, W)."""

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class GroupNorm(Module):
    """Normalize (N, C, *) over groups of C/num_groups channels per sample (see
    zengrad.ops.groupnorm): y = w (x - mu) / sqrt(var + eps) + b. No running statistics.
    affine=True: weight (ones) and bias (zeros) of shape (C,); bias=False (keyword, as torch
    2.13) keeps the scale without a shift."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for name, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(v, bool) or not isinstance(v, Integral):
                raise TypeError(f"GroupNorm: {name} must be an int, got {v!r}")
            if v <= 0:
                raise ValueError(f"GroupNorm: {name} must be positive, got {v}")
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        device = layer_device(device, "GroupNorm")
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps = eps
        self.affine = affine
        register_affine(self, affine, self.num_channels, dt, bias)
        place(self, device)

    def reset_parameters(self) -> None:
        reset_affine(self, self.affine)

    def forward(self, input: Tensor) -> Tensor:
        shape = input.array.shape if isinstance(input, Tensor) else None
        if shape is None or len(shape) < 2 or shape[1] != self.num_channels:
            got = shape_str(shape) if shape is not None else type(input).__name__
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                f"(N, C, *) with C = {self.num_channels}, got input of shape {got}"
            )
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
