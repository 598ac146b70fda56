"""Group normalization as one fused op with the closed-form backward.

input (N, C, *) viewed as (N, G, M), M = C/G * prod(*): each (n, g) row is normalized alone,
    mu, var = mean and biased variance of the row,  xhat = (x - mu) / sqrt(var + eps)
    y[n, c, ...] = w[c] xhat[n, c, ...] + b[c]
backward, with h = g w (the gradient reaching xhat), sums over each row's M values:
    dx = (invstd / M) (M h - sum(h) - xhat sum(h xhat))
    dw[c] = sum_{n, ...} g xhat,  db[c] = sum_{n, ...} g
No running statistics: training and eval compute the same thing.
"""

from __future__ import annotations

from numbers import Integral, Real

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.args import shape_str
from zengrad.ops.batchnorm import affine

__all__ = ["group_norm"]  # torch.group_norm too
# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {}


class GroupNormFn(Function):
    """y = w (x - mu_g) / sqrt(var_g + eps) + b, statistics per (sample, group)."""

    @staticmethod
    def forward(ctx, x, w, b, groups, eps):
        xp = ctx.xp = backend.xp_of(x)
        n, c = x.shape[:2]
        rows = x.reshape(n, groups, -1)  # (N, G, M); a copy only for non-contiguous x
        mu = rows.mean(axis=2, keepdims=True)
        xhat = rows - mu
        var = xp.mean(xp.square(xhat), axis=2, keepdims=True)
        invstd = 1 / xp.sqrt(var + eps)
        xhat *= invstd
        xhat = xhat.reshape(x.shape)
        bshape = (1, c) + (1,) * (x.ndim - 2)
        ctx.xhat, ctx.invstd, ctx.w, ctx.geom = xhat, invstd, w, (groups, bshape)
        return affine(xhat, w, b, bshape)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        groups, bshape = ctx.geom
        xhat, w = ctx.xhat, ctx.w
        needs = ctx.needs_input_grad
        n, c = g.shape[:2]
        axes = (0,) + tuple(range(2, g.ndim))  # every axis but C
        dx = dw = db = None
        if needs[0]:
            h = g if w is None else g * w.reshape(bshape)
            hr, xr = h.reshape(n, groups, -1), xhat.reshape(n, groups, -1)
            m = hr.shape[2]
            # (invstd / M) (M h - sum(h) - xhat sum(h xhat)), sums over each row
            sh = hr.sum(axis=2, keepdims=True)
            shx = xp.sum(hr * xr, axis=2, keepdims=True)
            dxr = xr * shx
            xp.subtract(hr * m, dxr, out=dxr)
            dxr -= sh
            dxr *= ctx.invstd / m
            dx = dxr.reshape(g.shape)
        if needs[1]:
            dw = xp.sum(g * xhat, axis=axes)
        if needs[2]:
            db = g.sum(axis=axes)
        return dx, dw, db, None, None


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize input (N, C, *) over each group of C/num_groups channels (and all of *),
    per sample: y = w (x - mu) / sqrt(var + eps) + b, biased variance, w and b per channel."""
    if not isinstance(input, Tensor):
        raise TypeError(f"group_norm: input must be a Tensor, got {type(input).__name__}")
    shape = input.array.shape
    if len(shape) < 2:
        raise ValueError(
            f"group_norm: expected an input with at least 2 dims (N, C, ...), got shape "
            f"{shape_str(shape)}"
        )
    if isinstance(num_groups, bool) or not isinstance(num_groups, Integral) or num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    c = shape[1]
    if c % num_groups:
        raise ValueError(
            f"group_norm: expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {shape_str(shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, Tensor) or t.array.shape != (c,)):
            got = shape_str(t.array.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"group_norm: {name} must have shape ({c},) to match input of shape "
                f"{shape_str(shape)}, got {got}"
            )
    dtype = input.array.dtype
    if dtype.kind != "f":
        raise TypeError(f"group_norm: expected a floating-point input, got dtype {dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.array.dtype != dtype:
            raise TypeError(
                f"group_norm: {name} has dtype {t.array.dtype} but the input has {dtype} "
                "(mixed dtypes are refused, as torch)"
            )
    if isinstance(eps, bool) or not isinstance(eps, Real) or eps < 0:
        raise ValueError(f"group_norm: eps must be a non-negative number, got {eps!r}")
    if input.array.size == 0:
        # no (sample, group) row to normalize (N = 0 or an empty spatial dim): an empty result
        # that still carries the graph, as torch returns
        return input * 0.0
    return GroupNormFn.apply(input, weight, bias, int(num_groups), float(eps))
