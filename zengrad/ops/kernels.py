"""Fused elementwise kernels: an update written once as a function of scalars, run as one
loop compiled by Numba, or as whole-array operations where Numba does not apply.

An elementwise update in NumPy is one ufunc call per operation, each a pass over whole
arrays: Adam's update is 12 of them, an LSTM step's backward 13. Written as a function of
the elements, `f(a_0[j], ..., s_0, ...) -> (o_0[j], ...)`, Numba compiles it into one loop
that reads each element once and keeps the intermediates in registers (Adam's step on the
784-512-256-10 MLP, 1 thread: 1.36 -> 0.42 ms; an LSTM step's gate gradients, hidden 128,
batch 64: 38 -> 10 us). The loop releases the GIL.

The same function also runs on whole arrays, its operators and ufuncs applied to the arrays
themselves: that is how it runs on CuPy, without Numba (ZENGRAD_NUMBA=0, or Numba not
installed), and for arrays the loop does not take (not contiguous, mixed dtypes). Both
evaluations apply the same IEEE-rounded operations in the same order, so their results are
bit for bit equal, provided that the function follows two rules:
- no numeric literals: a constant is a scalar argument, converted to the arrays' dtype by
  the caller (a literal `1` would make Numba compute a float32 expression in float64);
- ufuncs through the global name `kmath` (NumPy's module for Numba; for whole arrays the
  arrays' module, CuPy's on the device), and only those with one correctly rounded result
  (+, -, *, /, sqrt, maximum, minimum, comparisons): NumPy's and Numba's exp or tanh may
  differ in the last bit.
Numba is told neither fastmath nor contraction into fused multiply-adds, and division by
zero gives inf or nan as in NumPy (error_model="numpy").

An output may be the same array as an input (an in-place update): element j of every input
is read before element j of any output is written. Outputs must not overlap inputs in any
other way.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Sequence

import numpy as kmath  # the ufuncs a kernel function may call (see the module docstring)

from zengrad import backend
from zengrad.ops import jit_cache
from zengrad.ops.threads import flat_views

_FLOATS = (kmath.dtype(kmath.float32), kmath.dtype(kmath.float64))
_numba = None  # the numba module once imported; False when it is off or not installed


def numba_module():
    """numba, imported on the first kernel call (import costs ~0.25 s); False without it."""
    global _numba
    if _numba is None:
        _numba = False
        if os.environ.get("ZENGRAD_NUMBA", "1") != "0":
            try:
                import numba
            except ImportError:  # not installed on this platform: the whole-array path
                pass
            else:
                _numba = numba
    return _numba


def numba_enabled() -> bool:
    """Whether kernels on contiguous NumPy float arrays run as compiled loops."""
    return bool(numba_module())


class Kernel:
    """An elementwise function `fn(*arrays, *scalars)` -> one value or a tuple, run over
    arrays of one shape, or broadcast over a 2-D (R, C) first array: an array shaped (R, 1)
    holds one value per row, one shaped (C,) one value per column (see the module docstring).
    `outs` says where each result goes: an int i writes it into arrays[i] (in place), None
    into the next array of the call's `outs` (full (R, C) arrays). The in-place pattern is
    fixed here, not found per call: the compiled loop writes such a result through the
    input's own argument (with an argument of its own the compiler must assume that any
    store may change any input, and it neither keeps values in registers nor vectorizes:
    Adam 0.84 against 0.25 ms)."""

    def __init__(self, fn: Callable, n_arrays: int, n_scalars: int,
                 outs: Sequence[int | None]) -> None:
        self.fn, self.n_arrays, self.n_scalars = fn, n_arrays, n_scalars
        self.outs = tuple(outs)
        self.__name__ = getattr(fn, "__name__", "kernel")
        self._loops: dict[tuple[str, ...], Callable] = {}
        self._flat = None  # the flat loop once compiled (Numba on)
        self._eager_fns: dict = {}

    def __call__(self, arrays: Sequence, scalars: Sequence[float], outs: Sequence = ()) -> None:
        """Each result of fn(*arrays, *scalars) into its array (self.outs); scalars are
        converted to the first array's dtype first."""
        a0 = arrays[0]
        dtype = a0.dtype
        to = dtype.type
        typed = [to(s) for s in scalars]
        loop = self._flat
        if loop is not None and _numba:  # the common case first (~1 us)
            shape = a0.shape
            for a in (*arrays, *outs):
                if (type(a) is not kmath.ndarray or a.shape != shape or a.dtype != dtype
                        or not a.flags.c_contiguous):
                    break
            else:
                loop(*arrays, *typed, *outs)  # (the loop flattens them: no reshape here)
                return
        kinds = self._compiled_kinds(arrays, outs, dtype)
        if kinds is not None:
            flat = kinds in (("flat",), ("memory",))
            key = ("flat",) if flat else kinds
            loop = self._loops.get(key)
            if loop is None:
                loop = self._loops[key] = self._compile(key)
                if flat:
                    self._flat = loop
            if kinds == ("flat",):
                loop(*arrays, *typed, *outs)
            elif flat:
                views = flat_views([*arrays, *outs])  # in their common memory order
                loop(*views[: len(arrays)], *typed, *views[len(arrays):])
            else:  # rows (R, 1) as (R,), columns (1, C) as (C,)
                loop(*(a if k == "f" else a.reshape(-1) for a, k in zip(arrays, kinds)),
                     *typed, *outs)
            return
        values = self._eager(backend.xp_of(arrays[0]))(*arrays, *typed)
        if len(self.outs) == 1:
            values = (values,)
        own = iter(outs)
        for where, value in zip(self.outs, values):
            out = next(own) if where is None else arrays[where]
            if value is not out:
                out[...] = value

    def compiles(self, arrays: Sequence, outs: Sequence = ()) -> bool:
        """Whether a call on these arrays runs the compiled loop (else whole-array ufuncs,
        which allocate their temporaries and copy each result into its output)."""
        return self._compiled_kinds(arrays, outs, arrays[0].dtype) is not None

    def _eager(self, xp) -> Callable:
        """fn over whole arrays of module xp: a copy of fn whose `kmath` is xp (its ufuncs
        then run on xp's arrays: CuPy's on the device)."""
        fn = self._eager_fns.get(xp)
        if fn is None:
            f = self.fn
            fn = self._eager_fns[xp] = types.FunctionType(
                f.__code__, {**f.__globals__, "kmath": xp}, f.__name__, f.__defaults__,
                f.__closure__)
        return fn

    def _compiled_kinds(self, arrays: Sequence, outs: Sequence, dtype) -> tuple | None:
        """("flat",) for C-contiguous host float arrays of one dtype and shape, ("memory",)
        where they lie densely in another axis order (channel-major: threads.flat_views);
        for a 2-D first array (R, C), each array's kind: "f" (R, C) C-contiguous, "r" (R, 1),
        "c" (C,) or (1, C) contiguous; None where the compiled loop does not apply (or Numba
        is off)."""
        if dtype not in _FLOATS or not numba_module():
            return None
        a0 = arrays[0]
        for a in (*arrays, *outs):
            if type(a) is not kmath.ndarray or a.dtype != dtype:
                return None
        shape = a0.shape
        if all(a.shape == shape for a in (*arrays, *outs)):
            if all(a.flags.c_contiguous for a in (*arrays, *outs)):
                return ("flat",)
            if flat_views([*arrays, *outs]) is not None:  # dense in another memory order
                return ("memory",)
            return None
        if a0.ndim != 2 or not all(o.shape == shape and o.flags.c_contiguous for o in outs):
            return None
        rows, cols = shape
        kinds = []
        for a in arrays:
            if a.shape == shape and a.flags.c_contiguous:
                kinds.append("f")
            elif a.shape == (rows, 1):
                kinds.append("r")
            elif a.shape in ((cols,), (1, cols)) and a.flags.c_contiguous:
                kinds.append("c")
            else:
                return None
        if any(arrays[i] is not None and kinds[i] != "f" for i in self.outs if i is not None):
            return None  # a result written in place into a row or column vector
        return tuple(kinds)

    def _compile(self, kinds: tuple[str, ...]):
        """The loop over the elements, generated for this arity and these kinds and
        compiled by Numba (lazily, per dtype, on its first call: ~0.3 s, or from the disk cache:
        jit_cache)."""
        numba = numba_module()
        flat = kinds == ("flat",)
        ins = [f"a{i}" for i in range(self.n_arrays)]
        scal = [f"s{i}" for i in range(self.n_scalars)]
        own = [f"o{k}" for k, i in enumerate(self.outs) if i is None]
        outs = [f"o{k}" if i is None else ins[i] for k, i in enumerate(self.outs)]
        if flat:  # C-contiguous arrays of any number of dims, as 1-D inside the loop
            at = "[j]"
            elems = [f"{a}[j]" for a in ins]
            lines = [f"def loop({', '.join(ins + scal + own)}):"]
            lines += [f"    {a} = {a}.reshape(-1)" for a in ins + own]
            lines.append("    for j in range(a0.size):")
        else:
            at = "[r, c]"
            elems = [f"{a}[r, c]" if k == "f" else (f"v{i}" if k == "r" else f"{a}[c]")
                     for i, (a, k) in enumerate(zip(ins, kinds))]
            lines = [f"def loop({', '.join(ins + scal + own)}):",
                     "    for r in range(a0.shape[0]):"]
            lines += [f"        v{i} = {ins[i]}[r]" for i, k in enumerate(kinds) if k == "r"]
            lines.append("        for c in range(a0.shape[1]):")
        pad = " " * (8 if flat else 12)
        call = f"fn({', '.join(elems + scal)})"
        if len(outs) == 1:
            lines.append(f"{pad}{outs[0]}{at} = {call}")
        else:
            lines.append(f"{pad}res = {call}")
            lines += [f"{pad}{o}{at} = res[{k}]" for k, o in enumerate(outs)]
        namespace = {"fn": numba.njit(self.fn, nogil=True, error_model="numpy")}
        return jit_cache.compile_source("\n".join(lines), "loop", namespace, nogil=True,
                                        error_model="numpy")

