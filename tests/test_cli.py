"""The zengrad command line: end to end in a subprocess, defaults, and bad arguments."""

import json
import subprocess
import sys

import numpy as np
import pytest

from zengrad.cli import main
from zengrad.io import load


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

    from zengrad.data import load_digits

    _, (x_test, y_test) = load_digits(flatten=True)
    np.save(tmp_path / "x.npy", x_test[:10])
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--output",
                 str(tmp_path / "p.npy")]) == 0
    pred = np.load(tmp_path / "p.npy")
    assert pred.shape == (10,) and pred.dtype == np.int64
    assert (pred == y_test[:10]).mean() >= 0.7


@pytest.mark.slow
def test_defaults_train_lenet_over_98_percent_on_digits(tmp_path, capsys):
    """The README's main job: `zengrad train` with its defaults."""
    assert main(["train", "--out", str(tmp_path / "r"), "--verbose", "0"]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model"] == "lenet" and config["dataset"] == "digits"
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.98


@pytest.mark.slow
def test_mlp_defaults_reach_95_percent_on_digits(tmp_path, capsys):
    assert main(["train", "--model", "mlp", "--out", str(tmp_path / "r"), "--verbose", "0"]) == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.95


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
    np.save(tmp_path / "ok.npy", np.zeros((3, 4), np.float32))
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
