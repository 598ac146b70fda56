"""torch.nn.modules.utils: the argument normalizers layers (and programs) import from there."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat


def _ntuple(n: int, name: str = "parse") -> Callable:
    """parse(x) = tuple(x) for an iterable, else (x,) * n: _pair(3) == (3, 3)."""

    def parse(x):
        if isinstance(x, Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t: tuple, n: int) -> tuple:
    """Each element of t, last first, repeated n times: ((1, 2), 2) -> (2, 2, 1, 1) (the
    padding order F.pad wants from a conv's per-dim padding)."""
    return tuple(x for x in reversed(t) for _ in range(n))
