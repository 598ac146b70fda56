"""Elementwise ops. Each Function states y = f(a, b) and its backward dL/da, dL/db.

Broadcast operands get their gradient summed back to their shape by `unbroadcast`.
Backwards never write into the incoming gradient: it may be shared.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor, as_array
from zengrad.ops import threads
from zengrad.ops.dims import as_tensor_operand, broadcast_shapes, promote, shape_of

# ----------------------------------------------------------------- binary arithmetic


class Add(Function):
    """y = a + b;  dL/da = g,  dL/db = g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.sa, ctx.sb = shape_of(a), shape_of(b)
        return threads.ufunc(backend.xp_pair("add", a, b).add, a, b)

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
        return threads.ufunc(backend.xp_pair("sub", a, b).subtract, a, b)

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
        ctx.mul = backend.xp_pair("mul", a, b).multiply
        return threads.ufunc(ctx.mul, a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b, mul = ctx.a, ctx.b, ctx.mul
        return (
            unbroadcast(threads.ufunc(mul, g, b), shape_of(a)) if n[0] else None,
            unbroadcast(threads.ufunc(mul, g, a), shape_of(b)) if n[1] else None,
        )


class Div(Function):
    """y = a / b;  dL/da = g / b,  dL/db = -g * a / b^2 = -(g / b) * y."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp = backend.xp_pair("div", a, b)
        if type(b) in (int, float) and b != 0:
            out = xp.true_divide(a, b)
        else:
            # x / 0 is inf or nan as in torch, without NumPy's RuntimeWarning
            with backend.errstate(xp, divide="ignore", invalid="ignore"):
                out = xp.true_divide(a, b)
        ctx.sa, ctx.b, ctx.out = shape_of(a), b, out
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        with backend.errstate(ctx.xp, divide="ignore", invalid="ignore"):
            ga = g / ctx.b
        return (
            unbroadcast(ga, ctx.sa) if n[0] else None,
            unbroadcast(-ga * ctx.out, shape_of(ctx.b)) if n[1] else None,
        )


class DivRounded(Function):
    """y = trunc(a / b) or floor(a / b);  dL/da = dL/db = 0 (a step function, as torch)."""

    @staticmethod
    def forward(ctx, a, b, mode):
        ctx.sa, ctx.sb = shape_of(a), shape_of(b)
        xp = ctx.xp = backend.xp_pair("div", a, b)
        return _trunc_divide(xp, a, b) if mode == "trunc" else _floor_divide(xp, a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        return (
            ctx.xp.zeros(ctx.sa, g.dtype) if n[0] else None,
            ctx.xp.zeros(ctx.sb, g.dtype) if n[1] else None,
            None,
        )


class FloorDivide(Function):
    """y = floor(a / b); torch defines no derivative for floor_divide, so backward raises."""

    @staticmethod
    def forward(ctx, a, b):
        return _floor_divide(backend.xp_pair("floor_divide", a, b), a, b)

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(
            "the derivative for 'floor_divide' is not implemented (as in torch); use "
            "div(a, b, rounding_mode='floor'), whose gradient is 0, to differentiate through it"
        )


def _floor_divide(xp, a, b):
    # floats: Python's floor division (x / 0 -> +-inf or nan, as torch), without warnings
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        return xp.floor_divide(a, b)


def _trunc_divide(xp, a, b):
    """a / b rounded toward zero; integers stay exact (no detour through floats)."""
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        if np.result_type(_dtype_or_number(a), _dtype_or_number(b)).kind == "f":
            return xp.trunc(xp.true_divide(a, b))
        q = xp.floor_divide(a, b)
        # floor and trunc differ by one where the quotient is negative and inexact
        return q + ((xp.remainder(a, b) != 0) & ((xp.asarray(a) < 0) != (xp.asarray(b) < 0)))


def _dtype_or_number(v):
    """An array's dtype (result_type must not see device arrays), a Python number as is."""
    return getattr(v, "dtype", v)


class _RoundedRemainder(Function):
    """y = a - b * q(a / b) for a rounding q (floor or trunc);
    dL/da = g,  dL/db = -g * q(a / b)."""

    ufunc = "remainder"  # the name of the array module's function
    quotient = staticmethod(_floor_divide)

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.a, ctx.b = a, b
        xp = ctx.xp = backend.xp_pair(cls.ufunc, a, b)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            return getattr(xp, cls.ufunc)(a, b)

    @classmethod
    def backward(cls, ctx, g):
        n = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        gb = None
        if n[1]:
            cls.check_b_grad(a)
            with backend.errstate(ctx.xp, divide="ignore", invalid="ignore"):
                q = cls.quotient(ctx.xp, a, b)
                gb = unbroadcast((-g * q).astype(g.dtype, copy=False), b.shape)
        return (unbroadcast(g, shape_of(a)) if n[0] else None), gb

    @staticmethod
    def check_b_grad(a) -> None:
        """Raise where torch has no derivative with respect to b."""


class Remainder(_RoundedRemainder):
    """y = a - b * floor(a / b) (the sign of b, as Python's %);
    dL/da = g,  dL/db = -g * floor(a / b)."""

    @staticmethod
    def check_b_grad(a) -> None:
        if not backend.is_array(a):
            raise RuntimeError(
                "derivative for remainder(number, tensor) is not implemented (as in torch); "
                "wrap the number in a tensor: remainder(zengrad.tensor(a), b)"
            )


class Fmod(_RoundedRemainder):
    """y = a - b * trunc(a / b) (C's fmod: the sign of a);
    dL/da = g,  dL/db = -g * trunc(a / b)."""

    ufunc = "fmod"
    quotient = staticmethod(_trunc_divide)


def _int_power(xp, a, b):
    """Integer a ** b as torch: for b < 0, 1 / a^|b| truncated (1 at a = 1, +-1 at a = -1,
    else 0), where NumPy raises."""
    neg = xp.asarray(b) < 0
    out = xp.power(a, xp.where(neg, 0, b))
    if not neg.any():
        return out
    unit = xp.where(a == 1, 1, xp.where(a == -1, 1 - 2 * (xp.abs(b) % 2), 0))
    return xp.where(neg, unit, out).astype(out.dtype, copy=False)


class Pow(Function):
    """y = a ** b;  dL/da = g * b * a^(b-1),  dL/db = g * y * ln(a) (0 where a = 0, b >= 0)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp = backend.xp_pair("pow", a, b)
        if xp.asarray(a).dtype.kind in "iu" and xp.asarray(b).dtype.kind in "iu":
            out = _int_power(xp, a, b)
        else:
            out = xp.power(a, b)
        ctx.a, ctx.b, ctx.out = a, b, out
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        a, b, out, xp = ctx.a, ctx.b, ctx.out, ctx.xp
        ga = gb = None
        if n[0]:
            if isinstance(b, (int, float)) and b == 2:
                ga = g * (2 * a)
            elif isinstance(b, (int, float)) and b == 0:
                ga = unbroadcast(xp.zeros_like(g), shape_of(a))
            else:
                with backend.errstate(xp, divide="ignore", invalid="ignore"):
                    ga = g * (b * xp.power(a, b - 1))
                if not isinstance(b, (int, float)):
                    # b = 0 gives 0 * a^-1 = nan at a = 0; the true slope is 0 (as PyTorch)
                    ga = xp.where(b == 0, 0, ga).astype(g.dtype, copy=False)
                ga = unbroadcast(ga, shape_of(a))
        if n[1]:
            with backend.errstate(xp, divide="ignore", invalid="ignore"):
                dlog = out * xp.log(a)
            dlog = xp.where((xp.asarray(a) == 0) & (xp.asarray(b) >= 0), 0, dlog)
            gb = unbroadcast((g * dlog).astype(g.dtype, copy=False), shape_of(b))
        return ga, gb


class Maximum(Function):
    """y = max(a, b); the gradient goes to the larger input, split in half on ties."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return backend.xp_pair("maximum", a, b).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _select_grads(ctx, g, "greater")


class Minimum(Function):
    """y = min(a, b); the gradient goes to the smaller input, split in half on ties."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return backend.xp_pair("minimum", a, b).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _select_grads(ctx, g, "less")


def _select_grads(ctx, g, wins: str):
    """The grads of max/min: `wins` names the comparison (greater, less) a wins by."""
    a, b = ctx.a, ctx.b
    n = ctx.needs_input_grad
    share_a = getattr(backend.xp_of(g), wins)(a, b) + 0.5 * (a == b)
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
        return backend.xp_of(x).negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """y = e^x;  dL/dx = g * y."""

    @staticmethod
    def forward(ctx, x):
        ctx.out = backend.xp_of(x).exp(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.out


class Log(Function):
    """y = ln x;  dL/dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        xp = backend.xp_of(x)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            return xp.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.x


class Log1p(Function):
    """y = ln(1 + x);  dL/dx = g / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        xp = backend.xp_of(x)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            return xp.log1p(x)

    @staticmethod
    def backward(ctx, g):
        return g / (1 + ctx.x)


class Sqrt(Function):
    """y = sqrt(x);  dL/dx = g / (2 y)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        with backend.errstate(xp, invalid="ignore"):
            ctx.out = xp.sqrt(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        with backend.errstate(ctx.xp, divide="ignore"):
            return g / (2 * ctx.out)


class Rsqrt(Function):
    """y = 1 / sqrt(x);  dL/dx = -g * y^3 / 2."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.xp_of(x)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            ctx.out = 1 / xp.sqrt(x)
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
        xp = ctx.xp = backend.xp_of(x)
        return xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.xp.sign(ctx.x)


class Sign(Function):
    """y = sign(x);  dL/dx = 0 almost everywhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        xp = ctx.xp = backend.xp_of(x)
        return xp.sign(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.zeros(ctx.shape, ctx.dtype)


class Sin(Function):
    """y = sin x;  dL/dx = g cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        xp = ctx.xp = backend.xp_of(x)
        return xp.sin(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.xp.cos(ctx.x)


class Cos(Function):
    """y = cos x;  dL/dx = -g sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        xp = ctx.xp = backend.xp_of(x)
        return xp.cos(x)

    @staticmethod
    def backward(ctx, g):
        return -g * ctx.xp.sin(ctx.x)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dL/dx = g where lo <= x <= hi, else 0 (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.x, ctx.lo, ctx.hi = x, lo, hi
        xp = ctx.xp = backend.xp_of_all("clamp", x, lo, hi)
        return xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi, xp = ctx.x, ctx.lo, ctx.hi, ctx.xp
        n = ctx.needs_input_grad
        mid = x if lo is None else xp.maximum(x, lo)
        below = xp.zeros(x.shape, bool) if lo is None else x < lo
        above = xp.zeros(shape_of(mid), bool) if hi is None else mid > hi
        zero = xp.zeros((), g.dtype)
        gx = unbroadcast(xp.where(below | above, zero, g), x.shape) if n[0] else None
        glo = unbroadcast(xp.where(below & ~above, g, zero), shape_of(lo)) if n[1] else None
        ghi = unbroadcast(xp.where(above, g, zero), shape_of(hi)) if n[2] else None
        return gx, glo, ghi


class Rounding(Function):
    """y = floor / ceil / trunc / round(x): a step function;  dL/dx = 0 (as torch)."""

    @staticmethod
    def forward(ctx, x, fn):
        ctx.shape = x.shape
        xp = ctx.xp = backend.xp_of(x)
        # fn: the name of the array module's function, or a function of (xp, x)
        return getattr(xp, fn)(x) if isinstance(fn, str) else fn(xp, x)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.zeros(ctx.shape, g.dtype), None


class Frac(Function):
    """y = x - trunc(x) (the sign of x);  dL/dx = g."""

    @staticmethod
    def forward(ctx, x):
        return x - backend.xp_of(x).trunc(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Where(Function):
    """y = cond ? a : b;  dL/da = g where cond, dL/db = g elsewhere."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.sa, ctx.sb = cond, shape_of(a), shape_of(b)
        xp = ctx.xp = backend.xp_of_all("where", cond, a, b)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        xp = ctx.xp
        zero = xp.zeros((), g.dtype)
        return (
            None,
            unbroadcast(xp.where(ctx.cond, g, zero), ctx.sa) if n[1] else None,
            unbroadcast(xp.where(ctx.cond, zero, g), ctx.sb) if n[2] else None,
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
    # fast paths for the common cases: two float32/64 tensors of one dtype, such a tensor and
    # a Python number; everything else (float16 too) goes through promote()
    if isinstance(a, Tensor) and a.array.dtype in _FAST_FLOATS:
        if isinstance(b, Tensor):
            if b.array.dtype == a.array.dtype:
                if a.array.shape != b.array.shape:
                    broadcast_shapes(name, a.array.shape, b.array.shape)
                return fn.apply(a, b)
        elif type(b) in (float, int):
            return fn.apply(a, b)
    a, b = promote(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.array.dtype != b.array.dtype:
            # torch's rule, not NumPy's: a 0-d float64 tensor does not widen a float32 one
            dt = result_type(a, b)
            a, b = _as_dtype(a, dt), _as_dtype(b, dt)
        if a.array.shape != b.array.shape:
            broadcast_shapes(name, a.array.shape, b.array.shape)
    if _is_half(a) and type(b) in (float, int):
        b = _half_scalar(b)
    elif _is_half(b) and type(a) in (float, int):
        a = _half_scalar(a)
    return fn.apply(a, b)


def _half_scalar(v) -> np.float16:
    # a number beyond float16's range is inf there (as torch): cast it once, quietly, so that
    # neither forward nor backward casts it again with NumPy's overflow RuntimeWarning. A
    # NumPy scalar, not a 0-d array: it works with arrays of every backend
    with np.errstate(over="ignore"):  # host
        return np.float16(v)


# (a frozenset lookup is cheaper than dtype.kind == "f")
_FAST_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _is_half(x) -> bool:
    return isinstance(x, Tensor) and x.array.dtype == np.float16


_ONE = 1  # alpha's default; CPython caches small ints, so alpha=1 passed explicitly is it too


def _alpha_args(name: str, input, other, args: tuple, alpha):
    """Resolve torch's deprecated positional overload name(input, alpha, other) (it still runs
    in torch 2.13, with a UserWarning) and check alpha; returns (other, alpha)."""
    if args:
        if len(args) == 1 and isinstance(other, numbers.Number) and isinstance(args[0], Tensor):
            warnings.warn(
                f"This overload of {name} is deprecated: {name}(input, Number alpha, Tensor "
                f"other); use {name}(input, other, *, alpha=alpha)",
                UserWarning,
                stacklevel=3,
            )
            other, alpha = args[0], other
        else:
            raise TypeError(
                f"{name}() takes 2 positional arguments (input, other) but {2 + len(args)} were "
                f"given; alpha is keyword-only: {name}(input, other, alpha=...)"
            )
    if isinstance(alpha, Tensor) or not isinstance(alpha, numbers.Number):
        raise TypeError(f"{name}(): argument 'alpha' must be a Number, not {type(alpha).__name__}")
    if isinstance(alpha, float) and not (_is_float_operand(input) or _is_float_operand(other)):
        raise TypeError(
            f"{name}(): for integral input tensors, argument alpha must not be a floating point "
            f"number, got {alpha}"
        )
    return other, alpha


def add(input, other, *args, alpha=1) -> Tensor:
    """input + alpha * other."""
    if args or alpha is not _ONE:  # (an identity test: the default costs nothing)
        other, alpha = _alpha_args("add", input, other, args, alpha)
        if alpha != 1:
            other = mul(other, alpha)
    return _binary(Add, "add", input, other)


def sub(input, other, *args, alpha=1) -> Tensor:
    """input - alpha * other."""
    if args or alpha is not _ONE:  # (an identity test: the default costs nothing)
        other, alpha = _alpha_args("sub", input, other, args, alpha)
        if alpha != 1:
            other = mul(other, alpha)
    return _binary(Sub, "sub", input, other)


def mul(input, other) -> Tensor:
    return _binary(Mul, "mul", input, other)


def _integer_zero_check(name: str, a, b) -> None:
    """torch raises for an integer division by zero; NumPy would return 0 with a warning."""
    kind_a = a.array.dtype.kind if isinstance(a, Tensor) else ("b" if isinstance(a, bool) else "i")
    if isinstance(b, Tensor):
        kind_b, vals = b.array.dtype.kind, b.array
    else:
        kind_b, vals = ("f" if isinstance(b, (float, complex)) else "i"), b
    if isinstance(a, (float, complex)) or kind_a in "fc" or kind_b in "fc":
        return
    if kind_a == "b" and kind_b == "b":
        raise NotImplementedError(f"{name}: not implemented for bool tensors (as in torch)")
    if not backend.xp_of(vals).all(vals):
        raise RuntimeError(
            f"ZeroDivisionError: {name}: integer division by zero (as torch; use float "
            f"tensors to get inf/nan)"
        )


def _operands(name: str, input, other):
    a, b = promote(input, other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}(): expected at least one tensor, got two numbers")
    sa, sb = _operand_shape(a), _operand_shape(b)
    if sa != sb:
        broadcast_shapes(name, sa, sb)
    return a, b


def _operand_shape(x) -> tuple[int, ...]:
    return x.array.shape if isinstance(x, Tensor) else ()


def div(input, other, *, rounding_mode=None) -> Tensor:
    """input / other; rounding_mode 'trunc' rounds the quotient toward zero, 'floor' down
    (integers stay integers there, and an integer division by zero raises, as in torch)."""
    if rounding_mode is None:
        if isinstance(input, Tensor) and input.array.dtype.kind == "f":
            return _binary(Div, "div", input, other)  # the common case: promotion in there
        a, b = promote(input, other)
        # true division of integers gives the default float dtype, as in PyTorch
        if not _is_float_operand(a) and not _is_float_operand(b):
            from zengrad import backend

            dt = backend.get_default_dtype()
            if isinstance(a, Tensor):
                a = Tensor._make(a.array.astype(dt), False, None)
            else:
                b = Tensor._make(b.array.astype(dt), False, None)
        return _binary(Div, "div", a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"{rounding_mode!r}"
        )
    a, b = _operands("div", input, other)
    _integer_zero_check(f"div(rounding_mode={rounding_mode!r})", a, b)
    return DivRounded.apply(a, b, rounding_mode)


def _is_float_operand(x) -> bool:
    if isinstance(x, Tensor):
        return x.array.dtype.kind in "fc"
    return isinstance(x, (float, complex))


def floor_divide(input, other) -> Tensor:
    """floor(input / other), elementwise (torch's floor_divide; no derivative, as there)."""
    a, b = _operands("floor_divide", input, other)
    _integer_zero_check("floor_divide", a, b)
    return FloorDivide.apply(a, b)


def fmod(input, other) -> Tensor:
    """input - other * trunc(input / other): the result has the sign of input (C's fmod)."""
    a, b = _operands("fmod", input, other)
    if not isinstance(a, Tensor):
        raise TypeError(f"fmod(): argument 'input' must be a Tensor, not {type(input).__name__}")
    _integer_zero_check("fmod", a, b)
    return Fmod.apply(a, b)


def remainder(input, other) -> Tensor:
    """input - other * floor(input / other): the result has the sign of other (Python's %)."""
    a, b = _operands("remainder", input, other)
    _integer_zero_check("remainder", a, b)
    return Remainder.apply(a, b)


def pow(input, exponent) -> Tensor:  # noqa: A001
    """input ** exponent (bool tensors refused, as torch)."""
    for v in (input, exponent):
        if isinstance(v, Tensor) and v.array.dtype == np.bool_:
            raise TypeError("pow: not implemented for bool tensors (as torch; use .long() first)")
    if (isinstance(input, Tensor) and input.array.dtype.kind in "iu"
            and isinstance(exponent, numbers.Integral) and exponent < 0):
        raise RuntimeError(f"pow: integers to negative integer powers are not allowed (got "
                           f"exponent {exponent} for an {input.array.dtype} tensor; use a float)")
    return _binary(Pow, "pow", input, exponent)


def maximum(input, other) -> Tensor:
    return _binary(Maximum, "maximum", input, other)


def minimum(input, other) -> Tensor:
    return _binary(Minimum, "minimum", input, other)


def neg(input) -> Tensor:
    return Neg.apply(_tensor_arg("neg", input))


def _float_unary(fn: type[Function]):
    def op(input) -> Tensor:
        x = as_tensor_operand(input)
        if not isinstance(x, Tensor):
            x = Tensor._make(as_array(x), False, None)
        if x.array.dtype.kind != "f":
            from zengrad import backend

            x = Tensor._make(x.array.astype(backend.get_default_dtype()), False, None)
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
    return Abs.apply(_tensor_arg("abs", input))


def sign(input) -> Tensor:
    """y = -1, 0 or 1 by the sign of x (a bool tensor is its own sign, as torch)."""
    x = _tensor_arg("sign", input)
    if x.array.dtype == np.bool_:
        return Tensor._make(x.array.copy(), False, None)
    return Sign.apply(x)


def square(input) -> Tensor:
    return pow(input, 2)


def reciprocal(input) -> Tensor:
    return div(1.0, input)


def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002
    """y = min(max(input, min), max); either bound may be None, a number or a tensor.

    The result dtype is torch's result_type(input, min, max): a float32 tensor clamped by an
    integer or 0-d float64 tensor stays float32."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must not be None")
    x = as_tensor_operand(input)
    if not isinstance(x, Tensor):
        raise TypeError(f"clamp(): argument 'input' must be a Tensor, not {type(input).__name__}")
    lo = as_tensor_operand(min) if min is not None else None
    hi = as_tensor_operand(max) if max is not None else None
    for what, bound in (("min", lo), ("max", hi)):
        if bound is not None and not isinstance(bound, (Tensor, bool, int, float)):
            raise TypeError(f"clamp(): argument '{what}' must be a number or a tensor")
    dt = result_type(x, lo, hi)
    if dt == np.bool_:
        # torch clamps bools by one tensor bound only: max is a logical or, min an and
        if (lo is None) != (hi is None) and isinstance(lo if hi is None else hi, Tensor):
            if hi is None:
                xp = backend.xp_pair("clamp", x.array, lo.array)
                return Tensor._make(xp.logical_or(x.array, lo.array), False, None)
            xp = backend.xp_pair("clamp", x.array, hi.array)
            return Tensor._make(xp.logical_and(x.array, hi.array), False, None)
        raise TypeError(
            "clamp: not implemented for bool tensors with number or two bounds (as torch; "
            "use .long() first)"
        )
    x, lo, hi = (_as_dtype(t, dt) for t in (x, lo, hi))
    shapes = [t.array.shape for t in (x, lo, hi) if isinstance(t, Tensor)]
    if len(set(shapes)) > 1:
        broadcast_shapes("clamp", *shapes)
    return Clamp.apply(x, lo, hi)


def _as_dtype(x, dtype: np.dtype):
    """A tensor in dtype (differentiably for floats); numbers and None pass unchanged."""
    if isinstance(x, Tensor) and x.array.dtype != dtype:
        return cast(x, dtype)
    return x


def clip(input, min=None, max=None) -> Tensor:  # noqa: A002
    """Alias of clamp (a separate function so that Tensor.clip exists too)."""
    return clamp(input, min, max)


def clamp_min(input, min) -> Tensor:  # noqa: A002
    """y = max(input, min)."""
    return clamp(input, min, None)


def clamp_max(input, max) -> Tensor:  # noqa: A002
    """y = min(input, max)."""
    return clamp(input, None, max)


# ------------------------------------------------------------- torch's type promotion

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: the higher category wins outright (int64 with float32 is
    float32, unlike NumPy's float64); within a category the wider type."""
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.kind == "c" and lo.kind == "f" and lo.itemsize == 8:
            return np.dtype(np.complex128)
        return hi
    return np.promote_types(a, b)


def _combine(higher, lower):
    # c10's combine_categories: a lower-priority operand only counts when its category is
    # higher than that of the operands above it
    if higher is None:
        return lower
    if lower is None or higher.kind in "fc" and not (lower.kind == "c" and higher.kind == "f"):
        return higher
    if lower.kind == "c":
        return np.dtype(np.complex128 if higher.itemsize == 8 else np.complex64) if (
            higher.kind == "f"
        ) else lower
    if higher.kind == "b" or lower.kind == "f":
        return _promote_types(higher, lower)
    return higher


def result_type(*operands) -> np.dtype:
    """The dtype torch gives an op on these operands (tensors, numbers; None is skipped):
    dimensioned tensors outrank 0-d tensors, which outrank Python numbers, and an operand of
    lower rank only matters when its category (bool < int < float < complex) is higher."""
    from zengrad import backend

    ranks: list = [None, None, None]  # dimensioned tensors, 0-d tensors, Python numbers
    for x in operands:
        if x is None:
            continue
        if isinstance(x, Tensor):
            dt, rank = x.array.dtype, 0 if x.array.ndim else 1
        elif isinstance(x, bool):
            dt, rank = np.dtype(np.bool_), 2
        elif isinstance(x, int):
            dt, rank = np.dtype(np.int64), 2
        elif isinstance(x, float):
            dt, rank = np.dtype(backend.get_default_dtype()), 2
        elif isinstance(x, complex):
            wide = np.dtype(backend.get_default_dtype()).itemsize == 8
            dt, rank = np.dtype(np.complex128 if wide else np.complex64), 2
        else:
            raise TypeError(f"result_type: expected tensors or numbers, got {type(x).__name__}")
        ranks[rank] = dt if ranks[rank] is None else _promote_types(ranks[rank], dt)
    return _combine(ranks[0], _combine(ranks[1], ranks[2]))


def where(condition, input, other) -> Tensor:
    """condition ? input : other, broadcasting all three."""
    cond = as_tensor_operand(condition)
    a, b = promote(input, other)
    if isinstance(cond, Tensor):
        cond_arr = cond.array
    else:  # a number: on the device of the operands
        xp = backend.xp_of_all("where", *(t.array for t in (a, b) if isinstance(t, Tensor)))
        cond_arr = xp.asarray(cond)
    if cond_arr.dtype != np.bool_:
        cond_arr = cond_arr.astype(bool)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.array.dtype != b.array.dtype:
        dt = result_type(a, b)  # torch's rule: a 0-d float64 does not widen a float32
        a, b = _as_dtype(a, dt), _as_dtype(b, dt)
    shapes = [cond_arr.shape] + [t.array.shape for t in (a, b) if isinstance(t, Tensor)]
    broadcast_shapes("where", *shapes)
    return Where.apply(cond_arr, a, b)


def cast(input: Tensor, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if input.requires_grad and dtype.kind not in "fc":
        # an integer/bool result cannot carry a gradient: cut it from the graph
        return Tensor._make(input.array.astype(dtype), False, None)
    return Cast.apply(input, dtype)


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)


# ------------------------------------------------------- comparisons and logic (no grad)


def _no_grad_binary(ufunc: str, name: str):
    """A comparison or logical op; ufunc names the array module's function."""

    def op(input, other) -> Tensor:
        a, b = promote(input, other)
        if isinstance(a, Tensor) and isinstance(b, Tensor) and a.array.dtype != b.array.dtype:
            # compare in torch's result_type: float32 0.1 == a 0-d float64 0.1 is True there
            dt = result_type(a, b)
            a, b = a.array.astype(dt, copy=False), b.array.astype(dt, copy=False)
        a = a.array if isinstance(a, Tensor) else a
        b = b.array if isinstance(b, Tensor) else b
        xp = backend.xp_pair(name, a, b)
        sa, sb = shape_of(a), shape_of(b)
        if sa != sb:
            broadcast_shapes(name, sa, sb)
        return Tensor._make(getattr(xp, ufunc)(a, b), False, None)

    op.__name__ = name
    return op


eq = _no_grad_binary("equal", "eq")
ne = _no_grad_binary("not_equal", "ne")
lt = _no_grad_binary("less", "lt")
le = _no_grad_binary("less_equal", "le")
gt = _no_grad_binary("greater", "gt")
ge = _no_grad_binary("greater_equal", "ge")
logical_and = _no_grad_binary("logical_and", "logical_and")
logical_or = _no_grad_binary("logical_or", "logical_or")
logical_xor = _no_grad_binary("logical_xor", "logical_xor")


def _no_grad_unary(ufunc: str, name: str):
    """A test or logical op of one tensor; ufunc names the array module's function."""

    def op(input) -> Tensor:
        x = _tensor_arg(name, input).array
        return Tensor._make(getattr(backend.xp_of(x), ufunc)(x), False, None)

    op.__name__ = name
    return op


logical_not = _no_grad_unary("logical_not", "logical_not")
isnan = _no_grad_unary("isnan", "isnan")
isinf = _no_grad_unary("isinf", "isinf")
isfinite = _no_grad_unary("isfinite", "isfinite")


def _rounding(fn: str, name: str, doc: str):
    def op(input) -> Tensor:
        x = _tensor_arg(name, input)
        _refuse_bool(name, x)
        if x.array.dtype.kind in "iu":  # integers are already whole: a copy, as torch
            return Tensor._make(x.array.copy(), False, None)
        return Rounding.apply(x, fn)

    op.__name__ = name
    op.__doc__ = doc
    return op


def _refuse_bool(name: str, x: Tensor) -> None:
    if x.array.dtype == np.bool_:
        raise TypeError(f"{name}: not implemented for bool tensors (as torch; use .long() first)")


def _tensor_arg(name: str, x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    x = as_tensor_operand(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    return x


floor = _rounding("floor", "floor", "y = floor(x), the largest integer <= x;  dL/dx = 0.")
ceil = _rounding("ceil", "ceil", "y = ceil(x), the smallest integer >= x;  dL/dx = 0.")
trunc = _rounding("trunc", "trunc", "y = trunc(x), x rounded toward zero;  dL/dx = 0.")
fix = trunc


def round(input, *, decimals: int = 0) -> Tensor:  # noqa: A001
    """y = rint(x * 10^d) / 10^d (d = decimals; rint(x / 10^-d) * 10^-d for d < 0), halves
    to even, computed in x's dtype as torch;  dL/dx = 0."""
    x = _tensor_arg("round", input)
    _refuse_bool("round", x)
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round(): argument 'decimals' must be an int, not {decimals!r}")
    if x.array.dtype.kind in "iub":
        if decimals != 0:
            raise NotImplementedError("round: decimals is not supported for integer tensors")
        return Tensor._make(x.array.copy(), False, None)
    if decimals == 0:
        return Rounding.apply(x, "rint")
    # 10^|d| as a NumPy scalar of x's dtype (computed on the host, usable on every device)
    with np.errstate(over="ignore"):  # host
        ten = np.asarray(10, x.array.dtype)  # host
        scale = np.power(ten, -decimals if decimals < 0 else decimals)  # host

    def fn(xp, a):
        with backend.errstate(xp, over="ignore", invalid="ignore"):
            if decimals > 0:
                return xp.rint(a * scale) / scale
            return xp.rint(a / scale) * scale

    return Rounding.apply(x, fn)


def frac(input) -> Tensor:
    """y = x - trunc(x);  dL/dx = g."""
    x = _tensor_arg("frac", input)
    if x.array.dtype.kind not in "fc":
        raise TypeError(f"frac: expected a floating point tensor, got {x.array.dtype}")
    return Frac.apply(x)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """|input - other| <= atol + rtol * |other|, elementwise (equal infinities are close;
    NaNs only with equal_nan). Both must be tensors of one dtype, as in torch."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        bad = other if isinstance(input, Tensor) else input
        raise TypeError(f"isclose(): expected two tensors, got {type(bad).__name__}")
    if input.array.dtype != other.array.dtype:
        raise TypeError(
            f"isclose: the two tensors must have the same dtype, got {input.array.dtype} and "
            f"{other.array.dtype} (convert one with .to(dtype))"
        )
    if rtol < 0 or atol < 0:
        raise ValueError(
            f"isclose: rtol and atol must be greater than or equal to zero, got rtol={rtol}, "
            f"atol={atol}"
        )
    broadcast_shapes("isclose", input.array.shape, other.array.shape)
    a, b = input.array, other.array
    xp = backend.xp_pair("isclose", a, b)
    if a.dtype.kind == "b":
        return Tensor._make(xp.equal(a, b), False, None)
    if a.dtype.kind in "iu":  # avoid wrap-around in a - b
        a, b = a.astype(np.float64), b.astype(np.float64)
    with backend.errstate(xp, invalid="ignore", over="ignore"):
        out = xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return Tensor._make(xp.asarray(out), False, None)


def _two_arrays(name: str, input, other):
    """(xp, a, b): the arrays of two tensors (or array-likes, made on the tensor's device)."""
    a = input.array if isinstance(input, Tensor) else None
    b = other.array if isinstance(other, Tensor) else None
    xp = backend.xp_of_all(name, a, b)
    return xp, (xp.asarray(input) if a is None else a), (xp.asarray(other) if b is None else b)


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    xp, a, b = _two_arrays("allclose", input, other)
    return bool(xp.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other) -> bool:
    xp, a, b = _two_arrays("equal", input, other)
    return a.shape == b.shape and bool(xp.array_equal(a, b))
