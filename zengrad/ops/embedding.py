"""Embedding lookup, y = W[idx], and its backward.

    y[..., :] = W[idx[...], :]
    dW[r] = c_r * sum of g[n] over the positions n with idx[n] = r  (0 for r = padding_idx)

with c_r = 1, or 1 / count_r (the number of times r occurs in idx) under scale_grad_by_freq.
max_norm renormalizes, before the lookup and outside the graph (as torch), every row that
idx uses whose norm_type-norm exceeds max_norm: W[r] *= max_norm / (||W[r]|| + 1e-7).

The scatter-add of the backward is, on NumPy, one sparse (V x N) one-hot matrix product,
which sums the same rows as np.add.at 10-20x faster; other array modules (CuPy) run their
own scatter-add, xp.add.at.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import sparse as sp

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor

__all__ = ["EmbeddingFn", "check_indices", "embedding", "normalize_padding_idx"]


class EmbeddingFn(Function):
    """y = W[idx];  dW = one_hot(idx)^T g (rows summed per index, divided by the index's
    count under scale_grad_by_freq), padding row zero."""

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq=False):
        xp = ctx.xp = backend.xp_pair("embedding", weight, idx)
        ctx.idx, ctx.wshape, ctx.padding_idx = idx, weight.shape, padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return xp.take(weight, idx, axis=0)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        v, d = ctx.wshape
        flat = ctx.idx.reshape(-1)
        n = flat.size
        if xp is np:
            gw = _sum_rows_host(flat, g.reshape(n, d), v)
        else:
            gw = xp.zeros((v, d), g.dtype)
            xp.add.at(gw, flat, g.reshape(n, d))
        if ctx.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=v).astype(g.dtype)
            gw /= xp.maximum(counts, 1)[:, None]  # unused rows are 0 already
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None, None


def _sum_rows_host(flat: np.ndarray, g2: np.ndarray, v: int) -> np.ndarray:  # host
    """gw[r] = sum of g2[n] over idx[n] = r, on NumPy: one sparse one-hot product."""
    n = flat.size
    one_hot = sp.csr_matrix((np.ones(n, g2.dtype), (flat, np.arange(n))), shape=(v, n))
    return np.asarray(one_hot @ g2, dtype=g2.dtype)


def check_indices(input, num_embeddings: int, xp=np):
    """input's integer array, with every index in 0..num_embeddings-1 (else a clear error);
    indices given as a list or host array are made with xp (the weight's module)."""
    arr = input.array if isinstance(input, Tensor) else xp.asarray(input)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (int64), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_embeddings):
        bad = arr[(arr < 0) | (arr >= num_embeddings)]
        raise IndexError(f"embedding: index {int(bad.reshape(-1)[0])} is out of range for "
                         f"{num_embeddings} embeddings (valid: 0..{num_embeddings - 1})")
    return arr


def normalize_padding_idx(padding_idx, num_embeddings: int) -> int | None:
    """padding_idx in 0..num_embeddings-1 (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, Integral):
        raise TypeError(f"embedding: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"embedding: padding_idx must be within num_embeddings "
                         f"({num_embeddings}), got {padding_idx}")
    return int(padding_idx) % num_embeddings


def _renorm_rows_(weight, idx, max_norm, norm_type) -> None:
    """In place: the rows of weight used by idx with norm > max_norm scaled to max_norm."""
    for name, val in (("max_norm", max_norm), ("norm_type", norm_type)):
        if isinstance(val, bool) or not isinstance(val, Real):
            raise TypeError(f"embedding: {name} must be a number, got {val!r}")
    xp = backend.xp_pair("embedding", weight, idx)
    rows = xp.unique(idx)
    if rows.size == 0:
        return
    norms = xp.linalg.norm(weight[rows], ord=float(norm_type), axis=1)
    over = norms > max_norm
    if over.any():  # the scale in double, as torch's embedding_renorm_
        scale = float(max_norm) / (norms[over].astype(np.float64) + 1e-7)
        weight[rows[over]] *= scale.astype(weight.dtype)[:, None]


def embedding(
    input,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """weight[input]: (*) integer indices into weight (V, D) -> (*, D), as torch's
    F.embedding. padding_idx's row gets no gradient (its value is used as it is); max_norm
    renormalizes the looked-up rows of weight in place first (module docstring);
    scale_grad_by_freq divides each row's gradient by its count in input. sparse=True is
    accepted and gives the same gradient, dense (zengrad has no sparse tensors)."""
    if not isinstance(weight, Tensor) or weight.array.ndim != 2:
        got = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"embedding: weight must be a 2-D Tensor (num_embeddings, "
                         f"embedding_dim), got {got}")
    v = weight.array.shape[0]
    idx = check_indices(input, v, backend.xp_of(weight.array))
    if max_norm is not None:
        _renorm_rows_(weight.array, idx, max_norm, norm_type)
    return EmbeddingFn.apply(weight, idx, normalize_padding_idx(padding_idx, v),
                             bool(scale_grad_by_freq))
