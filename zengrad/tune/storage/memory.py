"""In-memory storage: plain dicts behind a lock (threads may share one study)."""

from __future__ import annotations

import copy
import datetime
import json
import threading
from typing import Any

from ..distributions import BaseDistribution, check_compatible
from ..trial import FrozenTrial, TrialState
from .base import BaseStorage, DuplicatedStudyError, canonical, finished_error, to_json


class InMemoryStorage(BaseStorage):
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, dict[str, Any]] = {}
        self._trials: dict[int, FrozenTrial] = {}
        self._trial_study: dict[int, int] = {}

    # -- studies ----------------------------------------------------------------------
    def create_new_study(self, study_name: str, direction: str) -> int:
        with self._lock:
            if any(s["name"] == study_name for s in self._studies.values()):
                raise DuplicatedStudyError(f"a study named {study_name!r} already exists")
            study_id = len(self._studies)
            self._studies[study_id] = {
                "name": study_name, "direction": direction, "trials": [], "dists": {},
            }
            return study_id

    def get_study_id_from_name(self, study_name: str) -> int:
        with self._lock:
            for sid, s in self._studies.items():
                if s["name"] == study_name:
                    return sid
        raise KeyError(f"no study named {study_name!r}")

    def get_study_direction(self, study_id: int) -> str:
        return self._studies[study_id]["direction"]

    def get_all_study_names(self) -> list[str]:
        with self._lock:
            return [s["name"] for s in self._studies.values()]

    # -- trials -----------------------------------------------------------------------
    def create_new_trial(
        self, study_id: int, system_attrs: dict[str, Any] | None = None,
        claim: tuple[str, list[Any]] | None = None,
    ) -> tuple[int, int] | None:
        with self._lock:
            study = self._studies[study_id]
            attrs = {k: json.loads(to_json(v)) for k, v in (system_attrs or {}).items()}
            if claim is not None:
                key, candidates = claim
                taken = {
                    canonical(self._trials[t].system_attrs[key])
                    for t in study["trials"] if key in self._trials[t].system_attrs
                }
                free = [c for c in candidates if canonical(c) not in taken]
                if not free:
                    return None
                attrs[key] = free[0]
            trial_id = len(self._trials)
            number = len(study["trials"])
            self._trials[trial_id] = FrozenTrial(
                number=number, state=TrialState.RUNNING, value=None, system_attrs=attrs,
                datetime_start=datetime.datetime.now(), _trial_id=trial_id,
            )
            self._trial_study[trial_id] = study_id
            study["trials"].append(trial_id)
            return trial_id, number

    def _running(self, trial_id: int) -> FrozenTrial:
        trial = self._trials[trial_id]
        if trial.state.is_finished():
            raise finished_error(trial.number)
        return trial

    def set_trial_param(
        self, trial_id: int, name: str, value: Any, distribution: BaseDistribution
    ) -> None:
        with self._lock:
            trial = self._running(trial_id)
            dists = self._studies[self._trial_study[trial_id]]["dists"]
            if name in dists:
                check_compatible(name, dists[name], distribution)
            else:
                dists[name] = distribution
            trial.params[name] = json.loads(to_json(value))
            trial.distributions[name] = distribution

    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        with self._lock:
            self._running(trial_id).intermediate_values[int(step)] = float(value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._running(trial_id).user_attrs[key] = json.loads(to_json(value))

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._running(trial_id).system_attrs[key] = json.loads(to_json(value))

    def set_trial_state_value(
        self, trial_id: int, state: TrialState, value: float | None = None
    ) -> bool:
        with self._lock:
            trial = self._trials[trial_id]
            if trial.state.is_finished():
                return False
            trial.state = state
            trial.value = None if value is None else float(value)
            if state.is_finished():
                trial.datetime_complete = datetime.datetime.now()
            return True

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            return copy.deepcopy(self._trials[trial_id])

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: tuple[TrialState, ...] | None = None
    ) -> list[FrozenTrial]:
        with self._lock:
            trials = [self._trials[t] for t in self._studies[study_id]["trials"]]
            if states is not None:
                trials = [t for t in trials if t.state in states]
            return copy.deepcopy(trials) if deepcopy else list(trials)
