"""Sample generators shared by many entries (each takes a Maker, returns a list of Samples).

Every family covers 0-d, size-0 and size-1 dims, broadcasting where the op broadcasts,
negative dims where it takes dims, and a non-contiguous (transposed or strided) input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tests.ops.registry.opinfo import ErrorInput, Maker, Sample, strided, transposed

# torch's ValueError/RuntimeError split is not zengrad's (README): accept both where they differ
SHAPE_ERRORS = (ValueError, RuntimeError)


def ones(*shape) -> np.ndarray:
    return np.ones(shape)


def dim_error(*args, **kwargs):
    """errors(): the call op(*args, **kwargs) has a dim out of range: IndexError naming it."""
    return lambda: [ErrorInput(args, kwargs, IndexError, "[Dd]im", "dim_out_of_range")]


def errors(*calls):
    """errors() returning the ErrorInputs given (each built once per call of the test)."""
    return lambda: list(calls)


def not_a_tensor(*extra):
    """A string where the tensor goes: TypeError, as torch."""
    return ErrorInput(("a", *extra), exc=TypeError, desc="string_input")


def no_broadcast(*extra):
    """Operands of shapes (2, 3) and (4,): a shape error naming them."""
    return ErrorInput((ones(2, 3), ones(4), *extra), exc=SHAPE_ERRORS,
                      match=r"\(2, 3\)|size", desc="no_broadcast")


def unary(draw: str = "__call__", **kw) -> Callable[[Maker], list[Sample]]:
    """x of shapes (2, 3), (), (0, 3), (1, 1), a transposed (3, 4) and a strided (4,), drawn
    by the Maker method draw (pos for log, away for abs, ...); kw go to the op."""

    def make(m: Maker) -> list[Sample]:
        d = getattr(m, draw)
        return [
            Sample((d(2, 3),), dict(kw), "2x3"),
            Sample((d(),), dict(kw), "0d"),
            Sample((d(0, 3),), dict(kw), "size0"),
            Sample((d(1, 1),), dict(kw), "size1"),
            Sample((transpose_view(d(4, 3)),), dict(kw), "transposed"),
            Sample((strided_view(d(4)),), dict(kw), "strided"),
        ]

    return make


def binary(draw_a: str = "__call__", draw_b: str = "__call__", scalar=None, **kw):
    """(a, b) broadcasting: equal shapes, (2, 3) with (3,), (2, 1) with (1, 3), 0-d with
    (2,), size-0, a transposed a; and b a Python scalar when scalar is given."""

    def make(m: Maker) -> list[Sample]:
        a, b = getattr(m, draw_a), getattr(m, draw_b)
        out = [
            Sample((a(2, 3), b(2, 3)), dict(kw), "same"),
            Sample((a(2, 3), b(3)), dict(kw), "bcast_row"),
            Sample((a(2, 1), b(1, 3)), dict(kw), "bcast_outer"),
            Sample((a(), b(2)), dict(kw), "0d"),
            Sample((a(0, 3), b(3)), dict(kw), "size0"),
            Sample((transpose_view(a(3, 2)), b(1, 2)), dict(kw), "transposed"),
        ]
        if scalar is not None:
            out.append(Sample((a(2, 2), scalar), dict(kw), "scalar"))
        return out

    return make


def reduce(draw: str = "distinct", keepdim: bool = True, empty: bool = True, dim_name="dim",
           full: bool = True, **kw):
    """x reduced over all dims, one dim, a negative dim, a tuple of dims, with keepdim,
    0-d, size-0 (when empty) and transposed inputs."""

    def make(m: Maker) -> list[Sample]:
        d = getattr(m, draw)
        out = [
            Sample((d(2, 3, 2), 1), dict(kw), "dim1"),
            Sample((d(2, 3), -1), dict(kw), "dim_neg"),
            Sample((d(), 0), dict(kw), "0d_dim0"),
            Sample((transpose_view(d(3, 4)), 0), dict(kw), "transposed"),
        ]
        if full:
            out.append(Sample((d(2, 3),), dict(kw), "all"))
        if keepdim:
            out.append(Sample((d(2, 3), 0), {"keepdim": True, **kw}, "keepdim"))
        if empty:
            out.append(Sample((d(0, 3), 1), dict(kw), "size0"))
        return out

    return make


def transpose_view(a):
    """a as a transposed view (arrays of 2 or more dims)."""
    return transposed(a) if a.ndim >= 2 else a


def strided_view(a):
    """a as a strided view (arrays of 1 or more dims)."""
    return strided(a) if a.ndim >= 1 else a
