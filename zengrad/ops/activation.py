"""Activations, stable for any finite input (no overflow warnings, no NaN at +-1e4).

Each saves what its derivative needs, usually the output: sigmoid' = y (1 - y),
tanh' = 1 - y^2. The piecewise ones (relu6, hardtanh, hardswish, hardsigmoid) give torch's
one-sided derivative at their kinks. `inplace=True` writes into the input outside the
autograd graph and returns a new tensor inside it (see _inplace_result).
"""

from __future__ import annotations

import math

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import is_grad_enabled
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.backend import get_default_dtype
from zengrad.ops import threads
from zengrad.ops.dims import normalize_dim
from zengrad.ops.kernels import Kernel, kmath


def _sigmoid(x, xp):
    """1 / (1 + e^-x) as 0.5 tanh(x / 2) + 0.5: one transcendental, never overflows."""
    out = xp.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out


class SigmoidFn(Function):
    """y = 1 / (1 + e^-x);  dL/dx = g y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.xp_of(x)
        ctx.out = _sigmoid(x, xp)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * y * (1 - y)


class TanhFn(Function):
    """y = tanh x;  dL/dx = g (1 - y^2)."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.xp_of(x)
        ctx.out = xp.tanh(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        return g * (1 - y * y)


class ReLUFn(Function):
    """y = max(x, 0);  dL/dx = g where x > 0 (g * [y > 0])."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        if not _relu_in_pieces(x):
            ctx.out = xp.maximum(x, 0)
            return ctx.out
        out = ctx.out = xp.empty_like(x)  # (the input's memory order: channel-major stays so)
        threads.elementwise(_relu_compiled if RELU.compiles([x]) else _relu_ufunc, (x, out))
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        if type(g) is not np.ndarray or g.size <= threads.BLOCK:
            return g * (y > 0)  # (small: a kernel call costs more, 9 us against 5 at 7,680)
        dx = np.empty_like(g)  # host
        # one pass (a fused kernel) per piece where it compiles (the pieces of arrays dense
        # in one memory order are too), else the mask and the product in cache blocks;
        # pieces on zengrad's threads from OP_PARALLEL_MIN elements
        if RELU_GRAD.compiles([g, y], [dx]):
            threads.elementwise(_relu_grad_fused, (g, y, dx))
        else:
            threads.elementwise(_relu_grad_ufuncs, (g, y, dx), threads.CACHE_BLOCK)
        return dx


def _relu_grad_fused(g, y, dx) -> None:
    """dx = g [y > 0]: g * 1 or g * 0, as torch's threshold_backward (0 where y is NaN)."""
    RELU_GRAD([g, y], (0,), [dx])


def _relu_grad_ufuncs(g, y, dx) -> None:
    """The same for a broadcast or strided g (a mean's backward) or other dtypes: two passes
    in place, the mask written as 1.0 / 0.0 straight into dx (the same values)."""
    np.greater(y, 0, out=dx, casting="unsafe")  # host
    dx *= g


def _relu_values(x, zero):
    # + 0: the compiled maximum(-0.0, 0) is -0.0, NumPy's ufunc gives +0.0 (the same bits on
    # both paths); NaN stays NaN
    return kmath.maximum(x, zero) + zero


# max(x, 0) as one compiled pass: NumPy's maximum against a scalar is 3-4x slower than its
# maximum of two arrays (1 thread, 2048 x 512 float32: 426 -> 122 us; 16384: 7.2 -> 3.9 us),
# from RELU_MIN elements (below, the kernel call costs more: 1024, 1.2 against 3.7 us)
RELU_MIN = 4096
RELU = Kernel(_relu_values, 1, 1, (None,))
RELU_INPLACE = Kernel(_relu_values, 1, 1, (0,))


def _relu_in_pieces(a) -> bool:
    """Whether max(a, 0) runs as pieces on zengrad's threads: host float arrays from
    RELU_MIN elements (below, a kernel call costs more; integers and bools keep NumPy's
    result dtype through the plain ufunc)."""
    return type(a) is np.ndarray and a.size >= RELU_MIN and a.dtype.kind == "f"


def _relu_compiled(x, out) -> None:
    RELU([x], (0,), [out])


def _relu_compiled_inplace(a) -> None:
    RELU_INPLACE([a], (0,))


def _relu_ufunc(x, out=None) -> None:
    """The pieces without Numba (None: in place)."""
    np.maximum(x, 0, out=x if out is None else out)  # host (only host arrays come here)


def relu_inplace(a) -> None:
    """a = max(a, 0) in place, on any array (compiled and on zengrad's threads where large)."""
    if not _relu_in_pieces(a):
        backend.xp_of(a).maximum(a, 0, out=a)
        return
    threads.elementwise(_relu_compiled_inplace if RELU_INPLACE.compiles([a]) else _relu_ufunc,
                        (a,))


def _relu_mask(g, y, zero):
    return g * (y > zero)


RELU_GRAD = Kernel(_relu_mask, 2, 1, (None,))
RELU_GRAD_INPLACE = Kernel(_relu_mask, 2, 1, (0,))  # g <- g [y > 0]


class LeakyReLUFn(Function):
    """y = x if x > 0 else a x;  dL/dx = g (1 or a)."""

    @staticmethod
    def forward(ctx, x, slope):
        xp = ctx.xp = backend.xp_of(x)
        ctx.pos, ctx.slope = x > 0, slope
        return xp.where(ctx.pos, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return xp.where(ctx.pos, g, g * ctx.slope), None


class ELUFn(Function):
    """y = x if x > 0 else a (e^x - 1);  dL/dx = g (1 if x > 0 else y + a)."""

    @staticmethod
    def forward(ctx, x, alpha):
        xp = ctx.xp = backend.xp_of(x)
        neg = alpha * xp.expm1(xp.minimum(x, 0))  # min(): no overflow on the unused branch
        ctx.pos, ctx.alpha = x > 0, alpha
        ctx.out = xp.where(ctx.pos, x, neg).astype(x.dtype, copy=False)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return xp.where(ctx.pos, g, g * (ctx.out + ctx.alpha)), None


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELUFn(Function):
    """exact: y = x Phi(x), y' = Phi(x) + x phi(x);
    tanh:  y = x/2 (1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715 x^3)."""

    @staticmethod
    def forward(ctx, x, approximate):
        xp = ctx.xp = backend.xp_of(x)
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            ctx.t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            return 0.5 * x * (1 + ctx.t)
        ctx.cdf = 0.5 * (1 + backend.special(xp).erf(x * _INV_SQRT_2))
        return x * ctx.cdf

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x = ctx.x
        if ctx.approximate == "tanh":
            t = ctx.t
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        else:
            pdf = _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
            d = ctx.cdf + x * pdf
        return g * d, None


class SiLUFn(Function):
    """y = x sigmoid(x);  dL/dx = g s (1 + x (1 - s))."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.xp_of(x)
        s = _sigmoid(x, xp)
        ctx.x, ctx.s = x, s
        return x * s

    @staticmethod
    def backward(ctx, g):
        s = ctx.s
        return g * s * (1 + ctx.x * (1 - s))


class SoftplusFn(Function):
    """y = ln(1 + e^(b x)) / b (= x where b x > threshold);  dL/dx = g sigmoid(b x)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = ctx.xp = backend.xp_of(x)
        bx = x * beta
        ctx.bx, ctx.linear = bx, bx > threshold
        soft = xp.logaddexp(0, bx) / beta
        return xp.where(ctx.linear, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return xp.where(ctx.linear, g, g * _sigmoid(ctx.bx, xp)), None, None


class SoftmaxFn(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m);  dL/dx = y (g - sum(g y))."""

    @staticmethod
    def forward(ctx, x, axis):
        xp = backend.xp_of(x)
        if x.size == 0:  # nothing to normalize (max() of an empty axis would raise)
            ctx.out, ctx.axis = x.copy(), axis
            return ctx.out
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.out, ctx.axis = e, axis
        return e

    @staticmethod
    def backward(ctx, g):
        y = ctx.out
        gy = g * y
        return gy - y * gy.sum(axis=ctx.axis, keepdims=True), None


class LogSoftmaxFn(Function):
    """y = x - logsumexp(x);  dL/dx = g - softmax(x) sum(g)."""

    @staticmethod
    def forward(ctx, x, axis):
        xp = ctx.xp = backend.xp_of(x)
        if x.size == 0:
            ctx.out, ctx.axis = x.copy(), axis
            return ctx.out
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return g - xp.exp(ctx.out) * g.sum(axis=ctx.axis, keepdims=True), None


class HardtanhFn(Function):
    """y = min(max(x, lo), hi);  dL/dx = g where lo < x < hi, else 0 (torch's rule: the
    bounds themselves get 0)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = backend.xp_of(x)
        ctx.inside = (x > lo) & (x < hi)
        out = xp.clip(x, lo, hi)
        return out.astype(x.dtype, copy=False)  # float bounds must not make an int tensor float

    @staticmethod
    def backward(ctx, g):
        return g * ctx.inside, None, None


class LogSigmoidFn(Function):
    """y = log sigmoid(x) = min(x, 0) - log(1 + e^-|x|)  (no overflow for any x);
    dL/dx = g sigmoid(-x)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        ctx.x = x
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return g * _sigmoid(-ctx.x, xp)


class MishFn(Function):
    """y = x tanh(softplus(x)), softplus(x) = ln(1 + e^x);
    dL/dx = g (t + x (1 - t^2) sigmoid(x)) with t = tanh(softplus(x))."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        t = xp.tanh(xp.logaddexp(0, x))  # logaddexp: ln(1 + e^x) without overflow
        ctx.x, ctx.t = x, t
        return x * t

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, t = ctx.x, ctx.t
        return g * (t + x * (1 - t * t) * _sigmoid(x, xp))


class HardswishFn(Function):
    """y = x relu6(x + 3) / 6;  dL/dx = g * (0 if x <= -3, x/3 + 1/2 if -3 < x < 3,
    1 if x >= 3)  (torch's choice at the two kinks)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        ctx.x = x
        return x * xp.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x = ctx.x
        mid = xp.where(x >= 3, 1, x / 3 + 0.5)
        d = xp.where(x <= -3, 0, mid).astype(g.dtype, copy=False)
        return g * d


_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


class HardsigmoidFn(Function):
    """y = relu6(x + 3) / 6;  dL/dx = g / 6 where -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.xp_of(x)
        ctx.inside = (x > -3) & (x < 3)
        return xp.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        # torch's kernel multiplies by the float32 constant 1/6 for every dtype; using the
        # same constant keeps float64 gradients identical to torch's (they differ by 3e-8)
        return g * ctx.inside * _ONE_SIXTH_F32


class SoftsignFn(Function):
    """y = x / (1 + |x|);  dL/dx = g / (1 + |x|)^2."""

    @staticmethod
    def forward(ctx, x):
        xp = backend.xp_of(x)
        d = 1 + xp.abs(x)
        ctx.d = d
        return x / d

    @staticmethod
    def backward(ctx, g):
        d = ctx.d
        return g / (d * d)


# ------------------------------------------------------------------ public functions


def _check_float(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor, got {x.array.dtype}")


def _softmax_axis(input: Tensor, dim: int) -> int | None:
    axis = normalize_dim(dim, input.array.ndim)
    return axis if input.array.ndim else None  # a 0-d tensor: normalize over its one element


def _promote_integer(x: Tensor, name: str) -> Tensor:
    """x, integer and bool tensors cast to the default float dtype (torch promotes them)."""
    if isinstance(x, Tensor) and x.array.dtype.kind in "iub":
        return Tensor._make(x.array.astype(get_default_dtype()), False, None)
    _check_float(x, name)
    return x


def sigmoid(input: Tensor) -> Tensor:
    return SigmoidFn.apply(_promote_integer(input, "sigmoid"))


def tanh(input: Tensor) -> Tensor:
    return TanhFn.apply(_promote_integer(input, "tanh"))


def relu(input: Tensor) -> Tensor:
    return ReLUFn.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLUFn.apply(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    _check_float(input, "elu")
    return ELUFn.apply(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    _check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFn.apply(input, approximate)


def silu(input: Tensor) -> Tensor:
    _check_float(input, "silu")
    return SiLUFn.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    _check_float(input, "softplus")
    return SoftplusFn.apply(input, beta, threshold)


def _softmax_input(input: Tensor, dim, dtype, name: str) -> Tensor:
    if dim is None:
        # torch guesses a dim here (deprecated, with a warning); guessing hides bugs
        shape = tuple(input.shape) if isinstance(input, Tensor) else "?"
        raise ValueError(f"{name}: dim is None; pass the dim to normalize over, e.g. "
                         f"{name}(x, dim=-1) (input shape {shape})")
    if dtype is not None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"{name}: dtype must be a floating point dtype, got {dt}")
        input = input.to(dt)  # cast first, then normalize in that precision (as torch)
    _check_float(input, name)
    return input


def _dtype_or_stacklevel(dtype, stacklevel):
    """torch.softmax(x, dim, dtype) and F.softmax(x, dim, _stacklevel, dtype) differ in
    their third positional argument: an int there is F's (ignored) stack level."""
    if isinstance(dtype, int) and not isinstance(dtype, bool):
        return None if isinstance(stacklevel, int) else stacklevel
    return dtype


def softmax(input: Tensor, dim: int | None = None, dtype=None, _stacklevel=3) -> Tensor:
    """y_i = e^(x_i) / sum_j e^(x_j) over dim; dtype= casts the input first (as torch).
    An empty input gives an empty result."""
    x = _softmax_input(input, dim, _dtype_or_stacklevel(dtype, _stacklevel), "softmax")
    return SoftmaxFn.apply(x, _softmax_axis(x, dim))


def log_softmax(input: Tensor, dim: int | None = None, dtype=None, _stacklevel=3) -> Tensor:
    """y = x - logsumexp(x) over dim; dtype= casts the input first."""
    x = _softmax_input(input, dim, _dtype_or_stacklevel(dtype, _stacklevel), "log_softmax")
    return LogSoftmaxFn.apply(x, _softmax_axis(x, dim))


def _inplace_result(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """inplace=True: outside the autograd graph (no grad needed, or under no_grad) the result
    is written into input and input is returned, as torch. A tensor in the graph keeps its
    values and the result comes back as a new tensor: in-place ops are not recorded here
    (zengrad has no version counters), and a silently wrong gradient is worse."""
    if not inplace or (input.requires_grad and is_grad_enabled()):
        return out
    if not getattr(input.array.flags, "writeable", True):  # (CuPy's flags have none)
        raise RuntimeError("inplace=True: the input's array is read-only (a broadcast or "
                           "expanded view); use inplace=False")
    input.array[...] = out.array
    return input


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """y = clamp(x, min_val, max_val); gradient 1 strictly inside, 0 elsewhere."""
    if not isinstance(input, Tensor):
        raise TypeError(f"hardtanh: expected a Tensor, got {type(input).__name__}")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val="
                         f"{min_val} and max_val={max_val}")
    return _inplace_result(input, HardtanhFn.apply(input, min_val, max_val), inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """y = min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """y = log(1 / (1 + e^-x)), stable for any x."""
    _check_float(input, "logsigmoid")
    return LogSigmoidFn.apply(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x tanh(ln(1 + e^x))."""
    _check_float(input, "mish")
    return _inplace_result(input, MishFn.apply(input), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x min(max(x + 3, 0), 6) / 6."""
    _check_float(input, "hardswish")
    return _inplace_result(input, HardswishFn.apply(input), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """y = min(max(x + 3, 0), 6) / 6."""
    _check_float(input, "hardsigmoid")
    return _inplace_result(input, HardsigmoidFn.apply(input), inplace)


def softsign(input: Tensor) -> Tensor:
    """y = x / (1 + |x|); integer input gives the default float dtype (as torch)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"softsign: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind in "biu":
        input = Tensor._make(input.array.astype(get_default_dtype()), False, None)
    _check_float(input, "softsign")
    return SoftsignFn.apply(input)
