"""Matrix products with PyTorch's (= NumPy's) matmul rules: 1-D, 2-D and broadcast batches."""

from __future__ import annotations

import math

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.ops.activation import RELU_GRAD_INPLACE, relu_inplace
from zengrad.ops.blas_threads import small_product
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


def _linear_forward(x2, w, b):
    """(x2 W^T + b, what _linear_backward needs) for x2 (rows, in): the bias folded into the
    product for wide outputs (FOLD_BIAS_RATIO), else added in place to the fresh output."""
    rows, k = x2.shape
    if b is not None and w.shape[0] >= FOLD_BIAS_RATIO * k > 0 and rows >= FOLD_BIAS_MIN_ROWS:
        xp = backend.xp_of(x2)
        xa = _with_ones(xp, x2)
        wa = xp.empty((w.shape[0], k + 1), w.dtype)
        wa[:, :k] = w
        wa[:, k] = b
        with small_product(rows * (k + 1) * w.shape[0]):
            out = xa @ wa.T
        return out, (xa[:, :k], w, xa)
    with small_product(rows * k * w.shape[0]):
        out = x2 @ w.T
    if b is not None:
        out += b
    return out, (x2, w, None)


def _linear_backward(saved, g2, need_x: bool, need_w: bool, need_b: bool):
    """(dL/dx, dL/dW, dL/db) of _linear_forward for the gradient g2 (rows, out)."""
    x2, w, xa = saved
    with small_product(x2.shape[0] * x2.shape[1] * w.shape[0]):
        gx = g2 @ w if need_x else None
        if xa is not None and need_w and need_b:  # [dW | db] = g^T [x | 1]: one GEMM
            k = x2.shape[1]
            gwb = g2.T @ xa
            return gx, gwb[:, :k].copy(), gwb[:, k].copy()
        gw = g2.T @ x2 if need_w else None
        # the bias gradient as a GEMV 1^T g: 3-6x faster than NumPy's sum over axis 0 here,
        # and BLAS threads it (sum does not)
        gb = backend.xp_of(g2).ones(g2.shape[0], g2.dtype) @ g2 if need_b else None
    return gx, gw, gb


def _rows(a):
    """a (.., n) as one (rows, n) matrix (explicit row count: reshape(-1, 0) is ambiguous
    for n = 0)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1]) if a.ndim != 2 else a


class LinearFn(Function):
    """y = x W^T + b (x (.., in), W (out, in));  dL/dx = g W,  dL/dW = g^T x,  dL/db = 1^T g.

    Wide outputs: y = [x | 1] [W | b]^T and [dL/dW | dL/db] = g^T [x | 1] (FOLD_BIAS_RATIO)."""

    @staticmethod
    def forward(ctx, x, w, b):
        # batched inputs as one (rows, in) matrix: one GEMM, not one per leading index
        out, ctx.saved = _linear_forward(_rows(x), w, b)
        ctx.xshape = x.shape
        return out.reshape(x.shape[:-1] + (w.shape[0],)) if x.ndim != 2 else out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        gx, gw, gb = _linear_backward(ctx.saved, _rows(g), n[0], n[1], n[2])
        return (None if gx is None else gx.reshape(ctx.xshape)), gw, gb


class FeedForwardReLUFn(Function):
    """y = relu(x W1^T + b1) W2^T + b2 (a Transformer's feed-forward block without dropout):
    h = relu(z), dL/dh = g W2, dL/dz = dL/dh [h > 0], then LinearFn's gradients of both.

    One op instead of three: the ReLU runs in place on the fresh first product and its mask
    in place on the fresh dL/dh (two (rows, hidden) arrays fewer a step); the values are those
    of linear, relu, linear."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        ctx.xp = backend.xp_of(x)
        h, ctx.first = _linear_forward(_rows(x), w1, b1)
        relu_inplace(h)
        out, ctx.second = _linear_forward(h, w2, b2)
        ctx.h, ctx.xshape = h, x.shape
        return out.reshape(x.shape[:-1] + (w2.shape[0],)) if x.ndim != 2 else out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        gh, gw2, gb2 = _linear_backward(ctx.second, _rows(g), True, n[3], n[4])
        RELU_GRAD_INPLACE([gh, ctx.h], (0,))  # gh <- gh [h > 0] (gh: this op's own array)
        gx, gw1, gb1 = _linear_backward(ctx.first, gh, n[0], n[1], n[2])
        return (None if gx is None else gx.reshape(ctx.xshape)), gw1, gb1, gw2, gb2


def _check_linear(input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """linear's errors, raised at the call: shapes and dtypes."""
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


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias, with weight (out_features, in_features) as in PyTorch."""
    _check_linear(input, weight, bias)
    return LinearFn.apply(input, weight, bias)


def feed_forward_relu(input: Tensor, w1: Tensor, b1: Tensor | None, w2: Tensor,
                      b2: Tensor | None) -> Tensor:
    """linear(relu(linear(input, w1, b1)), w2, b2) as one op (FeedForwardReLUFn), with
    linear's checks on both layers."""
    _check_linear(input, w1, b1)
    if w2.array.ndim != 2 or w2.array.shape[1] != w1.array.shape[0]:
        raise ValueError(f"linear: the second weight's shape {tuple(w2.shape)} does not take "
                         f"the first's {w1.array.shape[0]} outputs")
    if b2 is not None and b2.array.shape != (w2.array.shape[0],):
        raise ValueError(
            f"linear: bias must have shape ({w2.array.shape[0]},), got {tuple(b2.shape)}"
        )
    if w2.array.dtype != w1.array.dtype:
        raise TypeError(f"linear: weight dtypes {w1.array.dtype} and {w2.array.dtype} differ")
    return FeedForwardReLUFn.apply(input, w1, b1, w2, b2)
