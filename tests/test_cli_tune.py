"""`zengrad tune`: end-to-end runs on digits with the MLP (tiny budgets), resuming from
SQLite, the grid, the objective itself and bad arguments."""

from __future__ import annotations

import csv
import itertools
import json
import pickle

import pytest

from zengrad import tune
from zengrad.cli import main
from zengrad.train.recipe import SearchSpace, TuneObjective, default_grid

PNG = b"\x89PNG\r\n\x1a\n"
BASE = ["tune", "--model", "mlp", "--dataset", "digits", "--epochs", "2"]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*BASE, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _table(out: str) -> list[list[str]]:
    """The printed trial rows: [number, state, value, time, params...]."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["trial", "state"])
    rows = []
    for line in lines[start + 1:]:
        parts = line.split()
        if len(parts) < 4 or parts[1] not in ("COMPLETE", "PRUNED", "FAIL"):
            break
        rows.append(parts)
    return rows


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("sampler", ["random", "gp"])
def test_end_to_end(in_tmp, capsys, sampler):
    out_dir = in_tmp / "out"
    extra = ["--pruner", "asha"] if sampler == "random" else ["--retrain"]
    code, out, err = _run(capsys, "--sampler", sampler, "--n-trials", "5", "--out",
                          str(out_dir), *extra)
    assert code == 0, err
    table = _table(out)
    assert [int(r[0]) for r in table] == [0, 1, 2, 3, 4]
    assert all(r[1] in ("COMPLETE", "PRUNED", "FAIL") for r in table)
    assert all(r[3].endswith("s") for r in table)
    names = {p.split("=")[0] for r in table for p in r[4:]}
    assert names == {"lr", "weight_decay", "batch_size", "width"}

    rows = _rows(out_dir / "trials.csv")
    assert len(rows) == 5
    assert {"number", "value", "duration", "state", "params_lr", "params_weight_decay",
            "params_batch_size", "params_width"} <= set(rows[0])
    for printed, row in zip(table, rows):
        assert printed[1] == row["state"]
        assert float(printed[2]) == pytest.approx(float(row["value"]), abs=5e-5)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best = max(complete, key=lambda r: float(r["value"]))
    assert f"best trial {best['number']}: val_accuracy {float(best['value']):.4f}" in out
    assert f"  width         {best['params_width']}" in out
    saved = json.loads((out_dir / "best.json").read_text())
    assert saved["trial"] == int(best["number"])
    assert saved["params"]["width"] == int(best["params_width"])
    assert 0.0 <= saved["val_accuracy"] <= 1.0
    for name in ("optimization_history.png", "slice.png"):
        assert (out_dir / name).read_bytes()[:8] == PNG, name
    if len(complete) >= 3:  # the GP contour of lr and weight decay
        assert (out_dir / "contour.png").read_bytes()[:8] == PNG
    else:
        assert not (out_dir / "contour.png").exists()
        assert "no contour plot" in err

    if sampler == "random":  # successive halving stops trials behind the leader at epoch 2
        assert "PRUNED" in {r["state"] for r in rows}
        return
    # --retrain: a run folder that `zengrad evaluate` reads back, at the tuned width
    config = json.loads((out_dir / "config.json").read_text())
    assert config["width"] == int(best["params_width"])
    assert config["lr"] == pytest.approx(float(best["params_lr"]))
    assert config["val_fraction"] == 0.0
    test = json.loads((out_dir / "metrics.json").read_text())["test"]
    assert 0.5 < test["accuracy"] <= 1.0  # 2 epochs of a tuned MLP on digits
    assert f"accuracy {test['accuracy']:.4f}" in out
    assert main(["evaluate", str(out_dir)]) == 0
    assert f"accuracy {test['accuracy']:.4f}" in capsys.readouterr().out


def test_sqlite_study_resumes(in_tmp, capsys):
    args = ["--sampler", "random", "--storage", "sqlite:///study.db", "--study-name", "s",
            "--pruner", "none", "--out", "o"]
    code, out, err = _run(capsys, *args, "--n-trials", "2")
    assert code == 0, err
    assert len(_rows(in_tmp / "o" / "trials.csv")) == 2
    # an explicit --out holding the first run's outputs is not replaced without a word
    code, out, err = _run(capsys, *args, "--n-trials", "2")
    assert code == 2 and "o already holds a run; pass --overwrite" in err
    assert len(_rows(in_tmp / "o" / "trials.csv")) == 2
    code, out, err = _run(capsys, *args, "--n-trials", "2", "--overwrite")
    assert code == 0, err
    assert len(_rows(in_tmp / "o" / "trials.csv")) == 4
    assert not [p.name for p in in_tmp.iterdir() if p.name.startswith(".o.")]
    assert "resuming after 2 trials" in out
    assert [int(r[0]) for r in _table(out)] == [2, 3]
    assert "study total 4" in out
    study = tune.load_study("s", "sqlite:///study.db")
    params = [t.params for t in study.trials]
    assert len(params) == 4
    # the second run draws new points (its sampler seed is offset by the trials so far)
    assert params[2] not in params[:2] and params[3] not in params[:2]
    # a resumed study must tune the same thing
    code, out, err = _run(capsys, *args[:-2], "--epochs", "3", "--n-trials", "1")
    assert code == 2
    assert "epochs 2 (now 3)" in err


def test_grid_stops_when_done(in_tmp, capsys):
    code, out, err = _run(capsys, "--epochs", "1", "--sampler", "grid", "--n-trials", "50",
                          "--pruner", "none", "--n-jobs", "1", "--out", "g")
    assert code == 0, err
    grid = default_grid("mlp", "adam")
    size = len(list(itertools.product(*grid.values())))
    assert size == 24
    assert f"the grid is done: all {size} points evaluated" in out
    rows = _rows(in_tmp / "g" / "trials.csv")
    assert len(rows) == size
    seen = {(float(r["params_lr"]), float(r["params_weight_decay"]),
             int(r["params_batch_size"]), int(r["params_width"])) for r in rows}
    expected = set(itertools.product(grid["lr"], grid["weight_decay"], grid["batch_size"],
                                     grid["width"]))
    assert len(seen) == size
    for point in seen:  # log-space round trips may move the last digit
        assert any(all(a == pytest.approx(b, rel=1e-9) for a, b in zip(point, e))
                   for e in expected)


def test_worker_processes(in_tmp, capsys):
    # n_jobs > 1 pickles the objective into spawned workers; rows arrive as trials finish
    code, out, err = _run(capsys, "--epochs", "1", "--sampler", "random", "--n-trials", "3",
                          "--n-jobs", "2", "--pruner", "none", "--out", "p")
    assert code == 0, err
    assert sorted(int(r[0]) for r in _table(out)) == [0, 1, 2]
    rows = _rows(in_tmp / "p" / "trials.csv")
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    assert all(0.0 < float(r["value"]) <= 1.0 for r in rows)
    assert json.loads(rows[0]["user_attrs_setup"])["model"] == "mlp"  # set in the worker


def test_objective_is_deterministic_and_picklable():
    obj = TuneObjective("mlp", "digits", "adam", "none", 2, 0, 0.2,
                        SearchSpace.for_model("mlp", "adam"))
    assert pickle.loads(pickle.dumps(obj)) == obj
    params = {"lr": 3e-3, "weight_decay": 1e-5, "batch_size": 32, "width": 64}
    a = obj(tune.FixedTrial(params))
    b = obj(tune.FixedTrial(params))
    assert a == b and 0.8 < a <= 1.0
    worse = obj(tune.FixedTrial({**params, "lr": 1e-4, "batch_size": 128}))
    assert worse < a - 0.2  # 2 epochs at a tiny lr and large batches barely train


def test_search_space_and_widths():
    from zengrad.train.zoo import ModelUnavailableError, build_model

    assert SearchSpace.for_model("lenet", "momentum").width is None
    assert SearchSpace.for_model("lenet", "momentum").lr == (1e-3, 0.3)
    assert SearchSpace.for_model("mlp", "adam").lr == (1e-4, 1e-2)
    assert SearchSpace.for_model("mlp", "adam").width == (16, 512, 1, True)
    assert SearchSpace.for_model("resnet", "momentum").width == (8, 32, 8, False)
    assert "width" not in default_grid("lenet", "momentum")
    model = build_model("mlp", (1, 8, 8), 10, width=37)
    assert model.state_dict()["1.weight"].shape == (37, 64)
    with pytest.raises(ModelUnavailableError, match="no width option"):
        build_model("lenet", (1, 8, 8), 10, width=8)


@pytest.mark.parametrize("args, message", [
    (["--n-trials", "0"], "--n-trials: must be >= 1"),
    (["--sampler", "tpe"], "invalid choice: 'tpe'"),
    (["--pruner", "hyperband"], "invalid choice: 'hyperband'"),
    (["--storage", "study.db"], "--storage must look like sqlite:///"),
    (["--val-fraction", "1.5"], "--val-fraction must be < 1"),
    (["--epochs", "two"], "an integer expected"),
    (["--model", "lenet", "--dataset", "iris"], "needs image inputs"),
])
def test_bad_arguments_exit_2(in_tmp, capsys, args, message):
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (in_tmp / "runs").exists()


def test_tune_forecasts_a_series_on_the_latest_windows(in_tmp, capsys):
    out_dir = in_tmp / "sun"
    code = main(["tune", "--dataset", "sunspots", "--model", "lstm", "--horizon", "2",
                 "--epochs", "2", "--n-trials", "3", "--sampler", "random", "--retrain",
                 "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "val_loss (minimize)" in out and "lstm RMSE" in out
    setup = json.loads(_rows(out_dir / "trials.csv")[0]["user_attrs_setup"])
    assert (setup["horizon"], setup["input_len"]) == (2, 22)
    config = json.loads((out_dir / "config.json").read_text())
    assert (config["task"], config["horizon"], config["val_fraction"]) == ("forecast", 2, 0.0)
    assert "seasonal_naive_rmse" in json.loads((out_dir / "metrics.json").read_text())["test"]
    assert (out_dir / "forecast.png").read_bytes()[:8] == PNG
    # a forecast objective: equal parameters give equal values (the latest windows validate,
    # tests/train/test_recipe.py)
    obj = TuneObjective("lstm", "sunspots", "adam", "none", 2, 0, 0.2,
                        SearchSpace.for_model("lstm", "adam"), horizon=2, input_len=22)
    params = {"lr": 1e-2, "weight_decay": 1e-5, "batch_size": 32, "width": 16}
    assert obj(tune.FixedTrial(params)) == obj(tune.FixedTrial(params))


def test_optimizer_is_a_tuned_categorical(in_tmp, capsys):
    from zengrad.cli_tune import OptimizerChoiceObjective, multi_optimizer_space, tune_grid

    code, out, err = _run(capsys, "--epochs", "1", "--optimizers", "sgd,adam,adamw",
                          "--sampler", "random", "--n-trials", "4", "--pruner", "none",
                          "--retrain", "--out", "m")
    assert code == 0, err
    assert "optimizer tuned among sgd,adam,adamw" in out
    rows = _rows(in_tmp / "m" / "trials.csv")
    assert {r["params_optimizer"] for r in rows} <= {"sgd", "adam", "adamw"}
    assert len({r["params_optimizer"] for r in rows}) >= 2  # seed 0 draws sgd and adamw
    assert all(1e-4 <= float(r["params_lr"]) <= 0.3 for r in rows)  # the union of ranges
    best = json.loads((in_tmp / "m" / "best.json").read_text())["params"]
    # the retrained run trains the best trial's optimizer
    assert json.loads((in_tmp / "m" / "config.json").read_text())["optimizer"] == \
        best["optimizer"]
    assert multi_optimizer_space("mlp", ("sgd", "adam")).lr == (1e-4, 0.3)
    grid = tune_grid("mlp", ("sgd", "adam"))
    assert grid["optimizer"] == ["sgd", "adam"] and grid["lr"] == sorted(grid["lr"])
    assert len(grid["lr"]) == 6
    obj = OptimizerChoiceObjective(
        TuneObjective("mlp", "digits", "sgd,adam", "none", 1, 0, 0.2,
                      multi_optimizer_space("mlp", ("sgd", "adam"))), ("sgd", "adam"))
    assert pickle.loads(pickle.dumps(obj)) == obj  # worker processes unpickle it
    params = {"optimizer": "adam", "lr": 3e-3, "weight_decay": 1e-5, "batch_size": 32,
              "width": 64}
    assert obj.config(params)["optimizer"] == "adam"


@pytest.mark.parametrize("args, message", [
    (["--optimizers", "sgd,lion"], "unknown optimizer(s) lion"),
    (["--optimizers", "sgd,adam", "--optimizer", "adam"], "not both"),
])
def test_bad_optimizer_lists_exit_2(in_tmp, capsys, args, message):
    code, out, err = _run(capsys, *args)
    assert code == 2 and message in err
