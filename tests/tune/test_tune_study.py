"""Study basics: ask/tell, best_*, failures, callbacks, export."""

import csv
import logging
import math

import pytest
import tune_objectives as objs

import zengrad.tune as tune
from zengrad.tune import TrialState
from zengrad.tune.samplers import _gp


def _study(**kw):
    kw.setdefault("sampler", tune.RandomSampler(0))
    kw.setdefault("pruner", tune.NopPruner())
    return tune.create_study(**kw)


def test_best_on_empty_study_raises_clear_error():
    study = _study(study_name="empty")
    for attr in ("best_trial", "best_params", "best_value"):
        with pytest.raises(ValueError, match="no completed trial"):
            getattr(study, attr)
    # failed trials do not count as completed
    study.optimize(lambda t: float("nan"), n_trials=2)
    with pytest.raises(ValueError, match="no completed trial"):
        _ = study.best_value


def test_ask_tell_by_object_number_and_state():
    study = _study(direction="maximize")
    t0 = study.ask()
    x0 = t0.suggest_float("x", 0, 1)
    t1 = study.ask()
    t1.suggest_float("x", 0, 1)
    t2 = study.ask()
    t2.report(0.3, 0)
    assert [t.state for t in study.trials] == [TrialState.RUNNING] * 3
    study.tell(t0, 2.0)
    study.tell(1, 5.0)  # by number
    frozen = study.tell(t2, TrialState.PRUNED)  # a state as the second argument
    assert frozen.state is TrialState.PRUNED and frozen.value == 0.3  # last reported value
    assert study.best_trial.number == 1 and study.best_value == 5.0
    assert study.trials[0].params == {"x": x0}
    with pytest.raises(RuntimeError, match="already finished"):
        study.tell(t0, 1.0)
    assert study.tell(t0, 1.0, skip_if_finished=True).value == 2.0
    with pytest.raises(ValueError, match="needs a value or a state"):
        study.tell(study.ask())
    with pytest.raises(RuntimeError, match="already finished"):
        t0.suggest_float("y", 0, 1)  # a finished trial is read-only


def test_tell_nan_is_fail():
    study = _study()
    t = study.ask()
    frozen = study.tell(t, float("inf"))
    assert frozen.state is TrialState.FAIL
    assert "inf" in frozen.system_attrs["fail_reason"]


def test_failed_trials_recorded_and_study_continues(caplog):
    study = _study(sampler=tune.RandomSampler(5))
    with caplog.at_level(logging.WARNING, logger="zengrad.tune"):
        study.optimize(objs.failing, n_trials=40)
    trials = study.trials
    assert len(trials) == 40
    raised = [t for t in trials if t.params["x"] < -2]
    nans = [t for t in trials if t.params["x"] > 3]
    assert raised and nans
    for t in raised:
        assert t.state is TrialState.FAIL and t.value is None
        assert t.system_attrs["fail_reason"].startswith("ValueError: bad x")
    for t in nans:
        assert t.state is TrialState.FAIL and "nan" in t.system_attrs["fail_reason"]
    ok = [t for t in trials if -2 <= t.params["x"] <= 3]
    assert all(t.state is TrialState.COMPLETE for t in ok)
    assert study.best_value == min(t.value for t in ok)
    assert "bad x" in caplog.text


def test_failed_trials_never_feed_the_gp(monkeypatch):
    seen = []
    fit = _gp.GaussianProcess.fit.__func__

    def spy(cls, X, y, *args, **kw):
        seen.append(len(X))
        return fit(cls, X, y, *args, **kw)

    monkeypatch.setattr(_gp.GaussianProcess, "fit", classmethod(spy))
    study = _study(sampler=tune.GPSampler(seed=0, n_startup_trials=4, n_candidates=200))
    study.optimize(objs.failing, n_trials=16)
    assert seen
    n_complete_before = []
    for t in study.trials:
        done = [u for u in study.trials[: t.number] if u.state is TrialState.COMPLETE]
        n_complete_before.append(len(done))
    # each GP fit saw exactly the COMPLETE trials that existed then
    assert set(seen) <= set(n_complete_before)
    assert all(s >= 4 for s in seen)


def test_uncaught_exception_is_recorded_then_raised():
    def objective(trial):
        trial.suggest_float("x", 0, 1)
        raise KeyError("boom")

    study = _study()
    with pytest.raises(KeyError):
        study.optimize(objective, n_trials=3, catch=(ValueError,))
    assert [t.state for t in study.trials] == [TrialState.FAIL]


def test_pruned_exception_and_non_float_return():
    def objective(trial):
        x = trial.suggest_int("x", 0, 3)
        if x == 0:
            raise tune.TrialPruned()
        return "not a number" if x == 1 else float(x)

    study = _study()
    study.optimize(objective, n_trials=30)
    for t in study.trials:
        x = t.params["x"]
        expected = {0: TrialState.PRUNED, 1: TrialState.FAIL}.get(x, TrialState.COMPLETE)
        assert t.state is expected
        if x == 1:
            assert "not a float" in t.system_attrs["fail_reason"]


def test_callbacks_and_stop():
    seen = []

    def callback(study, trial):
        seen.append(trial.number)
        if trial.number == 4:
            study.stop()

    study = _study()
    study.optimize(objs.quadratic, n_trials=100, callbacks=[callback])
    assert seen == [0, 1, 2, 3, 4] and len(study.trials) == 5
    study.optimize(objs.quadratic, n_trials=2)  # stop() only ends the call it happened in
    assert len(study.trials) == 7


def test_timeout_stops():
    import time

    def slow(trial):
        time.sleep(0.05)
        return trial.suggest_float("x", 0, 1)

    study = _study()
    t0 = time.monotonic()
    study.optimize(slow, timeout=0.3)
    assert time.monotonic() - t0 < 1.5
    assert 2 <= len(study.trials) <= 8


def test_maximize_direction():
    study = _study(direction="maximize", sampler=tune.GPSampler(seed=1, n_startup_trials=5))
    study.optimize(lambda t: -objs.quadratic(t), n_trials=15)
    assert study.best_value == max(t.value for t in study.trials)
    assert abs(study.best_params["x"] - 1.0) < 0.3
    with pytest.raises(ValueError, match="minimize' or 'maximize"):
        tune.create_study(direction="up")


def test_records_and_csv(tmp_path):
    study = _study()
    study.optimize(objs.conditional, n_trials=10)
    study.optimize(objs.failing, n_trials=0)
    rows = study.trials_records()
    assert len(rows) == 10
    assert {"number", "value", "state", "duration", "params_opt", "params_x"} <= set(rows[0])
    assert all(r["duration"] >= 0 for r in rows)
    path = tmp_path / "trials.csv"
    study.to_csv(path)
    with open(path) as f:
        read = list(csv.DictReader(f))
    assert len(read) == 10
    assert [float(r["value"]) for r in read] == pytest.approx([r["value"] for r in rows])
    assert read[3]["params_opt"] == rows[3]["params_opt"]


def test_progress_bar_without_tqdm_falls_back(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kw):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    study = _study()
    with pytest.warns(UserWarning, match="tqdm"):
        study.optimize(objs.quadratic, n_trials=3, show_progress_bar=True)
    assert len(study.trials) == 3


def test_study_names_and_duplicates():
    storage = tune.InMemoryStorage()
    tune.create_study(storage=storage, study_name="a")
    with pytest.raises(tune.DuplicatedStudyError, match="load_if_exists"):
        tune.create_study(storage=storage, study_name="a")
    again = tune.create_study(storage=storage, study_name="a", load_if_exists=True)
    assert again.study_name == "a"
    with pytest.raises(ValueError, match="direction"):
        tune.create_study(storage=storage, study_name="a", load_if_exists=True,
                          direction="maximize")


def test_fixed_distributions_in_ask():
    study = _study()
    trial = study.ask({"x": tune.FloatDistribution(0, 1), "n": tune.IntDistribution(1, 3)})
    assert set(trial.params) == {"x", "n"}
    assert math.isfinite(trial.params["x"])


def test_fixed_trial_replays_params():
    trial = tune.FixedTrial({"opt": "sgd", "x": 0.5, "momentum": 0.9})
    assert objs.conditional(trial) == pytest.approx(0.25)
    assert trial.params == {"opt": "sgd", "x": 0.5, "momentum": 0.9}
    with pytest.raises(ValueError, match="no value for parameter 'beta'"):
        objs.conditional(tune.FixedTrial({"opt": "adam", "x": 0.0}))
    with pytest.raises(ValueError, match="outside"):
        objs.conditional(tune.FixedTrial({"opt": "sgd", "x": 5.0, "momentum": 0.1}))


def test_progress_bar_with_tqdm(capsys):
    pytest.importorskip("tqdm")
    study = _study()
    study.optimize(objs.quadratic, n_trials=4, show_progress_bar=True)
    assert "4/4" in capsys.readouterr().err


def test_fail_trial_records_the_reason_and_leaves_a_finished_trial_alone():
    study = _study(sampler=tune.RandomSampler(0))
    trial = study.ask()
    frozen = study.fail_trial(trial, "ValueError: out of memory", "Traceback ...")
    assert frozen.state is TrialState.FAIL
    assert frozen.system_attrs["fail_reason"] == "ValueError: out of memory"
    assert frozen.system_attrs["fail_traceback"] == "Traceback ..."
    done = study.ask()
    study.tell(done, 1.0)
    assert study.fail_trial(done.number, "late").state is TrialState.COMPLETE


def test_stop_requested_is_reset_by_each_optimize():
    study = _study(sampler=tune.RandomSampler(0))
    study.optimize(objs.quadratic, n_trials=5, callbacks=[lambda s, t: s.stop()])
    assert study.stop_requested and len(study.trials) == 1
    study.optimize(objs.quadratic, n_trials=2)
    assert not study.stop_requested and len(study.trials) == 3


def test_the_loops_and_the_worker_protocol_do_not_import_the_study():
    # one loop owner: study.py imports optimize.py, never the other way round at run time
    # (optimize.py names Study for type hints only), and the worker protocol needs no Study
    import ast
    import pathlib

    import zengrad.tune.optimize as optimize
    import zengrad.tune.worker as worker

    def imported(module, top_level_only):
        tree = ast.parse(pathlib.Path(module.__file__).read_text())
        nodes = tree.body if top_level_only else ast.walk(tree)
        return {n.module for n in nodes if isinstance(n, ast.ImportFrom)}

    assert not {"study", "parallel"} & imported(optimize, top_level_only=True)
    assert not {"study", "parallel", "optimize"} & imported(worker, top_level_only=False)
