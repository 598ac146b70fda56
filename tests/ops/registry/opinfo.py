"""The registry's vocabulary: OpInfo (one public op), Sample (one call), ErrorInput (one bad
call) and Maker (random sample arrays of one dtype).

An op is named by its public path, the same in both libraries:
    "add"              zengrad.add            torch.add
    "F.conv2d"         zengrad.nn.functional  torch.nn.functional
    "linalg.norm"      zengrad.linalg.norm    torch.linalg.norm
    "Tensor.view_as"   x.view_as(...)         the same method of torch.Tensor
A sample's positional args are NumPy arrays (made tensors in each library; floating ones
require grad unless wrapped in NoGrad), lists/tuples of them, or plain values passed as they
are. Non-contiguous layouts (Maker.t, Maker.strided) are rebuilt with the same strides for
each library, so the op sees a transposed or strided view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

import zengrad as zg
import zengrad.linalg as zg_linalg
import zengrad.nn.functional as zg_F

F32, F64, I64, BOOL = (np.dtype(d) for d in ("float32", "float64", "int64", "bool"))

# (rtol, atol relative to the largest |value| of torch's result)
DEFAULT_TOL = {F64: (1e-10, 1e-10), F32: (1e-5, 1e-5)}
# the kinds of test a Sample may xfail: forward, grad, gradcheck (dtype and method use the
# first sample, errors their own list)
KINDS = ("forward", "grad", "gradcheck")


class NoGrad:
    """A floating array that is an input but not differentiated (a loss target, a weight
    torch does not differentiate)."""

    def __init__(self, array: np.ndarray):
        self.array = array


@dataclass(frozen=True)
class Sample:
    """One call: op(*args, **kwargs). xfail maps a kind of test to the reason it fails."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""
    grad: bool = True  # False: not differentiable here (ties, integer outputs)
    gradcheck: bool = True  # False: the gradient is defined otherwise than the derivative
    xfail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorInput:
    """A call both libraries must refuse; zengrad with exc and a message matching match."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    exc: type | tuple = (TypeError, ValueError, RuntimeError, IndexError)
    match: str | None = None
    desc: str = ""


@dataclass
class OpInfo:
    """One public op: its path, how to make samples, which dtypes, tolerances, bad inputs.

    samples(m) -> list[Sample], m a Maker of the dtype under test (float32, float64 or, for
    the dtype test, int64). zg_fn/torch_fn override the call (default: resolve name).
    """

    name: str
    samples: Callable
    torch_name: str | None = None
    zg_fn: Callable | None = None
    torch_fn: Callable | None = None
    dtypes: tuple = (F32, F64)
    grad: bool = True  # differentiable at all
    gradcheck: bool = True  # False where finite differences in float64 can't see the grad
    tol: dict = field(default_factory=dict)
    gradcheck_tol: tuple = (1e-5, 1e-3)  # (atol, rtol) of finite differences
    errors: Callable | None = None  # () -> list[ErrorInput]
    # also call as x.<name>(...) where torch.Tensor has the method (a str: that method)
    method: bool | str = True
    method_aliases: tuple = ()  # other Tensor method names of the op (x.clip for clamp)
    int_dtype: bool = True  # run the int64-input dtype test
    covers: tuple = ()  # other public paths of the op (aliases), run on the same samples
    xfail: dict = field(default_factory=dict)  # kind ("dtype", "method", ...) -> reason

    def zg_callable(self) -> Callable:
        return self.zg_fn or resolve(self.name, zengrad=True)

    def torch_callable(self) -> Callable:
        return self.torch_fn or resolve(self.torch_name or self.name, zengrad=False)

    def method_name(self) -> str | None:
        """The Tensor method of the same name where both libraries have one."""
        if isinstance(self.method, str):
            base = self.method
        elif not self.method or "." in self.name:
            return None
        else:
            base = self.name
        if hasattr(torch.Tensor, base) and hasattr(zg.Tensor, base):
            return base
        return None

    def tolerance(self, dtype) -> tuple[float, float]:
        return self.tol.get(np.dtype(dtype), DEFAULT_TOL.get(np.dtype(dtype), (1e-5, 1e-5)))


def resolve(path: str, *, zengrad: bool):
    """The callable a public path names in zengrad or torch."""
    head, _, tail = path.rpartition(".")
    if head == "Tensor":
        def method(self, *args, **kwargs):
            return getattr(self, tail)(*args, **kwargs)

        method.__name__ = tail
        return method
    space = {
        "": (zg, torch), "F": (zg_F, torch.nn.functional), "linalg": (zg_linalg, torch.linalg),
    }[head]
    return getattr(space[0] if zengrad else space[1], tail)


def public_object(path: str):
    """The zengrad object a public path names (for the coverage test)."""
    head, _, tail = path.rpartition(".")
    if head == "Tensor":
        return getattr(zg.Tensor, tail)
    return resolve(path, zengrad=True)


# ----------------------------------------------------------------------------- layouts


def transposed(a: np.ndarray) -> np.ndarray:
    """The values of a in a view with its last two axes' strides swapped."""
    return np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)


def strided(a: np.ndarray) -> np.ndarray:
    """The values of a in a view taking every second element of a buffer's last axis."""
    buf = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    view = buf[..., ::2]
    view[...] = a
    return view


def relayout(like: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of values in like's kind of layout (contiguous, transposed or strided)."""
    if like.flags.c_contiguous or like.ndim == 0:
        return np.array(values, order="C")
    if like.ndim >= 2 and np.swapaxes(like, -1, -2).flags.c_contiguous:
        return transposed(values)
    return strided(values)


def fresh(a: np.ndarray) -> np.ndarray:
    """A copy of a with a's kind of layout."""
    return relayout(a, a)


class Maker:
    """Random arrays of one dtype from one seeded generator (sample generators' argument).

    For integer dtypes the same draws are rounded, so one generator serves every dtype.
    """

    def __init__(self, dtype, seed: int = 0):
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)

    @property
    def is_float(self) -> bool:
        return self.dtype.kind == "f"

    def _cast(self, x) -> np.ndarray:
        x = np.asarray(x)
        if self.dtype.kind in "iu":
            return np.round(x).astype(self.dtype)
        if self.dtype == BOOL:
            return x > 0
        return x.astype(self.dtype)

    def __call__(self, *shape, low: float = -2.0, high: float = 2.0) -> np.ndarray:
        """Uniform values in [low, high)."""
        return self._cast(self.rng.uniform(low, high, size=shape))

    def away(self, *shape, low: float = 0.5, high: float = 2.0) -> np.ndarray:
        """|x| in [low, high) with random signs (no kinks or poles near 0)."""
        mag = self.rng.uniform(low, high, size=shape)
        return self._cast(mag * np.where(self.rng.random(shape) < 0.5, -1.0, 1.0))

    def pos(self, *shape, low: float = 0.5, high: float = 2.0) -> np.ndarray:
        return self._cast(self.rng.uniform(low, high, size=shape))

    def distinct(self, *shape, gap: float = 0.2) -> np.ndarray:
        """Values at least gap apart (no ties for sort, max, median, ...)."""
        n = int(np.prod(shape))
        offset = self.rng.uniform(0, gap / 2)  # two draws almost surely share no value
        return self._cast((self.rng.permutation(n) * gap - n * gap / 2 + offset).reshape(shape))

    def t(self, *shape, **kw) -> np.ndarray:
        """A transposed (non-contiguous) view of random values of shape."""
        return transposed(self(*shape, **kw))

    def strided(self, *shape, **kw) -> np.ndarray:
        """A strided (non-contiguous) view of random values of shape."""
        return strided(self(*shape, **kw))

    def index(self, high: int, *shape) -> np.ndarray:
        """int64 indices in [0, high)."""
        return self.rng.integers(0, max(high, 1), size=shape).astype(np.int64)

    def mask(self, *shape) -> np.ndarray:
        return np.asarray(self.rng.random(shape) < 0.5)


# ----------------------------------------------------------------------------- conversion


def to_lib(x, lib: str, grad: bool):
    """A sample argument as an argument of zengrad (lib 'zg') or torch ('torch')."""
    if isinstance(x, NoGrad):
        return to_lib(x.array, lib, False)
    if isinstance(x, np.ndarray):
        a = fresh(x)
        needs = grad and a.dtype.kind == "f"
        if lib == "zg":
            return zg.from_numpy(a).requires_grad_(needs)
        return torch.from_numpy(a).requires_grad_(needs)
    if isinstance(x, list):
        return [to_lib(v, lib, grad) for v in x]
    if isinstance(x, tuple):
        return tuple(to_lib(v, lib, grad) for v in x)
    if isinstance(x, np.dtype):
        return x if lib == "zg" else getattr(torch, x.name if x != BOOL else "bool")
    return x


def leaves(x) -> list:
    """The tensors (and other values) of a nested output, in order."""
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in leaves(item)]
    return [x]


def cast_sample(s: Sample, dtype) -> Sample:
    """s with every floating array cast to dtype, in the same layout."""

    def cast(x):
        if isinstance(x, NoGrad):
            return NoGrad(cast(x.array))
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            return relayout(x, x.astype(dtype))
        if isinstance(x, (list, tuple)):
            return type(x)(cast(v) for v in x)
        return x

    return Sample(tuple(cast(a) for a in s.args), dict(s.kwargs), s.desc, s.grad, s.gradcheck,
                  s.xfail)
