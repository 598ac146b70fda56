"""Activations, stable for any finite input (no overflow warnings, no NaN at +-1e4).

Each saves what its derivative needs, usually the output: sigmoid' = y (1 - y),
tanh' = 1 - y^2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import normalize_dim


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) as 0.5 tanh(x / 2) + 0.5: one transcendental, never overflows."""
    out = np.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dL/dx = g y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        ctx.out = _sigmoid(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * y * (1 - y)


class Tanh(Function):
    """y = tanh x;  dL/dx = g (1 - y^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.out = np.tanh(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * (1 - y * y)


class ReLU(Function):
    """y = max(x, 0);  dL/dx = g where x > 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.out = np.maximum(x, 0)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.out > 0)


class LeakyReLU(Function):
    """y = x if x > 0 else a x;  dL/dx = g (1 or a)."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.pos, ctx.slope = x > 0, slope
        return np.where(ctx.pos, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        return np.where(ctx.pos, g, g * ctx.slope), None


class ELU(Function):
    """y = x if x > 0 else a (e^x - 1);  dL/dx = g (1 if x > 0 else y + a)."""

    @staticmethod
    def forward(ctx, x, alpha):
        neg = alpha * np.expm1(np.minimum(x, 0))  # min(): no overflow on the unused branch
        ctx.pos, ctx.alpha = x > 0, alpha
        ctx.out = np.where(ctx.pos, x, neg).astype(x.dtype, copy=False)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return np.where(ctx.pos, g, g * (ctx.out + ctx.alpha)), None


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Function):
    """exact: y = x Phi(x), y' = Phi(x) + x phi(x);
    tanh:  y = x/2 (1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715 x^3)."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            ctx.t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            return 0.5 * x * (1 + ctx.t)
        ctx.cdf = 0.5 * (1 + special.erf(x * _INV_SQRT_2))
        return x * ctx.cdf

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        if ctx.approximate == "tanh":
            t = ctx.t
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        else:
            pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
            d = ctx.cdf + x * pdf
        return g * d, None


class SiLU(Function):
    """y = x sigmoid(x);  dL/dx = g s (1 + x (1 - s))."""

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid(x)
        ctx.x, ctx.s = x, s
        return x * s

    @staticmethod
    def backward(ctx, g):
        s = ctx.s
        return g * s * (1 + ctx.x * (1 - s))


class Softplus(Function):
    """y = ln(1 + e^(b x)) / b (= x where b x > threshold);  dL/dx = g sigmoid(b x)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        bx = x * beta
        ctx.bx, ctx.linear = bx, bx > threshold
        soft = np.logaddexp(0, bx) / beta
        return np.where(ctx.linear, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return np.where(ctx.linear, g, g * _sigmoid(ctx.bx)), None, None


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m);  dL/dx = y (g - sum(g y))."""

    @staticmethod
    def forward(ctx, x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.out, ctx.axis = e, axis
        return e

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        gy = g * y
        return gy - y * gy.sum(axis=ctx.axis, keepdims=True), None


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dL/dx = g - softmax(x) sum(g)."""

    @staticmethod
    def forward(ctx, x, axis):
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def backward(ctx, g):
        return g - np.exp(ctx.out) * g.sum(axis=ctx.axis, keepdims=True), None


# ------------------------------------------------------------------ public functions


def _check_float(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor, got {x.data.dtype}")


def _softmax_axis(input: Tensor, dim: int) -> int | None:
    axis = normalize_dim(dim, input.data.ndim)
    return axis if input.data.ndim else None  # a 0-d tensor: normalize over its one element


def sigmoid(input: Tensor) -> Tensor:
    _check_float(input, "sigmoid")
    return Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    _check_float(input, "tanh")
    return Tanh.apply(input)


def relu(input: Tensor) -> Tensor:
    return ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    _check_float(input, "elu")
    return ELU.apply(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    _check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate)


def silu(input: Tensor) -> Tensor:
    _check_float(input, "silu")
    return SiLU.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    _check_float(input, "softplus")
    return Softplus.apply(input, beta, threshold)


def softmax(input: Tensor, dim: int) -> Tensor:
    _check_float(input, "softmax")
    return Softmax.apply(input, _softmax_axis(input, dim))


def log_softmax(input: Tensor, dim: int) -> Tensor:
    _check_float(input, "log_softmax")
    return LogSoftmax.apply(input, _softmax_axis(input, dim))
