"""Inverted dropout: zero each element with probability p, scale the rest by 1 / (1 - p)."""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor


class DropoutFn(Function):
    """y = x m / (1 - p), m ~ Bernoulli(1 - p);  dL/dx = g m / (1 - p).

    The saved mask is m / (1 - p) in x's dtype, so backward is one multiply.
    """

    @staticmethod
    def forward(ctx, x, p):
        xp = backend.xp_of(x)
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        keep = backend.rng_for(xp).random(x.shape, dtype=draw_dtype) >= p
        if p >= 1:
            mask = xp.zeros(x.shape, x.dtype)
        else:
            mask = keep.astype(x.dtype)
            mask *= x.dtype.type(1.0 / (1.0 - p))
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout in training (the input itself in eval or when p = 0)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if input.array.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating point tensor, got {input.array.dtype}")
    return DropoutFn.apply(input, float(p))
