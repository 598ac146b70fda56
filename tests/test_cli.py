"""The zengrad command line: end to end in a subprocess, defaults, and bad arguments."""

import json
import subprocess
import sys

import numpy as np
import pytest

from zengrad.cli import main
from zengrad.io import load


def _raw_test_split(name: str, seed: int = 0):
    """(raw x, y) of a bundled dataset's test split, straight from scikit-learn."""
    from sklearn import datasets

    d = getattr(datasets, f"load_{name}")()
    order = np.random.default_rng(seed).permutation(len(d.data))
    test = order[:int(round(0.2 * len(d.data)))]
    return d.data[test], d.target[test]


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "zengrad", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.slow
def test_train_evaluate_predict_end_to_end(tmp_path, capsys):
    run = tmp_path / "runs" / "digits"
    r = _run("train", "--model", "mlp", "--epochs", "3", "--batch-size", "64", "--lr", "0.003",
             "--out", str(run), "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout and "it/s" not in r.stderr  # no bar off a terminal
    for name in ("model.safetensors", "history.csv", "history.json", "config.json",
                 "metrics.json", "learning_curves.png", "confusion_matrix.png"):
        assert (run / name).stat().st_size > 0, name
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "mlp" and config["dataset"] == "digits"
    assert config["lr"] == 0.003 and config["batch_size"] == 64 and config["seed"] == 1
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 3 and len(history["val_accuracy"]) == 3
    assert (run / "history.csv").read_text().count("\n") == 4
    assert (run / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    test_acc = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert test_acc > 0.8
    assert set(load(run / "model.safetensors")) == {"1.weight", "1.bias", "3.weight",
                                                    "3.bias"}

    r = _run("evaluate", str(run))
    assert r.returncode == 0, r.stderr
    assert f"accuracy {test_acc:.4f}" in r.stdout

    # raw pixel counts 0..16 as scikit-learn gives them; preprocessing.json scales them
    x_raw, y_test = _raw_test_split("digits", seed=1)
    np.save(tmp_path / "x.npy", x_raw[:50])
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--output",
                 str(tmp_path / "p.npy")]) == 0
    pred = np.load(tmp_path / "p.npy")
    assert pred.shape == (50,) and pred.dtype == np.int64
    assert (pred == y_test[:50]).mean() >= 0.8
    # images already scaled to [0, 1] (as zengrad.data.load_digits gives them) would be
    # scaled twice: refused, unless --preprocessed says so
    np.save(tmp_path / "scaled.npy", x_raw[:50] / 16.0)
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "scaled.npy")]) == 2
    assert "look already preprocessed" in capsys.readouterr().err
    assert main(["predict", str(run), "--input", str(tmp_path / "scaled.npy"), "--output",
                 str(tmp_path / "p2.npy"), "--preprocessed"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "p2.npy"), pred)


@pytest.mark.slow
@pytest.mark.trains
def test_defaults_train_lenet_over_95_percent_on_digits(tmp_path, capsys, train_seed):
    """The README's main job: `zengrad train` with its defaults (and --seed)."""
    assert main(["train", "--out", str(tmp_path / "r"), "--verbose", "0",
                 "--seed", str(train_seed)]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model"] == "lenet" and config["dataset"] == "digits"
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    print(f"metric: accuracy {metrics['test']['accuracy']:.4f}")
    # measured over seeds 0-4 x OpenBLAS SkylakeX/Haswell/Sandybridge x 1-2 threads: 0.980
    # to 0.994; over seeds 0-19 x Haswell/SkylakeX (session 9): 0.961 to 0.997 (seed 11
    # lowest, 13-14 of 359 test images wrong), so 0.97 failed two seeds in twenty
    assert metrics["test"]["accuracy"] > 0.95


@pytest.mark.slow
@pytest.mark.trains
def test_mlp_defaults_reach_94_percent_on_digits(tmp_path, capsys, train_seed):
    assert main(["train", "--model", "mlp", "--out", str(tmp_path / "r"), "--verbose", "0",
                 "--seed", str(train_seed)]) == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    print(f"metric: accuracy {metrics['test']['accuracy']:.4f}")
    # measured over seeds 0-4 x three BLAS kernels x 1-2 threads: 0.961 to 0.975
    assert metrics["test"]["accuracy"] > 0.94


def test_train_regression_dataset(tmp_path, capsys):
    assert main(["train", "--dataset", "diabetes", "--epochs", "2", "--verbose", "0",
                 "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "mse" in out and "r2" in out


@pytest.mark.parametrize("argv,needle", [
    (["train", "--lr", "-1"], "--lr: must be > 0"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--batch-size", "0"], "--batch-size: must be >= 1"),
    (["train", "--epochs", "x"], "--epochs: an integer expected"),
    (["train", "--dataset", "imagenet"], "invalid choice: 'imagenet'"),
    (["train", "--model", "gpt"], "invalid choice: 'gpt'"),
    (["train", "--optimizer", "lbfgs"], "invalid choice"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--model", "lenet", "--dataset", "iris"], "needs image inputs"),
    (["train", "--val-fraction", "1.5"], "--val-fraction must be < 1"),
    (["train", "--epoch", "3"], "unrecognized arguments: --epoch"),
    (["train", "--resume", "r", "--epochs", "3"], "--resume takes the settings"),
    (["train", "--resume", "/nonexistent/run"], "no unfinished run"),
    (["frobnicate"], "invalid choice"),
    (["evaluate", "/nonexistent/run"], "no such run folder"),
    (["predict", "/nonexistent/run"], "--input"),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1, err


def test_help_and_info(capsys):
    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"],
                 ["predict", "--help"], ["info", "--help"]):
        assert main(argv) == 0
        assert "usage:" in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "zengrad 0.1.0" in out and "numpy" in out and "BLAS" in out


def test_predict_refuses_pickled_npy(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--dataset", "iris", "--epochs", "1", "--verbose", "0",
                 "--out", str(run)]) == 0
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "obj.npy")]) == 2
    assert "allow_pickle" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.zeros((3, 5), np.float32))
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy")]) == 2
    assert "model takes (N, 4)" in capsys.readouterr().err
    np.save(tmp_path / "ok.npy", np.tile(np.float32([5.8, 3.0, 4.3, 1.3]), (3, 1)))  # in cm
    assert main(["predict", str(run), "--input", str(tmp_path / "ok.npy")]) == 0
    assert len(capsys.readouterr().out.split()) == 3


@pytest.mark.parametrize("model", ["resnet8", "lstm", "transformer"])
def test_every_zoo_model_trains_on_digits(tmp_path, capsys, model):
    out = tmp_path / model
    assert main(["train", "--model", model, "--epochs", "4", "--verbose", "0",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.3  # four epochs: well above chance (0.1)
    assert main(["evaluate", str(out)]) == 0
    assert f"accuracy {metrics['test']['accuracy']:.4f}" in capsys.readouterr().out


@pytest.mark.slow
def test_predict_on_raw_wine_features_applies_the_saved_scaler(tmp_path, capsys):
    run = tmp_path / "wine"
    assert main(["train", "--dataset", "wine", "--epochs", "30", "--verbose", "0",
                 "--out", str(run)]) == 0
    pre = json.loads((run / "preprocessing.json").read_text())
    assert pre["input_shape"] == [13] and len(pre["x"]["mean"]) == 13
    x_raw, y = _raw_test_split("wine")
    np.save(tmp_path / "raw.npy", x_raw)  # float64, unscaled: as a user has them
    assert main(["predict", str(run), "--input", str(tmp_path / "raw.npy"), "--output",
                 str(tmp_path / "p.npy")]) == 0
    accuracy = (np.load(tmp_path / "p.npy") == y).mean()
    test = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert accuracy == pytest.approx(test, abs=1e-9) and accuracy > 0.94  # 0.97 here
    # --proba: softmax rows, whose argmax are the labels
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "raw.npy"), "--proba",
                 "--batch-size", "7"]) == 0
    proba = np.array([[float(v) for v in line.split()]
                      for line in capsys.readouterr().out.splitlines()])
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    assert (proba.argmax(1) == np.load(tmp_path / "p.npy")).all()
    # standardized features (model inputs) are far outside the raw features' ranges
    from zengrad.data import get_dataset

    splits = get_dataset("wine")
    np.save(tmp_path / "scaled.npy", splits.x_test)
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "scaled.npy")]) == 2
    assert "far outside the training data's" in capsys.readouterr().err
    assert main(["predict", str(run), "--input", str(tmp_path / "scaled.npy"), "--output",
                 str(tmp_path / "p3.npy"), "--preprocessed"]) == 0
    assert (np.load(tmp_path / "p3.npy") == splits.y_test).mean() == pytest.approx(test)


def test_regression_predictions_in_target_units(tmp_path, capsys):
    run = tmp_path / "d"
    assert main(["train", "--dataset", "diabetes", "--epochs", "3", "--verbose", "0",
                 "--out", str(run)]) == 0
    x_raw, y = _raw_test_split("diabetes")
    np.save(tmp_path / "x.npy", x_raw.astype(np.float32))
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--output",
                 str(tmp_path / "p.npy")]) == 0
    pred = np.load(tmp_path / "p.npy")
    assert pred.shape == (len(y), 1)
    assert 50 < pred.mean() < 300  # disease-progression units, not standardized ones
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--proba"]) == 2
    assert "--proba gives class probabilities" in capsys.readouterr().err


def test_abbreviations_are_refused(capsys):
    for argv in (["train", "--epoch", "3"], ["train", "--val", "0.2"],
                 ["tune", "--n-trial", "3"], ["predict", "r", "--inp", "x.npy"]):
        assert main(argv) == 2, argv
        assert "unrecognized arguments" in capsys.readouterr().err or argv[0] == "predict"


def test_runs_are_numbered_never_overwritten(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--dataset", "iris", "--epochs", "1", "--verbose", "0"]
    assert main(argv) == 0
    assert "run folder: runs/mlp_iris\n" in capsys.readouterr().out
    first = (tmp_path / "runs" / "mlp_iris" / "model.safetensors").read_bytes()
    assert main([*argv, "--seed", "3"]) == 0
    assert ("run folder: runs/mlp_iris-2 (runs/mlp_iris already exists)"
            in capsys.readouterr().out)
    assert main([*argv, "--seed", "4"]) == 0
    assert "runs/mlp_iris-3" in capsys.readouterr().out
    assert (tmp_path / "runs" / "mlp_iris" / "model.safetensors").read_bytes() == first
    assert json.loads((tmp_path / "runs" / "mlp_iris-2" / "config.json").read_text())["seed"] == 3
    # an explicit --out that holds a run: refused, then replaced with --overwrite
    assert main([*argv, "--out", "runs/mlp_iris"]) == 2
    err = capsys.readouterr().err
    assert "runs/mlp_iris already holds a run; pass --overwrite" in err
    assert err.count("\n") == 1
    assert main([*argv, "--out", "runs/mlp_iris", "--seed", "5", "--overwrite"]) == 0
    assert "replaced the run" in capsys.readouterr().out
    assert json.loads((tmp_path / "runs" / "mlp_iris" / "config.json").read_text())["seed"] == 5
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "mlp_iris", "mlp_iris-2", "mlp_iris-3"]  # no temporary or set-aside folders left
    # a folder of someone else's files is never replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main([*argv, "--out", "mine", "--overwrite"]) == 2
    assert "not a zengrad run" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_verbose_2_prints_a_model_summary(tmp_path, capsys):
    assert main(["train", "--dataset", "iris", "--epochs", "1", "--verbose", "2",
                 "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    # the MLP: Flatten, Linear(4, 128), ReLU, Linear(128, 3)
    assert "1 (Linear)" in out and "[1, 128]" in out and "640" in out
    assert f"Total params: {4 * 128 + 128 + 128 * 3 + 3:,}" in out
    assert "Trainable params" in out


def _sunspot_windows(start: int, count: int, input_len: int = 22) -> np.ndarray:
    """Raw sunspot windows (count, input_len) as a user has them, starting at year index
    start."""
    from zengrad.data import load_sunspots

    s = load_sunspots()
    return np.stack([s[t:t + input_len] for t in range(start, start + count)])


@pytest.mark.slow
@pytest.mark.trains
def test_lstm_forecasts_sunspots_better_than_naive(tmp_path, capsys, train_seed):
    run = tmp_path / "sun"
    assert main(["train", "--model", "lstm", "--dataset", "sunspots", "--verbose", "0",
                 "--seed", str(train_seed), "--out", str(run)]) == 0  # defaults: 40 epochs
    out = capsys.readouterr().out
    test = json.loads((run / "metrics.json").read_text())["test"]
    ratio = test["rmse"] / test["naive_rmse"]
    with capsys.disabled():  # shown under -s
        print(f"metric: rmse/naive {ratio:.4f} (rmse {test['rmse']:.2f}, naive "
              f"{test['naive_rmse']:.2f}, seasonal-naive {test['seasonal_naive_rmse']:.2f})")
    # measured over seeds 0-4 x OpenBLAS Haswell, Sandybridge, SkylakeX x 1-2 threads: RMSE
    # 17.7-20.2 sunspots against the naive 33.3 and seasonal-naive 37.9 (ratio 0.53-0.61)
    assert ratio < 0.75, test
    assert test["rmse"] < test["seasonal_naive_rmse"]
    assert {"loss", "rmse", "mae", "naive_rmse", "naive_mae", "seasonal_naive_rmse",
            "seasonal_naive_mae"} == set(test)
    assert f"rmse {test['rmse']:.4f}" in out and f"lstm RMSE {test['rmse']:.4g} vs naive" in out
    assert (run / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((run / "config.json").read_text())
    assert (config["task"], config["horizon"], config["input_len"]) == ("forecast", 1, 22)
    # evaluate rebuilds the windows and prints the same metrics
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert all(f"{k} {v:.4f}" in out for k, v in test.items()), (out, test)


@pytest.mark.slow
@pytest.mark.trains
def test_horizon_3_predicts_from_raw_windows_in_series_units(tmp_path, capsys, train_seed):
    from zengrad.data import get_dataset

    run = tmp_path / "sun3"
    assert main(["train", "--dataset", "sunspots", "--horizon", "3", "--epochs", "20",
                 "--verbose", "0", "--seed", str(train_seed), "--out", str(run)]) == 0
    test = json.loads((run / "metrics.json").read_text())["test"]
    ratio = test["rmse"] / test["naive_rmse"]
    with capsys.disabled():
        print(f"metric: rmse/naive {ratio:.4f} (rmse {test['rmse']:.2f}, naive "
              f"{test['naive_rmse']:.2f})")
    # measured as above: RMSE 29.5-31.3 against the naive 60.0 (ratio 0.49-0.52)
    assert ratio < 0.7, test
    # the test windows, raw: the 22 years before each forecast origin of the held-out tail
    splits = get_dataset("sunspots", horizon=3)
    data = splits.source
    n = len(splits.x_test)
    np.save(tmp_path / "w.npy", _sunspot_windows(data.split - 22, n))
    assert main(["predict", str(run), "--input", str(tmp_path / "w.npy"), "--output",
                 str(tmp_path / "p.npy")]) == 0
    pred = np.load(tmp_path / "p.npy")
    truth = splits.preprocessing.inverse_transform_target(splits.y_test)
    np.testing.assert_allclose(truth, data.y_test_original, rtol=1e-5, atol=1e-3)
    assert pred.shape == (n, 3)
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    assert rmse == pytest.approx(test["rmse"], rel=1e-4)  # sunspot numbers, not scaled ones
    # windows of another series' units are refused
    np.save(tmp_path / "co2.npy", np.full((2, 22), 350.0) + np.arange(22))
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(tmp_path / "co2.npy")]) == 2
    assert "far outside the training data's" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["train", "--dataset", "digits", "--horizon", "3"],
     "horizon applies to forecasting a time series (co2, sunspots); dataset 'digits' is a "
     "classification dataset"),
    (["train", "--dataset", "iris", "--horizon", "2", "--input-len", "5"],
     "horizon and input_len apply to forecasting"),
    (["train", "--dataset", "sunspots", "--horizon", "0"], "--horizon: must be >= 1"),
    (["train", "--dataset", "sunspots", "--input-len", "300"], "use input_len <= 246"),
    (["train", "--dataset", "sunspots", "--model", "resnet8"],
     "model 'resnet8' can't be trained for the forecast task of dataset 'sunspots'; models "
     "for it: mlp, lstm, transformer"),
    (["tune", "--dataset", "digits", "--horizon", "3"], "horizon applies to forecasting"),
])
def test_forecast_usage_errors(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_mlp_and_transformer_forecast_from_the_cli(tmp_path, capsys):
    for model in ("mlp", "transformer"):
        run = tmp_path / model
        assert main(["train", "--model", model, "--dataset", "sunspots", "--horizon", "2",
                     "--epochs", "1", "--verbose", "0", "--out", str(run)]) == 0
        config = json.loads((run / "config.json").read_text())
        assert (config["task"], config["num_outputs"]) == ("forecast", 2)
        assert config["lr"] == (3e-3 if model == "transformer" else 1e-2)
        assert "naive_rmse" in json.loads((run / "metrics.json").read_text())["test"]
        np.save(tmp_path / "w.npy", _sunspot_windows(250, 4))
        capsys.readouterr()
        assert main(["predict", str(run), "--input", str(tmp_path / "w.npy")]) == 0
        rows = capsys.readouterr().out.splitlines()
        assert len(rows) == 4 and all(len(r.split()) == 2 for r in rows)
