"""Embedding lookup, y = W[idx], and its backward.

    y[..., :] = W[idx[...], :]
    dW[r] = sum of g[n] over the positions n with idx[n] = r  (0 for r = padding_idx)

The scatter-add of the backward is one sparse (V x N) one-hot matrix product, which sums
the same rows as np.add.at 10-20x faster.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy import sparse

from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor


class EmbeddingFn(Function):
    """y = W[idx];  dW = one_hot(idx)^T g (rows summed per index), padding row zero."""

    @staticmethod
    def forward(ctx, weight, idx, padding_idx):
        ctx.idx, ctx.wshape, ctx.padding_idx = idx, weight.shape, padding_idx
        return np.take(weight, idx, axis=0)

    @staticmethod
    def backward(ctx, g):
        v, d = ctx.wshape
        flat = ctx.idx.reshape(-1)
        n = flat.size
        one_hot = sparse.csr_matrix(
            (np.ones(n, g.dtype), (flat, np.arange(n))), shape=(v, n)
        )
        gw = np.asarray(one_hot @ g.reshape(n, d), dtype=g.dtype)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None


def _indices(input, num_embeddings: int) -> np.ndarray:
    arr = input.array if isinstance(input, Tensor) else np.asarray(input)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (int64), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_embeddings):
        bad = arr[(arr < 0) | (arr >= num_embeddings)]
        raise IndexError(f"embedding: index {int(bad.reshape(-1)[0])} is out of range for "
                         f"{num_embeddings} embeddings (valid: 0..{num_embeddings - 1})")
    return arr


def _padding_index(padding_idx, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, Integral):
        raise TypeError(f"embedding: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"embedding: padding_idx must be within num_embeddings "
                         f"({num_embeddings}), got {padding_idx}")
    return int(padding_idx) % num_embeddings


def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """weight[input]: (*) integer indices into weight (V, D) -> (*, D). padding_idx's row
    gets no gradient (its value is used as it is)."""
    if not isinstance(weight, Tensor) or weight.array.ndim != 2:
        got = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"embedding: weight must be a 2-D Tensor (num_embeddings, "
                         f"embedding_dim), got {got}")
    v = weight.array.shape[0]
    return EmbeddingFn.apply(weight, _indices(input, v), _padding_index(padding_idx, v))
