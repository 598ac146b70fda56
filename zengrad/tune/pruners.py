"""Pruners: stop unpromising trials early from their intermediate values.

The objective reports ``trial.report(value, step)`` and asks ``trial.should_prune()``;
when it returns True the objective raises ``TrialPruned`` (as in Optuna).

A pruner sees ``study`` (``direction``, ``get_trials(deepcopy, states)``, ``_storage``)
and a ``FrozenTrial`` of the current trial.  In remote workers the study is a snapshot
of the other trials taken when the trial was launched (see ``worker.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .trial import FrozenTrial, TrialState


class BasePruner:
    def prune(self, study: Any, trial: FrozenTrial) -> bool:
        raise NotImplementedError


class NopPruner(BasePruner):
    """Never prunes."""

    def prune(self, study: Any, trial: FrozenTrial) -> bool:
        return False


def _maximize(study: Any) -> bool:
    return study.direction.value == "maximize"


class MedianPruner(BasePruner):
    """Prune if the trial's best value so far is worse than the median of completed trials
    at the same step.

    Minimizing, trial t is pruned at step s when

        min_{s' <= s} v_t(s')  >  median { v_c(s) : c completed, reported at step s }

    (max and "<" when maximizing).  Nothing is pruned before ``n_startup_trials`` trials
    have completed, before step ``n_warmup_steps``, or between checks: only the first
    report at or after each ``n_warmup_steps + k * interval_steps`` is checked.
    A trial whose intermediate values are all NaN is pruned.
    """

    def __init__(
        self, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1,
        *, n_min_trials: int = 1,
    ) -> None:
        if n_startup_trials < 0 or n_warmup_steps < 0:
            raise ValueError("n_startup_trials and n_warmup_steps must be >= 0")
        if interval_steps < 1 or n_min_trials < 1:
            raise ValueError("interval_steps and n_min_trials must be >= 1")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.interval_steps = interval_steps
        self.n_min_trials = n_min_trials

    def _is_check_step(self, step: int, steps: list[int]) -> bool:
        """True for the first report at or after the latest check point."""
        check_point = (
            (step - self.n_warmup_steps) // self.interval_steps * self.interval_steps
            + self.n_warmup_steps
        )
        previous = max((s for s in steps if s != step), default=-1)
        return previous < check_point

    def prune(self, study: Any, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        if not self._is_check_step(step, list(trial.intermediate_values)):
            return False
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) == 0 or len(completed) < self.n_startup_trials:
            return False
        own = np.array(list(trial.intermediate_values.values()), dtype=float)
        if np.isnan(own).all():
            return True
        best = np.nanmax(own) if _maximize(study) else np.nanmin(own)
        others = [
            t.intermediate_values[step] for t in completed if step in t.intermediate_values
        ]
        if len(others) < self.n_min_trials:
            return False
        median = float(np.nanmedian(others))
        if math.isnan(median):
            return False
        return bool(best < median) if _maximize(study) else bool(best > median)


def _rung_key(rung: int) -> str:
    return f"completed_rung_{rung}"


class SuccessiveHalvingPruner(BasePruner):
    """Asynchronous successive halving (ASHA), as in Optuna.

    Rung r is reached at step ``min_resource * reduction_factor ** (min_early_stopping_rate + r)``.
    When a trial reaches rung r it records its value there (a trial system attr
    ``completed_rung_r``) and continues only if that value is in the top
    ``1 / reduction_factor`` of all values recorded at rung r so far (itself included);
    while fewer than ``reduction_factor`` values exist there, only the best continues.
    Decisions never wait for other trials (hence "asynchronous").

    ``min_resource="auto"`` takes 1/100 of the last step of the first completed trial.
    """

    def __init__(
        self, min_resource: int | str = 1, reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
    ) -> None:
        if not (min_resource == "auto" or (isinstance(min_resource, int) and min_resource >= 1)):
            raise ValueError(f"min_resource must be 'auto' or an int >= 1, got {min_resource!r}")
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor must be >= 2, got {reduction_factor}")
        if min_early_stopping_rate < 0:
            raise ValueError(f"min_early_stopping_rate must be >= 0, got {min_early_stopping_rate}")
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor
        self.min_early_stopping_rate = min_early_stopping_rate

    def _resource(self, study: Any) -> int | None:
        if self.min_resource != "auto":
            return int(self.min_resource)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.last_step is not None:
                return max(t.last_step // 100, 1)
        return None

    def prune(self, study: Any, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        min_resource = self._resource(study)
        if min_resource is None:
            return False
        value = trial.intermediate_values[step]
        rung = sum(1 for k in trial.system_attrs if k.startswith("completed_rung_"))
        others = None
        while True:
            promotion_step = min_resource * self.reduction_factor ** (
                self.min_early_stopping_rate + rung
            )
            if step < promotion_step:
                return False
            if math.isnan(value):
                return True
            if others is None:
                others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
            key = _rung_key(rung)
            study._storage.set_trial_system_attr(trial._trial_id, key, value)
            competing = [t.system_attrs[key] for t in others if key in t.system_attrs]
            competing.append(value)
            if not self._promotable(value, competing, _maximize(study)):
                return True
            rung += 1

    def _promotable(self, value: float, competing: list[float], maximize: bool) -> bool:
        k = max(len(competing) // self.reduction_factor - 1, 0)  # index of the last promoted
        ranked = sorted(competing, reverse=maximize)
        return value >= ranked[k] if maximize else value <= ranked[k]
