"""Argument normalizers shared by the ops and layers (conv, pooling, norms, interpolate).

They turn what a user may pass (an int or a tuple, a shape) into one canonical form, or raise
an error that names the owner (the call the user wrote) and the offending value.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral


def ntuple(value, n: int, what: str, owner: str) -> tuple[int, ...]:
    """An int or a length-n sequence of ints as an n-tuple; TypeError otherwise."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n:
        if all(isinstance(v, Integral) and not isinstance(v, bool) for v in value):
            return tuple(int(v) for v in value)
    raise TypeError(f"{owner}: {what} must be an int or a tuple of {n} ints, got {value!r}")


def check_positive(value: tuple[int, ...], what: str, owner: str) -> None:
    """ValueError naming `what` when any entry is <= 0."""
    if any(v <= 0 for v in value):
        raise ValueError(f"{owner}: {what} must be positive, got {value}")


def shape_str(shape) -> str:
    """A shape as error messages print it: (2, 3), whatever sequence of ints it came as."""
    return str(tuple(int(s) for s in shape))


class LazyName:
    """An error message's owner ("Conv2d(3, 16, kernel_size=(3, 3))") formatted only when a
    message is: layers pass one per call, and building the text every call cost more than
    the checks themselves."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], str]) -> None:
        self._make = make

    def __str__(self) -> str:
        return self._make()

    def __format__(self, spec: str) -> str:
        return format(self._make(), spec)
