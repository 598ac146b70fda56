"""SQLite storage: persistence as trials run, JSON only, crash and resume."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import tune_objectives as objs

import zengrad.tune as tune
from zengrad.tune import TrialState

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sqlite_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = tune.create_study(storage=url, study_name="s", sampler=tune.RandomSampler(0),
                              pruner=tune.NopPruner())
    study.optimize(objs.conditional, n_trials=12)
    study.optimize(objs.failing, n_trials=0)
    t = study.ask()
    t.suggest_float("x", -2, 2)
    t.report(0.5, 0)
    t.report(float("nan"), 1)
    t.set_user_attr("note", {"a": [1, 2]})
    study.tell(t, TrialState.PRUNED)

    loaded = tune.load_study(study_name="s", storage=url)
    a, b = study.trials, loaded.trials
    assert len(b) == 13
    for x, y in zip(a, b):
        assert (x.number, x.state, x.value, x.params, x.user_attrs) == (
            y.number, y.state, y.value, y.params, y.user_attrs)
        assert x.distributions == y.distributions
    last = b[-1]
    assert last.intermediate_values[0] == 0.5 and last.intermediate_values[1] != 0.5
    assert last.user_attrs == {"note": {"a": [1, 2]}}
    assert loaded.best_params == study.best_params


def test_sqlite_stores_json_text_only(tmp_path):
    path = tmp_path / "j.db"
    study = tune.create_study(storage=f"sqlite:///{path}", sampler=tune.RandomSampler(1))
    study.optimize(objs.mixed, n_trials=3)
    con = sqlite3.connect(path)
    for (value_json, dist_json) in con.execute(
        "SELECT value_json, distribution_json FROM trial_params"
    ):
        json.loads(value_json)
        assert json.loads(dist_json)["name"].endswith("Distribution")
    raw = path.read_bytes()
    assert b"\x80\x04" not in raw and b"\x80\x05" not in raw  # no pickle protocol headers


def test_params_and_reports_are_persisted_while_running(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    study = tune.create_study(storage=url, study_name="live", sampler=tune.RandomSampler(0))
    seen = {}

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        trial.report(x, 0)
        # another connection sees the param and the report before the trial ends
        other = tune.SQLiteStorage(str(tmp_path / "live.db"))
        sid = other.get_study_id_from_name("live")
        (t,) = other.get_all_trials(sid)
        seen.update(state=t.state, params=t.params, iv=t.intermediate_values)
        return x

    study.optimize(objective, n_trials=1)
    assert seen["state"] is TrialState.RUNNING
    assert seen["params"] == study.trials[0].params
    assert seen["iv"] == {0: study.trials[0].params["x"]}


def test_load_study_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    with pytest.raises(KeyError, match="nope"):
        tune.load_study(study_name="nope", storage=url)
    tune.create_study(storage=url, study_name="one")
    assert tune.load_study(storage=url).study_name == "one"  # the only study
    tune.create_study(storage=url, study_name="two")
    with pytest.raises(ValueError, match="give study_name"):
        tune.load_study(storage=url)
    with pytest.raises(ValueError, match="unsupported storage"):
        tune.create_study(storage="postgres://x")


_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import tune_objectives as objs
    import zengrad.tune as tune
    study = tune.create_study(storage={url!r}, study_name="crash", load_if_exists=True,
                              sampler=tune.RandomSampler(0), pruner=tune.NopPruner())
    study.optimize(objs.slow_persisted, n_trials=1000)
""")


def _states(db):
    con = sqlite3.connect(db, timeout=30)
    try:
        return [r[0] for r in con.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.OperationalError:  # the table does not exist yet
        return []
    finally:
        con.close()


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path, monkeypatch):
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT.format(tests=os.path.dirname(__file__), url=url))
    env = dict(os.environ, PYTHONPATH=REPO, TUNE_TEST_SLEEP="0.3")
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = _states(db)
            # kill while a trial sleeps (its param and report already written)
            if states.count("COMPLETE") >= 3 and states[-1] == "RUNNING":
                time.sleep(0.1)
                break
            time.sleep(0.05)
        else:
            pytest.fail("the study process did not make progress")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()  # reap it, so its pid is really gone
    states = _states(db)
    assert states[-1] == "RUNNING" and states.count("COMPLETE") >= 3
    n_before = len(states)

    study = tune.create_study(storage=url, study_name="crash", load_if_exists=True,
                              sampler=tune.RandomSampler(1), pruner=tune.NopPruner())
    trials = study.trials
    assert len(trials) == n_before
    assert all(t.state is TrialState.COMPLETE for t in trials[:-1])
    interrupted = trials[-1]
    assert interrupted.state is TrialState.FAIL
    assert "interrupted" in interrupted.system_attrs["fail_reason"]
    assert "x" in interrupted.params and interrupted.intermediate_values  # written as it ran
    for t in trials[:-1]:
        assert t.value == pytest.approx(t.params["x"] ** 2)

    monkeypatch.setenv("TUNE_TEST_SLEEP", "0")
    study.optimize(objs.slow_persisted, n_trials=3)
    trials = study.trials
    assert len(trials) == n_before + 3
    assert [t.number for t in trials] == list(range(n_before + 3))
    assert all(t.state is TrialState.COMPLETE for t in trials[n_before:])


def test_running_trials_of_live_processes_are_not_failed(tmp_path):
    url = f"sqlite:///{tmp_path / 'live2.db'}"
    study = tune.create_study(storage=url, study_name="l")
    study.ask()  # RUNNING, owned by this (alive) process
    again = tune.create_study(storage=url, study_name="l", load_if_exists=True)
    assert [t.state for t in again.trials] == [TrialState.RUNNING]


_FAST_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import tune_objectives as objs
    import zengrad.tune as tune
    study = tune.create_study(storage={url!r}, study_name="fast", load_if_exists=True,
                              sampler=tune.RandomSampler({seed}), pruner=tune.NopPruner())
    print("started", flush=True)
    study.optimize(objs.slow_persisted, n_trials=100000)
""")


def _check_reloads(url: str) -> list:
    """The store reloads; every COMPLETE trial has its value and params; none is RUNNING."""
    study = tune.load_study(study_name="fast", storage=url)
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials)))
    for t in trials:
        assert t.state is not TrialState.RUNNING  # the killed owner's trial became FAIL
        if t.state is TrialState.COMPLETE:
            assert "x" in t.params and t.value == pytest.approx(t.params["x"] ** 2)
            assert t.intermediate_values == {0: t.params["x"]}
    return trials


@pytest.mark.slow
def test_sigkill_at_random_moments_of_fast_sqlite_writes(tmp_path, monkeypatch):
    """No sleep in the objective: the kills land in SQLite transactions (about 6 per trial)."""
    import random

    db = tmp_path / "fast.db"
    url = f"sqlite:///{db}"
    env = dict(os.environ, PYTHONPATH=REPO, TUNE_TEST_SLEEP="0")
    rng = random.Random(9)
    total = 0
    for kill in range(5):
        script = tmp_path / f"run{kill}.py"
        script.write_text(_FAST_SCRIPT.format(tests=os.path.dirname(__file__), url=url,
                                              seed=kill))
        proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "started"
            time.sleep(rng.uniform(0.05, 1.5))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        trials = _check_reloads(url)
        assert len(trials) >= total  # nothing that was there is lost
        total = len(trials)
    assert total > 5, "the runs were killed before doing any work"

    monkeypatch.setenv("TUNE_TEST_SLEEP", "0")
    study = tune.create_study(storage=url, study_name="fast", load_if_exists=True,
                              sampler=tune.RandomSampler(99), pruner=tune.NopPruner())
    study.optimize(objs.slow_persisted, n_trials=3)
    trials = _check_reloads(url)
    assert len(trials) == total + 3
    assert all(t.state is TrialState.COMPLETE for t in trials[total:])
