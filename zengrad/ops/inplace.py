"""In-place ops in the graph (x.add_(y), x[i] = v, x += y, x.exp_(), ...) and `out=`.

A recorded in-place op on x is its out-of-place op applied to `old`, a tensor that stands for
x before the write (x's storage and x's former grad_fn), with the result written into x's
memory; x takes the result's node as its grad_fn. So the gradient of an in-place op is the
gradient of the out-of-place one:

    x.mul_(y)   x_new = x_old * y          dL/dx_old = g * y,   dL/dy = g * x_old
    x[idx] = v  x_new = x_old, with v at idx    dL/dx_old = g with 0 at idx,  dL/dv = g[idx]
                (torch's CopySlices; written in place, x is not copied)

Arrays that the op saved and that live in x's memory (x_old above) are copied before the
write, as torch saves `original self`. The write bumps the version of x's storage
(autograd/engine.py): a node that saved that memory earlier raises at backward, as torch.
Outside the graph (no_grad, or nothing requires grad) the ops write the arrays directly.

Refused, as torch: a leaf that requires grad, or a view of one, under grad mode. A write
through a view of a tensor in the graph is rebased onto the base (autograd/views.py: the
base's CopySlices, and the view reads the new base), as torch's.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import (
    GRAFTED,
    RECORDED,
    bump_epoch,
    grad_mode,
    graft,
    no_grad,
    observer,
    record_write,
    storage_root,
)
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.autograd.views import (
    ScatterIntoBase,
    ViewOfBase,
    grafted_tensor,
    positions,
    resolve,
    view_base,
)
from zengrad.ops import activation, dropout, elementwise, indexing, shape, special

__all__: list[str] = []  # nothing for `zengrad.*`: the in-place ops are Tensor methods



# ------------------------------------------------------------------ checks


def _records(self: Tensor, args: tuple, kwargs: dict | None) -> bool:
    """Whether the op on self must be recorded: grad mode on, self a float tensor, and self
    or a tensor operand requires grad (an integer self can't carry a gradient: as torch,
    the op is then a plain write)."""
    if not grad_mode.enabled or self.array.dtype.kind not in "fc":
        return False
    if self.requires_grad:
        return True
    for a in args:
        if isinstance(a, Tensor) and a.requires_grad:
            return True
    if kwargs:
        for a in kwargs.values():
            if isinstance(a, Tensor) and a.requires_grad:
                return True
    return False


def _check_writeable(self: Tensor, name: str) -> None:
    a = self.array
    if not a.flags.writeable:
        if 0 in a.strides and a.size > 1:
            raise RuntimeError(
                f"{name}: unsupported operation: more than one element of the written-to tensor "
                f"refers to a single memory location (it was made by expand/broadcast_to). "
                f"Please clone() the tensor before performing the operation."
            )
        raise RuntimeError(f"{name}: the tensor's memory is read-only; clone() it first")


def _check_target(self: Tensor, name: str) -> Tensor | None:
    """torch's refusals for an in-place op recorded on self (grad mode on); returns the base
    when self is a view of another tensor in the graph (the write is then rebased onto the
    base), else None. A plain self sharing a storage that an earlier write put into the
    graph is first made to read it (views.resolve)."""
    if not self.requires_grad:
        if GRAFTED and self.array.dtype.kind in "fc" and getattr(self, "_cut", None) is None:
            root = storage_root(self.array)
            entry = GRAFTED.get(id(root))
            if entry is not None:
                resolve(self, grafted_tensor(entry, root))
    if self.requires_grad:
        if self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        base = view_base(self)
        if base is not self:
            if base.grad_fn is None:
                raise RuntimeError(
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation."
                )
            return base
    return None


def _rebased(self: Tensor, base: Tensor, name: str, outplace, args: tuple,
             kwargs: dict) -> Tensor:
    """self.op_(...) on a view of base: base[pos] = op(base[pos], ...) (ScatterIntoBase, as
    torch's CopySlices), and self reads the new base."""
    pos = positions(base.array, self.array)
    if pos is None:
        raise RuntimeError(f"{name}: can't locate this view's elements in its base")
    cur = ViewOfBase.apply(base, self.array, pos)  # self's values, as a view of base
    cur.grad_fn.base = base
    args, kwargs = _substitute(cur, self, args, kwargs)
    start = bump_epoch()
    r = outplace(cur, *args, **kwargs)
    if r is cur:
        return self
    _check_result(name, self, r.array.shape, r.array.dtype)
    if r.array.dtype != self.array.dtype:
        r = elementwise.cast(r, self.array.dtype)
    _protect_saved(r.grad_fn, start, storage_root(self.array))
    if r.array is not self.array:
        backend.xp_of(self.array).copyto(self.array, r.array, casting="unsafe")
    prev = base.grad_fn
    written = ScatterIntoBase.apply(Tensor._make(base.array, True, prev), r, pos)
    _adopt(base, written.grad_fn, prev, True)
    view = ViewOfBase.apply(base, self.array, pos)  # after the write: reads the new base
    node = view.grad_fn
    node.base, node._prev = base, self.grad_fn  # earlier consumers of self step back
    self.grad_fn = node
    return self


def _check_result(name: str, self: Tensor, shape: tuple, dtype: np.dtype) -> None:
    if shape != self.array.shape:
        raise RuntimeError(
            f"{name}: output with shape {list(self.array.shape)} doesn't match the broadcast "
            f"shape {list(shape)} (an in-place op keeps self's shape)"
        )
    if dtype != self.array.dtype and not np.can_cast(dtype, self.array.dtype, "same_kind"):
        raise RuntimeError(
            f"{name}: result type {dtype} can't be cast to the desired output type "
            f"{self.array.dtype} (in-place ops keep self's dtype)"
        )


# ------------------------------------------------------------------ recording


def _substitute(old: Tensor, self: Tensor, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """self as an operand of its own in-place op (x.mul_(x)) reads the old values."""
    args = tuple(old if a is self else a for a in args)
    kwargs = {k: old if v is self else v for k, v in kwargs.items()}
    return args, kwargs


def _protect_saved(node: Function, start: int, root: np.ndarray) -> None:
    """Copy the arrays in root's memory that the nodes of this op (stamped `start`) saved:
    the write is about to replace them (torch saves a clone of `original self`)."""
    kind = type(root)  # np.ndarray, or the device's array type
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n in seen or n._epoch != start:
            continue
        seen.add(n)
        d = n.__dict__
        for k, v in d.items():
            if type(v) is kind and storage_root(v) is root:
                d[k] = v.copy()
            elif type(v) in (tuple, list) and any(
                type(w) is kind and storage_root(w) is root for w in v
            ):
                d[k] = type(v)(
                    w.copy() if type(w) is kind and storage_root(w) is root else w for w in v
                )
        stack.extend(p.grad_fn for p in n.parents if isinstance(p, Tensor) and p.grad_fn)


def _adopt(self: Tensor, node: Function, prev: Function | None, writer: bool) -> None:
    """Make node self's grad_fn: stamped with the write's epoch (so earlier consumers of self
    step back to prev, engine.producer), and the write noted in self's storage version."""
    node._epoch = RECORDED[0] = record_write(self.array, node if writer else None)
    node._prev = prev
    obs = None if prev is None else prev._retained
    if obs is not None and obs.retain and obs.ref() is self:
        # as torch: .grad of a tensor that retains it is the gradient of its newest value
        # (hooks registered before stay with the old value, as torch's)
        obs.retain = False
        observer(self, node).retain = True
    self.grad_fn = node
    self.requires_grad = True


def record_inplace(self: Tensor, name: str, outplace, args: tuple = (),
                   kwargs: dict | None = None) -> Tensor:
    """self = outplace(self, *args, **kwargs), written into self's memory and recorded."""
    base = _check_target(self, name)
    if base is not None:
        return _rebased(self, base, name, outplace, args, kwargs or {})
    plain = not self.requires_grad
    prev = self.grad_fn
    old = Tensor._make(self.array, self.requires_grad, prev)
    args, kwargs = _substitute(old, self, args, kwargs or {})
    start = bump_epoch()  # the nodes this op makes carry `start`; nothing else does
    r = outplace(old, *args, **kwargs)
    if r is old:  # the op is the identity here (dropout in eval, p = 0): nothing to write
        return self
    _check_result(name, self, r.array.shape, r.array.dtype)
    if r.array.dtype != self.array.dtype:
        r = elementwise.cast(r, self.array.dtype)
    if r.grad_fn is None:  # an op that cuts the graph (sign, floor ...): not recordable
        raise RuntimeError(f"{name}: this op has no gradient; it can't be recorded in place")
    _protect_saved(r.grad_fn, start, storage_root(self.array))
    backend.xp_of(self.array).copyto(self.array, r.array, casting="unsafe")
    _adopt(self, r.grad_fn, prev, True)
    if plain:
        graft(self)
    return self


def write_unrecorded(self: Tensor, name: str, result) -> Tensor:
    """Outside the graph: copy result (an array or number) into self's memory, torch's
    shape and dtype rules checked; bump the version. Host values (random draws) are
    copied to self's device."""
    xp = backend.xp_of(self.array)
    r = xp.asarray(result)
    _check_result(name, self, np.broadcast_shapes(r.shape, self.array.shape), r.dtype)
    xp.copyto(self.array, r, casting="unsafe")
    self._bump_version()
    return self


def inplace_method(name: str, outplace, direct=None, direct_bumps: bool = False):
    """The method `name` (e.g. 'exp_'): recorded as outplace(self, ...) in the graph; outside
    it `direct(self, ...)` writes the arrays (default: outplace under no_grad, copied in);
    direct_bumps: direct bumps the version itself (through Tensor._check_inplace)."""

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        _check_writeable(self, name)
        if _records(self, args, kwargs):
            return record_inplace(self, name, outplace, args, kwargs)
        if direct is not None:
            direct(self, *args, **kwargs)
            if not direct_bumps:
                self._bump_version()
            return self
        with no_grad():
            plain = Tensor._make(self.array, False, None)
            r = outplace(plain, *args, **kwargs)
        if r is plain:
            return self
        return write_unrecorded(self, name, r.array)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"In-place {name[:-1]}: self = {name[:-1]}(self, ...), recorded in the "
                      f"graph when self or an operand requires grad.")
    return method


# ------------------------------------------------------------------ x[idx] = v


class CopySlices(Function):
    """x[idx] = v, written in place:  dL/dx_old = g with 0 at idx;  dL/dv = g[idx] (summed
    over the dims v was broadcast along)."""

    @staticmethod
    def forward(ctx, x, v, idx):
        ctx.idx, ctx.vshape, ctx.vdtype = idx, _shape_of(v), _dtype_of(v)
        _assign(x, idx, v)
        return x

    @staticmethod
    def backward(ctx, g):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[ctx.idx] = 0
        if ctx.needs_input_grad[1]:
            gv = g[ctx.idx]
            extra = len(ctx.vshape) - gv.ndim  # v may have more leading 1s than the slice
            if extra > 0:
                gv = gv.reshape((1,) * extra + gv.shape)
            gv = unbroadcast(gv, ctx.vshape).astype(ctx.vdtype, copy=False)
        return gx, gv, None

    def name(self) -> str:
        return "CopySlices"


def _shape_of(v) -> tuple:
    """The shape of an array, a number or a nested list (the last two on the host)."""
    return v.shape if hasattr(v, "shape") else np.shape(v)  # host


def _dtype_of(v) -> np.dtype:
    """The dtype of an array, or the one NumPy gives a number or a nested list."""
    return v.dtype if hasattr(v, "dtype") else np.asarray(v).dtype  # host


def _assign(x, idx, v) -> None:
    try:
        x[idx] = v
    except ValueError:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(_shape_of(v))} cannot be broadcast "
            f"to indexing result of shape {list(_shape_of(x[idx]))}"
        ) from None


def setitem(self: Tensor, index, value) -> None:
    """x[index] = value; recorded (CopySlices) when x is in the graph or value requires grad."""
    _check_writeable(self, "index assignment")
    idx = shape.unwrap_index(index)
    if not _records(self, (value,), None):
        _assign(self.array, idx, value.array if isinstance(value, Tensor) else value)
        self._bump_version()
        return
    base = _check_target(self, "index assignment")
    if isinstance(value, Tensor) and value.array.dtype != self.array.dtype:
        value = elementwise.cast(value, self.array.dtype)  # as the write casts
    if base is not None:  # x[i][j] = v on a view x of a tensor in the graph
        _rebased(self, base, "index assignment",
                 lambda old, v: CopySlices.apply(old, v, idx), (value,), {})
        return
    plain = not self.requires_grad
    prev = self.grad_fn
    old = Tensor._make(self.array, self.requires_grad, prev)
    r = CopySlices.apply(old, value, idx)  # writes self.array (old's memory) in place
    _adopt(self, r.grad_fn, prev, True)
    if plain:
        graft(self)


# ------------------------------------------------------------------ the methods


def _alpha(name: str, self: Tensor, other, args: tuple, alpha):
    if args or not isinstance(alpha, (int, float)):
        other, alpha = elementwise._alpha_args(name, self, other, args, alpha)
    return other, alpha


def _ufunc_direct(name: str, ufunc: str, self: Tensor, other) -> None:
    """self.array = ufunc(self.array, other) in place, ufunc named in self's array module."""
    other = other.array if isinstance(other, Tensor) else other
    xp = backend.xp_of(self.array)
    if not isinstance(other, (int, float, type(self.array))) and backend.is_array(other):
        # an array of another device: torch's error naming both
        xp = backend.xp_pair(name, self.array, other)
    try:
        getattr(xp, ufunc)(self.array, other, out=self.array)
    except TypeError:  # NumPy's UFuncTypeError: the result does not fit self's dtype
        kind = getattr(other, "dtype", other)
        raise RuntimeError(
            f"{name}: result type {np.result_type(self.array.dtype, kind)} can't be cast to "
            f"the desired output type {self.array.dtype} (in-place ops keep self's dtype)"
        ) from None
    except ValueError:
        raise RuntimeError(
            f"{name}: other of shape {list(_shape_of(other))} does not broadcast to self's "
            f"shape {list(self.array.shape)}"
        ) from None


def add_(self: Tensor, other, *args, alpha=1) -> Tensor:
    """self += alpha * other; add_(alpha, other) is torch's deprecated order (it warns)."""
    other, alpha = _alpha("add_", self, other, args, alpha)
    return _add_method(self, other, alpha=alpha)


def sub_(self: Tensor, other, *args, alpha=1) -> Tensor:
    """self -= alpha * other."""
    other, alpha = _alpha("sub_", self, other, args, alpha)
    return _sub_method(self, other, alpha=alpha)


def _scaled(other, alpha):
    if alpha == 1:
        return other
    return alpha * (other.array if isinstance(other, Tensor) else other)


_add_method = inplace_method(
    "add_", elementwise.add,
    lambda self, other, alpha=1: _ufunc_direct("add_", "add", self, _scaled(other, alpha)))
_sub_method = inplace_method(
    "sub_", elementwise.sub,
    lambda self, other, alpha=1: _ufunc_direct("sub_", "subtract", self, _scaled(other, alpha)))


def _div_direct(self: Tensor, other, rounding_mode=None) -> None:
    if rounding_mode is not None:
        with no_grad():
            r = elementwise.div(Tensor._make(self.array, False, None), other,
                                rounding_mode=rounding_mode)
        write_unrecorded(self, "div_", r.array)
        return
    with backend.errstate(backend.xp_of(self.array), divide="ignore", invalid="ignore"):
        _ufunc_direct("div_", "true_divide", self, other)  # x / 0 = inf/nan, as torch


def _fill_value(name: str, value):
    if isinstance(value, Tensor):
        if value.array.ndim != 0:
            raise RuntimeError(
                f"{name} only supports 0-dimension value tensor but got tensor with "
                f"{value.array.ndim} dimensions."
            )
        return value
    if not isinstance(value, (bool, int, float, np.number, np.bool_)):
        raise TypeError(f"{name}(): argument 'value' must be a Number, not {type(value).__name__}")
    return value


def _replaced(old: Tensor, src) -> Tensor:
    """src in old's shape, with no gradient to old: where(False, old, src)."""
    return elementwise.where(False, old, src)


def fill_(self: Tensor, value) -> Tensor:
    """self = value everywhere (a number or a 0-d tensor)."""
    return _fill_method(self, _fill_value("fill_", value))


_fill_method = inplace_method("fill_", _replaced)


def zero_(self: Tensor) -> Tensor:
    """self = 0."""
    return _fill_method(self, 0)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """self = src (broadcast to self's shape, cast to self's dtype)."""
    if not isinstance(src, Tensor):
        src = Tensor._make(backend.xp_of(self.array).asarray(src), False, None)
    try:
        np.broadcast_shapes(src.array.shape, self.array.shape)
    except ValueError:
        raise RuntimeError(
            f"copy_: source of shape {list(src.array.shape)} does not broadcast to "
            f"{list(self.array.shape)}"
        ) from None
    if src.array.dtype != self.array.dtype and _records(self, (src,), None):
        src = elementwise.cast(src, self.array.dtype)  # copy_ casts any dtype, as torch
    return _copy_method(self, src)


def _copy_direct(self: Tensor, src: Tensor) -> None:
    """self = src outside the graph; a source on another device is copied over first."""
    dst, a = self.array, src.array
    if type(a) is not type(dst):
        a = backend.to_device(a, backend.device_of(dst))
    xp = backend.xp_of(dst)
    xp.copyto(dst, xp.broadcast_to(a, dst.shape), casting="unsafe")


_copy_method = inplace_method("copy_", _replaced, _copy_direct)


def clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    """self = min(max(self, min), max); bounds are numbers or tensors."""
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must not be None")
    return _clamp_method(self, min, max)


_clamp_method = inplace_method("clamp_", elementwise.clamp)


def _random_fill(name: str, draw):
    """uniform_/normal_: new values with no gradient to the old ones."""

    def method(self: Tensor, *args, **kwargs) -> Tensor:
        values = draw(self.array.shape, *args, **kwargs).astype(self.array.dtype, copy=False)
        return _fill_method(self, Tensor._make(values, False, None)) if _records(
            self, (), None) else write_unrecorded(self, name, values)

    method.__name__ = method.__qualname__ = name
    return method


def _uniform(shape, a: float = 0.0, b: float = 1.0, *, generator=None):
    from zengrad import backend

    return backend.rng_of(generator, "uniform_").uniform(a, b, shape)


def _normal(shape, mean: float = 0.0, std: float = 1.0, *, generator=None):
    from zengrad import backend

    return backend.rng_of(generator, "normal_").normal(mean, std, shape)


def _shape_method(name: str, outplace):
    """unsqueeze_, squeeze_, t_, transpose_: self takes the new shape (a view of the same
    memory); recorded as the view op. As torch, the storage's version goes up by one."""

    def method(self: Tensor, *args) -> Tensor:
        if grad_mode.enabled and self.requires_grad:
            if self.grad_fn is None:
                raise RuntimeError(
                    "a leaf Variable that requires grad is being used in an in-place operation."
                )
            prev = self.grad_fn
            r = outplace(Tensor._make(self.array, True, prev), *args)
            self.array = r.array
            _adopt(self, r.grad_fn, prev, False)
            return self
        with no_grad():
            self.array = outplace(Tensor._make(self.array, False, None), *args).array
        self._bump_version()
        return self

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place {name[:-1]}: self takes the new shape."
    return method


def _addcmul(input: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return elementwise.add(input, elementwise.mul(elementwise.mul(tensor1, tensor2), value))


def _addcdiv(input: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return elementwise.add(input, elementwise.mul(elementwise.div(tensor1, tensor2), value))


def _exponential(shape, lambd: float = 1.0, *, generator=None):
    from zengrad import backend

    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return backend.rng_of(generator, "exponential_").exponential(1.0 / lambd, shape)


def _geometric(shape, p: float, *, generator=None):
    from zengrad import backend

    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return backend.rng_of(generator, "geometric_").geometric(p, shape)


def _cauchy(shape, median: float = 0.0, sigma: float = 1.0, *, generator=None):
    from zengrad import backend

    return median + sigma * backend.rng_of(generator, "cauchy_").standard_cauchy(shape)


def _log_normal(shape, mean: float = 1.0, std: float = 2.0, *, generator=None):
    from zengrad import backend

    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return backend.rng_of(generator, "log_normal_").lognormal(mean, std, shape)


def _iop(method_name: str):
    def op(self: Tensor, other) -> Tensor:
        return getattr(self, method_name)(other)

    op.__name__ = f"__i{method_name[:-1]}__"
    return op


_METHODS = {
    "add_": add_, "sub_": sub_, "fill_": fill_, "zero_": zero_, "copy_": copy_,
    "clamp_": clamp_,
    "mul_": inplace_method(
        "mul_", elementwise.mul, lambda s, o: _ufunc_direct("mul_", "multiply", s, o)),
    "div_": inplace_method("div_", elementwise.div, _div_direct),
    "uniform_": _random_fill("uniform_", _uniform),
    "normal_": _random_fill("normal_", _normal),
    "__setitem__": setitem,
    "__iadd__": _iop("add_"), "__isub__": _iop("sub_"), "__imul__": _iop("mul_"),
    "__itruediv__": _iop("div_"),
    "unsqueeze_": _shape_method("unsqueeze_", shape.unsqueeze),
    "squeeze_": _shape_method("squeeze_", shape.squeeze),
    "t_": _shape_method("t_", shape.t),
    "transpose_": _shape_method("transpose_", shape.transpose),
}
# one-operand ops and those with plain arguments: the out-of-place op, recorded
for _fn in (
    elementwise.exp, elementwise.log, elementwise.log1p, elementwise.sqrt, elementwise.rsqrt,
    elementwise.neg, elementwise.abs, elementwise.sin, elementwise.cos, elementwise.square,
    elementwise.reciprocal, elementwise.pow, elementwise.clamp_min, elementwise.clamp_max,
    elementwise.clip, activation.relu, activation.sigmoid, activation.tanh,
    activation.leaky_relu, activation.elu,
):
    _METHODS[_fn.__name__ + "_"] = inplace_method(_fn.__name__ + "_", _fn)
_METHODS["negative_"] = _METHODS["neg_"]
_METHODS["absolute_"] = _METHODS["abs_"]
# rounding, sign and the special functions (their gradients are torch's: 0 for the steps)
for _fn in (
    elementwise.floor, elementwise.ceil, elementwise.round, elementwise.trunc,
    elementwise.frac, elementwise.sign, elementwise.fmod, elementwise.remainder,
    elementwise.floor_divide, special.tan, special.log2, special.log10, special.erf,
    special.erfc, special.atan2, special.lerp,
):
    _METHODS[_fn.__name__ + "_"] = inplace_method(_fn.__name__ + "_", _fn)
_METHODS["fix_"] = _METHODS["trunc_"]
_METHODS["sgn_"] = _METHODS["sign_"]  # real tensors: sgn is sign
_METHODS["subtract_"] = _METHODS["sub_"]
_METHODS["multiply_"] = _METHODS["mul_"]
_METHODS["divide_"] = _METHODS["true_divide_"] = _METHODS["div_"]
_METHODS["addcmul_"] = inplace_method("addcmul_", _addcmul)
_METHODS["addcdiv_"] = inplace_method("addcdiv_", _addcdiv)
_METHODS["swapdims_"] = _METHODS["swapaxes_"] = _METHODS["transpose_"]
for _name, _draw in (("exponential_", _exponential), ("geometric_", _geometric),
                     ("cauchy_", _cauchy), ("log_normal_", _log_normal)):
    _METHODS[_name] = _random_fill(_name, _draw)
# the indexing family's in-place ops: recorded as their out-of-place twins in the graph,
# their own array writes outside it
for _name in ("masked_fill", "index_add", "scatter", "scatter_add", "index_fill", "index_copy",
              "scatter_reduce", "tril", "triu"):
    _METHODS[_name + "_"] = inplace_method(
        _name + "_", indexing.TENSOR_METHODS[_name], indexing.TENSOR_METHODS[_name + "_"], True)

for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)


# ------------------------------------------------------------------ inplace=True


def _inplace_ops() -> dict:
    """The in-place forms behind F.relu(x, inplace=True) and the layers' inplace=True:
    recorded as their out-of-place ops in the graph (the result IS the input, as torch)."""
    ops = {n: _METHODS[n + "_"] for n in ("relu", "leaky_relu", "elu", "sigmoid", "tanh")}
    for fn in (activation.hardtanh, activation.relu6, activation.silu, activation.mish,
               activation.hardswish, activation.hardsigmoid, dropout.dropout):
        ops[fn.__name__] = inplace_method(fn.__name__ + "_", fn)
    return ops


INPLACE_OPS = _inplace_ops()


def with_inplace(fn, n_args: int = 0):
    """fn(input, *args) also taking torch's `inplace` (a keyword, or the positional argument
    after fn's n_args arguments): inplace=True writes the result into input and returns
    input, recorded in the graph (INPLACE_OPS)."""
    inplace_op = INPLACE_OPS[fn.__name__]

    @functools.wraps(fn)
    def wrapper(input, *args, inplace: bool = False, **kwargs):
        if len(args) > n_args:
            inplace, args = args[n_args], args[:n_args]
        if inplace:
            if not isinstance(input, Tensor):
                raise TypeError(f"{fn.__name__}: expected a Tensor, got {type(input).__name__}")
            return inplace_op(input, *args, **kwargs)
        return fn(input, *args, **kwargs)

    return wrapper


# ------------------------------------------------------------------ out=


def _requires_grad_anywhere(values) -> bool:
    for v in values:
        if isinstance(v, Tensor):
            if v.requires_grad:
                return True
        elif isinstance(v, (list, tuple)) and _requires_grad_anywhere(v):
            return True
    return False


def write_out(name: str, out, fn, args: tuple, kwargs: dict) -> Tensor:
    """fn(*args, **kwargs) written into `out` (torch's out= semantics): not differentiable;
    out is resized (with torch's warning if it had elements) when its shape differs; the
    result must cast to out's dtype (same kind)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if grad_mode.enabled and (out.requires_grad or _requires_grad_anywhere(args)
                              or _requires_grad_anywhere(kwargs.values())):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            f"differentiation, but one of the arguments requires grad."
        )
    _check_writeable(out, name)
    with no_grad():
        r = fn(*args, **kwargs)
    result = r.array
    if not np.can_cast(result.dtype, out.array.dtype, "same_kind"):
        raise RuntimeError(
            f"{name}(): result type {result.dtype} can't be cast to the desired output type "
            f"{out.array.dtype}"
        )
    if result.shape != out.array.shape:
        if out.array.size:
            warnings.warn(
                f"{name}(): an output with one or more elements was resized since it had "
                f"shape {list(out.array.shape)}, which does not match the required output "
                f"shape {list(result.shape)}. This behavior is deprecated (as in torch); "
                f"resize it to zero elements first (out.resize_(0))",
                UserWarning, stacklevel=3,
            )
        out.array = backend.xp_of(out.array).empty(result.shape, out.array.dtype)
    backend.xp_of(out.array).copyto(out.array, result, casting="unsafe")
    out._bump_version()
    return out


def with_out(fn):
    """fn taking torch's out= keyword (one tensor), handled by write_out."""

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return write_out(fn.__name__, out, fn, args, kwargs)

    return wrapper


# the public functions that take out= in torch (and zengrad)
OUT_FUNCTIONS = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "matmul", "mm",
    "bmm", "cat", "concat", "concatenate", "stack", "exp", "log", "log1p", "sqrt", "rsqrt",
    "neg", "negative", "abs", "sin", "cos", "square", "reciprocal", "pow", "clamp", "clip",
    "clamp_min", "clamp_max", "maximum", "minimum", "where", "sum", "mean", "prod", "sigmoid",
    "tanh", "floor", "ceil", "round", "trunc", "sign", "remainder", "fmod", "floor_divide",
)


def with_out_functions(namespace: dict) -> dict:
    """{name: fn with out=} for the names of OUT_FUNCTIONS found in namespace."""
    return {n: with_out(namespace[n]) for n in OUT_FUNCTIONS if callable(namespace.get(n))}
