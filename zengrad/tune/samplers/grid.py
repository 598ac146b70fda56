"""Grid search: every combination of the given values, each exactly once."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..distributions import BaseDistribution
from .base import BaseSampler

if TYPE_CHECKING:
    from ..study import Study

GRID_KEY = "grid_id"


class GridSampler(BaseSampler):
    """``GridSampler({"lr": [1e-3, 1e-2], "layers": [1, 2, 3]})``: 6 trials, then the study stops.

    Grid points are visited in a shuffled order (fixed by ``seed``).  Each trial claims
    its grid point through the storage when it is created, atomically, so parallel
    trials (threads, processes, several scripts sharing one SQLite file) never repeat
    a point.  A parameter the objective suggests that is not in the grid is an error.
    """

    def __init__(self, search_space: dict[str, Sequence[Any]], seed: int | None = None) -> None:
        self._seed = seed
        self._names = sorted(search_space)
        for name in self._names:
            values = list(search_space[name])
            if not values:
                raise ValueError(f"GridSampler: parameter {name!r} has an empty list of values")
            for v in values:
                if v is not None and not isinstance(v, bool | int | float | str):
                    raise ValueError(
                        f"GridSampler: value {v!r} of parameter {name!r} must be None, bool, "
                        "int, float or str"
                    )
        self._grid = list(itertools.product(*(list(search_space[n]) for n in self._names)))
        order = np.random.default_rng(seed).permutation(len(self._grid))
        self._order = [int(i) for i in order]

    def __len__(self) -> int:
        return len(self._grid)

    def trial_claim(self, study: Study) -> tuple[str, list[Any]]:
        return GRID_KEY, self._order

    def _point(self, trial: Any) -> dict[str, Any]:
        grid_id = trial.system_attrs.get(GRID_KEY)
        if grid_id is None:
            raise RuntimeError(f"trial {trial.number} holds no grid point")
        return dict(zip(self._names, self._grid[grid_id]))

    def sample_relative(
        self, study: Study, trial: Any, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        # The whole grid point travels with the trial, so remote workers need no sampler.
        return self._point(trial)

    def sample_independent(
        self, study: Study, trial: Any, name: str, distribution: BaseDistribution
    ) -> Any:
        if name not in self._names:
            raise ValueError(
                f"parameter {name!r} is not in the GridSampler's search space {self._names}"
            )
        value = self._point(trial)[name]
        warnings.warn(
            f"grid value {value!r} of {name!r} lies outside {distribution!r}; using it anyway",
            stacklevel=2,
        )
        return value

    def is_exhausted(self, study: Study) -> bool:
        taken = {
            t.system_attrs[GRID_KEY] for t in study.get_trials(deepcopy=False)
            if GRID_KEY in t.system_attrs
        }
        return len(taken) >= len(self._grid)


