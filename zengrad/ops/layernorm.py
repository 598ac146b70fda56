"""Layer normalization as one fused op with the closed-form backward.

Over the last K = prod(normalized_shape) values of each row:
    mu = mean(x),  var = mean((x - mu)^2) (biased),  xhat = (x - mu) / sqrt(var + eps)
    y = w xhat + b
    dxhat = g w,  dx = (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) / sqrt(var + eps)
    dw = sum over rows of g xhat,  db = sum over rows of g
"""

from __future__ import annotations

import math
from numbers import Integral

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops import blas_threads
from zengrad.ops.norm_kernels import AFFINE, LAYER_DX, LAYER_DX_FROM_G

# rows per block of the row-wise passes: blocks are cut by shape only (so the bits never depend
# on the thread count), ROW_BLOCKS of them from ROW_SPLIT_MIN elements, one below that. 2
# threads, (2048, 128) float32, alone: forward / backward 0.55x / 0.6x of one unsplit call;
# 1 thread the 4 blocks cost what one call does.
ROW_BLOCKS = 4
ROW_SPLIT_MIN = 1 << 17
# the blocks run on zengrad's threads only from ROW_THREAD_MIN elements, one after another
# below: inside a training step the pool threads compete with OpenBLAS's spinning workers,
# and the encoder step ((2048, 128) norms) at 2 threads took 0.85-0.92x the time with its
# LayerNorm and attention blocks in turn (ab_trees); the cuts, so the bits, stay the same
ROW_THREAD_MIN = 1 << 20


def _row_block(rows: int, k: int) -> int:
    return rows if rows * k < ROW_SPLIT_MIN else -(-rows // ROW_BLOCKS)


def _normalize(ctx, x, r, w, b, normalized_shape, eps):
    """The forward of LayerNormFn on x, or on x + r when r is given (same shape): the sum is
    written straight into xhat's buffer and centred there in place."""
    xp = ctx.xp = backend.xp_of(x)
    k = math.prod(normalized_shape)
    rows = x.size // k  # (not -1: a size-0 batch is allowed)
    x2 = x.reshape(rows, k)
    dt = x.dtype.type
    inv_k = xp.full(k, dt(1.0 / k), x.dtype)
    w1 = None if w is None else w.reshape(k)
    b1 = None if b is None else b.reshape(k)
    xhat = xp.empty((rows, k), x.dtype)
    y = xp.empty((rows, k), x.dtype)
    rstd = xp.empty((rows, 1), x.dtype)
    finish = AFFINE[w1 is not None, b1 is not None]
    affine = [v for v in (w1, b1) if v is not None]

    def block(xb, xhb, yb, rb, *res) -> None:
        if res:
            xp.add(xb, res[0], out=xhb)
            xb = xhb
        mu = xb @ inv_k
        xp.subtract(xb, mu[:, None], out=xhb)
        rb[:, 0] = xp.einsum("ij,ij->i", xhb, xhb)
        rb *= dt(1.0 / k)
        rb += dt(eps)
        xp.sqrt(rb, out=rb)
        xp.reciprocal(rb, out=rb)
        finish([xhb, rb, *affine], (), [yb])  # xhat = c rstd, y = w xhat + b: one pass

    arrays = [x2, xhat, y, rstd] + ([] if r is None else [r.reshape(rows, k)])
    blas_threads.over_threads(block, arrays, _row_block(rows, k), ROW_THREAD_MIN)
    ctx.xhat, ctx.rstd, ctx.shape, ctx.wshape = xhat, rstd, x.shape, normalized_shape
    ctx.w = w1
    return y.reshape(x.shape)


class LayerNormFn(Function):
    """y = w (x - mu) / sqrt(var + eps) + b over the trailing normalized dims.

    Speed: every row or column reduction is a matrix-vector product with a constant vector
    (BLAS GEMV, 4-5x faster here than NumPy's sum or einsum over rows of 128), and the
    elementwise finish of each direction is one fused kernel (ops.norm_kernels): forward 2
    passes (centring, then xhat and y) and backward 3 (g xhat, g w, then dx). Each row is
    normalized on its own, so the passes run over blocks of rows on zengrad's threads
    (blas_threads.over_threads); the column sums of the backward (dw, db) run once over all rows."""

    @staticmethod
    def forward(ctx, x, w, b, normalized_shape, eps):
        return _normalize(ctx, x, None, w, b, normalized_shape, eps)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (*_backward(ctx, g, n[0], n[1], n[2]), None, None)


def _backward(ctx, g, need_x: bool, need_w: bool, need_b: bool):
    """dxhat = g w; m1 = mean(dxhat) = (g w) 1 / K and m2 = mean(dxhat xhat) =
    (g xhat) w / K per row; dw = 1^T (g xhat), db = 1^T g: four GEMVs, (g xhat) shared."""
    xp = ctx.xp
    xhat, rstd, w = ctx.xhat, ctx.rstd, ctx.w
    rows, k = xhat.shape
    g2 = g.reshape(rows, k)
    dt = g.dtype.type
    dx = dw = db = None
    gx = xp.multiply(g2, xhat) if need_w and not need_x else None
    if need_x:
        inv_k = xp.full(k, dt(1.0 / k), g.dtype)
        w_k = inv_k if w is None else w * dt(1.0 / k)
        dx = xp.empty((rows, k), g.dtype)
        gx = xp.empty((rows, k), g.dtype)

        def block(gb, xhb, rb, gxb, dxb) -> None:
            xp.multiply(gb, xhb, out=gxb)
            d = gb if w is None else xp.multiply(gb, w, out=dxb)  # dxhat
            args = [d, xhb, (d @ inv_k)[:, None], (gxb @ w_k)[:, None], rb]
            if w is None:
                LAYER_DX_FROM_G(args, (), [dxb])
            else:
                LAYER_DX(args, ())  # in place over dxhat: one pass

        blas_threads.over_threads(block, [g2, xhat, rstd, gx, dx], _row_block(rows, k),
                                  ROW_THREAD_MIN)
        dx = dx.reshape(ctx.shape)
    if need_w:
        dw = (xp.ones(rows, g.dtype) @ gx).reshape(ctx.wshape)
    if need_b:
        db = (xp.ones(rows, g.dtype) @ g2).reshape(ctx.wshape)
    return dx, dw, db


class AddLayerNormFn(Function):
    """y = LayerNorm(x + r) (a post-LN residual block's sum and norm in one op):
    dL/dx = dL/dr = LayerNormFn's input gradient; the sum x + r is never kept on its own."""

    @staticmethod
    def forward(ctx, x, r, w, b, normalized_shape, eps):
        return _normalize(ctx, x, r, w, b, normalized_shape, eps)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        dx, dw, db = _backward(ctx, g, n[0] or n[1], n[2], n[3])
        return (dx if n[0] else None), (dx if n[1] else None), dw, db, None, None


def normalized_shape_of(normalized_shape) -> tuple[int, ...]:
    try:
        if isinstance(normalized_shape, Integral) and not isinstance(normalized_shape, bool):
            shape = (int(normalized_shape),)
        else:
            shape = tuple(int(n) for n in normalized_shape)
    except TypeError:
        raise TypeError(f"layer_norm: normalized_shape must be an int or a sequence of ints, "
                        f"got {normalized_shape!r}") from None
    if not shape or any(n <= 0 for n in shape):
        raise ValueError(f"layer_norm: normalized_shape must be non-empty with positive sizes, "
                         f"got {normalized_shape!r}")
    return shape


def _checked_shape(who: str, input: Tensor, normalized_shape, weight, bias) -> tuple:
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating point tensor, got {input.array.dtype}")
    shape = normalized_shape_of(normalized_shape)
    if input.array.ndim < len(shape) or tuple(input.array.shape[-len(shape):]) != shape:
        raise ValueError(
            f"{who}: input of shape {tuple(input.shape)} does not end with normalized_shape "
            f"{list(shape)}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is None:
            continue
        if tuple(p.array.shape) != shape:
            raise ValueError(f"{who}: {name} must have shape {shape} (normalized_shape), "
                             f"got {tuple(p.shape)}")
        if p.array.dtype != input.array.dtype:
            raise TypeError(f"{who}: {name} dtype {p.array.dtype} does not match input dtype "
                            f"{input.array.dtype}")
    return shape


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape."""
    shape = _checked_shape("layer_norm", input, normalized_shape, weight, bias)
    return LayerNormFn.apply(input, weight, bias, shape, float(eps))


def add_layer_norm(
    input: Tensor,
    residual: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """layer_norm(input + residual, ...) as one op, for tensors of the same shape and dtype
    (else the sum is made first): the post-LN residual block's add and norm."""
    if (not isinstance(residual, Tensor) or not isinstance(input, Tensor)
            or residual.array.shape != input.array.shape
            or residual.array.dtype != input.array.dtype):
        return layer_norm(input + residual, normalized_shape, weight, bias, eps)
    shape = _checked_shape("layer_norm", input, normalized_shape, weight, bias)
    return AddLayerNormFn.apply(input, residual, weight, bias, shape, float(eps))
