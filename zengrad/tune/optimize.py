"""The ``study.optimize`` loops: sequential, and parallel on an executor (Optuna's ``_optimize``).

``Study.optimize`` checks its arguments and calls ``run_optimize``; both loops live here, and
what runs on the other side of a parallel loop (the worker protocol) is in ``worker.py``.

The loops use only this interface of ``Study`` and ``Trial``:

* ``study.ask()``, ``study.tell(trial, value | state)``: start and finish a trial;
* ``study.fail_trial(trial, reason, traceback)``: finish it as FAIL with the reason recorded;
* ``study.stop_requested``: ``study.stop()`` was called (reset by each ``optimize``);
* ``study.sampler`` (``seed``, ``is_exhausted(study)``), ``study.pruner``, ``study.direction``,
  ``study.get_trials()``, ``study.best_value``;
* ``trial.number``, ``trial.trial_id``, ``trial.relative_params``,
  ``trial.relative_distributions`` (what the sampler prepared, shipped to a worker), and
  ``trial.record_param`` / ``report`` / ``set_user_attr`` / ``set_system_attr`` to write back
  what a worker did.

The parallel loop keeps all decisions in the study's process:

* At most ``n_jobs`` trials are in flight, so the sampler sees each result as it arrives
  (a GP proposal uses every finished trial, with running ones as "constant liars").
* The storage is written only by the study process: a trial's params and intermediate
  values reach it when the trial returns (with ``n_jobs=1`` they are written as they happen).
* Objectives are pickled to reach the workers: define them at the top level of an
  importable module.  Storage itself never pickles.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.reduction import ForkingPickler
from pickle import PicklingError  # to ship objectives to workers; no file is ever unpickled
from typing import TYPE_CHECKING, Any

import numpy as np

from .pruners import NopPruner
from .samplers.base import SearchSpaceExhausted
from .trial import FrozenTrial, Trial, TrialPruned, TrialState
from .worker import TrialResult, TrialTask, run_trial_task, worker_pool

if TYPE_CHECKING:
    from .study import Study

ObjectiveFn = Callable[[Any], float]
CallbackFn = Callable[["Study", FrozenTrial], None]
Catch = tuple[type[BaseException], ...]


def run_optimize(
    study: Study, objective: ObjectiveFn, n_trials: int | None, timeout: float | None,
    n_jobs: int, executor: Any, callbacks: Sequence[CallbackFn], show_progress_bar: bool,
    catch: Catch,
) -> None:
    """Run the sequential loop (``n_jobs == 1``, no executor) or the parallel one."""
    bar = _progress_bar(show_progress_bar, n_trials, timeout)
    try:
        if executor is None and n_jobs == 1:
            optimize_sequential(study, objective, n_trials, timeout, callbacks, bar, catch)
        else:
            optimize_parallel(study, objective, n_trials, timeout, n_jobs, executor, callbacks,
                              bar, catch)
    finally:
        if bar is not None:
            bar.close()


def should_stop(study: Study, done: int, n_trials: int | None, deadline: float | None) -> bool:
    """Stop launching trials: ``study.stop()``, ``n_trials`` launched, the deadline passed,
    or the sampler has nothing left."""
    if study.stop_requested or (n_trials is not None and done >= n_trials):
        return True
    if deadline is not None and time.monotonic() >= deadline:
        return True
    return study.sampler.is_exhausted(study)


def after_trial(study: Study, frozen: FrozenTrial, callbacks: Sequence[CallbackFn],
                bar: Any) -> None:
    """Callbacks, then the progress bar, once per finished trial."""
    for callback in callbacks:
        callback(study, frozen)
    if bar is not None:
        bar.update(1)
        try:
            bar.set_postfix_str(f"best={study.best_value:.6g}")
        except ValueError:  # no completed trial yet
            pass


# -- the sequential loop --------------------------------------------------------------------
def optimize_sequential(
    study: Study, objective: ObjectiveFn, n_trials: int | None, timeout: float | None,
    callbacks: Sequence[CallbackFn], bar: Any, catch: Catch,
) -> None:
    """One trial at a time in this process; every suggest and report is stored as it happens."""
    deadline = None if timeout is None else time.monotonic() + timeout
    done = 0
    while not should_stop(study, done, n_trials, deadline):
        try:
            trial = study.ask()
        except SearchSpaceExhausted:
            break
        frozen = run_trial(study, objective, trial, catch)
        done += 1
        after_trial(study, frozen, callbacks, bar)


def run_trial(study: Study, objective: ObjectiveFn, trial: Trial, catch: Catch) -> FrozenTrial:
    """Call the objective on ``trial`` and finish it (COMPLETE, PRUNED or FAIL)."""
    try:
        value = objective(trial)
    except TrialPruned:
        return study.tell(trial, state=TrialState.PRUNED)
    except BaseException as e:
        # every failure is recorded; only the ones not caught stop the study
        frozen = study.fail_trial(trial, f"{type(e).__name__}: {e}", traceback.format_exc())
        if not isinstance(e, catch):
            raise
        return frozen
    return study.tell(trial, value)


# -- executors ------------------------------------------------------------------------------
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


# -- the parallel loop ----------------------------------------------------------------------
def make_task(study: Study, trial: Trial, seed_base: int, catch: Catch) -> TrialTask:
    """What a worker needs to run ``trial``: the prepared params, a seed, the pruner and
    (only when pruning) a snapshot of the other trials."""
    prune = not isinstance(study.pruner, NopPruner)
    others = [t for t in study.get_trials(deepcopy=True) if t.number != trial.number] if prune \
        else []
    # a per-trial seed, the same for the same study seed whatever the order results arrive in
    seed = int(np.random.SeedSequence([seed_base, trial.number]).generate_state(1)[0])
    return TrialTask(
        number=trial.number, trial_id=trial.trial_id, fixed_params=trial.relative_params,
        fixed_distributions=trial.relative_distributions, seed=seed, pruner=study.pruner,
        direction=study.direction, others=others, catch=catch,
    )


def record_result(study: Study, trial: Trial, result: TrialResult) -> FrozenTrial:
    """Write a worker's result into the study's storage and finish the trial."""
    try:
        for name, (value, dist) in result.params.items():
            trial.record_param(name, value, dist)
        for step, value in sorted(result.intermediate_values.items()):
            trial.report(value, step)
        for key, value in result.user_attrs.items():
            trial.set_user_attr(key, value)
        for key, value in result.system_attrs.items():
            trial.set_system_attr(key, value)
    except (ValueError, TypeError) as e:  # e.g. a name reused with another distribution
        return study.fail_trial(trial, f"{type(e).__name__}: {e}")
    if result.state is TrialState.FAIL:
        return study.fail_trial(trial, result.fail_reason or "failed in the worker",
                                result.traceback)
    if result.state is TrialState.PRUNED:
        return study.tell(trial, state=TrialState.PRUNED)
    return study.tell(trial, result.value)


def optimize_parallel(
    study: Study, objective: ObjectiveFn, n_trials: int | None, timeout: float | None,
    n_jobs: int, executor: Any, callbacks: Sequence[CallbackFn], bar: Any, catch: Catch,
) -> None:
    """The ``optimize`` loop with up to ``n_jobs`` trials in flight on an executor
    (a process pool of ``n_jobs`` workers when none is given)."""
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
    in_flight: dict[Any, Trial] = {}
    launched, error, exhausted = 0, None, False
    try:
        while True:
            while error is None and not exhausted and len(in_flight) < slots and \
                    not should_stop(study, launched, n_trials, deadline):
                try:
                    trial = study.ask()
                except SearchSpaceExhausted:
                    exhausted = True
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
                    frozen = study.fail_trial(trial, f"{type(e).__name__}: {e}")
                    if not isinstance(e, catch) or isinstance(e, PicklingError):
                        error = error or e  # stop launching, collect the others, then raise
                else:
                    frozen = record_result(study, trial, result)
                after_trial(study, frozen, callbacks, bar)
    finally:
        for handle, trial in in_flight.items():  # only left on KeyboardInterrupt and the like
            handle.cancel()
            study.fail_trial(trial, "interrupted before the worker returned")
        if owned:
            executor.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error


def resolve_n_jobs(n_jobs: int) -> int:
    """``-1`` means one job per CPU."""
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
    return n_jobs


def _progress_bar(enabled: bool, n_trials: int | None, timeout: float | None) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        import warnings

        warnings.warn("show_progress_bar=True needs tqdm (pip install tqdm); no bar shown",
                      stacklevel=4)
        return None
    return tqdm(total=n_trials, desc="trials")
