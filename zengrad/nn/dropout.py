"""Dropout layers: inverted dropout while training, the identity in eval mode.

Dropout zeroes single elements; Dropout1d / Dropout2d / Dropout3d zero whole channels (the
feature maps x[n, c]), as torch's F.dropout1d/2d/3d: with one Bernoulli draw per (n, c),

    y[n, c, ...] = x[n, c, ...] m[n, c] / (1 - p),   m[n, c] ~ Bernoulli(1 - p),
    dL/dx[n, c, ...] = g[n, c, ...] m[n, c] / (1 - p).

The channel mask is a constant of shape (N, C, 1, ...) multiplied in by the broadcasting mul
op, so its gradient comes from that op.
"""

from __future__ import annotations

import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.ops.dropout import dropout
from zengrad.ops.inplace import INPLACE_OPS
from zengrad.ops.shape import squeeze, unsqueeze


def _check_p(p) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_dropout(who: str, input: Tensor, p: float, training: bool,
                     inplace: bool = False, unbatched: bool = False) -> Tensor:
    """x * m / (1 - p) with one m ~ Bernoulli(1 - p) per (sample, channel) = dims 0 and 1
    (per channel = dim 0 when unbatched); inplace: x.mul_(m), recorded in the graph."""
    if not training or p == 0:
        return input
    x = input.array
    if x.dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating point tensor, got {x.dtype}")
    if x.ndim < 2 - unbatched:
        raise ValueError(f"{who}: feature dropout requires at least 2 dimensions in the input, "
                         f"got shape {tuple(x.shape)}")
    kept = 1 if unbatched else 2
    mask_shape = x.shape[:kept] + (1,) * (x.ndim - kept)
    # the mask is drawn on the host from the seeded CPU generator (as the factories), then
    # moved to x's device
    if p >= 1:
        mask = np.zeros(mask_shape, x.dtype)  # host
    else:
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        mask = (backend.rng().random(mask_shape, dtype=draw_dtype) >= p).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))
    if type(x) is not np.ndarray:
        mask = backend.to_device(mask, backend.device_of(x))
    if inplace:
        return input.mul_(Tensor._make(mask, False, None))
    return input * Tensor._make(mask, False, None)


def _check_input(who: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(input).__name__}")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout on (N, C, L) or unbatched (C, L) input (module docstring)."""
    _check_p(p)
    _check_input("dropout1d", input)
    nd = input.array.ndim
    if nd not in (2, 3):
        raise ValueError(
            f"dropout1d: Expected 2D or 3D input, but received a {nd}D input (shape "
            f"{tuple(input.array.shape)}). Note that dropout1d exists to provide channel-wise "
            "dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            "batch dimension (i.e. 2D or 3D inputs)."
        )
    if inplace:
        return _feature_dropout("dropout1d", input, p, training, True, nd == 2)
    if nd == 2:
        return squeeze(_feature_dropout("dropout1d", unsqueeze(input, 0), p, training), 0)
    return _feature_dropout("dropout1d", input, p, training)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout on (N, C, H, W). As torch: a 3-D input is read as (N, C, L) (1-D
    channel dropout, with torch's warning), other ranks warn and drop over dims 0 and 1."""
    _check_p(p)
    _check_input("dropout2d", input)
    nd = input.array.ndim
    if nd not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout("dropout2d", input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout on (N, C, D, H, W) or unbatched (C, D, H, W) input."""
    _check_p(p)
    _check_input("dropout3d", input)
    nd = input.array.ndim
    if nd not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if inplace:
        return _feature_dropout("dropout3d", input, p, training, True, nd != 5)
    if nd != 5:
        return squeeze(_feature_dropout("dropout3d", unsqueeze(input, 0), p, training), 0)
    return _feature_dropout("dropout3d", input, p, training)


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        _check_p(p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Training: y = x m / (1 - p), m ~ Bernoulli(1 - p) per element; eval: y = x."""

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:  # the mask multiplied into input (recorded in the graph)
            return INPLACE_OPS["dropout"](input, self.p, self.training)
        return dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p (module
    docstring); eval: y = x."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) input with probability p; a 3-D input is read as
    (N, C, L), as torch does (with its warning); eval: y = x."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout3d(input, self.p, self.training, self.inplace)
