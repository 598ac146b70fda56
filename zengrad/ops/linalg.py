"""Matrix products with PyTorch's (= NumPy's) matmul rules: 1-D, 2-D and broadcast batches."""

from __future__ import annotations

import math

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import promote


class MatMul(Function):
    """Y = A @ B;  dL/dA = G @ B^T,  dL/dB = A^T @ G (batch dims summed where broadcast)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp = backend.xp_pair("matmul", a, b)
        ctx.a, ctx.b = a, b
        return xp.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, b = ctx.a, ctx.b
        n = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is 0-d
            return (g * b if n[0] else None), (g * a if n[1] else None)
        # view 1-D operands as matrices: a (k,) -> (1, k), b (k,) -> (k, 1)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if n[0]:
            ga = xp.matmul(g, xp.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape)
            if ga.shape != a.shape:  # a reshape view would make the engine copy it for a leaf
                ga = ga.reshape(a.shape)
        if n[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # shared weight: one GEMM over all batch rows instead of a batched product
                # explicit row counts: reshape(-1, 0) is ambiguous when k or m is 0
                rows = math.prod(a2.shape[:-1])
                gb = a2.reshape(rows, a2.shape[-1]).T @ g.reshape(rows, g.shape[-1])
            else:
                gb = xp.matmul(xp.swapaxes(a2, -1, -2), g)
                gb = unbroadcast(gb, b2.shape)
            if gb.shape != b.shape:
                gb = gb.reshape(b.shape)
        return ga, gb


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """input @ other: (.., n, k) @ (.., k, m) -> (.., n, m); 1-D operands as vectors."""
    a, b = promote(input, other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul: both operands must be tensors or arrays, not scalars")
    if a.array.dtype == np.bool_ or b.array.dtype == np.bool_:
        raise TypeError("matmul: not implemented for bool tensors (as torch; use .long() first)")
    sa, sb = a.array.shape, b.array.shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(
            f"matmul: both arguments need at least 1 dimension, got shapes {sa} and {sb}"
        )
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
            f"({ka} (last dim of the first) != {kb} "
            f"({'the only' if len(sb) == 1 else 'second-to-last'} dim of the second))"
        )
    if len(sa) > 2 and len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dims of shapes {tuple(sa)} and {tuple(sb)} do not broadcast"
            ) from None
    return MatMul.apply(a, b)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.array.ndim != 2 or mat2.array.ndim != 2:
        raise ValueError(
            f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    if input.array.ndim != 3 or mat2.array.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(
            f"bmm: expected 3-D tensors with equal batch size, got shapes "
            f"{tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return matmul(input, mat2)


# the bias is folded into the product, [x | 1] @ [W | b]^T, when the output is at least
# FOLD_BIAS_RATIO times as wide as the input and there are FOLD_BIAS_MIN_ROWS rows: one GEMM
# (K + 1 deep) instead of the GEMM and a pass over the (rows, out) output, for a copy of the
# narrower input; the backward's [dW | db] is then one GEMM too. 1 thread, x (2048, 128),
# forward: out 384 1582 -> 1497 us, out 512 2199 -> 2036; out 128 546 -> 576 (not folded).
FOLD_BIAS_RATIO = 2
FOLD_BIAS_MIN_ROWS = 256


def _with_ones(xp, a):
    """[a | 1]: a (rows, k) copied into a new (rows, k + 1) array whose last column is 1."""
    rows, k = a.shape
    out = xp.empty((rows, k + 1), a.dtype)
    out[:, :k] = a
    out[:, k] = 1
    return out


class LinearFn(Function):
    """y = x W^T + b (x (.., in), W (out, in));  dL/dx = g W,  dL/dW = g^T x,  dL/db = 1^T g.

    Wide outputs: y = [x | 1] [W | b]^T and [dL/dW | dL/db] = g^T [x | 1] (FOLD_BIAS_RATIO)."""

    @staticmethod
    def forward(ctx, x, w, b):
        # batched inputs as one (rows, in) matrix: one GEMM, not one per leading index
        # (explicit row count: reshape(-1, 0) is ambiguous for in_features = 0)
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1]) if x.ndim != 2 else x
        ctx.w, ctx.xshape = w, x.shape
        rows, k = x2.shape
        if (b is not None and w.shape[0] >= FOLD_BIAS_RATIO * k > 0
                and rows >= FOLD_BIAS_MIN_ROWS):
            xp = backend.xp_of(x2)
            xa = ctx.xa = _with_ones(xp, x2)
            wa = xp.empty((w.shape[0], k + 1), w.dtype)
            wa[:, :k] = w
            wa[:, k] = b
            ctx.x2 = xa[:, :k]
            out = xa @ wa.T
        else:
            ctx.x2, ctx.xa = x2, None
            out = x2 @ w.T
            if b is not None:
                out += b  # out is fresh: add the bias in place
        return out.reshape(x.shape[:-1] + (w.shape[0],)) if x.ndim != 2 else out

    @staticmethod
    def backward(ctx, g):
        x2, w, xa = ctx.x2, ctx.w, ctx.xa
        n = ctx.needs_input_grad
        g2 = g.reshape(math.prod(g.shape[:-1]), g.shape[-1]) if g.ndim != 2 else g
        gx = (g2 @ w).reshape(ctx.xshape) if n[0] else None
        if xa is not None and n[1] and n[2]:  # [dW | db] = g^T [x | 1]: one GEMM
            k = x2.shape[1]
            gwb = g2.T @ xa
            return gx, gwb[:, :k].copy(), gwb[:, k].copy()
        gw = g2.T @ x2 if n[1] else None
        # the bias gradient as a GEMV 1^T g: 3-6x faster than NumPy's sum over axis 0 here,
        # and BLAS threads it (sum does not)
        gb = backend.xp_of(g2).ones(g2.shape[0], g2.dtype) @ g2 if n[2] else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias, with weight (out_features, in_features) as in PyTorch."""
    if weight.array.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    if input.array.ndim == 0 or input.array.shape[-1] != weight.array.shape[1]:
        raise ValueError(
            f"linear: input of shape {tuple(input.shape)} does not match weight of shape "
            f"{tuple(weight.shape)}: the input's last dim must be in_features="
            f"{weight.array.shape[1]}"
        )
    if bias is not None and bias.array.shape != (weight.array.shape[0],):
        raise ValueError(
            f"linear: bias must have shape ({weight.array.shape[0]},), got {tuple(bias.shape)}"
        )
    if input.array.dtype != weight.array.dtype:
        raise TypeError(
            f"linear: input dtype {input.array.dtype} does not match weight dtype "
            f"{weight.array.dtype} (convert with .to(dtype))"
        )
    return LinearFn.apply(input, weight, bias)
