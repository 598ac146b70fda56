"""Encode a fixed search space as vectors in the unit cube, for model-based samplers.

* float / int: one column, ``distribution.to_unit`` (log params in log space; ints and
  stepped floats padded by half a step, so every allowed value owns an equal slice);
  a continuous optimizer may land anywhere and ``decode`` rounds to the nearest value.
* categorical with k choices: k one-hot columns; ``decode`` takes the argmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..distributions import BaseDistribution, CategoricalDistribution


class UnitSpace:
    def __init__(self, search_space: dict[str, BaseDistribution]) -> None:
        self.names = list(search_space)
        self.dists = [search_space[n] for n in self.names]
        self.columns: list[slice] = []
        col = 0
        for d in self.dists:
            width = len(d.choices) if isinstance(d, CategoricalDistribution) else 1
            self.columns.append(slice(col, col + width))
            col += width
        self.dim = col
        self.numeric = np.zeros(col, dtype=bool)  # columns a continuous optimizer may move
        for d, cols in zip(self.dists, self.columns):
            if not isinstance(d, CategoricalDistribution):
                self.numeric[cols] = True

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        x = np.zeros(self.dim)
        for name, d, cols in zip(self.names, self.dists, self.columns):
            if isinstance(d, CategoricalDistribution):
                x[cols.start + d.index(params[name])] = 1.0
            else:
                x[cols.start] = d.to_unit(params[name])
        return x

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        params = {}
        for name, d, cols in zip(self.names, self.dists, self.columns):
            if isinstance(d, CategoricalDistribution):
                params[name] = d.choices[int(np.argmax(x[cols]))]
            else:
                params[name] = d.from_unit(float(x[cols.start]))
        return params

    def snap(self, x: np.ndarray) -> np.ndarray:
        """The encoding of the value ``x`` decodes to (ints rounded, categories one-hot)."""
        return self.encode(self.decode(x))

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n uniform points: numeric columns uniform, one random category per block."""
        X = rng.random((n, self.dim))
        for d, cols in zip(self.dists, self.columns):
            if isinstance(d, CategoricalDistribution):
                X[:, cols] = np.eye(len(d.choices))[rng.integers(len(d.choices), size=n)]
        return X
