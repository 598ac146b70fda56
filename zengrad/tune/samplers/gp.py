"""Bayesian optimization with a Gaussian process (``GPSampler``).

Each new trial, after ``n_startup_trials`` random ones:

1. Take the completed trials (finite values; FAIL and PRUNED trials are ignored) and
   the parameters they all share (the intersection search space).  Parameters outside it
   (conditional ones) are sampled at random by ``sample_independent``.
2. Encode parameters to the unit cube (log params in log space, ints on a padded grid,
   categoricals one-hot; see ``_space.py``) and standardize the values (``y - mean) / std``,
   negated for ``direction="maximize"`` so the model always minimizes), then warp them with
   a Yeo-Johnson transform fitted by maximum likelihood (``warp_objective``; monotone, so
   the best trial stays the best; it tames heavy tails such as Rosenbrock's).
3. Fit an ARD Matern-5/2 GP by maximizing the marginal likelihood (plus a weak prior)
   with L-BFGS-B and analytic gradients, from several starts (``_gp.py`` has the formulas),
   the lengthscales of continuous inputs capped at ``max_lengthscale`` (1: the cube's
   width), so that a basin flat along an input cannot make the model sure of far regions.
4. Maximize the acquisition (log expected improvement by default): score ``n_candidates``
   points (half uniform, half perturbations of the best trials), snapped to the grid of
   the int / stepped / categorical parameters, then refine the best few with L-BFGS-B on
   the continuous columns only (analytic gradient), and then (``discrete_search``) search
   each grid parameter value by value (every category; every int value up to 64, evenly
   spread beyond), one parameter at a time, for a few rounds.  Rounding a continuous
   optimum instead lands next to, not on, the best grid value, and repeats near-duplicates.
5. Snap to a valid point (ints, steps, one category); if a trial already holds that point
   (in any state: COMPLETE, RUNNING, PRUNED or FAIL), take the next best candidate.  PRUNED
   and FAIL trials are not in the model, so without this the same model would propose
   the same point again and again, each time pruned.

Trials still running (parallel execution) enter the GP as "constant liars": their
prepared parameters with the best value seen so far, so that parallel proposals spread out.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.optimize

from ..distributions import BaseDistribution
from ..trial import FIXED_PARAMS_KEY, FrozenTrial, TrialState
from . import _gp
from ._excursion import Excursions
from ._gp import LENGTHSCALE_PRIORS, Acquisition, GaussianProcess, OutputWarp
from ._space import UnitSpace
from ._start import StartDesign
from ._trust import TrustRegion
from .base import (
    BaseSampler,
    completed_trials,
    held_points,
    intersection_search_space,
    minimize_sign,
)
from .random import RandomSampler

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..study import Study

class FittedGP:
    """A GP fitted to a study, for plots: mean and std in the objective's own units."""

    def __init__(
        self, space: UnitSpace, gp: GaussianProcess, y_mean: float, y_std: float, sign: float,
        warp: OutputWarp | None = None,
    ) -> None:
        self.space, self.gp, self.y_mean, self.y_std, self.sign = space, gp, y_mean, y_std, sign
        self.warp = warp

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std in the objective's units.  With a warp, the mean is the median
        psi^{-1}(mu) and the std half the width of psi^{-1}(mu -/+ sigma) (the warped GP's
        +-1 sigma band mapped back; exact for the quantiles, as psi is monotone)."""
        mean, var = self.gp.predict(np.atleast_2d(X))
        sd = np.sqrt(var)
        if self.warp is not None:
            lo, mid, hi = (self.warp.inverse(mean + k * sd) for k in (-1.0, 0.0, 1.0))
            mean, sd = mid, 0.5 * (hi - lo)
        return self.sign * (mean * self.y_std + self.y_mean), sd * self.y_std

    def predict_params(self, params: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        return self.predict(np.array([self.space.encode(p) for p in params]))


class GPSampler(BaseSampler):
    """``GPSampler(seed=0, n_startup_trials=10, acquisition="logei")``.

    Args:
        seed: makes the whole sequence reproducible (sequential execution).
        n_startup_trials: random trials before the GP takes over.
        acquisition: "logei" (log expected improvement, default: well-behaved gradients),
            "ei", or "ucb" (``-mu + ucb_beta * sigma`` in standardized units).
        n_candidates: random/perturbed points scored before local refinement.
        n_local_search: how many of the best candidates L-BFGS-B refines.
        n_restarts: L-BFGS-B starts for the GP hyperparameters.
        warp_objective: Yeo-Johnson-warp the standardized values before the fit.
        discrete_search: search ints / stepped floats / categoricals on their grid when
            optimizing the acquisition (False: optimize them as continuous, then round).
        lengthscale_prior: "lognormal" (weak, default) or "balanced"
            (-log p = 0.1 (l^2 + 1/l^2), which penalizes very short and very long ones).
        start_design: how the first ``n_startup_trials`` are chosen: "random" or "sobol"
            (a scrambled Sobol sequence, seeded by ``seed``; see ``_start.py``).
        start_points: explicit parameter dicts for trials 0, 1, ... (a shared design).
        stall_patience: after this many completed trials without a real improvement
            (by 1% of the values' std), an *excursion* of ``excursion_length`` trials
            (default: ``stall_patience``) searches outside a ball of radius
            ``escape_radius`` (RMS distance per numeric unit-cube coordinate) around the
            best trial, with a GP fitted to the trials outside it (``_excursion.py``).
            None: never.  ``max_excursions`` caps them per study (None: no cap).
        trust_region: True (or a dict of ``TrustRegion`` options: ``init``, ``min_length``,
            ``max_length``, ``success_tol``, ``failure_tol``, ``radius``, ``tol``,
            ``forget``, ``local``) to search
            a box around the incumbent that doubles on success streaks and halves on
            failure streaks; when it collapses, its basin is left for good and the GP is
            refitted without it (``_trust.py``).  Not with ``stall_patience``.
        max_lengthscale: the largest lengthscale the GP may fit on a continuous column
            (default 1: the unit cube's width; None: the hard bound 20; grid and one-hot
            columns always keep 20).  A basin that is flat along an
            input otherwise teaches the GP a lengthscale of 5-10 there, and it then predicts
            a narrower basin elsewhere to be poor (Hartmann-6's local minima).
        explore_every: every k-th model trial maximizes UCB with ``explore_beta`` instead
            of the acquisition (an exploration step; None: never).
    """

    def __init__(
        self, seed: int | None = None, n_startup_trials: int = 10, acquisition: str = "logei",
        *, n_candidates: int = 2000, n_local_search: int = 5, n_restarts: int = 3,
        ucb_beta: float = 2.0, warp_objective: bool = True, discrete_search: bool = True,
        lengthscale_prior: str = "lognormal", start_design: str = "random",
        start_points: Sequence[Mapping[str, Any]] | None = None,
        stall_patience: int | None = None, excursion_length: int | None = None,
        escape_radius: float = 0.2, max_excursions: int | None = None,
        trust_region: bool | Mapping[str, Any] = False, max_lengthscale: float | None = 1.0,
        explore_every: int | None = None, explore_beta: float = 3.0,
    ) -> None:
        if acquisition not in ("logei", "ei", "ucb"):
            raise ValueError(f"acquisition must be 'logei', 'ei' or 'ucb', got {acquisition!r}")
        if lengthscale_prior not in LENGTHSCALE_PRIORS:
            raise ValueError(f"lengthscale_prior must be one of {LENGTHSCALE_PRIORS}, "
                             f"got {lengthscale_prior!r}")
        self.warp_objective = warp_objective
        self.discrete_search = discrete_search
        self.lengthscale_prior = lengthscale_prior
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(int(self._rng.integers(2**31)))
        # the random design shares the random sampler's stream (same draws as before)
        self._start = StartDesign(start_design, n_startup_trials, seed, self._random._rng,
                                  start_points)
        self._excursions = None if stall_patience is None else Excursions(
            stall_patience, excursion_length or stall_patience, float(escape_radius),
            limit=max_excursions)
        if max_lengthscale is not None and not (
                _gp.BOUNDS_LENGTHSCALE[0] < max_lengthscale <= _gp.BOUNDS_LENGTHSCALE[1]):
            raise ValueError(f"max_lengthscale must be in ({_gp.BOUNDS_LENGTHSCALE[0]}, "
                             f"{_gp.BOUNDS_LENGTHSCALE[1]}], got {max_lengthscale!r}")
        self.max_lengthscale = max_lengthscale
        if explore_every is not None and explore_every < 2:
            raise ValueError(f"explore_every must be >= 2 (or None), got {explore_every!r}")
        self.explore_every, self.explore_beta = explore_every, float(explore_beta)
        if trust_region and stall_patience is not None:
            raise ValueError("trust_region and stall_patience are exclusive: choose one way "
                             "out of a basin")
        options = dict(trust_region) if isinstance(trust_region, Mapping) else {}
        self._trust = (TrustRegion(max(n_startup_trials, len(start_points or ())), **options)
                       if trust_region else None)
        self.n_startup_trials = n_startup_trials
        self.acquisition = acquisition
        self.n_candidates = n_candidates
        self.n_local_search = n_local_search
        self.n_restarts = n_restarts
        self.ucb_beta = ucb_beta
        self._theta: np.ndarray | None = None  # warm start for the next fit

    # -- the sampler interface -----------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: Any) -> dict[str, BaseDistribution]:
        return intersection_search_space(completed_trials(study))

    def sample_relative(
        self, study: Study, trial: Any, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        trials = completed_trials(study)
        if (not search_space or len(trials) < self.n_startup_trials
                or self._start.covers(trial.number)):
            return {}
        try:
            if self._trust is not None:
                allowed, fit_trials = self._trust_region(study, search_space, trials)
            else:
                allowed, fit_trials = self._excursion(study, search_space, trials)
            fitted = self.fit(study, search_space, fit_trials)
            box = None
            if self._trust is not None:
                box = self._trust.bounds(fitted.gp.lengthscales, fitted.space.numeric,
                                         _grid_half_steps(fitted.space))
            liars = self._running_points(study, trial, fitted.space)
            taken = taken_points(study, trial, fitted.space)
            kind = None
            if self.explore_every and (len(trials) - self.n_startup_trials) % self.explore_every \
                    == self.explore_every - 1:
                kind = "ucb"  # a periodic exploration step (the acquisition portfolio)
            return fitted.space.decode(self._propose(fitted, liars, taken, allowed, box, kind))
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as e:
            # a numerically broken model must not stop the study: fall back to random
            warnings.warn(f"GPSampler: model failed ({e!r}); trial {trial.number} is random",
                          stacklevel=2)
            return {}

    def sample_independent(
        self, study: Study, trial: Any, name: str, distribution: BaseDistribution
    ) -> Any:
        if self._start.covers(trial.number):
            return self._start.sample(trial.number, name, distribution)
        return self._random.sample_independent(study, trial, name, distribution)

    def _excursion(
        self, study: Study, search_space: dict[str, BaseDistribution],
        trials: list[FrozenTrial],
    ) -> tuple[Any, list[FrozenTrial]]:
        """(a filter of allowed encoded rows or None, the trials to fit the GP to)."""
        if self._excursions is None:
            return None, trials
        space = UnitSpace(search_space)
        trials = sorted(trials, key=lambda t: t.number)
        X = np.array([space.encode(t.params) for t in trials])
        y = minimize_sign(study) * np.array([t.value for t in trials], dtype=float)
        exc = self._excursions
        if not exc.update(X, y, space.numeric):
            return None, trials
        keep = exc.outside(X, space.numeric)
        fit_trials = [t for t, k in zip(trials, keep) if k] if keep.sum() >= 3 else trials
        return (lambda rows: exc.outside(rows, space.numeric)), fit_trials

    def _trust_region(
        self, study: Study, search_space: dict[str, BaseDistribution],
        trials: list[FrozenTrial],
    ) -> tuple[Any, list[FrozenTrial]]:
        """Replay the trust region on the history: (the filter of rows outside the left
        basins, the trials to fit the GP to: those outside them)."""
        assert self._trust is not None
        space = UnitSpace(search_space)
        trials = sorted(trials, key=lambda t: t.number)
        X = np.array([space.encode(t.params) for t in trials])
        y = minimize_sign(study) * np.array([t.value for t in trials], dtype=float)
        tr = self._trust
        tr.update(X, y, space.numeric)
        if not tr.basins:
            return None, trials
        fit_trials = [t for t, k in zip(trials, tr.free) if k]
        return ((lambda rows: tr.outside(rows, space.numeric)),
                fit_trials if len(fit_trials) >= 3 else trials)

    # -- model ----------------------------------------------------------------------------
    def fit(
        self, study: Study, search_space: dict[str, BaseDistribution] | None = None,
        trials: list[FrozenTrial] | None = None,
    ) -> FittedGP:
        """Fit the GP to the study's completed trials (also used by ``viz.plot_contour``)."""
        trials = completed_trials(study) if trials is None else trials
        if len(trials) < 2:
            raise ValueError("fitting a GP needs at least 2 completed trials")
        space = UnitSpace(search_space or intersection_search_space(trials))
        sign = minimize_sign(study)
        X = np.array([space.encode(t.params) for t in trials])
        y = sign * np.array([t.value for t in trials], dtype=float)
        y_mean, y_std = float(y.mean()), float(y.std())
        y_std = y_std if y_std > 1e-12 else 1.0
        z, warp = (y - y_mean) / y_std, None
        if self.warp_objective:
            z, warp = OutputWarp.fit(z)
        gp = GaussianProcess.fit(
            X, z, self._rng, self.n_restarts, theta0=self._theta,
            lengthscale_prior=self.lengthscale_prior, max_lengthscale=self._lengthscale_caps(space),
        )
        self._theta = gp.theta
        return FittedGP(space, gp, y_mean, y_std, sign, warp)

    def _lengthscale_caps(self, space: UnitSpace) -> np.ndarray | None:
        """Per column, the largest lengthscale the fit may take: ``max_lengthscale`` on the
        continuous columns; grid and one-hot columns keep the wide default (a long
        lengthscale there shares information between neighbouring values / categories)."""
        if self.max_lengthscale is None:
            return None
        return np.where(space.continuous, self.max_lengthscale, _gp.BOUNDS_LENGTHSCALE[1])

    def _running_points(self, study: Study, trial: Any, space: UnitSpace) -> np.ndarray:
        """Encoded prepared params of other RUNNING trials (the constant liars)."""
        rows = []
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            fixed = t.system_attrs.get(FIXED_PARAMS_KEY) or {}
            if t.number != trial.number and all(n in fixed for n in space.names):
                try:
                    rows.append(space.encode(fixed))
                except ValueError:  # a value outside this space's distribution
                    continue
        return np.array(rows).reshape(-1, space.dim)

    # -- acquisition optimization ------------------------------------------------------------
    def _candidates(
        self, space: UnitSpace, X: np.ndarray, y: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        n_random = self.n_candidates - self.n_candidates // 2
        n_local = self.n_candidates // 2
        uniform = space.random(self._rng, n_random)
        lo, hi = (np.zeros(space.dim), np.ones(space.dim)) if box is None else box
        uniform = lo + uniform * (hi - lo)  # categorical columns: lo 0, hi 1 (unchanged)
        # perturb the best few trials (in a trust region: its centre) at three scales
        center = None if self._trust is None else self._trust.center
        top = X[np.argsort(y)[: min(5, len(y))]] if center is None else center[None]
        base = top[self._rng.integers(len(top), size=n_local)]
        scale = self._rng.choice([0.02, 0.1, 0.3], size=(n_local, 1))
        if box is not None:
            scale = scale * (hi - lo)
        local = np.clip(base + scale * self._rng.standard_normal(base.shape) * space.numeric,
                        lo, hi)
        redraw = space.random(self._rng, n_local)  # sometimes switch a category
        for cols in space.columns:
            if not space.numeric[cols.start]:
                flip = self._rng.random(n_local) < 0.2
                local[flip, cols] = redraw[flip, cols]
        return np.vstack([uniform, local])

    def _propose(
        self, fitted: FittedGP, liars: np.ndarray, taken: np.ndarray | None = None,
        allowed: Any = None, box: tuple[np.ndarray, np.ndarray] | None = None,
        kind: str | None = None,
    ) -> np.ndarray:
        """The best acquisition point no trial holds yet (``taken``: encoded points);
        ``allowed(rows) -> mask`` restricts the candidates (an excursion's balls)."""
        space, gp = fitted.space, fitted.gp
        best = float(gp.y.min())
        if len(liars):
            # the liars take the best value: the GP then expects little improvement there
            X_all = np.vstack([gp.X, liars])
            gp = GaussianProcess(X_all, np.concatenate([gp.y, np.full(len(liars), best)]), gp.theta)
        if kind is None:
            acq = Acquisition(gp, self.acquisition, best, self.ucb_beta)
        else:  # an exploration step
            acq = Acquisition(gp, kind, best, self.explore_beta)
        cands = self._candidates(space, fitted.gp.X, fitted.gp.y, box)
        grid_aware = self.discrete_search and bool(space.discrete)
        if grid_aware:
            cands = space.snap_rows(cands)  # score the points that can actually be proposed
        if allowed is not None and allowed(cands).any():
            cands = cands[allowed(cands)]
        values = acq(cands)
        order = np.argsort(-values)
        scored = [(float(values[i]), cands[i]) for i in order[: 4 * self.n_local_search]]
        # L-BFGS-B moves the continuous columns; with discrete_search the ints stay on their
        # grid (their gradient says nothing about the neighbouring integer)
        mask = space.continuous if grid_aware else space.numeric
        for i in order[: self.n_local_search]:
            x = self._refine(acq, cands[i], mask, box)
            if grid_aware:
                x = self._discrete_sweep(acq, space, x, mask, box=box)
            if allowed is None or allowed(x[None])[0]:  # refinements may walk into a ball
                scored.append((float(acq(x[None])[0]), x))
        scored.sort(key=lambda item: -item[0])
        held = gp.X if taken is None else np.vstack([gp.X, taken])
        for _, x in scored:
            snapped = space.snap(x)
            if not _is_taken(snapped, held):
                return snapped
        # every good point was taken: explore, at a point no trial holds if one turns up
        for x in space.random(self._rng, 100):
            snapped = space.snap(x)
            if not _is_taken(snapped, held):
                return snapped
        return space.snap(space.random(self._rng, 1)[0])


    @staticmethod
    def _refine(
        acq: Acquisition, x0: np.ndarray, mask: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """L-BFGS-B on the columns in ``mask`` (the others held), from x0, within ``box``."""
        if not mask.any():
            return x0

        def negative(z: np.ndarray) -> tuple[float, np.ndarray]:
            x = x0.copy()
            x[mask] = z
            v, g = acq.value_and_grad(x)
            return -v, -g[mask]

        lo, hi = (np.zeros_like(x0), np.ones_like(x0)) if box is None else box
        res = scipy.optimize.minimize(
            negative, np.clip(x0[mask], lo[mask], hi[mask]), jac=True, method="L-BFGS-B",
            bounds=list(zip(lo[mask], hi[mask])), options={"maxiter": 50},
        )
        if not np.isfinite(res.fun):
            return x0
        x = x0.copy()
        x[mask] = np.clip(res.x, lo[mask], hi[mask])
        return x

    def _discrete_sweep(
        self, acq: Acquisition, space: UnitSpace, x: np.ndarray, mask: np.ndarray,
        rounds: int = 3, box: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Coordinate search over the grid parameters: for each in turn, every value (all
        categories; ints up to 64 values) scored in one batch, keep the best; then re-refine
        the continuous columns.  Stops early when a round changes nothing."""
        x = space.snap_rows(x[None])[0]
        best = float(acq(x[None])[0])
        for _ in range(rounds):
            changed = False
            for i in space.discrete:
                cols = space.columns[i]
                grid = space.grid(i)
                if box is not None and space.numeric[cols.start]:  # the values in the box
                    inside = (grid[:, 0] >= box[0][cols.start] - 1e-12) & (
                        grid[:, 0] <= box[1][cols.start] + 1e-12)
                    grid = grid[inside] if inside.any() else grid
                trial = np.repeat(x[None], len(grid), axis=0)
                trial[:, cols] = grid
                vals = acq(trial)
                j = int(np.argmax(vals))
                if vals[j] > best + 1e-12:
                    x, best, changed = trial[j], float(vals[j]), True
            if not changed:
                break
            refined = self._refine(acq, x, mask, box)
            value = float(acq(refined[None])[0])
            if value > best:
                x, best = refined, value
        return x


def _grid_half_steps(space: UnitSpace) -> np.ndarray:
    """Per column, the smallest half-width of a trust region: a little over one grid step
    for ints / stepped floats (so the neighbouring values stay reachable), 0 otherwise."""
    out = np.zeros(space.dim)
    for i in space.discrete:
        cols = space.columns[i]
        if space.numeric[cols.start]:
            grid = space.grid(i)[:, 0]
            out[cols.start] = 1.01 * float(np.min(np.diff(grid))) if len(grid) > 1 else 0.5
    return out


def _is_taken(x: np.ndarray, held: np.ndarray) -> bool:
    return bool(np.any(np.all(np.abs(held - x) < 1e-9, axis=1)))


def taken_points(study: Study, trial: Any, space: UnitSpace) -> np.ndarray:
    """Encoded points of the study's other trials, in every state (see ``held_points``)."""
    rows = []
    for params in held_points(study, trial, space.names):
        try:
            rows.append(space.encode(params))
        except (ValueError, TypeError):  # a value outside this space's distribution
            continue
    return np.array(rows).reshape(-1, space.dim)
