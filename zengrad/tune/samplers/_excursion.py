"""Excursions: leaving a basin the GP has converged in, to look for a better one.

A stationary GP fitted to trials crowded into one basin learns that basin's shape
everywhere: on Hartmann-6 the local minimum at regret 0.12 is flat along x3 and x5, so the
fitted lengthscales of those inputs grow to 5-10 (the unit cube is 1 wide) and the model
predicts the global basin, which is narrow along them, to be poor (posterior mean near the
average, log EI there about -18).  More exploitation cannot fix that; the model must forget
the crowded basin for a while.  So:

* **stall**: the best value has not improved by more than ``tol`` (a share of the values'
  std) for ``patience`` completed trials (and as many since the last excursion ended);
* **excursion**: for the next ``length`` trials the GP is fitted only to the trials
  *outside* the balls around the incumbent and around the best points of earlier failed
  excursions (RMS distance per numeric unit-cube coordinate below ``radius``), the
  acquisition's reference value is the best of those, and candidates inside the balls are
  dropped.  It ends early when it beats the incumbent (the new basin is then exploited as
  usual); when it fails, its best point becomes one more ball for later excursions and the
  normal search (all trials) resumes, refining the incumbent.  ``limit`` caps the number
  of excursions per study (each costs refinement trials in a basin that was the global one).

State lives in the sampler object (a resumed study starts without excursions); it is
derived from the completed trials in trial-number order, so sequential runs are
reproducible.
"""

from __future__ import annotations

import numpy as np


class Excursions:
    def __init__(self, patience: int, length: int, radius: float, tol: float = 0.01,
                 limit: int | None = None) -> None:
        if patience < 1 or length < 1:
            raise ValueError(f"stall_patience and excursion_length must be >= 1, got "
                             f"{patience} and {length}")
        if not radius > 0:
            raise ValueError(f"escape_radius must be > 0, got {radius}")
        self.patience, self.length, self.radius, self.tol = patience, length, radius, tol
        self.limit, self.count = limit, 0  # at most `limit` excursions per study (None: any)
        self._start: int | None = None  # completed-trial count when the excursion began
        self._best_at_start = np.inf
        self._resumed = 0  # completed-trial count when normal search last resumed
        self.failed: list[np.ndarray] = []  # best points of failed excursions
        self.centers: list[np.ndarray] = []  # the balls of the running excursion

    def update(self, X: np.ndarray, y: np.ndarray, numeric: np.ndarray) -> bool:
        """Advance the state on the completed trials (X encoded, y minimized, trial order);
        True while an excursion runs (then ``centers`` holds its balls)."""
        n = len(y)
        tol = self.tol * float(y.std())
        if self._start is not None:
            if y.min() < self._best_at_start - tol:  # a better basin: exploit it normally
                self._end(n)
            elif n - self._start >= self.length:
                inside = ~self.outside(X, numeric)
                pool = np.arange(self._start, n)
                pool = pool[~inside[pool]] if (~inside[pool]).any() else pool
                self.failed.append(X[pool[np.argmin(y[pool])]])
                self._end(n)
            else:
                return True
        best, last = np.inf, 0
        for i, v in enumerate(y):
            if v < best - tol:
                last = i
            best = min(best, v)
        if (n - 1 - last >= self.patience and n - self._resumed >= self.patience
                and (self.limit is None or self.count < self.limit)):
            self.count += 1
            self._start, self._best_at_start = n, float(y.min())
            self.centers = [X[int(np.argmin(y))], *self.failed]
            return True
        return False

    def _end(self, n: int) -> None:
        self._start, self._resumed, self.centers = None, n, []

    def outside(self, X: np.ndarray, numeric: np.ndarray) -> np.ndarray:
        """Rows of X outside every ball of the running excursion."""
        keep = np.ones(len(X), dtype=bool)
        for c in self.centers:
            d = np.sqrt(np.mean((X[:, numeric] - c[numeric]) ** 2, axis=1))
            keep &= d >= self.radius
        return keep
