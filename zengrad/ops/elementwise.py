"""Elementwise ops. Each Function states y = f(a, b) and its backward dL/da, dL/db.

Broadcast operands get their gradient summed back to their shape by `unbroadcast`.
Backwards never write into the incoming gradient: it may be shared.
"""

from __future__ import annotations

import numpy as np

from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import as_tensor_operand, broadcast_shapes, promote, shape_of

# ----------------------------------------------------------------- binary arithmetic


class Add(Function):
    """y = a + b;  dL/da = g,  dL/db = g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.sa, ctx.sb = shape_of(a), shape_of(b)
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (
            unbroadcast(g, ctx.sa) if n[0] else None,
            unbroadcast(g, ctx.sb) if n[1] else None,
        )


class Sub(Function):
    """y = a - b;  dL/da = g,  dL/db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.sa, ctx.sb = shape_of(a), shape_of(b)
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (
            unbroadcast(g, ctx.sa) if n[0] else None,
            unbroadcast(-g, ctx.sb) if n[1] else None,
        )


class Mul(Function):
    """y = a * b;  dL/da = g * b,  dL/db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        return (
            unbroadcast(g * b, shape_of(a)) if n[0] else None,
            unbroadcast(g * a, shape_of(b)) if n[1] else None,
        )


class Div(Function):
    """y = a / b;  dL/da = g / b,  dL/db = -g * a / b^2 = -(g / b) * y."""

    @staticmethod
    def forward(ctx, a, b):
        out = np.true_divide(a, b)
        ctx.sa, ctx.b, ctx.out = shape_of(a), b, out
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        ga = g / ctx.b
        return (
            unbroadcast(ga, ctx.sa) if n[0] else None,
            unbroadcast(-ga * ctx.out, shape_of(ctx.b)) if n[1] else None,
        )


class Pow(Function):
    """y = a ** b;  dL/da = g * b * a^(b-1),  dL/db = g * y * ln(a) (0 where a = 0, b >= 0)."""

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.a, ctx.b, ctx.out = a, b, out
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b, out = ctx.a, ctx.b, ctx.out
        ga = gb = None
        if n[0]:
            if isinstance(b, (int, float)) and b == 2:
                ga = g * (2 * a)
            elif isinstance(b, (int, float)) and b == 0:
                ga = unbroadcast(np.zeros_like(g), shape_of(a))
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ga = g * (b * np.power(a, b - 1))
                if not isinstance(b, (int, float)):
                    # b = 0 gives 0 * a^-1 = nan at a = 0; the true slope is 0 (as PyTorch)
                    ga = np.where(b == 0, 0, ga).astype(g.dtype, copy=False)
                ga = unbroadcast(ga, shape_of(a))
        if n[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                dlog = out * np.log(a)
            dlog = np.where((np.asarray(a) == 0) & (np.asarray(b) >= 0), 0, dlog)
            gb = unbroadcast((g * dlog).astype(g.dtype, copy=False), shape_of(b))
        return ga, gb


class Maximum(Function):
    """y = max(a, b); the gradient goes to the larger input, split in half on ties."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _select_grads(ctx, g, np.greater)


class Minimum(Function):
    """y = min(a, b); the gradient goes to the smaller input, split in half on ties."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _select_grads(ctx, g, np.less)


def _select_grads(ctx, g, wins):
    a, b = ctx.a, ctx.b
    n = ctx.needs_input_grad
    share_a = wins(a, b) + 0.5 * (a == b)
    ga = unbroadcast((g * share_a).astype(g.dtype, copy=False), shape_of(a)) if n[0] else None
    gb = (
        unbroadcast((g * (1 - share_a)).astype(g.dtype, copy=False), shape_of(b))
        if n[1]
        else None
    )
    return ga, gb


# ------------------------------------------------------------------- unary functions


class Neg(Function):
    """y = -x;  dL/dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """y = e^x;  dL/dx = g * y."""

    @staticmethod
    def forward(ctx, x):
        ctx.out = np.exp(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.out


class Log(Function):
    """y = ln x;  dL/dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.x


class Log1p(Function):
    """y = ln(1 + x);  dL/dx = g / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        return g / (1 + ctx.x)


class Sqrt(Function):
    """y = sqrt(x);  dL/dx = g / (2 y)."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            ctx.out = np.sqrt(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        with np.errstate(divide="ignore"):
            return g / (2 * ctx.out)


class Rsqrt(Function):
    """y = 1 / sqrt(x);  dL/dx = -g * y^3 / 2."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            ctx.out = 1 / np.sqrt(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * (-0.5 * y * y * y)


class Abs(Function):
    """y = |x|;  dL/dx = g * sign(x) (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.x)


class Sign(Function):
    """y = sign(x);  dL/dx = 0 almost everywhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return np.sign(x)

    @staticmethod
    def backward(ctx, g):
        return np.zeros(ctx.shape, ctx.dtype)


class Sin(Function):
    """y = sin x;  dL/dx = g cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.cos(ctx.x)


class Cos(Function):
    """y = cos x;  dL/dx = -g sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        return -g * np.sin(ctx.x)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dL/dx = g where lo <= x <= hi, else 0 (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.x, ctx.lo, ctx.hi = x, lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.x, ctx.lo, ctx.hi
        n = ctx.needs_input_grad
        mid = x if lo is None else np.maximum(x, lo)
        below = np.zeros(x.shape, bool) if lo is None else x < lo
        above = np.zeros(np.shape(mid), bool) if hi is None else mid > hi
        zero = np.zeros((), g.dtype)
        gx = np.where(below | above, zero, g) if n[0] else None
        glo = unbroadcast(np.where(below & ~above, g, zero), shape_of(lo)) if n[1] else None
        ghi = unbroadcast(np.where(above, g, zero), shape_of(hi)) if n[2] else None
        return gx, glo, ghi


class Where(Function):
    """y = cond ? a : b;  dL/da = g where cond, dL/db = g elsewhere."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.sa, ctx.sb = cond, shape_of(a), shape_of(b)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        zero = np.zeros((), g.dtype)
        return (
            None,
            unbroadcast(np.where(ctx.cond, g, zero), ctx.sa) if n[1] else None,
            unbroadcast(np.where(ctx.cond, zero, g), ctx.sb) if n[2] else None,
        )


class Cast(Function):
    """y = x as another dtype;  dL/dx = g cast back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype), None


class Clone(Function):
    """y = a copy of x;  dL/dx = g."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


# ------------------------------------------------------------------ public functions


def _binary(fn: type[Function], name: str, a, b) -> Tensor:
    # fast paths for the common cases: two float tensors of one dtype, a float tensor and a
    # Python number; everything else goes through promote()
    if isinstance(a, Tensor) and a.data.dtype.kind == "f":
        if isinstance(b, Tensor):
            if b.data.dtype == a.data.dtype:
                if a.data.shape != b.data.shape:
                    broadcast_shapes(name, a.data.shape, b.data.shape)
                return fn.apply(a, b)
        elif type(b) in (float, int):
            return fn.apply(a, b)
    a, b = promote(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.shape != b.data.shape:
        broadcast_shapes(name, a.data.shape, b.data.shape)
    return fn.apply(a, b)


def add(input, other, *, alpha=1) -> Tensor:
    """input + alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, "add", input, other)


def sub(input, other, *, alpha=1) -> Tensor:
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, "sub", input, other)


def mul(input, other) -> Tensor:
    return _binary(Mul, "mul", input, other)


def div(input, other) -> Tensor:
    a, b = promote(input, other)
    # true division of integers gives the default float dtype, as in PyTorch
    if isinstance(a, Tensor) and a.data.dtype.kind in "iub":
        from zengrad import backend

        a = Tensor._make(a.data.astype(backend.get_default_dtype()), False, None)
    return _binary(Div, "div", a, b)


def pow(input, exponent) -> Tensor:  # noqa: A001
    return _binary(Pow, "pow", input, exponent)


def maximum(input, other) -> Tensor:
    return _binary(Maximum, "maximum", input, other)


def minimum(input, other) -> Tensor:
    return _binary(Minimum, "minimum", input, other)


def neg(input) -> Tensor:
    return Neg.apply(input)


def _float_unary(fn: type[Function]):
    def op(input) -> Tensor:
        x = as_tensor_operand(input)
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.data.dtype.kind != "f":
            from zengrad import backend

            x = Tensor._make(x.data.astype(backend.get_default_dtype()), False, None)
        return fn.apply(x)

    op.__name__ = fn.__name__.lower()
    op.__doc__ = fn.__doc__
    return op


exp = _float_unary(Exp)
log = _float_unary(Log)
log1p = _float_unary(Log1p)
sqrt = _float_unary(Sqrt)
rsqrt = _float_unary(Rsqrt)
sin = _float_unary(Sin)
cos = _float_unary(Cos)


def abs(input) -> Tensor:  # noqa: A001
    return Abs.apply(input)


def sign(input) -> Tensor:
    return Sign.apply(input)


def square(input) -> Tensor:
    return pow(input, 2)


def reciprocal(input) -> Tensor:
    return div(1.0, input)


def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002
    """Clamp into [min, max]; either bound may be None, a number or a tensor."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must not be None")
    lo = as_tensor_operand(min) if min is not None else None
    hi = as_tensor_operand(max) if max is not None else None
    return Clamp.apply(input, lo, hi)


def clip(input, min=None, max=None) -> Tensor:  # noqa: A002
    """Alias of clamp (a separate function so that Tensor.clip exists too)."""
    return clamp(input, min, max)


def where(condition, input, other) -> Tensor:
    """condition ? input : other, broadcasting all three."""
    cond = as_tensor_operand(condition)
    cond_arr = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if cond_arr.dtype != np.bool_:
        cond_arr = cond_arr.astype(bool)
    a, b = promote(input, other)
    shapes = [cond_arr.shape] + [t.data.shape for t in (a, b) if isinstance(t, Tensor)]
    broadcast_shapes("where", *shapes)
    return Where.apply(cond_arr, a, b)


def cast(input: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if input.requires_grad and dtype.kind not in "fc":
        # an integer/bool result cannot carry a gradient: cut it from the graph
        return Tensor._make(input.data.astype(dtype), False, None)
    return Cast.apply(input, dtype)


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)


# ------------------------------------------------------- comparisons and logic (no grad)


def _no_grad_binary(ufunc, name: str):
    def op(input, other) -> Tensor:
        a, b = promote(input, other)
        a = a.data if isinstance(a, Tensor) else a
        b = b.data if isinstance(b, Tensor) else b
        if np.shape(a) != np.shape(b):
            broadcast_shapes(name, np.shape(a), np.shape(b))
        return Tensor._make(ufunc(a, b), False, None)

    op.__name__ = name
    return op


eq = _no_grad_binary(np.equal, "eq")
ne = _no_grad_binary(np.not_equal, "ne")
lt = _no_grad_binary(np.less, "lt")
le = _no_grad_binary(np.less_equal, "le")
gt = _no_grad_binary(np.greater, "gt")
ge = _no_grad_binary(np.greater_equal, "ge")
logical_and = _no_grad_binary(np.logical_and, "logical_and")
logical_or = _no_grad_binary(np.logical_or, "logical_or")
logical_xor = _no_grad_binary(np.logical_xor, "logical_xor")
floor_divide = _no_grad_binary(np.floor_divide, "floor_divide")
remainder = _no_grad_binary(np.remainder, "remainder")


def _no_grad_unary(ufunc, name: str):
    def op(input) -> Tensor:
        x = input.data if isinstance(input, Tensor) else np.asarray(input)
        return Tensor._make(ufunc(x), False, None)

    op.__name__ = name
    return op


logical_not = _no_grad_unary(np.logical_not, "logical_not")
isnan = _no_grad_unary(np.isnan, "isnan")
isinf = _no_grad_unary(np.isinf, "isinf")
isfinite = _no_grad_unary(np.isfinite, "isfinite")
floor = _no_grad_unary(np.floor, "floor")
ceil = _no_grad_unary(np.ceil, "ceil")
round = _no_grad_unary(np.round, "round")  # noqa: A001


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    a = input.data if isinstance(input, Tensor) else np.asarray(input)
    b = other.data if isinstance(other, Tensor) else np.asarray(other)
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other) -> bool:
    a = input.data if isinstance(input, Tensor) else np.asarray(input)
    b = other.data if isinstance(other, Tensor) else np.asarray(other)
    return a.shape == b.shape and bool(np.array_equal(a, b))
