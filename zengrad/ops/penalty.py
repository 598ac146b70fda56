"""Weight penalties over a list of tensors, each one graph node (not two ops per tensor):

    l1 = sum_k sum_i |w_ki|,   dl1/dw_k = sign(w_k)   (0 at 0)
    l2 = sum_k sum_i w_ki^2,   dl2/dw_k = 2 w_k

The result has the tensors' result dtype (float32 weights give a float32 scalar).
nn.utils.l1_penalty / l2_penalty choose which parameters of a model count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor

__all__ = ["L1PenaltyFn", "L2PenaltyFn", "l1_penalty", "l2_penalty"]


class L1PenaltyFn(Function):
    """y = sum_k sum_i |w_ki|;  dL/dw_k = g sign(w_k) (0 at 0)."""

    @staticmethod
    def forward(ctx, dtype, *ws):
        xp = ctx.xp = backend.xp_of_all("l1_penalty", *ws)
        ctx.ws = ws
        return xp.asarray(sum(xp.abs(w).sum() for w in ws)).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        xp = ctx.xp
        return (None, *(g * xp.sign(w) if n[i + 1] else None for i, w in enumerate(ctx.ws)))


class L2PenaltyFn(Function):
    """y = sum_k sum_i w_ki^2;  dL/dw_k = 2 g w_k."""

    @staticmethod
    def forward(ctx, dtype, *ws):
        xp = backend.xp_of_all("l2_penalty", *ws)
        ctx.ws = ws
        total = sum(xp.dot(w.reshape(-1), w.reshape(-1)) for w in ws)
        return xp.asarray(total).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (None, *((2 * g) * w if n[i + 1] else None for i, w in enumerate(ctx.ws)))


def _penalty(who: str, fn: type[Function], tensors: Sequence[Tensor]) -> Tensor:
    tensors = list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor) or t.array.dtype.kind != "f":
            raise TypeError(f"{who}: penalties need floating point Tensors, got {t!r:.80}")
    if not tensors:
        return Tensor(np.zeros((), backend.get_default_dtype()))  # host: no device to take
    return fn.apply(np.result_type(*(t.array.dtype for t in tensors)), *tensors)


def l1_penalty(tensors: Sequence[Tensor]) -> Tensor:
    """sum |w| over all elements of all the tensors (a scalar; 0 for an empty list)."""
    return _penalty("l1_penalty", L1PenaltyFn, tensors)


def l2_penalty(tensors: Sequence[Tensor]) -> Tensor:
    """sum w^2 over all elements of all the tensors (a scalar; 0 for an empty list)."""
    return _penalty("l2_penalty", L2PenaltyFn, tensors)
