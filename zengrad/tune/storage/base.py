"""The storage interface: where studies and trials live.

A storage only records; it makes no decisions.  Two implementations:
``InMemoryStorage`` (default, one process) and ``SQLiteStorage`` (a file; several
processes may share it, a study can be resumed after a crash).

Everything a storage keeps is JSON (parameter values, distributions, attributes),
never pickled: a study file can be read by any tool and loading it runs no code.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..distributions import BaseDistribution
from ..trial import FrozenTrial, TrialState


class DuplicatedStudyError(ValueError):
    """``create_study`` with a name that exists and ``load_if_exists=False``."""


class CorruptedStorageError(ValueError):
    """A study store that can't be read as one: not a database, a table missing, a value
    that is not what its column must hold.  The message names the file, the study, the
    trial and the field."""


def _json_default(obj: Any) -> Any:
    # NumPy scalars and arrays are common in user attrs; store them as plain JSON.
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{obj!r} of type {type(obj).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    """Serialize a stored value; raises TypeError naming what is not JSON."""
    return json.dumps(value, default=_json_default, allow_nan=True)


def canonical(value: Any) -> str:
    """A string key for comparing JSON values (used for grid claims)."""
    return json.dumps(value, default=_json_default, sort_keys=True)


class BaseStorage:
    """Abstract storage.  Trial ids are storage-wide; trial numbers count per study from 0."""

    # -- studies ----------------------------------------------------------------------
    def create_new_study(self, study_name: str, direction: str) -> int:
        raise NotImplementedError

    def get_study_id_from_name(self, study_name: str) -> int:
        """Raise KeyError when the study does not exist."""
        raise NotImplementedError

    def get_study_direction(self, study_id: int) -> str:
        raise NotImplementedError

    def get_all_study_names(self) -> list[str]:
        raise NotImplementedError

    # -- trials -----------------------------------------------------------------------
    def create_new_trial(
        self, study_id: int, system_attrs: dict[str, Any] | None = None,
        claim: tuple[str, list[Any]] | None = None,
    ) -> tuple[int, int] | None:
        """Create a RUNNING trial, returning ``(trial_id, number)``.

        ``claim = (key, candidates)`` makes creation conditional and atomic: the first
        candidate that no trial of the study holds as ``system_attrs[key]`` is stored
        on the new trial; when every candidate is taken, nothing is created and None
        is returned.  The GridSampler uses it so that parallel workers (even separate
        processes sharing one SQLite file) never evaluate a grid point twice.
        """
        raise NotImplementedError

    def set_trial_param(
        self, trial_id: int, name: str, value: Any, distribution: BaseDistribution
    ) -> None:
        raise NotImplementedError

    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        raise NotImplementedError

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        raise NotImplementedError

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        raise NotImplementedError

    def set_trial_state_value(
        self, trial_id: int, state: TrialState, value: float | None = None
    ) -> bool:
        """Finish a trial.  Returns False (and changes nothing) if it already finished."""
        raise NotImplementedError

    def get_trial(self, trial_id: int) -> FrozenTrial:
        raise NotImplementedError

    def get_trial_id_from_number(self, study_id: int, number: int) -> int:
        for t in self.get_all_trials(study_id, deepcopy=False):
            if t.number == number:
                return t._trial_id
        raise KeyError(f"no trial number {number} in this study")

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: tuple[TrialState, ...] | None = None
    ) -> list[FrozenTrial]:
        """Trials ordered by number.  ``deepcopy=False`` may share objects: do not mutate."""
        raise NotImplementedError


def finished_error(number: int) -> RuntimeError:
    return RuntimeError(f"trial {number} has already finished and cannot be updated")
