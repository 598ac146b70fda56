"""Weight penalties to add to a loss: l1 = sum_i |w_i|, l2 = sum_i w_i^2 (differentiable).

By default only weights are penalized, meaning parameters with ndim >= 2 (Linear/conv
weights, embeddings); biases and normalization scales (1-D) are left out, as is usual for
weight decay. Pass weight_only=False to include every parameter. The sums themselves are
F.l1_penalty / F.l2_penalty (zengrad.ops.penalty): one graph node over all parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

from zengrad.autograd.tensor import Tensor
from zengrad.nn import functional as F
from zengrad.nn.module import Module


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


def l1_penalty(model_or_params: Module | Iterable[Tensor], weight_only: bool = True) -> Tensor:
    """sum |w| over the weights (ndim >= 2) of a module or a parameter list; all parameters
    when weight_only=False. A scalar Tensor to add to a loss: loss + lam * l1_penalty(model)."""
    return F.l1_penalty(_selected(model_or_params, weight_only))


def l2_penalty(model_or_params: Module | Iterable[Tensor], weight_only: bool = True) -> Tensor:
    """sum w^2 over the weights (ndim >= 2), or all parameters when weight_only=False.
    Note: 0.5 * lam * l2_penalty(model) has gradient lam * w, SGD's weight decay."""
    return F.l2_penalty(_selected(model_or_params, weight_only))
