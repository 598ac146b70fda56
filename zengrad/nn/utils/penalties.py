"""Weight penalties to add to a loss: l1 = sum_i |w_i|, l2 = sum_i w_i^2 (differentiable).

By default only weights are penalized, meaning parameters with ndim >= 2 (Linear/conv
weights, embeddings); biases and normalization scales (1-D) are left out, as is usual for
weight decay. Pass weight_only=False to include every parameter.
Each penalty is one graph node over all parameters (not two ops per parameter).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module


class L1Penalty(Function):
    """y = sum_k sum_i |w_ki|;  dL/dw_k = g sign(w_k) (0 at 0)."""

    @staticmethod
    def forward(ctx, *ws):
        ctx.ws = ws
        return np.asarray(sum(np.abs(w).sum() for w in ws))

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return tuple(g * np.sign(w) if n[i] else None for i, w in enumerate(ctx.ws))


class L2Penalty(Function):
    """y = sum_k sum_i w_ki^2;  dL/dw_k = 2 g w_k."""

    @staticmethod
    def forward(ctx, *ws):
        ctx.ws = ws
        return np.asarray(sum(np.dot(w.reshape(-1), w.reshape(-1)) for w in ws))

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return tuple((2 * g) * w if n[i] else None for i, w in enumerate(ctx.ws))


def _selected(model_or_params, weight_only: bool) -> list[Tensor]:
    if isinstance(model_or_params, Module):
        params = list(model_or_params.parameters())
    elif isinstance(model_or_params, Tensor):
        params = [model_or_params]
    elif isinstance(model_or_params, Iterable):
        params = list(model_or_params)
    else:
        raise TypeError(
            "expected a Module, a Tensor or an iterable of Tensors, got "
            f"{type(model_or_params).__name__}"
        )
    for p in params:
        if not isinstance(p, Tensor) or p.array.dtype.kind != "f":
            raise TypeError(f"penalties need floating point Tensors, got {p!r:.80}")
    return [p for p in params if p.array.ndim >= 2] if weight_only else params


def _penalty(fn: type[Function], params: list[Tensor]) -> Tensor:
    if not params:
        return Tensor(np.zeros((), backend.get_default_dtype()))
    dtype = np.result_type(*(p.array for p in params))
    out = fn.apply(*params)
    out.array = out.array.astype(dtype, copy=False)
    return out


def l1_penalty(model_or_params: Module | Iterable[Tensor], weight_only: bool = True) -> Tensor:
    """sum |w| over the weights (ndim >= 2) of a module or a parameter list; all parameters
    when weight_only=False. A scalar Tensor to add to a loss: loss + lam * l1_penalty(model)."""
    return _penalty(L1Penalty, _selected(model_or_params, weight_only))


def l2_penalty(model_or_params: Module | Iterable[Tensor], weight_only: bool = True) -> Tensor:
    """sum w^2 over the weights (ndim >= 2), or all parameters when weight_only=False.
    Note: 0.5 * lam * l2_penalty(model) has gradient lam * w, SGD's weight decay."""
    return _penalty(L2Penalty, _selected(model_or_params, weight_only))
