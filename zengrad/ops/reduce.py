"""Reductions over dims (int, tuple or None = all) with keepdim, and their backwards.

A reduction's backward spreads g back over the reduced axes: for a sum every input gets g,
for a mean g / n, for max the elements that reached the max.
"""

from __future__ import annotations

import builtins
from typing import NamedTuple

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import normalize_dim, normalize_dims


def _expand_back(g: np.ndarray, axes, keepdim: bool, shape) -> np.ndarray:
    """Reshape a reduced gradient so it broadcasts against the input's shape."""
    if not keepdim and axes is not None and g.ndim != len(shape):
        g = np.expand_dims(g, axes)
    elif axes is None and not keepdim:
        g = g.reshape((1,) * len(shape))
    return g


def _count(shape, axes) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class Sum(Function):
    """y = sum_i x_i over axes;  dL/dx_i = g."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return np.sum(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.shape)
        return np.broadcast_to(g, ctx.shape)


class Mean(Function):
    """y = (1/n) sum_i x_i;  dL/dx_i = g / n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return np.mean(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        n = _count(ctx.shape, ctx.axes)
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.shape)
        return np.broadcast_to(g / builtins.max(n, 1), ctx.shape)


class Prod(Function):
    """y = prod_i x_i;  dL/dx_i = g * prod_{j != i} x_j (exact with zeros, no division)."""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.x, ctx.axis, ctx.keepdim = x, axis, keepdim
        return np.prod(x, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        x, axis = ctx.x, ctx.axis
        if axis is None:
            flat = x.reshape(-1)
            others = _prod_of_others(flat, 0).reshape(x.shape)
            return g.reshape(()) * others if g.ndim == 0 else g.reshape(-1)[0] * others
        others = _prod_of_others(x, axis)
        if not ctx.keepdim:
            g = np.expand_dims(g, axis)
        return g * others


def _prod_of_others(x: np.ndarray, axis: int) -> np.ndarray:
    """prod_{j != i} x_j along axis, as exclusive left and right cumulative products."""
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = np.ones(ones_shape, x.dtype)
    left = np.cumprod(np.concatenate([one, x], axis=axis), axis=axis)
    right = np.flip(
        np.cumprod(np.concatenate([one, np.flip(x, axis)], axis=axis), axis=axis), axis
    )
    n = x.shape[axis]
    return np.take(left, range(n), axis=axis) * np.take(right, range(1, n + 1), axis=axis)


class AMax(Function):
    """y = max over axes; dL/dx = g split evenly among the elements equal to the max."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_min):
        out = (np.amin if is_min else np.amax)(x, axis=axes, keepdims=True)
        ctx.x, ctx.out_k, ctx.axes, ctx.keepdim = x, out, axes, keepdim
        if keepdim:
            return out
        return np.squeeze(out, axis=axes) if axes is not None else out.reshape(())

    @staticmethod
    def backward(ctx, g):
        mask = ctx.x == ctx.out_k
        count = mask.sum(axis=ctx.axes, keepdims=True)
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.x.shape)
        return (mask * (g / count)).astype(g.dtype, copy=False)


class MaxDim(Function):
    """values = x at idx along one dim (idx = argmax/argmin); dL/dx = g at idx (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, idx, axis, keepdim):
        ctx.shape, ctx.idx, ctx.axis, ctx.keepdim = x.shape, idx, axis, keepdim
        values = np.take_along_axis(x, idx, axis)
        return values if keepdim else np.squeeze(values, axis)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.axis)
        gx = np.zeros(ctx.shape, g.dtype)
        np.put_along_axis(gx, ctx.idx, g, ctx.axis)
        return gx, None


class Var(Function):
    """y = sum (x - mean)^2 / (n - correction);  dL/dx = g * 2 (x - mean) / (n - correction)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        mean = np.mean(x, axis=axes, keepdims=True)
        diff = x - mean
        n = _count(x.shape, axes)
        denom = builtins.max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.sum(diff * diff, axis=axes, keepdims=keepdim) / np.asarray(denom, x.dtype)
        ctx.diff, ctx.denom, ctx.axes, ctx.keepdim = diff, denom, axes, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.diff.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * ctx.diff * np.asarray(2 / ctx.denom if ctx.denom else np.inf, g.dtype)


class Std(Function):
    """y = sqrt(var(x));  dL/dx = g / (2 y) * dvar/dx, with 0 where y = 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        out = np.sqrt(Var.forward(ctx, x, axes, correction, keepdim))
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        # a constant slice has y = 0 and an infinite slope; PyTorch masks it to 0
        with np.errstate(divide="ignore", invalid="ignore"):
            gvar = np.where(ctx.out == 0, 0, g / (2 * ctx.out)).astype(g.dtype, copy=False)
        return Var.backward(ctx, gvar)


class LogSumExp(Function):
    """y = m + ln sum exp(x - m) (m = max, for stability);  dL/dx = g * exp(x - y)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        m = np.amax(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.x, ctx.out_k, ctx.axes, ctx.keepdim = x, out, axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.x.shape)
        return g * np.exp(ctx.x - ctx.out_k)


class Norm(Function):
    """y = (sum |x|^p)^(1/p);  dL/dx = g * sign(x) |x|^(p-1) / y^(p-1)  (p = inf: max |x|)."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        a = np.abs(x)
        if p == float("inf"):
            out = np.amax(a, axis=axes, keepdims=True)
        elif p == 2:
            out = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        elif p == 1:
            out = np.sum(a, axis=axes, keepdims=True)
        else:
            out = np.sum(a**p, axis=axes, keepdims=True) ** (1.0 / p)
        ctx.x, ctx.p, ctx.out_k, ctx.axes, ctx.keepdim = x, p, out, axes, keepdim
        if keepdim:
            return out
        return np.squeeze(out, axis=axes) if axes is not None else out.reshape(())

    @staticmethod
    def backward(ctx, g):
        x, p, out = ctx.x, ctx.p, ctx.out_k
        g = _expand_back(g, ctx.axes, ctx.keepdim, x.shape)
        if p == 1:
            return g * np.sign(x)
        if p == float("inf"):
            a = np.abs(x)
            mask = a == out
            count = mask.sum(axis=ctx.axes, keepdims=True).astype(x.dtype)
            return g * np.sign(x) * mask / count
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scale = np.where(out == 0, 0, x / out)
            else:
                scale = np.where(out == 0, 0, np.sign(x) * (np.abs(x) / out) ** (p - 1))
        return (g * scale).astype(x.dtype, copy=False)


# ------------------------------------------------------------------ public functions


def _floating(x: Tensor) -> Tensor:
    if x.data.dtype.kind == "f":
        return x
    return Tensor._make(x.data.astype(backend.get_default_dtype()), False, None)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over dim (int, tuple or None for all)."""
    axes = normalize_dims(dim, input.data.ndim)
    if dtype is not None:
        input = input.to(dtype)
    elif input.data.dtype.kind in "biu":  # integer/bool sums are int64, as in PyTorch
        input = Tensor._make(input.data.astype(np.int64), False, None)
    return Sum.apply(input, axes, keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if input.data.dtype.kind != "f":
        raise TypeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, "
            f"got {input.data.dtype} (use .float() first)"
        )
    return Mean.apply(input, normalize_dims(dim, input.data.ndim), keepdim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    axis = None if dim is None else normalize_dim(dim, input.data.ndim)
    if input.data.ndim == 0:  # dim 0 / -1 of a 0-d tensor: the product of one element
        axis = None
    return Prod.apply(input, axis, keepdim)


class ValuesIndices(NamedTuple):
    values: Tensor
    indices: Tensor


def _max_like(input: Tensor, dim, keepdim: bool, is_min: bool, name: str):
    if input.data.size == 0:
        raise RuntimeError(f"{name}(): expected a non-empty tensor")
    if dim is None:
        return AMax.apply(input, None, False, is_min)
    if isinstance(dim, Tensor):  # max(a, b) elementwise, as torch.max(input, other)
        from zengrad.ops.elementwise import maximum, minimum

        return (minimum if is_min else maximum)(input, dim)
    axis = normalize_dim(dim, input.data.ndim)
    if input.data.ndim == 0:  # max(x, 0) of a 0-d tensor: (x, 0), as in PyTorch
        from zengrad.ops.shape import reshape

        return _max_like(reshape(input, (1,)), 0, False, is_min, name)
    idx = (np.argmin if is_min else np.argmax)(input.data, axis=axis, keepdims=True)
    values = MaxDim.apply(input, idx, axis, keepdim)
    indices = idx if keepdim else np.squeeze(idx, axis)
    return ValuesIndices(values, Tensor._make(indices.astype(np.int64, copy=False), False, None))


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """max(x) -> the largest value; max(x, dim) -> (values, indices); max(x, other) elementwise."""
    return _max_like(input, dim, keepdim, False, "max")


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return _max_like(input, dim, keepdim, True, "min")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    axes = None if dim == () or dim is None else normalize_dims(dim, input.data.ndim)
    return AMax.apply(input, axes, keepdim, False)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    axes = None if dim == () or dim is None else normalize_dims(dim, input.data.ndim)
    return AMax.apply(input, axes, keepdim, True)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    x = input.data
    if dim is None:
        return Tensor._make(np.asarray(np.argmax(x), dtype=np.int64), False, None)
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return Tensor._make(np.zeros((), np.int64), False, None)
    idx = np.argmax(x, axis=axis, keepdims=keepdim)
    return Tensor._make(idx.astype(np.int64, copy=False), False, None)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    x = input.data
    if dim is None:
        return Tensor._make(np.asarray(np.argmin(x), dtype=np.int64), False, None)
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return Tensor._make(np.zeros((), np.int64), False, None)
    idx = np.argmin(x, axis=axis, keepdims=keepdim)
    return Tensor._make(idx.astype(np.int64, copy=False), False, None)


def _correction(unbiased, correction) -> int:
    if correction is not None:
        return int(correction)
    return 1 if unbiased is None or unbiased else 0


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance: sum (x - mean)^2 / (n - correction); unbiased=True means correction=1."""
    return Var.apply(
        _floating(input), normalize_dims(dim, input.data.ndim),
        _correction(unbiased, correction), keepdim,
    )


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation sqrt(var)."""
    return Std.apply(
        _floating(input), normalize_dims(dim, input.data.ndim),
        _correction(unbiased, correction), keepdim,
    )


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    return LogSumExp.apply(_floating(input), normalize_dims(dim, input.data.ndim), keepdim)


def norm(input: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm over dim (all elements when None); p = 'fro' is 2, inf the max |x|."""
    if p == "fro":
        p = 2
    p = float(p)
    if p <= 0:
        raise ValueError(f"norm: p must be positive, got {p}")
    return Norm.apply(_floating(input), p, normalize_dims(dim, input.data.ndim), keepdim)


def all(input: Tensor, dim=None) -> Tensor:  # noqa: A001
    axes = normalize_dims(dim, input.data.ndim)
    return Tensor._make(np.asarray(np.all(input.data, axis=axes)), False, None)


def any(input: Tensor, dim=None) -> Tensor:  # noqa: A001
    axes = normalize_dims(dim, input.data.ndim)
    return Tensor._make(np.asarray(np.any(input.data, axis=axes)), False, None)
