"""zengrad.train.recipe: defaults, configs, the hold-out, run folders, one fit."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from zengrad.train import recipe
from zengrad.train.recipe import RecipeError, RunDir


def test_defaults_and_optimizer_table():
    iris, digits = recipe.load_splits("iris"), recipe.load_splits("digits")
    cfg = recipe.make_config(digits)
    assert (cfg["model"], cfg["optimizer"], cfg["epochs"], cfg["patience"], cfg["scheduler"],
            cfg["lr"]) == ("lenet", "momentum", 30, 0, "cosine", 0.05)
    cfg = recipe.make_config(iris, optimizer="adamw")
    assert (cfg["model"], cfg["optimizer"], cfg["lr"], cfg["patience"]) == ("mlp", "adamw",
                                                                          1e-3, 5)
    assert cfg["input_shape"] == [4] and cfg["num_outputs"] == 3
    assert set(recipe.OPTIMIZERS) == {"sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"}
    for name, spec in recipe.OPTIMIZERS.items():
        low, high = spec.lr_range
        assert low < min(spec.lr_grid) and max(spec.lr_grid) < high, name
    with pytest.raises(RecipeError, match="needs a validation slice"):
        recipe.make_config(iris, patience=3, val_fraction=0.0)
    with pytest.raises(RecipeError, match="unknown optimizer 'lbfgs'"):
        recipe.make_config(iris, optimizer="lbfgs")


def test_holdout_is_seeded_and_disjoint():
    tr, val = recipe.holdout(100, 0.1, 3)
    assert len(val) == 10 and len(tr) == 90 and not set(tr) & set(val)
    tr2, val2 = recipe.holdout(100, 0.1, 3)
    assert (tr == tr2).all() and (val == val2).all()
    tr, val = recipe.holdout(5, 0.01, 0)
    assert len(val) == 1  # at least one validation sample
    tr, val = recipe.holdout(7, 0.0, 0)
    assert val is None and tr.tolist() == list(range(7))


def test_validate_config_names_the_field():
    good = recipe.make_config(recipe.load_splits("iris"))
    assert recipe.validate_config(dict(good), "c.json", training=True) == good
    for change, field in [({"num_outputs": 10**8}, "num_outputs"), ({"lr": float("inf")}, "lr"),
                          ({"input_shape": []}, "input_shape"), ({"width": 0}, "width"),
                          ({"width": 64, "model": "lenet"}, "width")]:
        with pytest.raises(RecipeError, match=f"c.json: field '{field}'"):
            recipe.validate_config({**good, **change}, "c.json", training=True)
    # a wide MLP that fits each bound but not the parameter budget
    with pytest.raises(RecipeError, match="parameters"):
        recipe.validate_config({**good, "input_shape": [10**6], "width": 4096}, "c.json")


def test_fit_is_deterministic_and_predictions_follow_the_task():
    iris = recipe.load_splits("iris")
    cfg = recipe.make_config(iris, epochs=3, patience=0)
    a, b = recipe.fit(cfg, iris), recipe.fit(cfg, iris)
    assert a.history["val_loss"] == b.history["val_loss"]
    out = a.predict(iris.x_test)
    spec = recipe.task_spec("classification")
    assert (spec.predictions(out, iris.preprocessing) == out.argmax(1)).all()
    proba = recipe.softmax(out)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-6)
    assert recipe.monitor_of("regression") == ("val_loss", "minimize")
    with pytest.raises(RecipeError, match="unknown task"):
        recipe.task_spec("poetry")


def test_run_dir_numbering_overwrite_and_resume(tmp_path):
    out = tmp_path / "runs" / "a"
    first = RunDir(out)
    assert first.tmp.name == f".a.tmp-{os.getpid()}" and first.tmp.is_dir()
    (first.tmp / "config.json").write_text("{}")
    assert first.commit() == out and not first.tmp.exists()
    assert not (out / "pending.json").exists()
    second = RunDir(out)
    (second.tmp / "config.json").write_text("{}")
    assert second.commit() == tmp_path / "runs" / "a-2"
    with pytest.raises(RecipeError, match="already holds a run; pass --overwrite"):
        RunDir(out, explicit=True)
    third = RunDir(out, explicit=True, overwrite=True)
    (third.tmp / "config.json").write_text('{"new": 1}')
    assert third.commit() == out and third.replaced
    assert json.loads((out / "config.json").read_text()) == {"new": 1}
    assert sorted(p.name for p in out.parent.iterdir()) == ["a", "a-2"]
    # an unfinished folder is found by its destination and adopted (its writer is gone)
    fourth = RunDir(tmp_path / "runs" / "b", explicit=True)
    found = recipe.find_unfinished(tmp_path / "runs" / "b")
    assert found == fourth.tmp
    with pytest.raises(RecipeError, match="no unfinished run"):
        recipe.find_unfinished(tmp_path / "runs" / "c")
    adopted = RunDir.adopt(found)  # our own pid: not "still being written"
    assert adopted.out == tmp_path / "runs" / "b" and adopted.explicit
    adopted.discard()
    assert not fourth.tmp.exists()


def test_forecast_defaults_config_and_window_options():
    sun = recipe.load_splits("sunspots", horizon=3)
    assert sun.task == "forecast" and sun.input_shape == (22, 1) and sun.num_outputs == 3
    cfg = recipe.make_config(sun)
    assert (cfg["model"], cfg["optimizer"], cfg["lr"], cfg["epochs"], cfg["patience"],
            cfg["scheduler"]) == ("lstm", "adam", 1e-2, 40, 0, "none")
    assert (cfg["horizon"], cfg["input_len"], cfg["num_outputs"]) == (3, 22, 3)
    assert recipe.dataset_options(cfg) == {"horizon": 3, "input_len": 22}
    assert recipe.splits_of(cfg).num_outputs == 3
    assert recipe.make_config(sun, model="transformer")["lr"] == 3e-3
    # another optimizer starts from its own default lr, not the family's
    assert recipe.make_config(sun, optimizer="sgd")["lr"] == recipe.OPTIMIZERS["sgd"].default_lr
    assert recipe.make_config(recipe.load_splits("iris"))["lr"] == 1e-3  # as before
    assert recipe.make_config(sun, model="mlp")["model"] == "mlp"
    with pytest.raises(RecipeError, match="model 'lenet' can't be trained for the forecast "
                                          "task.*models for it: mlp, lstm, transformer"):
        recipe.make_config(sun, model="lenet")
    with pytest.raises(RecipeError, match="horizon applies to forecasting a time series "
                                          r"\(co2, sunspots\); dataset 'digits' is a "
                                          "classification dataset"):
        recipe.load_splits("digits", horizon=3)
    with pytest.raises(RecipeError, match="input_len 300 .* use input_len <= 246"):
        recipe.load_splits("sunspots", input_len=300)
    for change, field in [({"horizon": 2}, "horizon"), ({"input_len": 21}, "input_shape"),
                          ({"horizon": 0}, "horizon"), ({"input_len": True}, "input_len")]:
        with pytest.raises(RecipeError, match=f"c.json: field '{field}'"):
            recipe.validate_config({**cfg, **change}, "c.json", training=True)
    with pytest.raises(RecipeError, match="c.json: field 'horizon' is missing"):
        recipe.validate_config({k: v for k, v in cfg.items() if k != "horizon"}, "c.json")
    iris = recipe.make_config(recipe.load_splits("iris"))
    with pytest.raises(RecipeError, match="c.json: field 'horizon' must be absent"):
        recipe.validate_config({**iris, "horizon": 3}, "c.json")


def test_forecast_holdout_validates_on_the_latest_windows():
    tr, val = recipe.holdout(10, 0.2, 3, ordered=True)
    assert tr.tolist() == list(range(8)) and val.tolist() == [8, 9]
    assert recipe.TASKS["forecast"].ordered and not recipe.TASKS["regression"].ordered
    with pytest.raises(RecipeError, match="leaves none to train on"):
        recipe.holdout(1, 0.5, 0)
    # prepare's loaders: every validation window starts after every training window, so no
    # validation target is inside a training input (overlapping windows)
    sun = recipe.load_splits("sunspots")
    prepared = recipe.prepare(recipe.make_config(sun, val_fraction=0.2, epochs=1), sun)
    x_tr = np.concatenate([x.numpy() for x, _ in prepared.train_loader])
    x_val = np.concatenate([x.numpy() for x, _ in prepared.val_loader])
    n = len(sun.x_train)
    assert len(x_val) == round(0.2 * n) and len(x_tr) == n - len(x_val)
    np.testing.assert_array_equal(x_val, sun.x_train[n - len(x_val):])
    assert sorted(map(bytes, x_tr)) == sorted(map(bytes, sun.x_train[:n - len(x_val)]))


def test_forecast_splits_take_raw_windows_and_give_series_units():
    from zengrad.data.datasets.timeseries import load_sunspots

    sun = recipe.load_splits("sunspots", horizon=2)
    data, pre = sun.source, sun.preprocessing
    series = load_sunspots()
    raw = np.stack([series[t:t + 22] for t in range(3)])  # (N, L) as a user has them
    np.testing.assert_allclose(pre.transform(raw), sun.x_train[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pre.inverse_transform_target(sun.y_test),
                               data.y_test_original, rtol=1e-5, atol=1e-3)
    # the test metrics: RMSE/MAE of a perfect forecast are 0, the baselines' unchanged
    m = recipe.TASKS["forecast"].test_metrics(sun.y_test, sun, None)
    assert m["rmse"] < 1e-3 and m["mae"] < 1e-3 and m["naive_rmse"] > 10
    assert set(m) == {"rmse", "mae", "naive_rmse", "naive_mae", "seasonal_naive_rmse",
                      "seasonal_naive_mae"}
