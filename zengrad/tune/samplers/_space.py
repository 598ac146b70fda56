"""Encode a fixed search space as vectors in the unit cube, for model-based samplers.

* float / int: one column, ``distribution.to_unit`` (log params in log space; ints and
  stepped floats padded by half a step, so every allowed value owns an equal slice);
  a continuous optimizer may land anywhere and ``decode`` rounds to the nearest value.
* categorical with k choices: k one-hot columns; ``decode`` takes the argmax.

``continuous`` marks the columns a gradient-based optimizer may move (floats without a
step); ``snap_rows`` puts many points on the grid at once, ``grid(i)`` lists the encoded
values of parameter i (every value of an int up to ``max_values``; beyond, ``max_values``
points evenly spread in the encoded space, i.e. in log space for ``log=True``, on the grid).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..distributions import BaseDistribution, CategoricalDistribution, _NumericDistribution


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
        self.continuous = np.zeros(col, dtype=bool)  # numeric columns without a step grid
        for d, cols in zip(self.dists, self.columns):
            if not isinstance(d, CategoricalDistribution):
                self.numeric[cols] = True
                self.continuous[cols] = d.step is None
        # the parameters on a grid (ints, stepped floats, categoricals), searched value by value
        self.discrete = [i for i, d in enumerate(self.dists)
                         if isinstance(d, CategoricalDistribution) or d.step is not None]

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

    def snap_rows(self, X: np.ndarray) -> np.ndarray:
        """``snap`` of every row of X, vectorized (the same rounding as ``from_unit``)."""
        X = np.array(X, dtype=float)
        for d, cols in zip(self.dists, self.columns):
            if isinstance(d, CategoricalDistribution):
                block = X[:, cols]
                X[:, cols] = np.eye(len(d.choices))[np.argmax(block, axis=1)]
            elif isinstance(d, _NumericDistribution):
                X[:, cols.start] = _snap_unit(d, X[:, cols.start])
        return X

    def grid(self, i: int, max_values: int = 64) -> np.ndarray:
        """The encoded values of parameter i: one row per value, over its columns."""
        d = self.dists[i]
        if isinstance(d, CategoricalDistribution):
            return np.eye(len(d.choices))
        assert isinstance(d, _NumericDistribution) and d.step is not None
        count = int(round((d.high - d.low) / d.step)) + 1
        if count <= max_values:
            return np.array([[d.to_unit(d._cast(d.low + j * d.step))] for j in range(count)])
        # evenly spread in the encoded space (so in log space for log=True), then on the grid
        return np.unique(_snap_unit(d, np.linspace(0.0, 1.0, max_values)))[:, None]

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n uniform points: numeric columns uniform, one random category per block."""
        X = rng.random((n, self.dim))
        for d, cols in zip(self.dists, self.columns):
            if isinstance(d, CategoricalDistribution):
                X[:, cols] = np.eye(len(d.choices))[rng.integers(len(d.choices), size=n)]
        return X


def _snap_unit(d: _NumericDistribution, u: np.ndarray) -> np.ndarray:
    """to_unit(from_unit(u)) for an array: clip, un-pad, round to the step, re-encode."""
    lo, hi = d._bounds_t()
    if hi == lo:
        return np.full_like(u, 0.5)
    t = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
    v = np.exp(t) if d.log else t
    if d.step is not None:
        v = d.low + np.round((v - d.low) / d.step) * d.step
    v = np.clip(v, d.low, d.high)
    tv = np.log(v) if d.log else v
    return np.clip((tv - lo) / (hi - lo), 0.0, 1.0)
