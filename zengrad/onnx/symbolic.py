"""Sizes that follow the dynamic axes: c * (product of axis sizes) + k.

The tracer runs the model three times, on the example inputs and on two copies resized along
the dynamic axes. A size (of a value's dim, or an int argument such as a reshape target or an
index) that is the same in all three runs is a constant; one that changes is fitted as

    s = c * m + k,   m = one axis size (N), or the product of two (N L, N N)

from the first two runs (two equations, two unknowns c, k) and checked on the third. A size
that fits no such form (N // 2 after a pooling of a dynamic image side) cannot be exported
with that axis dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement


@dataclass(frozen=True)
class Sym:
    """c * prod(axes) + k over the named dynamic axes (names sorted, repeats allowed)."""

    coef: int
    axes: tuple[str, ...]
    const: int = 0

    def value(self, env: dict[str, int]) -> int:
        m = 1
        for a in self.axes:
            m *= env[a]
        return self.coef * m + self.const

    def minus(self, other: Sym) -> int | None:
        """self - other when it is a constant, else None."""
        if self.coef == other.coef and self.axes == other.axes:
            return self.const - other.const
        return None

    def __str__(self) -> str:
        term = "*".join(self.axes)
        if self.coef != 1:
            term = f"{self.coef}*{term}"
        if self.const:
            term += f"{'+' if self.const > 0 else '-'}{abs(self.const)}"
        return term


Dim = int | Sym


def _monomials(names: list[str]) -> list[tuple[str, ...]]:
    singles = [(n,) for n in names]
    pairs = [tuple(sorted(p)) for p in combinations_with_replacement(names, 2)]
    return singles + pairs


def fit(values: list[int], envs: list[dict[str, int]]) -> Dim | None:
    """The size that takes values[i] in run i (envs[i] = the dynamic axes' sizes), or None.

    Simplest form first: a constant, then c * axis with k = 0, then any c, k."""
    if all(v == values[0] for v in values):
        return values[0]
    if not envs or not envs[0]:
        return None
    candidates = []
    for axes in _monomials(sorted(envs[0])):
        ms = [Sym(1, axes).value(env) for env in envs]
        if ms[1] == ms[0]:
            continue
        dv, dm = values[1] - values[0], ms[1] - ms[0]
        if dv % dm:
            continue
        c = dv // dm
        k = values[0] - c * ms[0]
        if c == 0:
            continue
        s = Sym(c, axes, k)
        if all(s.value(env) == v for env, v in zip(envs, values)):
            candidates.append(s)
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.const != 0, len(s.axes), abs(s.const)))


def is_static(d: Dim) -> bool:
    return isinstance(d, int)
