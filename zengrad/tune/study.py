"""The ``Study``: a sequence of trials, their storage, a sampler and a pruner.

    study = create_study(direction="minimize", sampler=GPSampler(seed=0))
    study.optimize(objective, n_trials=50)
    study.best_params

Ask-and-tell, for loops you drive yourself:

    trial = study.ask()
    value = train(lr=trial.suggest_float("lr", 1e-5, 1e-1, log=True))
    study.tell(trial, value)
"""

from __future__ import annotations

import csv
import enum
import io
import json
import logging
import math
import os
import socket
import uuid
from collections.abc import Container, Sequence
from concurrent.futures import Executor
from typing import Any

from ..io.atomic import atomic_write_bytes
from .distributions import BaseDistribution
from .optimize import CallbackFn, ObjectiveFn, resolve_n_jobs, run_optimize
from .pruners import BasePruner, MedianPruner
from .samplers.base import BaseSampler, SearchSpaceExhausted
from .samplers.gp import GPSampler
from .storage import BaseStorage, DuplicatedStudyError, get_storage
from .trial import FIXED_PARAMS_KEY, FrozenTrial, Trial, TrialState

logger = logging.getLogger("zengrad.tune")

OWNER_KEY = "owner"  # system attr: which process runs the trial (to detect crashes)
FAIL_REASON_KEY = "fail_reason"


class StudyDirection(enum.Enum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


class Study:
    """Use ``create_study`` / ``load_study`` rather than this constructor."""

    def __init__(
        self, study_name: str, storage: None | str | BaseStorage,
        sampler: BaseSampler | None = None, pruner: BasePruner | None = None,
    ) -> None:
        self._storage = get_storage(storage)
        self._study_id = self._storage.get_study_id_from_name(study_name)
        self.study_name = study_name
        self.direction = StudyDirection(self._storage.get_study_direction(self._study_id))
        self.sampler = sampler if sampler is not None else GPSampler()
        self.pruner = pruner if pruner is not None else MedianPruner()
        self._stop_flag = False

    # -- reading ------------------------------------------------------------------------
    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._storage.get_all_trials(
            self._study_id, deepcopy=deepcopy, states=None if states is None else tuple(states)
        )

    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials, in order of number (copies)."""
        return self.get_trials()

    @property
    def best_trial(self) -> FrozenTrial:
        done = [
            t for t in self.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None
        ]
        if not done:
            raise ValueError(
                f"study {self.study_name!r} has no completed trial yet, so there is no best "
                "trial (run study.optimize or tell a COMPLETE trial first)"
            )
        pick = max if self.direction is StudyDirection.MAXIMIZE else min
        best = pick(done, key=lambda t: t.value)
        return self._storage.get_trial(best._trial_id)

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best_trial.params

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    # -- ask and tell --------------------------------------------------------------------
    def ask(self, fixed_distributions: dict[str, BaseDistribution] | None = None) -> Trial:
        """Start a trial.  The sampler prepares its joint ("relative") proposal here."""
        created = self._storage.create_new_trial(
            self._study_id, system_attrs={OWNER_KEY: _owner()},
            claim=self.sampler.trial_claim(self),
        )
        if created is None:
            raise SearchSpaceExhausted("the sampler's search space is exhausted (grid done)")
        trial_id, number = created
        trial = Trial(self, trial_id, number)
        try:
            space = self.sampler.infer_relative_search_space(self, trial)
            relative = self.sampler.sample_relative(self, trial, space)
            if relative:
                self._storage.set_trial_system_attr(trial_id, FIXED_PARAMS_KEY, relative)
            trial._relative, trial._relative_dists = dict(relative), dict(space)
            for name, dist in (fixed_distributions or {}).items():
                trial._suggest(name, dist)
        except BaseException as e:
            self._finish(trial_id, number, TrialState.FAIL, None, f"sampler failed: {e!r}")
            raise
        return trial

    def _resolve(self, trial: Trial | FrozenTrial | int) -> tuple[int, int]:
        if isinstance(trial, Trial | FrozenTrial):
            return trial._trial_id, trial.number
        if isinstance(trial, int) and not isinstance(trial, bool):
            return self._storage.get_trial_id_from_number(self._study_id, trial), trial
        raise TypeError(f"tell() takes a Trial or a trial number, got {trial!r}")

    def tell(
        self, trial: Trial | FrozenTrial | int, values: float | Sequence[float] | TrialState |
        None = None, state: TrialState | None = None, skip_if_finished: bool = False,
    ) -> FrozenTrial:
        """Finish a trial: ``tell(trial, 0.12)``, ``tell(trial, TrialState.PRUNED)``, ...

        A COMPLETE value that is NaN/inf (or not a number) is recorded as FAIL.
        A PRUNED trial takes its last reported intermediate value as its value.
        """
        trial_id, number = self._resolve(trial)
        if isinstance(values, TrialState):
            values, state = None, values
        if state is None:
            if values is None:
                raise ValueError("tell() needs a value or a state (e.g. TrialState.FAIL)")
            state = TrialState.COMPLETE
        if state is TrialState.RUNNING:
            raise ValueError("tell() finishes a trial; RUNNING is not a final state")
        value, reason = None, None
        if state is TrialState.COMPLETE:
            value, reason = _to_value(values)
            if reason is not None:
                state = TrialState.FAIL
        elif state is TrialState.PRUNED:
            frozen = self._storage.get_trial(trial_id)
            if frozen.last_step is not None:
                value = frozen.intermediate_values[frozen.last_step]
        finished = self._finish(trial_id, number, state, value, reason)
        if not finished and not skip_if_finished:
            raise RuntimeError(f"trial {number} has already finished")
        return self._storage.get_trial(trial_id)

    def fail_trial(
        self, trial: Trial | FrozenTrial | int, reason: str, traceback_text: str | None = None,
    ) -> FrozenTrial:
        """Finish a trial as FAIL, with ``reason`` in ``system_attrs["fail_reason"]`` (and the
        traceback in ``"fail_traceback"``).  A trial already finished is left as it is."""
        trial_id, number = self._resolve(trial)
        self._finish(trial_id, number, TrialState.FAIL, None, reason, traceback_text)
        return self._storage.get_trial(trial_id)

    def _finish(
        self, trial_id: int, number: int, state: TrialState, value: float | None,
        reason: str | None = None, tb: str | None = None,
    ) -> bool:
        if reason is not None:
            try:
                self._storage.set_trial_system_attr(trial_id, FAIL_REASON_KEY, reason)
                if tb:
                    self._storage.set_trial_system_attr(trial_id, "fail_traceback", tb)
            except RuntimeError:  # already finished: the state update below says so
                pass
        done = self._storage.set_trial_state_value(trial_id, state, value)
        if done:
            if state is TrialState.FAIL:
                logger.warning("Trial %d failed: %s", number, reason)
            elif state is TrialState.COMPLETE:
                logger.info("Trial %d finished with value %s and parameters %s", number, value,
                            self._storage.get_trial(trial_id).params)
            else:
                logger.info("Trial %d pruned", number)
        return done

    # -- the optimization loop (in optimize.py) -------------------------------------------
    def optimize(
        self, objective: ObjectiveFn, n_trials: int | None = None, timeout: float | None = None,
        n_jobs: int = 1, executor: Executor | Any | None = None,
        callbacks: Sequence[CallbackFn] | None = None, show_progress_bar: bool = False,
        catch: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        """Run trials until ``n_trials`` more have finished, ``timeout`` seconds have passed,
        the sampler is exhausted, or ``study.stop()`` is called (whichever comes first).

        ``catch``: exceptions from the objective recorded as FAIL trials while the study goes
        on (default: every ``Exception``, with the message in ``system_attrs["fail_reason"]``).
        Others are recorded as FAIL and re-raised.  ``TrialPruned`` always means PRUNED.

        ``n_jobs > 1`` runs trials in that many worker *processes*; ``executor`` takes any
        ``concurrent.futures.Executor`` or a Dask ``distributed.Client`` (see ``optimize.py``
        and ``worker.py``).  In both cases the objective must be picklable: a top-level
        function of an importable module (with a ``if __name__ == "__main__":`` guard in
        scripts).
        """
        if n_trials is not None and n_trials < 0:
            raise ValueError(f"n_trials must be >= 0, got {n_trials}")
        n_jobs = resolve_n_jobs(n_jobs)
        catch = tuple(catch) if isinstance(catch, list | tuple) else (catch,)
        self._stop_flag = False
        run_optimize(self, objective, n_trials, timeout, n_jobs, executor, callbacks or [],
                     show_progress_bar, catch)

    def stop(self) -> None:
        """Finish the running ``optimize`` after the trials in progress (e.g. from a callback)."""
        self._stop_flag = True

    @property
    def stop_requested(self) -> bool:
        """``stop()`` was called during the running (or last) ``optimize``."""
        return self._stop_flag

    # -- export ---------------------------------------------------------------------------
    def trials_records(self) -> list[dict[str, Any]]:
        """One flat dict per trial (Optuna's ``trials_dataframe`` columns, without pandas)."""
        rows = []
        for t in self.get_trials(deepcopy=False):
            row: dict[str, Any] = {
                "number": t.number,
                "value": t.value,
                "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
                "datetime_complete": (
                    t.datetime_complete.isoformat() if t.datetime_complete else None
                ),
                "duration": t.duration.total_seconds() if t.duration is not None else None,
                "state": t.state.name,
            }
            row.update({f"params_{k}": v for k, v in sorted(t.params.items())})
            row.update({f"user_attrs_{k}": v for k, v in sorted(t.user_attrs.items())})
            row.update({
                f"system_attrs_{k}": v for k, v in sorted(t.system_attrs.items())
                if k != "fail_traceback"
            })
            rows.append(row)
        return rows

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write ``trials_records()`` as CSV (lists and dicts as JSON text).

        All or nothing: the text is built in memory and replaces ``path`` atomically, so a
        full disk or a crash leaves the previous file as it was (and no temporary file).
        """
        rows = self.trials_records()
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({
                k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()
            })
        write_file(path, buffer.getvalue().encode(), f"the trials of study {self.study_name!r}")

    # -- resume ---------------------------------------------------------------------------
    def _fail_stale_trials(self) -> list[int]:
        """Mark RUNNING trials whose process (on this host) is gone as FAIL.

        Trials owned by a live process, or by another host, are left alone (they may still
        be running); there is no heartbeat across machines.
        """
        host, failed = socket.gethostname(), []
        for t in self.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = t.system_attrs.get(OWNER_KEY)
            pid = owner.get("pid") if isinstance(owner, dict) else None
            if not isinstance(pid, int) or isinstance(pid, bool):
                continue  # no usable owner (a hand-edited store): it may still be running
            if owner.get("host") == host and not _pid_alive(pid):
                reason = f"interrupted: the process running it (pid {owner.get('pid')}) is gone"
                if self._finish(t._trial_id, t.number, TrialState.FAIL, None, reason):
                    failed.append(t.number)
        return failed


def write_file(path: str | os.PathLike, data: bytes, what: str) -> None:
    """Replace ``path`` with ``data`` atomically; a failure says what and where, and that
    the previous file (if any) is unchanged."""
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        reason = e.strerror or str(e)
        raise OSError(e.errno, f"could not write {what} to {os.fspath(path)}: {reason} "
                      "(any previous file there is unchanged)") from e


def _to_value(values: Any) -> tuple[float | None, str | None]:
    """A finite float from what the objective returned, or the reason it is not one."""
    if isinstance(values, list | tuple):
        if len(values) != 1:
            return None, f"expected one objective value, got {len(values)}: {values!r}"
        values = values[0]
    try:
        value = float(values)
    except (TypeError, ValueError):
        return None, f"the objective returned {values!r}, which is not a float"
    if not math.isfinite(value):
        return None, f"the objective returned {value}"
    return value, None


def _direction(direction: str | StudyDirection) -> StudyDirection:
    try:
        return StudyDirection(direction.value if isinstance(direction, StudyDirection)
                              else str(direction).lower())
    except ValueError:
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}") from None


def create_study(
    storage: None | str | BaseStorage = None, sampler: BaseSampler | None = None,
    pruner: BasePruner | None = None, study_name: str | None = None,
    direction: str | StudyDirection = "minimize", load_if_exists: bool = False,
) -> Study:
    """Create a study (or, with ``load_if_exists=True``, reopen the one of that name).

    Reopening marks trials left RUNNING by a dead process on this machine as FAIL.
    Defaults: ``GPSampler()`` and ``MedianPruner()``; in-memory storage.
    """
    direction = _direction(direction)
    store = get_storage(storage)
    name = study_name if study_name is not None else f"no-name-{uuid.uuid4()}"
    try:
        store.create_new_study(name, direction.value)
    except DuplicatedStudyError:
        if not load_if_exists:
            raise DuplicatedStudyError(
                f"a study named {name!r} already exists; pass load_if_exists=True to resume it"
            ) from None
        existing = store.get_study_direction(store.get_study_id_from_name(name))
        if existing != direction.value:
            raise ValueError(
                f"study {name!r} exists with direction {existing!r}, not {direction.value!r}"
            ) from None
        study = Study(name, store, sampler, pruner)
        study._fail_stale_trials()
        return study
    return Study(name, store, sampler, pruner)


def load_study(
    study_name: str | None = None, storage: None | str | BaseStorage = None,
    sampler: BaseSampler | None = None, pruner: BasePruner | None = None,
) -> Study:
    """Open an existing study (the only one in ``storage`` if no name is given)."""
    if storage is None:
        raise ValueError("load_study needs a storage, e.g. 'sqlite:///study.db'")
    store = get_storage(storage)
    if study_name is None:
        names = store.get_all_study_names()
        if len(names) != 1:
            raise ValueError(f"give study_name: the storage holds {len(names)} studies {names}")
        study_name = names[0]
    try:
        store.get_study_id_from_name(study_name)
    except KeyError:
        raise KeyError(f"no study named {study_name!r} in {storage!r}") from None
    study = Study(study_name, store, sampler, pruner)
    study._fail_stale_trials()
    return study
