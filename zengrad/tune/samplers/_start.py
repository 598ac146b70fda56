"""The start design of a model-based sampler: the points its first trials take.

* ``"random"``: each parameter drawn uniformly in its unit (log / step) space.
* ``"sobol"``: a scrambled Sobol sequence (``scipy.stats.qmc.Sobol``), one column per
  parameter in the order the parameters are first suggested: the first n points of the
  sequence fill the unit cube more evenly than n random draws (no two start points in
  the same corner, no empty half), so fewer designs leave a basin unsampled.
* ``points``: explicit parameter dicts, taken by trials 0, 1, ... (a shared start design
  for paired comparisons); parameters a point lacks follow the design above.

Parameters are decoded with ``distribution.from_unit`` (floats, ints, categoricals alike).
The design lives in the study's process: trials run in worker processes draw parameters a
point does not prepare at random there.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..distributions import BaseDistribution

START_DESIGNS = ("random", "sobol")
_SOBOL_DIM = 64  # parameters beyond the 64th of a trial are drawn at random


class StartDesign:
    def __init__(
        self, kind: str, n: int, seed: int | None, rng: np.random.Generator,
        points: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if kind not in START_DESIGNS:
            raise ValueError(f"start_design must be one of {START_DESIGNS}, got {kind!r}")
        if points is not None and not all(isinstance(p, Mapping) for p in points):
            raise TypeError("start_points must be a sequence of {name: value} dicts")
        self.kind, self.n, self._rng = kind, n, rng
        self.points = [dict(p) for p in points or ()]
        self._seed = seed
        self._table: np.ndarray | None = None
        self._columns: dict[str, int] = {}

    def covers(self, number: int) -> bool:
        """True for the trials the design chooses (not the model)."""
        return number < max(self.n, len(self.points))

    def sample(self, number: int, name: str, dist: BaseDistribution) -> Any:
        """The value of parameter ``name`` in trial ``number`` of the design."""
        if number < len(self.points) and name in self.points[number]:
            value = self.points[number][name]
            if not dist.contains(value):
                raise ValueError(f"start_points[{number}][{name!r}] = {value!r} is outside "
                                 f"{dist}")
            return value
        col = self._columns.setdefault(name, len(self._columns))
        if self.kind == "sobol" and number < self.n and col < _SOBOL_DIM:
            return dist.from_unit(float(self._sobol()[number, col]))
        return dist.from_unit(self._rng.random())

    def _sobol(self) -> np.ndarray:
        if self._table is None:
            from scipy.stats import qmc

            m = max(1, int(np.ceil(np.log2(max(self.n, 2)))))
            with warnings.catch_warnings():  # a prefix of a 2^m block is still low-discrepancy
                warnings.simplefilter("ignore")
                self._table = qmc.Sobol(_SOBOL_DIM, scramble=True, seed=self._seed).random_base2(m)
        return self._table
