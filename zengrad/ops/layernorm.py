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


class LayerNormFn(Function):
    """y = w (x - mu) / sqrt(var + eps) + b over the trailing normalized dims.

    Speed: every row or column reduction is a matrix-vector product with a constant vector
    (BLAS GEMV, 4-5x faster here than NumPy's sum or einsum over rows of 128), and each
    (rows, K) pass is an in-place or out= ufunc: forward 4 passes, backward 6."""

    @staticmethod
    def forward(ctx, x, w, b, normalized_shape, eps):
        xp = ctx.xp = backend.xp_of(x)
        k = math.prod(normalized_shape)
        x2 = x.reshape(x.size // k, k)  # (not -1: a size-0 batch is allowed)
        dt = x.dtype.type
        mu = x2 @ xp.full(k, dt(1.0 / k), x.dtype)
        xhat = xp.subtract(x2, mu[:, None])
        var = xp.einsum("ij,ij->i", xhat, xhat)[:, None]
        var *= dt(1.0 / k)
        var += dt(eps)
        rstd = xp.sqrt(var, out=var)
        xp.reciprocal(rstd, out=rstd)
        xhat *= rstd
        ctx.xhat, ctx.rstd, ctx.shape, ctx.wshape = xhat, rstd, x.shape, normalized_shape
        ctx.w = None if w is None else w.reshape(k)
        if ctx.w is None:
            y = xhat.copy() if b is None else xhat + b.reshape(k)
        else:
            y = xp.multiply(xhat, ctx.w)
            if b is not None:
                y += b.reshape(k)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        """dxhat = g w; m1 = mean(dxhat) = (g w) 1 / K and m2 = mean(dxhat xhat) =
        (g xhat) w / K per row; dw = 1^T (g xhat), db = 1^T g: four GEMVs, (g xhat) shared."""
        xp = ctx.xp
        xhat, rstd, w = ctx.xhat, ctx.rstd, ctx.w
        rows, k = xhat.shape
        g2 = g.reshape(rows, k)
        n = ctx.needs_input_grad
        dt = g.dtype.type
        dx = dw = db = None
        gx = xp.multiply(g2, xhat) if n[0] or n[1] else None
        if n[1]:
            dw = (xp.ones(rows, g.dtype) @ gx).reshape(ctx.wshape)
        if n[2]:
            db = (xp.ones(rows, g.dtype) @ g2).reshape(ctx.wshape)
        if n[0]:
            inv_k = xp.full(k, dt(1.0 / k), g.dtype)
            dxh = xp.multiply(g2, w) if w is not None else g2.copy()
            m1 = dxh @ inv_k
            m2 = gx @ (inv_k if w is None else w * dt(1.0 / k))
            dxh -= m1[:, None]
            xp.multiply(xhat, m2[:, None], out=gx)
            dxh -= gx
            dxh *= rstd
            dx = dxh.reshape(ctx.shape)
        return dx, dw, db, None, None


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


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape."""
    if not isinstance(input, Tensor):
        raise TypeError(f"layer_norm: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise TypeError(f"layer_norm: expected a floating point tensor, got {input.array.dtype}")
    shape = normalized_shape_of(normalized_shape)
    if input.array.ndim < len(shape) or tuple(input.array.shape[-len(shape):]) != shape:
        raise ValueError(
            f"layer_norm: input of shape {tuple(input.shape)} does not end with normalized_shape "
            f"{list(shape)}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is None:
            continue
        if tuple(p.array.shape) != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape} (normalized_shape), "
                             f"got {tuple(p.shape)}")
        if p.array.dtype != input.array.dtype:
            raise TypeError(f"layer_norm: {name} dtype {p.array.dtype} does not match input dtype "
                            f"{input.array.dtype}")
    return LayerNormFn.apply(input, weight, bias, shape, float(eps))
