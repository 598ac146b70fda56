"""Trials: the live ``Trial`` an objective receives, and the ``FrozenTrial`` record.

Define-by-run: the search space is whatever the objective asks for while it runs,

    def objective(trial):
        opt = trial.suggest_categorical("opt", ["adam", "sgd"])
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        if opt == "sgd":                      # conditional parameter
            momentum = trial.suggest_float("momentum", 0.0, 0.99)
        ...

Each ``suggest_*`` builds a distribution (validated, with the parameter name in the
error), then takes the value the sampler prepared for this trial at ``ask()`` time
("relative" sampling, e.g. the GP's proposal) if it has one for that name, and
otherwise asks the sampler for an independent value (e.g. random).
"""

from __future__ import annotations

import datetime
import enum
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .distributions import (
    BaseDistribution,
    CategoricalChoice,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

if TYPE_CHECKING:
    from .study import Study


# system attr holding the values the sampler prepared at ask() time (read by constant liars)
FIXED_PARAMS_KEY = "fixed_params"


class TrialState(enum.Enum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"

    def is_finished(self) -> bool:
        return self is not TrialState.RUNNING


class TrialPruned(Exception):  # noqa: N818  (Optuna's name)
    """Raise from the objective when ``trial.should_prune()`` says so."""


@dataclass
class FrozenTrial:
    """A snapshot of one trial, as stored (what ``study.trials`` returns)."""

    number: int
    state: TrialState
    value: float | None
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    intermediate_values: dict[int, float] = field(default_factory=dict)
    datetime_start: datetime.datetime | None = None
    datetime_complete: datetime.datetime | None = None
    _trial_id: int = -1

    @property
    def duration(self) -> datetime.timedelta | None:
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate_values) if self.intermediate_values else None


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"parameter name must be a str, got {name!r}")
    return name


class SuggestMixin:
    """``suggest_*`` built on one method, ``_new_value(name, distribution) -> value``.

    Shared by the live ``Trial``, ``FixedTrial`` and the light trial that runs in a worker
    process; each keeps what it suggested in ``_params`` and ``_distributions``.
    """

    _params: dict[str, Any]
    _distributions: dict[str, BaseDistribution]
    number: int

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in [low, high]; ``log=True`` samples uniformly in log space."""
        dist = FloatDistribution(low, high, log=log, step=step, name=_check_name(name))
        return float(self._suggest(name, dist))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An integer in [low, high] on the grid low, low+step, ...; ``log`` for wide ranges."""
        dist = IntDistribution(low, high, log=log, step=step, name=_check_name(name))
        return int(self._suggest(name, dist))

    def suggest_categorical(
        self, name: str, choices: Sequence[CategoricalChoice]
    ) -> CategoricalChoice:
        """One of ``choices`` (None, bool, int, float or str)."""
        dist = CategoricalDistribution(choices, name=_check_name(name))
        return self._suggest(name, dist)

    def _suggest(self, name: str, dist: BaseDistribution) -> Any:
        if name in self._params:
            self._check_repeat(name, self.number, self._distributions[name], dist)
            return self._params[name]
        value = self._new_value(name, dist)
        self._params[name], self._distributions[name] = value, dist
        return value

    def _new_value(self, name: str, dist: BaseDistribution) -> Any:
        """The value of a name this trial has not suggested yet."""
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    # The same name suggested twice in one trial returns the first value, but only
    # when it describes the same distribution.
    @staticmethod
    def _check_repeat(name: str, number: int, old: BaseDistribution, new: BaseDistribution) -> None:
        if old != new:
            raise ValueError(
                f"parameter {name!r} was already suggested in trial {number} as {old!r}; "
                f"it cannot be suggested again as {new!r}"
            )


def check_report(value: Any, step: Any) -> tuple[float, int]:
    """Validate ``trial.report`` arguments: a float value and a non-negative int step."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"report step must be a non-negative int, got {step!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"report value must be a float, got {value!r}") from None
    return value, int(step)


def relative_value(
    relative: dict[str, Any], relative_dists: dict[str, BaseDistribution], name: str,
    dist: BaseDistribution,
) -> tuple[bool, Any]:
    """Use the sampler's prepared value only if it fits the distribution the objective asked."""
    if name not in relative:
        return False, None
    value = relative[name]
    if type(relative_dists.get(name, dist)) is not type(dist) or not dist.contains(value):
        return False, None
    return True, value


class Trial(SuggestMixin):
    """The object passed to the objective; every call is written to the study's storage."""

    def __init__(
        self, study: Study, trial_id: int, number: int,
        relative_params: dict[str, Any] | None = None,
        relative_distributions: dict[str, BaseDistribution] | None = None,
    ) -> None:
        self.study = study
        self._trial_id = trial_id
        self.number = number
        self._relative = dict(relative_params or {})
        self._relative_dists = dict(relative_distributions or {})
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, BaseDistribution] = {}
        self._steps: set[int] = set()
        self._user_attrs: dict[str, Any] = {}
        self.datetime_start = datetime.datetime.now()

    # -- the search space ---------------------------------------------------------
    def _new_value(self, name: str, dist: BaseDistribution) -> Any:
        if dist.single():
            value = dist.from_unit(0.5)
        else:
            found, value = relative_value(self._relative, self._relative_dists, name, dist)
            if not found:
                value = self.study.sampler.sample_independent(self.study, self, name, dist)
        # storage checks the distribution against other trials' use of the name
        self.study._storage.set_trial_param(self._trial_id, name, value, dist)
        return value

    @property
    def trial_id(self) -> int:
        """The storage's id of this trial (unique across studies; ``number`` is per study)."""
        return self._trial_id

    @property
    def relative_params(self) -> dict[str, Any]:
        """The values the sampler prepared at ``ask()`` time (a copy; what workers replay)."""
        return dict(self._relative)

    @property
    def relative_distributions(self) -> dict[str, BaseDistribution]:
        """The distributions of ``relative_params`` (a copy)."""
        return dict(self._relative_dists)

    def record_param(self, name: str, value: Any, dist: BaseDistribution) -> None:
        """Store a value chosen outside this process (by a worker running this trial).

        The storage checks ``dist`` against other trials' use of the name, as for a suggest.
        """
        if name in self._params:
            self._check_repeat(name, self.number, self._distributions[name], dist)
            return
        self.study._storage.set_trial_param(self._trial_id, name, value, dist)
        self._params[name], self._distributions[name] = value, dist

    # -- pruning --------------------------------------------------------------------
    def report(self, value: float, step: int) -> None:
        """Record an intermediate value (e.g. validation loss after epoch ``step``)."""
        value, step = check_report(value, step)
        if step in self._steps:
            warnings.warn(
                f"trial {self.number}: step {step} was already reported; ignoring {value}",
                stacklevel=2,
            )
            return
        self._steps.add(step)
        self.study._storage.set_trial_intermediate_value(self._trial_id, step, value)

    def should_prune(self) -> bool:
        """Ask the pruner whether this trial should stop (then raise ``TrialPruned``)."""
        frozen = self.study._storage.get_trial(self._trial_id)
        return bool(self.study.pruner.prune(self.study, frozen))

    # -- attributes -----------------------------------------------------------------
    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable value to this trial."""
        self.study._storage.set_trial_user_attr(self._trial_id, key, value)
        self._user_attrs[key] = value

    def set_system_attr(self, key: str, value: Any) -> None:
        self.study._storage.set_trial_system_attr(self._trial_id, key, value)

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)

    @property
    def system_attrs(self) -> dict[str, Any]:
        return self.study._storage.get_trial(self._trial_id).system_attrs

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._params})"


class FixedTrial(SuggestMixin):
    """Run an objective with given values, outside any study (Optuna's ``FixedTrial``).

    Handy to unit-test an objective, or to retrain with ``study.best_params``:
    ``objective(FixedTrial(study.best_params))``.  Suggesting a name without a value, or a
    value outside the distribution, raises ValueError; ``should_prune()`` is always False.
    """

    def __init__(self, params: dict[str, Any], number: int = 0) -> None:
        self.number = number
        self._fixed = dict(params)
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, BaseDistribution] = {}
        self.intermediate_values: dict[int, float] = {}
        self.user_attrs: dict[str, Any] = {}

    def _new_value(self, name: str, dist: BaseDistribution) -> Any:
        if name not in self._fixed:
            raise ValueError(f"FixedTrial has no value for parameter {name!r}")
        value = self._fixed[name]
        if not dist.contains(value):
            raise ValueError(f"FixedTrial value {value!r} of {name!r} is outside {dist!r}")
        return value

    def report(self, value: float, step: int) -> None:
        value, step = check_report(value, step)
        self.intermediate_values.setdefault(step, value)

    def should_prune(self) -> bool:
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value
