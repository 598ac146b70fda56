"""Running trials in other processes or on a Dask cluster.

The design keeps all decisions in the study's process:

    study process                                   worker (process / Dask / thread)
    -------------                                   --------------------------------
    trial = study.ask()      (the sampler runs here)
    task = (trial number, prepared params,  ----->  WorkerTrial replays the prepared params;
            seed, pruner, snapshot of the            params it has none for (conditional ones)
            other trials for pruning)                are drawn at random there (seeded);
                                                     report() / should_prune() run locally
    study records the result and tells it   <-----  (state, value, params, intermediate values,
                                                     user attrs, rung attrs, error text)

* At most ``n_jobs`` trials are in flight, so the sampler sees each result as it arrives
  (a GP proposal uses every finished trial, with running ones as "constant liars").
* Pruning in a worker compares against the snapshot of the other trials taken at launch
  (trials finishing meanwhile are not seen); this is the simple, documented trade-off.
* The storage is written only by the study process: a trial's params and intermediate
  values reach it when the trial returns (with ``n_jobs=1`` they are written as they happen).
* Objectives are pickled to reach the workers: define them at the top level of an
  importable module.  Storage itself never pickles.
* Workers of the pool ``n_jobs`` starts die with the study process, even when it is killed
  with SIGKILL (which runs no cleanup): on Linux the kernel sends them SIGKILL when their
  parent dies (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread in each worker exits when
  its parent process changes.  Since workers never write the storage, a killed worker leaves
  nothing half-written; the study process's trials left RUNNING are marked FAIL on resume.
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
from multiprocessing.reduction import ForkingPickler
from pickle import PicklingError  # to ship objectives to workers; no file is ever unpickled
from typing import TYPE_CHECKING, Any

import numpy as np

from .distributions import BaseDistribution
from .pruners import BasePruner, NopPruner
from .trial import FrozenTrial, SuggestMixin, TrialPruned, TrialState, check_report, relative_value

if TYPE_CHECKING:
    from .study import Study


# -- what travels to the worker and back --------------------------------------------------
@dataclass
class TrialTask:
    number: int
    trial_id: int
    fixed_params: dict[str, Any]
    fixed_distributions: dict[str, BaseDistribution]
    seed: int
    pruner: BasePruner
    direction: str
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

    def __init__(self, direction: str, others: list[FrozenTrial], trial: WorkerTrial) -> None:
        from .study import StudyDirection

        self.direction = StudyDirection(direction)
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


# -- executors ----------------------------------------------------------------------------
class _FuturesBackend:
    """``concurrent.futures.Executor`` (threads or processes)."""

    def __init__(self, executor: cf.Executor) -> None:
        self.executor = executor

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.executor.submit(fn, *args)

    def wait_first(self, handles: list[Any]) -> list[Any]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def slots(self) -> int:
        return int(getattr(self.executor, "_max_workers", 1) or 1)

    def needs_pickle(self) -> bool:
        return isinstance(self.executor, cf.ProcessPoolExecutor)


class _DaskBackend:
    """A Dask ``distributed.Client`` (anything with ``submit`` and ``gather``)."""

    def __init__(self, client: Any) -> None:
        try:
            import distributed
        except ImportError:
            raise ImportError(
                "running trials on a Dask cluster needs dask.distributed: "
                "pip install zengrad[dask]"
            ) from None
        self.client, self._distributed = client, distributed

    def submit(self, fn: Callable, *args: Any) -> Any:
        # pure=False: the same arguments must still run again (every trial is new)
        return self.client.submit(fn, *args, pure=False)

    def wait_first(self, handles: list[Any]) -> list[Any]:
        done, _ = self._distributed.wait(handles, return_when="FIRST_COMPLETED")
        return list(done)

    def slots(self) -> int:
        try:
            return max(int(sum(self.client.nthreads().values())), 1)
        except Exception:  # an unusual client: one trial at a time is always safe
            return 1

    def needs_pickle(self) -> bool:
        return False  # Dask uses cloudpickle, which also ships lambdas and closures


def _backend(executor: Any) -> _FuturesBackend | _DaskBackend:
    if isinstance(executor, cf.Executor):
        return _FuturesBackend(executor)
    if hasattr(executor, "submit") and hasattr(executor, "gather"):
        return _DaskBackend(executor)
    raise TypeError(
        f"executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
        f"got {type(executor).__name__}"
    )


def _check_picklable(objective: Callable) -> None:
    try:
        ForkingPickler.dumps(objective)  # what a process pool does to ship it
    except Exception as e:
        raise TypeError(
            "trials run in other processes, so the objective must be picklable: define it as "
            "a top-level function of an importable module (not a lambda, a nested function or "
            f"an object holding open resources). Pickling failed with: {e!r}"
        ) from e


def make_task(
    study: Study, trial: Any, seed_base: int, catch: tuple[type[BaseException], ...]
) -> TrialTask:
    prune = not isinstance(study.pruner, NopPruner)
    others = [t for t in study.get_trials(deepcopy=True) if t.number != trial.number] if prune \
        else []
    seed = int(np.random.SeedSequence([seed_base, trial.number]).generate_state(1)[0])
    return TrialTask(
        number=trial.number, trial_id=trial._trial_id, fixed_params=dict(trial._relative),
        fixed_distributions=dict(trial._relative_dists), seed=seed, pruner=study.pruner,
        direction=study.direction.value, others=others, catch=catch,
    )


def record_result(study: Study, trial: Any, result: TrialResult) -> FrozenTrial:
    """Write a worker's result into the study's storage and finish the trial."""
    storage, tid = study._storage, trial._trial_id
    try:
        for name, (value, dist) in result.params.items():
            storage.set_trial_param(tid, name, value, dist)
        for step, value in sorted(result.intermediate_values.items()):
            storage.set_trial_intermediate_value(tid, step, value)
        for key, value in result.user_attrs.items():
            storage.set_trial_user_attr(tid, key, value)
        for key, value in result.system_attrs.items():
            storage.set_trial_system_attr(tid, key, value)
    except (ValueError, TypeError) as e:  # e.g. a name reused with another distribution
        study._finish(tid, trial.number, TrialState.FAIL, None, f"{type(e).__name__}: {e}")
        return storage.get_trial(tid)
    if result.state is TrialState.FAIL:
        study._finish(tid, trial.number, TrialState.FAIL, None, result.fail_reason,
                      result.traceback)
        return storage.get_trial(tid)
    if result.state is TrialState.PRUNED:
        return study.tell(trial, state=TrialState.PRUNED)
    return study.tell(trial, result.value)


def optimize_parallel(
    study: Study, objective: Callable, n_trials: int | None, timeout: float | None, n_jobs: int,
    executor: Any, callbacks: Sequence[Callable], bar: Any,
    catch: tuple[type[BaseException], ...],
) -> None:
    """The ``optimize`` loop with up to ``n_jobs`` trials in flight on an executor."""
    owned = executor is None
    if owned:
        executor = worker_pool(n_jobs)
    backend = _backend(executor)
    if backend.needs_pickle():
        _check_picklable(objective)
    slots = n_jobs if n_jobs > 1 else backend.slots()
    seed_base = study.sampler.seed if study.sampler.seed is not None else \
        int(np.random.SeedSequence().generate_state(1)[0])
    deadline = None if timeout is None else time.monotonic() + timeout
    in_flight: dict[Any, Any] = {}
    launched, error = 0, None
    try:
        while True:
            while error is None and len(in_flight) < slots and not study._should_stop(
                launched, n_trials, deadline
            ):
                from .study import SearchSpaceExhausted

                try:
                    trial = study.ask()
                except SearchSpaceExhausted:
                    study._stop_flag = True
                    break
                task = make_task(study, trial, seed_base, catch)
                in_flight[backend.submit(run_trial_task, objective, task)] = trial
                launched += 1
            if not in_flight:
                break
            for handle in backend.wait_first(list(in_flight)):
                trial = in_flight.pop(handle)
                try:
                    result = handle.result()
                except BaseException as e:  # not caught in the worker, or the worker died
                    study._finish(trial._trial_id, trial.number, TrialState.FAIL, None,
                                  f"{type(e).__name__}: {e}")
                    frozen = study._storage.get_trial(trial._trial_id)
                    if not isinstance(e, catch) or isinstance(e, PicklingError):
                        error = error or e  # stop launching, collect the others, then raise
                else:
                    frozen = record_result(study, trial, result)
                study._after_trial(frozen, callbacks, bar)
    finally:
        for handle, trial in in_flight.items():  # only left on KeyboardInterrupt and the like
            handle.cancel()
            study._finish(trial._trial_id, trial.number, TrialState.FAIL, None,
                          "interrupted before the worker returned")
        if owned:
            executor.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
