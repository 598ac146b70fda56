"""Batch normalization as one fused op with the closed-form backward.

train: mu, var = mean and biased variance over every axis but C (M values per channel)
       xhat = (x - mu) / sqrt(var + eps),  y = w xhat + b
       dx = (w invstd / M) (M g - sum(g) - xhat sum(g xhat)),  dw = sum(g xhat),  db = sum(g)
       running <- (1 - m) running + m batch  (the variance unbiased: var M / (M - 1))
eval:  the same with the running mean/variance: dx = g w invstd.
"""

from __future__ import annotations

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.args import shape_str


def update_running_stats(running_mean, running_var, mu, var, momentum: float, m: int) -> None:
    """running <- (1 - momentum) running + momentum batch, in place (either may be None);
    the variance unbiased: var m / (m - 1) for m values per channel."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mu
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += (momentum * m / (m - 1)) * var


def affine(xhat, w, b, bshape: tuple):
    """y = w xhat + b per channel (w, b of shape (C,), either may be None): a new array."""
    if w is None:
        return xhat.copy() if b is None else xhat + b.reshape(bshape)
    y = xhat * w.reshape(bshape)
    if b is not None:
        y += b.reshape(bshape)
    return y


class BatchNormFn(Function):
    """y = w (x - mu) / sqrt(var + eps) + b with batch (training) or running statistics."""

    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, training, momentum, eps):
        xp = ctx.xp = backend.xp_of(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        if training:
            mu = x.mean(axis=axes)
            xc = x - mu.reshape(bshape)
            var = xp.mean(xp.square(xc), axis=axes)
            m = x.size // x.shape[1]
            update_running_stats(running_mean, running_var, mu, var, momentum, m)
        else:
            xc = x - running_mean.reshape(bshape)
            var = running_var
        invstd = 1 / xp.sqrt(var + eps)
        xhat = xc
        xhat *= invstd.reshape(bshape)
        ctx.training, ctx.axes, ctx.bshape = training, axes, bshape
        ctx.xhat, ctx.invstd, ctx.w = xhat, invstd, w
        return affine(xhat, w, b, bshape)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        axes, bshape, xhat = ctx.axes, ctx.bshape, ctx.xhat
        needs = ctx.needs_input_grad
        sg = g.sum(axis=axes) if (needs[2] or (needs[0] and ctx.training)) else None
        sgx = xp.sum(g * xhat, axis=axes) if (needs[1] or (needs[0] and ctx.training)) else None
        dx = None
        if needs[0]:
            scale = ctx.invstd if ctx.w is None else ctx.w * ctx.invstd
            if ctx.training:
                m = g.size // g.shape[1]
                # (w invstd) (g - sum(g)/M - xhat sum(g xhat)/M), sums per channel
                dx = xhat * (sgx / m).reshape(bshape)
                xp.subtract(g, dx, out=dx)
                dx -= (sg / m).reshape(bshape)
                dx *= scale.reshape(bshape)
            else:
                dx = g * scale.reshape(bshape)
        dw = sgx if needs[1] else None
        db = sg if needs[2] else None
        return dx, dw, db, None, None, None, None, None


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) of input (N, C, *); in training use the batch statistics
    and update running_mean/running_var in place (when given), else use the running ones."""
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm: input must be a Tensor, got {type(input).__name__}")
    shape = input.array.shape
    if input.array.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape "
            f"{shape_str(shape)}"
        )
    c = shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and (not isinstance(t, Tensor) or t.array.shape != (c,)):
            got = shape_str(t.array.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"batch_norm: {name} must have shape ({c},) to match input of shape "
                f"{shape_str(shape)}, got {got}"
            )
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when not training")
    if training and input.array.size // max(c, 1) <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {shape_str(shape)}"
        )
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
    return BatchNormFn.apply(input, weight, bias, rm, rv, bool(training), momentum, eps)
