"""Reductions over dims (int, tuple or None = all) with keepdim, and their backwards.

A reduction's backward spreads g back over the reduced axes: for a sum every input gets g,
for a mean g / n, for max the elements that reached the max.
"""

from __future__ import annotations

import builtins
import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import grad_mode
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import normalize_dim, normalize_dims
from zengrad.ops.elementwise import cast


def _expand_back(g: np.ndarray, axes, keepdim: bool, shape) -> np.ndarray:
    """Reshape a reduced gradient so it broadcasts against the input's shape."""
    if not keepdim and axes is not None and g.ndim != len(shape):
        g = backend.xp_of(g).expand_dims(g, axes)
    elif axes is None and not keepdim:
        g = g.reshape((1,) * len(shape))
    return g


def _count(shape, axes) -> int:  # host
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _mean(x: np.ndarray, axes, keepdims: bool) -> np.ndarray:
    """The mean, but the mean of an empty slice is nan (as torch) without NumPy's warnings."""
    xp = backend.xp_of(x)
    if x.size:
        return xp.mean(x, axis=axes, keepdims=keepdims)
    with backend.errstate(xp, invalid="ignore", divide="ignore"):
        total = xp.sum(x, axis=axes, keepdims=keepdims)
        return xp.true_divide(total, xp.asarray(_count(x.shape, axes), x.dtype))


class Sum(Function):
    """y = sum_i x_i over axes;  dL/dx_i = g."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return xp.sum(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.shape)
        return xp.broadcast_to(g, ctx.shape)


class Mean(Function):
    """y = (1/n) sum_i x_i;  dL/dx_i = g / n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return _mean(x, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        n = _count(ctx.shape, ctx.axes)
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.shape)
        return xp.broadcast_to(g / builtins.max(n, 1), ctx.shape)


class Prod(Function):
    """y = prod_i x_i;  dL/dx_i = g * prod_{j != i} x_j (exact with zeros, no division)."""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        ctx.x, ctx.axis, ctx.keepdim = x, axis, keepdim
        return xp.prod(x, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, axis = ctx.x, ctx.axis
        if axis is None:
            flat = x.reshape(-1)
            others = _prod_of_others(flat, 0).reshape(x.shape)
            return g.reshape(()) * others if g.ndim == 0 else g.reshape(-1)[0] * others
        others = _prod_of_others(x, axis)
        if not ctx.keepdim:
            g = xp.expand_dims(g, axis)
        return g * others


def _prod_of_others(x: np.ndarray, axis: int) -> np.ndarray:
    """prod_{j != i} x_j along axis, as exclusive left and right cumulative products."""
    xp = backend.xp_of(x)
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = xp.ones(ones_shape, x.dtype)
    left = xp.cumprod(xp.concatenate([one, x], axis=axis), axis=axis)
    right = xp.flip(
        xp.cumprod(xp.concatenate([one, xp.flip(x, axis)], axis=axis), axis=axis), axis
    )
    n = x.shape[axis]
    return xp.take(left, xp.arange(n), axis=axis) * xp.take(right, xp.arange(1, n + 1), axis=axis)


class AMax(Function):
    """y = max over axes; dL/dx = g split evenly among the elements equal to the max."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_min):
        xp = ctx.xp = backend.xp_of(x)
        out = (xp.amin if is_min else xp.amax)(x, axis=axes, keepdims=True)
        ctx.x, ctx.out_k, ctx.axes, ctx.keepdim = x, out, axes, keepdim
        if keepdim:
            return out
        return xp.squeeze(out, axis=axes) if axes is not None else out.reshape(())

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
        xp = ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.idx, ctx.axis, ctx.keepdim = x.shape, idx, axis, keepdim
        values = xp.take_along_axis(x, idx, axis)
        return values if keepdim else xp.squeeze(values, axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        if not ctx.keepdim:
            g = xp.expand_dims(g, ctx.axis)
        gx = xp.zeros(ctx.shape, g.dtype)
        xp.put_along_axis(gx, ctx.idx, g, ctx.axis)
        return gx, None


class Var(Function):
    """y = sum (x - mean)^2 / (n - correction);  dL/dx = g * 2 (x - mean) / (n - correction)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        mean = _mean(x, axes, True)
        diff = x - mean
        n = _count(x.shape, axes)
        denom = builtins.max(n - correction, 0)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            out = xp.sum(diff * diff, axis=axes, keepdims=keepdim) / xp.asarray(denom, x.dtype)
        ctx.diff, ctx.denom, ctx.axes, ctx.keepdim = diff, denom, axes, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.diff.shape)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            return g * ctx.diff * xp.asarray(2 / ctx.denom if ctx.denom else np.inf, g.dtype)


class Std(Function):
    """y = sqrt(var(x));  dL/dx = g / (2 y) * dvar/dx, with 0 where y = 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        out = xp.sqrt(Var.forward(ctx, x, axes, correction, keepdim))
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, g):
        # a constant slice has y = 0 and an infinite slope; PyTorch masks it to 0
        xp = ctx.xp
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            gvar = xp.where(ctx.out == 0, 0, g / (2 * ctx.out)).astype(g.dtype, copy=False)
        return Var.backward(ctx, gvar)


class LogSumExp(Function):
    """y = m + ln sum exp(x - m) (m = max, for stability);  dL/dx = g * exp(x - y)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        # initial=-inf: a reduction over a size-0 dim is log(0) = -inf (torch), not an error
        xp = ctx.xp = backend.xp_of(x)
        m = xp.amax(x, axis=axes, keepdims=True, initial=-np.inf)
        m = xp.where(xp.isfinite(m), m, 0)
        with backend.errstate(xp, divide="ignore"):
            out = xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.x, ctx.out_k, ctx.axes, ctx.keepdim = x, out, axes, keepdim
        return out if keepdim else xp.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        g = _expand_back(g, ctx.axes, ctx.keepdim, ctx.x.shape)
        return g * xp.exp(ctx.x - ctx.out_k)


class Norm(Function):
    """y = (sum |x|^p)^(1/p);  dL/dx = g * sign(x) |x|^(p-1) / y^(p-1)
    (p = inf: max |x|, -inf: min |x|, the gradient split among ties; p = 0: the count of
    nonzeros, gradient 0; p < 0 by the same formula, 0 where y = 0)."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        a = xp.abs(x)
        if p == float("inf"):
            out = xp.amax(a, axis=axes, keepdims=True)
        elif p == float("-inf"):
            out = xp.amin(a, axis=axes, keepdims=True)
        elif p == 2:
            out = xp.sqrt(xp.sum(x * x, axis=axes, keepdims=True))
        elif p == 1:
            out = xp.sum(a, axis=axes, keepdims=True)
        elif p == 0:
            out = xp.sum(a != 0, axis=axes, keepdims=True).astype(x.dtype)
        else:
            # p < 0: |0|^p = inf makes y = 0, as torch, without a warning
            with backend.errstate(xp, divide="ignore", over="ignore"):
                out = xp.sum(a**p, axis=axes, keepdims=True) ** (1.0 / p)
        ctx.x, ctx.p, ctx.out_k, ctx.axes, ctx.keepdim = x, p, out, axes, keepdim
        if keepdim:
            return out
        return xp.squeeze(out, axis=axes) if axes is not None else out.reshape(())

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, p, out = ctx.x, ctx.p, ctx.out_k
        g = _expand_back(g, ctx.axes, ctx.keepdim, x.shape)
        if p == 1:
            return g * xp.sign(x)
        if p == 0:
            return xp.zeros(x.shape, g.dtype)
        if p in (float("inf"), float("-inf")):
            a = xp.abs(x)
            mask = a == out
            count = mask.sum(axis=ctx.axes, keepdims=True).astype(x.dtype)
            return g * xp.sign(x) * mask / count
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 2:
                scale = xp.where(out == 0, 0, x / out)
            else:
                scale = xp.where(out == 0, 0, xp.sign(x) * (xp.abs(x) / out) ** (p - 1))
        return (g * scale).astype(x.dtype, copy=False)


class NuclearNorm(Function):
    """y = sum of the singular values of each matrix over the two axes;
    dL/dA = g U V^T (A = U diag(s) V^T, the thin SVD)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        m = xp.moveaxis(x, axes, (-2, -1))
        if m.size == 0:
            out = xp.zeros(m.shape[:-2], x.dtype)
            ctx.uv = xp.zeros(m.shape, x.dtype)
        else:
            try:
                u, sv, vh = xp.linalg.svd(m, full_matrices=False)
            except np.linalg.LinAlgError:
                raise ValueError(
                    "norm(p='nuc'): the SVD did not converge (does the input hold inf or nan?)"
                ) from None
            out = sv.sum(axis=-1)
            ctx.uv = u @ vh
        ctx.axes, ctx.keepdim = axes, keepdim
        return xp.expand_dims(out, axes) if keepdim else out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        if ctx.keepdim:
            g = xp.squeeze(g, axis=ctx.axes)
        return xp.moveaxis(g[..., None, None] * ctx.uv, (-2, -1), ctx.axes)


# ------------------------------------------------------------------ public functions


def _reduced_axes(dim, ndim: int):
    """normalize_dims for sum/mean/var/std/norm: an empty dim list or tuple means every dim
    there, as in torch (all/any instead reduce nothing, also as torch)."""
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        return None
    return normalize_dims(dim, ndim)


def _apply(fn: type[Function], x: Tensor, *args) -> Tensor:
    """fn.apply(x, *args); float16 is accumulated in float32 and rounded once, as torch does
    (a float16 running sum loses digits)."""
    if x.array.dtype == np.float16:
        return cast(fn.apply(cast(x, np.float32), *args), np.float16)
    return fn.apply(x, *args)


def _floating(x: Tensor) -> Tensor:
    if x.array.dtype.kind == "f":
        return x
    return Tensor._make(x.array.astype(backend.get_default_dtype()), False, None)


def _reduce_dtype(name: str, input: Tensor, dtype) -> Tensor:
    """input cast to dtype= before reducing, as torch; refuses to cut a gradient silently."""
    dt = np.dtype(dtype)
    if dt == input.array.dtype:
        return input
    if dt.kind not in "fc" and input.requires_grad and grad_mode.enabled:
        raise RuntimeError(
            f"{name}(): dtype={dt} cannot carry a gradient and the input requires grad "
            f"(as torch; pass a floating dtype or detach the input)"
        )
    return input.to(dt)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """y = sum of x over dim (int, tuple or None for all); dtype= casts x first."""
    xp = backend.xp_of(input.array)
    axes = None if dim is None else _reduced_axes(dim, input.array.ndim)
    if dtype is not None:
        input = _reduce_dtype("sum", input, dtype)
        dt = input.array.dtype
        if dt.kind in "biu":  # no gradient; accumulate in dtype itself (NumPy would widen)
            out = xp.sum(input.array, axis=axes, keepdims=keepdim, dtype=dt)
            return Tensor._make(xp.asarray(out, dtype=dt), False, None)
    elif input.array.dtype.kind in "biu":  # integer/bool sums are int64, as in PyTorch
        input = Tensor._make(input.array.astype(np.int64), False, None)
    if input.array.dtype == np.float16:
        return _apply(Sum, input, axes, keepdim)
    return Sum.apply(input, axes, keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """y = sum of x over dim / n; dtype= (floating) casts x first."""
    if dtype is not None:
        if np.dtype(dtype).kind not in "fc":
            raise TypeError(
                f"mean(): could not infer output dtype. Optional dtype must be either a "
                f"floating point or complex dtype, got {np.dtype(dtype)}"
            )
        input = _reduce_dtype("mean", input, dtype)
    if input.array.dtype.kind not in "fc":
        raise TypeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, "
            f"got {input.array.dtype} (use .float() first, or pass dtype=)"
        )
    axes = None if dim is None else _reduced_axes(dim, input.array.ndim)
    if input.array.dtype == np.float16:
        return _apply(Mean, input, axes, keepdim)
    return Mean.apply(input, axes, keepdim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """y = product of x over one dim (or all); integer/bool inputs give int64, as torch."""
    xp = backend.xp_of(input.array)
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
        raise TypeError(
            f"prod(): argument 'dim' must be an int (torch's prod reduces one dim), got {dim!r}"
        )
    if dtype is not None:
        input = _reduce_dtype("prod", input, dtype)
    elif input.array.dtype.kind in "biu":
        input = Tensor._make(input.array.astype(np.int64), False, None)
    axis = None if dim is None else normalize_dim(dim, input.array.ndim)
    if input.array.ndim == 0:  # dim 0 / -1 of a 0-d tensor: the product of one element
        axis = None
    dt = input.array.dtype
    if dt.kind in "biu":  # no gradient; multiply in dtype itself (NumPy would widen)
        out = xp.prod(input.array, axis=axis, keepdims=keepdim, dtype=dt)
        return Tensor._make(xp.asarray(out, dtype=dt), False, None)
    return Prod.apply(input, axis, keepdim)  # float16 multiplies in float16, as torch


class ValuesIndices(NamedTuple):
    values: Tensor
    indices: Tensor


def _max_like(input: Tensor, dim, keepdim: bool, is_min: bool, name: str):
    xp = backend.xp_of(input.array)
    if isinstance(dim, Tensor):  # max(a, b) elementwise, as torch.max(input, other)
        from zengrad.ops.elementwise import maximum, minimum

        return (minimum if is_min else maximum)(input, dim)
    if input.array.size == 0:
        raise RuntimeError(f"{name}(): expected a non-empty tensor")
    if dim is None:
        return AMax.apply(input, None, False, is_min)
    axis = normalize_dim(dim, input.array.ndim)
    if input.array.ndim == 0:  # max(x, 0) of a 0-d tensor: (x, 0), as in PyTorch
        from zengrad.ops.shape import reshape

        return _max_like(reshape(input, (1,)), 0, False, is_min, name)
    idx = (xp.argmin if is_min else xp.argmax)(input.array, axis=axis, keepdims=True)
    values = MaxDim.apply(input, idx, axis, keepdim)
    indices = idx if keepdim else xp.squeeze(idx, axis)
    return ValuesIndices(values, Tensor._make(indices.astype(np.int64, copy=False), False, None))


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """max(x) -> the largest value; max(x, dim) -> (values, indices); max(x, other) elementwise."""
    return _max_like(input, dim, keepdim, False, "max")


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return _max_like(input, dim, keepdim, True, "min")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    axes = None if dim == () or dim is None else normalize_dims(dim, input.array.ndim)
    return AMax.apply(input, axes, keepdim, False)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    axes = None if dim == () or dim is None else normalize_dims(dim, input.array.ndim)
    return AMax.apply(input, axes, keepdim, True)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    xp = backend.xp_of(input.array)
    x = input.array
    if x.dtype == np.bool_:
        raise TypeError("argmax(): does not support bool input (as torch; use .long() first)")
    if dim is None:
        return Tensor._make(xp.asarray(xp.argmax(x), dtype=np.int64), False, None)
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), np.int64), False, None)
    idx = xp.argmax(x, axis=axis, keepdims=keepdim)
    return Tensor._make(idx.astype(np.int64, copy=False), False, None)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    xp = backend.xp_of(input.array)
    x = input.array
    if x.dtype == np.bool_:
        raise TypeError("argmin(): does not support bool input (as torch; use .long() first)")
    if dim is None:
        return Tensor._make(xp.asarray(xp.argmin(x), dtype=np.int64), False, None)
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), np.int64), False, None)
    idx = xp.argmin(x, axis=axis, keepdims=keepdim)
    return Tensor._make(idx.astype(np.int64, copy=False), False, None)


def _var_args(name: str, input: Tensor, dim, unbiased, correction):
    """torch's var/std overloads -> (floating input, axes, correction).

    var(x, True) is the old var(input, unbiased) overload: a bool where dim goes is
    `unbiased`, not dim 1. correction may be fractional (n - 0.5)."""
    if isinstance(dim, (bool, np.bool_)):
        if unbiased is not None:
            raise TypeError(
                f"{name}(): got bools for both dim and unbiased; pass dim as an int or tuple, "
                f"e.g. {name}(x, 0, True)"
            )
        dim, unbiased = None, bool(dim)
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{name}(): pass either unbiased or correction, not both")
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(
                f"{name}(): argument 'unbiased' must be a bool, not {type(unbiased).__name__}"
            )
        correction = 1 if unbiased else 0
    elif correction is None:
        correction = 1
    elif isinstance(correction, Tensor) or not isinstance(correction, numbers.Real):
        raise TypeError(
            f"{name}(): argument 'correction' must be a number, not {type(correction).__name__}"
        )
    if input.array.dtype.kind not in "fc":
        raise TypeError(
            f"{name}(): std and var only support floating point and complex dtypes, got "
            f"{input.array.dtype} (use .float() first)"
        )
    axes = _reduced_axes(dim, input.array.ndim)
    if _count(input.array.shape, axes) - correction <= 0:
        # the result is inf or nan; torch says why with this warning
        warnings.warn(
            f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
            f"reduction factor (input numel divided by output numel).",
            UserWarning,
            stacklevel=3,
        )
    return input, axes, correction


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance: sum (x - mean)^2 / max(n - correction, 0); unbiased=True is correction=1."""
    x, axes, c = _var_args("var", input, dim, unbiased, correction)
    return _apply(Var, x, axes, c, keepdim)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation sqrt(var)."""
    x, axes, c = _var_args("std", input, dim, unbiased, correction)
    return _apply(Std, x, axes, c, keepdim)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var(x), mean(x)) over the same dims, as torch.var_mean."""
    x, axes, c = _var_args("var_mean", input, dim, unbiased, correction)
    return _apply(Var, x, axes, c, keepdim), _apply(Mean, x, axes, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std(x), mean(x)) over the same dims, as torch.std_mean."""
    x, axes, c = _var_args("std_mean", input, dim, unbiased, correction)
    return _apply(Std, x, axes, c, keepdim), _apply(Mean, x, axes, keepdim)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """y = log sum_i exp(x_i) over dim, computed stably (-inf over a size-0 dim)."""
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        raise ValueError("logsumexp: dim=() reduces nothing; pass the dims to reduce (as torch)")
    # float16 stays float16 throughout: torch composes logsumexp from float16 ops
    return LogSumExp.apply(_floating(input), normalize_dims(dim, input.array.ndim), keepdim)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The p-norm (sum |x|^p)^(1/p) over dim (all elements when None); inf is max |x|.

    'fro' is the 2-norm over dim (None, one dim or two); 'nuc' the nuclear norm (sum of
    singular values) of the matrices over two dims (dim=None only for a 2-D input)."""
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind not in "fc":
        raise TypeError(
            f"norm: expected a floating point or complex tensor as input, got "
            f"{input.array.dtype} (as torch; use .float() or dtype=)"
        )
    x = input
    ndim = x.array.ndim
    if isinstance(p, str):
        ndims = None if dim is None else (1 if isinstance(dim, (int, np.integer)) else len(dim))
        if p == "fro":
            if ndims is not None and ndims > 2:
                raise ValueError(
                    f"norm(p='fro'): dim must be None, one dim or two dims, got {dim}"
                )
            return _apply(Norm, x, 2.0, _reduced_axes(dim, ndim), keepdim)
        if p == "nuc":
            if dim is None and ndim != 2:
                raise ValueError(
                    f"norm(p='nuc'): with dim=None the input must be 2-D, got shape "
                    f"{tuple(x.shape)} (pass dim=(row_dim, col_dim))"
                )
            if ndims is not None and ndims != 2:
                raise ValueError(f"norm(p='nuc'): dim must be two dims, got {dim}")
            axes = (0, 1) if dim is None else normalize_dims(dim, ndim)
            if x.array.dtype == np.float16:
                raise TypeError("norm(p='nuc'): float16 is not supported (as torch); use .float()")
            return NuclearNorm.apply(x, axes, keepdim)
        raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    if isinstance(p, Tensor) or not isinstance(p, numbers.Real):
        raise TypeError(f"norm: p must be a number, 'fro' or 'nuc', got {type(p).__name__}")
    p = float(p)
    if math.isnan(p):
        raise ValueError("norm: p must be a number, got nan")
    axes = _reduced_axes(dim, ndim)
    if math.isinf(p) and _count(x.array.shape, axes) == 0 and x.array.size == 0:
        raise ValueError(
            f"norm: the {p} norm of an empty tensor is undefined (max/min of no elements; as "
            f"torch), input shape {tuple(x.shape)}"
        )
    return _apply(Norm, x, p, axes, keepdim)


def _logical_reduce(fn, input: Tensor, dim, keepdim: bool) -> Tensor:
    x = input.array
    xp = backend.xp_of(x)
    out = xp.asarray(getattr(xp, fn)(x, axis=normalize_dims(dim, x.ndim), keepdims=keepdim))
    # uint8 in, uint8 out (torch keeps that legacy); every other dtype gives bool
    return Tensor._make(out.astype(np.uint8) if x.dtype == np.uint8 else out, False, None)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element over dim (int, tuple or None for all) is nonzero."""
    return _logical_reduce("all", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element over dim (int, tuple or None for all) is nonzero."""
    return _logical_reduce("any", input, dim, keepdim)
