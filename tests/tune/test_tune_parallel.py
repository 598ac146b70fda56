"""Parallel trials: processes (n_jobs), any concurrent.futures executor, Dask."""

import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import tune_objectives as objs

import zengrad.tune as tune
from zengrad.tune import TrialState


def _study(sampler=None, pruner=None, **kw):
    return tune.create_study(sampler=sampler or tune.RandomSampler(0),
                             pruner=pruner or tune.NopPruner(), **kw)


def test_n_jobs_two_uses_worker_processes():
    study = _study()
    study.optimize(objs.pid_objective, n_trials=6, n_jobs=2)
    trials = study.trials
    assert len(trials) == 6 and all(t.state is TrialState.COMPLETE for t in trials)
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert all("x" in t.params for t in trials)


def test_processes_with_gp_failures_and_conditional_params():
    sampler = tune.GPSampler(seed=0, n_startup_trials=4, n_candidates=300)
    study = _study(sampler)
    study.optimize(objs.conditional, n_trials=10, n_jobs=2)
    study.optimize(objs.failing, n_trials=0)
    trials = study.trials
    assert len(trials) == 10 and all(t.state is TrialState.COMPLETE for t in trials)
    # params prepared by the GP in the main process are the ones the worker used
    for t in trials:
        fixed = t.system_attrs.get("fixed_params", {})
        for name, value in fixed.items():
            assert t.params[name] == value
        # conditional params drawn on the worker came back with the result
        assert ("momentum" in t.params) == (t.params["opt"] == "sgd")
        assert ("beta" in t.params) == (t.params["opt"] == "adam")
    assert {t.user_attrs.get("branch") for t in trials if t.params["opt"] == "adam"} <= {"adam"}


def test_failures_in_workers_are_recorded():
    study = _study(tune.RandomSampler(5))
    study.optimize(objs.failing, n_trials=16, executor=ThreadPoolExecutor(2))
    trials = study.trials
    assert len(trials) == 16
    for t in trials:
        x = t.params["x"]
        if x < -2:
            assert t.state is TrialState.FAIL and "bad x" in t.system_attrs["fail_reason"]
        elif x > 3:
            assert t.state is TrialState.FAIL and "nan" in t.system_attrs["fail_reason"]
        else:
            assert t.state is TrialState.COMPLETE and t.value == pytest.approx(x * x)


def test_thread_pool_executor_and_in_flight_limit():
    in_flight = []

    def callback(study, trial):
        running = study.get_trials(states=(TrialState.RUNNING,))
        in_flight.append(len(running))

    study = _study()
    with ThreadPoolExecutor(max_workers=3) as ex:
        study.optimize(objs.grid_objective, n_trials=9, executor=ex, callbacks=[callback])
    assert len(study.trials) == 9
    assert max(in_flight) <= 2  # after one of 3 finishes, at most 2 are still running


def test_process_pool_executor():
    study = _study(tune.GridSampler(objs_grid := {"x": [0, 1, 2], "y": ["a", "b"]}))
    with ProcessPoolExecutor(max_workers=2) as ex:
        study.optimize(objs.grid_objective, executor=ex)
    combos = {(t.params["x"], t.params["y"]) for t in study.trials}
    assert len(study.trials) == 6 and len(combos) == 6
    assert set(objs_grid) == {"x", "y"}


def test_unpicklable_objective_gives_clear_error():
    study = _study()
    with pytest.raises(TypeError, match="top-level function"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, n_jobs=2)
    assert study.trials == []


def test_pruning_in_workers_uses_snapshot():
    study = _study(tune.RandomSampler(3), tune.MedianPruner(n_startup_trials=2))
    study.optimize(objs.pruned_curve, n_trials=14, executor=ThreadPoolExecutor(2))
    trials = study.trials
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert pruned and complete
    for t in pruned:  # intermediate values made it back to the storage
        assert t.intermediate_values and t.value == t.intermediate_values[t.last_step]
        assert t.value > min(c.value for c in complete)


def test_sqlite_with_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    study = _study(storage=url, study_name="p")
    study.optimize(objs.quadratic, n_trials=6, n_jobs=2)
    loaded = tune.load_study(study_name="p", storage=url)
    assert [t.state for t in loaded.trials] == [TrialState.COMPLETE] * 6


def test_bad_executor():
    with pytest.raises(TypeError, match="executor"):
        _study().optimize(objs.quadratic, n_trials=1, executor=object())


@pytest.mark.slow
def test_dask_local_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            study = _study(tune.GPSampler(seed=0, n_startup_trials=4, n_candidates=200))
            study.optimize(objs.pid_objective, n_trials=8, executor=client)
            study.optimize(objs.conditional, n_trials=6, executor=client)
    finally:
        cluster.close()
    trials = study.trials
    assert len(trials) == 14 and all(t.state is TrialState.COMPLETE for t in trials)
    pids = {t.user_attrs["pid"] for t in trials[:8]}
    assert os.getpid() not in pids


_ORPHAN = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import os, time
from zengrad.tune import worker
worker._set_parent_death_signal = lambda: False  # only the portable watchdog
worker.worker_init(os.getppid(), 0.05)
print("armed", flush=True)
time.sleep(60)
'''], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "armed"
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_watchdog_ends_a_worker_whose_parent_was_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN], stdout=subprocess.PIPE,
                              text=True, env=env, start_new_session=True)
    try:
        worker = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5

        def alive() -> bool:
            try:
                stat = open(f"/proc/{worker}/stat").read()
            except FileNotFoundError:
                return False
            return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")

        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(), "the worker outlived its killed parent"
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # whatever is left of the group
        parent.wait()
