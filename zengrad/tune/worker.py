"""The worker protocol: what a trial run in another process receives and sends back.

The optimize loops (``optimize.py``) keep every decision in the study's process; this module
is the part that runs on the other side and never touches storage or the ``Study``:

    study process                                   worker (process / Dask / thread)
    -------------                                   --------------------------------
    trial = study.ask()      (the sampler runs here)
    task = TrialTask(trial number, prepared  ----->  WorkerTrial replays the prepared params;
            params, seed, pruner, snapshot of        params it has none for (conditional ones)
            the other trials for pruning)            are drawn at random there (seeded);
                                                     report() / should_prune() run locally
    study records the TrialResult            <-----  (state, value, params, intermediate values,
                                                     user attrs, rung attrs, error text)

* Pruning in a worker compares against the snapshot of the other trials taken at launch
  (trials finishing meanwhile are not seen); this is the simple, documented trade-off.
* Workers of the pool ``worker_pool`` starts die with the study process, even when it is
  killed with SIGKILL (which runs no cleanup): on Linux the kernel sends them SIGKILL when
  their parent dies (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread in each worker exits
  when its parent process changes.  Since workers never write the storage, a killed worker
  leaves nothing half-written; the study process's trials left RUNNING are marked FAIL on
  resume.

This module imports no other part of the study machinery than ``trial`` (the suggest logic
shared with the live ``Trial``), so a worker process imports little.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .distributions import BaseDistribution
from .pruners import BasePruner
from .trial import FrozenTrial, SuggestMixin, TrialPruned, TrialState, check_report, relative_value


# -- what travels to the worker and back --------------------------------------------------
@dataclass
class TrialTask:
    number: int
    trial_id: int
    fixed_params: dict[str, Any]
    fixed_distributions: dict[str, BaseDistribution]
    seed: int
    pruner: BasePruner
    direction: Any  # the study's StudyDirection (pruners read .value)
    others: list[FrozenTrial]  # snapshot of the other trials, for pruning decisions
    catch: tuple[type[BaseException], ...]


@dataclass
class TrialResult:
    number: int
    state: TrialState
    value: Any = None
    params: dict[str, tuple[Any, BaseDistribution]] = field(default_factory=dict)
    intermediate_values: dict[int, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    fail_reason: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0


class _SnapshotStorage:
    """Takes the pruner's writes (ASHA's rung values) into the worker trial's attrs."""

    def __init__(self, trial: WorkerTrial) -> None:
        self._trial = trial

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._trial._system_attrs[key] = value


class StudySnapshot:
    """What a pruner needs from a study, frozen at launch time."""

    def __init__(self, direction: Any, others: list[FrozenTrial], trial: WorkerTrial) -> None:
        self.direction = direction
        self._others = others
        self._trial = trial
        self._storage = _SnapshotStorage(trial)

    def get_trials(
        self, deepcopy: bool = False, states: Sequence[TrialState] | None = None
    ) -> list[FrozenTrial]:
        trials = self._others + [self._trial._frozen()]
        return [t for t in trials if states is None or t.state in states]


class WorkerTrial(SuggestMixin):
    """A light trial for workers: prepared params first, random for the rest, no storage."""

    def __init__(self, task: TrialTask) -> None:
        self.number = task.number
        self._task = task
        self._rng = np.random.default_rng(task.seed)
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, BaseDistribution] = {}
        self._intermediate: dict[int, float] = {}
        self._user_attrs: dict[str, Any] = {}
        self._system_attrs: dict[str, Any] = {}
        self._study = StudySnapshot(task.direction, task.others, self)

    def _new_value(self, name: str, dist: BaseDistribution) -> Any:
        found, value = relative_value(
            self._task.fixed_params, self._task.fixed_distributions, name, dist
        )
        if not found:
            value = dist.from_unit(self._rng.random())
        return value

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)

    def set_user_attr(self, key: str, value: Any) -> None:
        self._user_attrs[key] = value

    def report(self, value: float, step: int) -> None:
        value, step = check_report(value, step)
        self._intermediate.setdefault(step, value)  # first report of a step wins, as in Trial

    def should_prune(self) -> bool:
        return bool(self._task.pruner.prune(self._study, self._frozen()))

    def _frozen(self) -> FrozenTrial:
        return FrozenTrial(
            number=self.number, state=TrialState.RUNNING, value=None, params=self._params,
            distributions=self._distributions, user_attrs=self._user_attrs,
            system_attrs=self._system_attrs, intermediate_values=self._intermediate,
            _trial_id=self._task.trial_id,
        )


def run_trial_task(objective: Callable[[Any], Any], task: TrialTask) -> TrialResult:
    """Run one trial where this function is called (a worker); never touches storage."""
    trial = WorkerTrial(task)
    start = time.perf_counter()
    result = TrialResult(number=task.number, state=TrialState.COMPLETE)
    try:
        result.value = objective(trial)
    except TrialPruned:
        result.state = TrialState.PRUNED
    except Exception as e:
        if not isinstance(e, task.catch):
            raise
        result.state = TrialState.FAIL
        result.fail_reason = f"{type(e).__name__}: {e}"
        result.traceback = traceback.format_exc()
    if result.state is TrialState.COMPLETE:
        try:  # plain float: the result must unpickle without the objective's modules
            result.value = float(result.value)
        except (TypeError, ValueError):
            result.fail_reason = f"the objective returned {result.value!r}, which is not a float"
            result.state, result.value = TrialState.FAIL, None
    result.params = {n: (trial._params[n], trial._distributions[n]) for n in trial._params}
    result.intermediate_values = dict(trial._intermediate)
    result.user_attrs = dict(trial._user_attrs)
    result.system_attrs = dict(trial._system_attrs)
    result.duration_s = time.perf_counter() - start
    return result


# -- worker lifetime ------------------------------------------------------------------------
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_INTERVAL_S = 0.5


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc or no prctl (e.g. musl without it)
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        if os.getppid() != parent_pid:  # re-parented: the study process is gone
            os._exit(1)  # the main thread may be deep in an objective; nothing to save here
        time.sleep(interval)


def worker_init(parent_pid: int, interval: float = WATCHDOG_INTERVAL_S) -> None:
    """Pool initializer: make this worker die with the process that started it.

    PDEATHSIG is immediate but Linux-only (and tied to the thread that forked the
    worker), so a daemon thread polling ``os.getppid()`` backs it up everywhere.
    """
    _set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, interval), daemon=True,
                     name="zengrad-parent-watchdog").start()


def worker_pool(n_jobs: int) -> cf.ProcessPoolExecutor:
    """The process pool ``optimize(n_jobs=...)`` runs trials on (workers die with us)."""
    # spawn, not fork: forking a process with threads (SQLite, BLAS, Dask) can deadlock
    return cf.ProcessPoolExecutor(
        n_jobs, mp_context=multiprocessing.get_context("spawn"), initializer=worker_init,
        initargs=(os.getpid(),),
    )
