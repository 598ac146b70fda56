"""Gradient clipping (in place, outside the graph) and parameters <-> one flat vector."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from zengrad.autograd.tensor import Tensor, as_array
from zengrad.ops.shape import cat, reshape


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _norm(g: np.ndarray, p: float) -> np.ndarray:
    """||g||_p of the flattened array, in g's dtype."""
    flat = g.reshape(-1)
    if p == 2:
        return np.sqrt(np.dot(flat, flat))
    if math.isinf(p):
        return np.abs(flat).max(initial=0).astype(g.dtype) if p > 0 else np.abs(flat).min()
    if p == 1:
        return np.abs(flat).sum()
    if p == 0:
        return np.asarray(np.count_nonzero(flat), g.dtype)
    return (np.abs(flat) ** p).sum() ** (1.0 / p)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients by min(1, max_norm / (total + 1e-6)), total = ||(||g_i||_p)_i||_p,
    the p-norm of all gradients together; returns total (before clipping) as a Tensor.
    `foreach` is accepted for PyTorch compatibility and ignored."""
    norm_type = float(norm_type)
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor._make(as_array(0.0), False, None)  # tensor(0.), default dtype
    dtype = np.result_type(*grads)
    norms = np.array([_norm(g, norm_type) for g in grads], dtype=dtype)
    total = _norm(norms, norm_type).astype(dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    if coef < 1.0 or not np.isfinite(total):
        for g in grads:
            g *= g.dtype.type(coef)
    return Tensor._make(np.asarray(total), False, None)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    return cat([reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D vec into the parameters' arrays, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, but got: {type(vec).__name__}")
    params = _as_list(parameters)
    total = sum(p.array.size for p in params)
    if vec.array.ndim != 1 or vec.array.size != total:
        raise ValueError(
            f"vector_to_parameters: vec has shape {tuple(vec.shape)} but the parameters "
            f"hold {total} elements; expected shape ({total},)"
        )
    offset = 0
    for p in params:
        n = p.array.size
        np.copyto(p.array, vec.array[offset : offset + n].reshape(p.array.shape), casting="unsafe")
        offset += n
