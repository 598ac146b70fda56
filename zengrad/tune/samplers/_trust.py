"""Trust regions for the GP sampler (after TuRBO, Eriksson et al. 2019): search a box
around the incumbent that grows on success streaks and shrinks on failure streaks; when
it collapses, leave that basin for good and start a new region elsewhere.

Why: a GP fitted to trials crowded in one basin learns that basin's lengthscales and then
predicts the rest of the space to be poor (on Hartmann-6, the global basin scores a log EI
of -18 once 30 trials sit in a local minimum), so plain EI never leaves.  A trust region
makes the local phase short and explicit, and its collapse is the signal to move on.

State, replayed from the completed trials in trial-number order (so it needs no storage:
a resumed study, or another process, derives the same region):

* an *epoch* starts at trial ``n0`` (the end of the start design) with side ``L = init``;
  each trial of the epoch that improves the epoch's best by more than ``tol`` (a share of
  the start design's std) is a success, any other a failure;
* ``success_tol`` successes in a row double L (at most ``max_length``), ``failure_tol``
  failures in a row halve it;
* when L drops below ``min_length`` the epoch's best point becomes a *basin* (a ball of
  RMS radius ``radius`` per numeric unit-cube coordinate) and a new epoch starts: the GP is
  then fitted to the trials outside every basin (it forgets the crowded ones), candidates
  inside a basin are dropped, and the new region is centred on the best trial outside them.

The box (``bounds``): numeric columns ``center +- L/2 * w_d``, with w the GP's lengthscales
divided by their geometric mean (long along the directions the objective varies slowly);
grid columns at least one grid step wide, categorical columns unrestricted; ``local=False``
keeps the restarts and drops the box (every step global).

Measured (bench/tune/README.md, round 3): with 50 model trials on Hartmann-6 it does not
pay: the box slows the first descent, so designs the plain GP solves end in a local
minimum, and restarts that forget cost the refinement of runs already in the global basin.
An option for long searches, not the default.
"""

from __future__ import annotations

import numpy as np


class TrustRegion:
    def __init__(self, n0: int, init: float = 0.8, min_length: float = 0.1,
                 max_length: float = 1.6, success_tol: int = 3, failure_tol: int = 3,
                 radius: float = 0.2, tol: float = 1e-3, forget: bool = True,
                 local: bool = True) -> None:
        if not 0 < min_length < init <= max_length:
            raise ValueError(f"trust region lengths must satisfy 0 < min < init <= max, got "
                             f"{min_length}, {init}, {max_length}")
        if success_tol < 1 or failure_tol < 1:
            raise ValueError(f"trust region tolerances must be >= 1, got {success_tol} and "
                             f"{failure_tol}")
        if not radius > 0:
            raise ValueError(f"trust region radius must be > 0, got {radius}")
        self.n0, self.init, self.min_length, self.max_length = n0, init, min_length, max_length
        self.success_tol, self.failure_tol, self.radius, self.tol = (
            success_tol, failure_tol, radius, tol)
        self.forget, self.local = forget, local
        self.length = init
        self.basins: list[np.ndarray] = []
        self.center: np.ndarray | None = None
        self.restarts = 0
        self.free = np.zeros(0, dtype=bool)  # per trial: in the model (outside the basins)

    def update(self, X: np.ndarray, y: np.ndarray, numeric: np.ndarray) -> None:
        """Replay the history (X encoded, y minimized, trial order): sets ``length``,
        ``basins`` and ``center``."""
        n0 = min(self.n0, len(y))
        tol = self.tol * float(y[: max(n0, 2)].std())
        length, succ, fail, basins = self.init, 0, 0, []
        free = np.ones(len(y), dtype=bool)  # trials outside every basin
        start = n0
        best = float(np.min(y[:n0])) if n0 else np.inf
        for i in range(n0, len(y)):
            if y[i] < best - tol:
                succ, fail = succ + 1, 0
            else:
                succ, fail = 0, fail + 1
            best = min(best, float(y[i])) if free[i] else best
            if succ >= self.success_tol:
                length, succ = min(2 * length, self.max_length), 0
            elif fail >= self.failure_tol:
                length, fail = length / 2, 0
            if length < self.min_length:  # collapsed: this basin is done
                epoch = np.arange(start, i + 1)
                epoch = epoch[free[epoch]] if free[epoch].any() else epoch
                basins.append(X[epoch[np.argmin(y[epoch])]])
                free[: i + 1] &= self._outside(X[: i + 1], basins[-1:], numeric)
                length, succ, fail, start = self.init, 0, 0, i + 1
                if self.forget or not free[: i + 1].any():
                    best = np.inf  # a fresh region measures success by its own best
                else:
                    best = float(np.min(y[: i + 1][free[: i + 1]]))
        self.length, self.basins, self.restarts = length, basins, len(basins)
        self.free = free.copy()
        if basins and self.forget:
            # a fresh model per epoch: the start design (outside the basins) and the epoch
            self.free[n0:start] = False
        if basins and start >= len(y):
            self.center = None  # a new epoch's first step: a global one
            return
        pool = np.flatnonzero(self.free) if self.free.any() else np.arange(len(y))
        if basins:
            pool = pool[pool >= start] if (pool >= start).any() else pool
        self.center = X[pool[np.argmin(y[pool])]]

    def bounds(self, lengthscales: np.ndarray, numeric: np.ndarray,
               min_width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of the box around ``center`` in the unit cube (categorical columns 0..1);
        ``min_width``: the smallest half-width per column (a grid step for ints)."""
        if self.center is None or not self.local:  # a global step
            return np.zeros_like(lengthscales), np.ones_like(lengthscales)
        ls = lengthscales[numeric]
        w = np.ones_like(lengthscales)
        if len(ls):
            w[numeric] = ls / np.exp(np.mean(np.log(ls)))
        half = np.maximum(0.5 * self.length * np.clip(w, 0.05, 20.0), min_width)
        lo = np.where(numeric, np.clip(self.center - half, 0.0, 1.0), 0.0)
        hi = np.where(numeric, np.clip(self.center + half, 0.0, 1.0), 1.0)
        return lo, hi

    def outside(self, X: np.ndarray, numeric: np.ndarray) -> np.ndarray:
        """Rows of X outside every basin."""
        return self._outside(X, self.basins, numeric)

    def _outside(self, X: np.ndarray, centers: list[np.ndarray], numeric: np.ndarray) -> np.ndarray:
        keep = np.ones(len(X), dtype=bool)
        for c in centers:
            d = np.sqrt(np.mean((X[:, numeric] - c[numeric]) ** 2, axis=1))
            keep &= d >= self.radius
        return keep
