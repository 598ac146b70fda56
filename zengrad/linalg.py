"""zengrad.linalg, as torch.linalg: vector and matrix norms.

    vector_norm(x, ord=2, dim=None)    (sum_i |x_i|^ord)^(1/ord)   (zengrad.ops.special)
    matrix_norm(A, ord='fro', dim=(-2, -1))
        'fro'   sqrt(sum_ij A_ij^2)                         gradient A / ||A||
        'nuc'   sum of the singular values (A = U S V^T)     gradient U V^T
        2, -2   largest / smallest singular value            gradient u_k v_k^T
        1, -1   max / min over columns of sum_i |A_ij|       (composed of abs, sum, amax)
        inf, -inf   the same over rows
    norm(A, ord=None, dim=None): vector_norm or matrix_norm, chosen as torch does.
"""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import normalize_dim
from zengrad.ops.elementwise import abs as _abs
from zengrad.ops.reduce import amax, amin
from zengrad.ops.reduce import sum as _sum
from zengrad.ops.special import norm_input, vector_norm

__all__ = ["matrix_norm", "norm", "vector_norm"]

_INF = float("inf")


class SingularNorm(Function):
    """Norms of the singular values s of A = U diag(s) V^T (matrices on the last two axes):
    'nuc': y = sum_k s_k,  dL/dA = g U V^T;
    'max'/'min': y = s_1 / s_r,  dL/dA = g u_k v_k^T for that k  (d s_k = u_k^T dA v_k)."""

    @staticmethod
    def forward(ctx, a, which):
        u, s, vh = backend.xp_of(a).linalg.svd(a, full_matrices=False)
        ctx.u, ctx.vh, ctx.which = u, vh, which
        if which == "nuc":
            return s.sum(axis=-1)
        return s[..., 0] if which == "max" else s[..., -1]

    @staticmethod
    def backward(ctx, g):
        u, vh = ctx.u, ctx.vh
        if ctx.which == "nuc":
            d = u @ vh
        else:
            k = 0 if ctx.which == "max" else -1
            d = u[..., :, k, None] * vh[..., None, k, :]
        return (g[..., None, None] * d).astype(g.dtype, copy=False), None


def _matrix_dims(dim, ndim: int, name: str) -> tuple[int, int]:
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ValueError(f"{name}: dim must be a 2-tuple of ints, got {dim!r}")
    if ndim < 2:
        raise ValueError(f"{name}: the input must have at least 2 dimensions, got {ndim}")
    d0, d1 = (normalize_dim(int(d), ndim) for d in dim)
    if d0 == d1:
        raise ValueError(f"{name}: dims must be different, got {tuple(dim)}")
    return d0, d1


def matrix_norm(
    A: Tensor,
    ord: str | float = "fro",
    dim: tuple[int, int] = (-2, -1),
    keepdim: bool = False,
    *,
    dtype=None,
    out=None,
) -> Tensor:
    """A matrix norm of A over the two dims dim (batched over the others), as
    torch.linalg.matrix_norm: ord in 'fro', 'nuc', 2, -2, 1, -1, inf, -inf."""
    name = "linalg.matrix_norm"
    if out is not None:
        raise TypeError(f"{name}: out= is not supported; use the returned tensor")
    x = norm_input(A, dtype, name)
    d0, d1 = _matrix_dims(dim, x.array.ndim, name)
    if ord == "fro":
        return vector_norm(x, 2, (d0, d1), keepdim)
    if ord != "nuc" and (isinstance(ord, (bool, str)) or ord not in (1, -1, 2, -2, _INF, -_INF)):
        raise ValueError(f"{name}: order {ord!r} not supported; use 'fro', 'nuc', 2, -2, 1, "
                         f"-1, inf or -inf")
    if x.array.size == 0:
        # a minimum over no values has no identity: torch refuses these, and so do we
        empty_min = {-2: "singular values", -1: "columns", -_INF: "rows"}.get(ord)
        size = {-2: 0, -1: x.array.shape[d1], -_INF: x.array.shape[d0]}.get(ord)
        if empty_min and size == 0:
            raise ValueError(f"{name}: the {ord} norm of an empty matrix (shape "
                             f"{tuple(x.array.shape)}) is a minimum over no {empty_min}")
        # the others are 0 for an empty matrix (torch's value)
        return _sum(x, dim=(d0, d1), keepdim=keepdim) * 0
    if ord in ("nuc", 2, -2):
        which = "nuc" if ord == "nuc" else ("max" if ord == 2 else "min")
        moved = x.permute(*[i for i in range(x.array.ndim) if i not in (d0, d1)], d0, d1)
        out = SingularNorm.apply(moved, which)
        if keepdim:
            for d in sorted((d0, d1)):
                out = out.unsqueeze(d)
        return out
    # 1: max column sum (sum over rows d0, then max over d1); inf: max row sum
    inner, outer = (d0, d1) if abs(ord) == 1 else (d1, d0)
    sums = _sum(_abs(x), dim=inner, keepdim=True)
    pick = amax if ord > 0 else amin
    out = pick(sums, dim=outer, keepdim=True)
    return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def norm(
    A: Tensor,
    ord: str | float | None = None,
    dim: int | tuple[int, ...] | None = None,
    keepdim: bool = False,
    *,
    out=None,
    dtype=None,
) -> Tensor:
    """torch.linalg.norm: with dim an int (or 1-tuple) a vector norm, with dim a 2-tuple a
    matrix norm; with dim None, ord None is the 2-norm of all elements, and an ord needs a
    1-D (vector) or 2-D (matrix) input."""
    if out is not None:
        raise TypeError("linalg.norm: out= is not supported; use the returned tensor")
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.norm: expected a Tensor as input, got {type(A).__name__}")
    if dim is not None:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims[0], keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise ValueError(f"linalg.norm: if dim is given, it must have length 1 or 2, got "
                         f"{list(dims)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    nd = A.array.ndim
    if nd == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if nd == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: if dim is not given but ord is, the input must be 1-D or "
                     f"2-D, got {nd}-D (pass dim)")

