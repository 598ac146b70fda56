"""Random search: each parameter drawn on its own, uniformly in its unit (log/step) space."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..distributions import BaseDistribution
from .base import BaseSampler


class RandomSampler(BaseSampler):
    """``RandomSampler(seed)``: reproducible for a given seed when trials run in order.

    Floats are uniform on [low, high] (log-uniform with ``log=True``); every allowed integer,
    stepped value or category has the same probability.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def sample_independent(
        self, study: Any, trial: Any, name: str, distribution: BaseDistribution
    ) -> Any:
        return distribution.from_unit(self._rng.random())
