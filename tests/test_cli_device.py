"""`zengrad evaluate --device` and `zengrad predict --device`: on the fake 'cuda' of
tests/backend/conftest.py they give what the CPU gives; without CuPy, the same one-line usage
error as `train --device`."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import (
    KIND,
    cuda,  # noqa: F401  (the fixture)
)
from zengrad.cli import main

# the fake computes as the CPU does; a real GPU's kernels round differently
RTOL = 1e-5 if KIND == "fake" else 1e-4
no_cuda = pytest.mark.skipif(KIND == "cupy" or zg.cuda.is_available(),
                             reason="needs a machine without CUDA")

# iris features in cm, inside the training data's ranges (predict checks the units)
RAW_IRIS = np.float32([[5.1, 3.5, 1.4, 0.2], [5.8, 2.7, 4.1, 1.0], [6.9, 3.1, 5.4, 2.1],
                       [5.0, 3.0, 1.6, 0.2], [6.3, 2.5, 5.0, 1.9]])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two CPU-trained run folders: an iris classifier and a diabetes regressor."""
    root = tmp_path_factory.mktemp("device_runs")
    out = {}
    for dataset in ("iris", "diabetes"):
        out[dataset] = root / dataset
        assert main(["train", "--dataset", dataset, "--epochs", "2", "--verbose", "0",
                     "--out", str(out[dataset])]) == 0
    return out


def _metrics_line(out: str) -> dict[str, float]:
    """{'loss': ..., 'accuracy': ...} of evaluate's one `test (...): k v  k v` line."""
    line = next(s for s in out.splitlines() if s.startswith("test ("))
    words = line.split("):", 1)[1].split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2])}


@pytest.mark.parametrize("dataset", ["iris", "diabetes"])
def test_evaluate_on_cuda_matches_the_cpu(cuda, runs, dataset, capsys):  # noqa: F811
    assert main(["evaluate", str(runs[dataset])]) == 0
    on_cpu = _metrics_line(capsys.readouterr().out)
    assert main(["evaluate", str(runs[dataset]), "--device", "cuda"]) == 0
    on_cuda = _metrics_line(capsys.readouterr().out)
    assert on_cuda.keys() == on_cpu.keys() and len(on_cpu) >= 2
    for k in on_cpu:
        assert on_cuda[k] == pytest.approx(on_cpu[k], rel=1e-4, abs=1e-4), k


@pytest.mark.parametrize("options", [[], ["--proba"]], ids=["labels", "proba"])
def test_predict_on_cuda_matches_the_cpu(cuda, runs, tmp_path, capsys, options):  # noqa: F811
    np.save(tmp_path / "x.npy", RAW_IRIS)
    got = {}
    for device in ("cpu", "cuda:0"):
        dest = tmp_path / f"{device.replace(':', '')}.npy"
        assert main(["predict", str(runs["iris"]), "--input", str(tmp_path / "x.npy"),
                     "--output", str(dest), "--device", device, *options]) == 0
        got[device] = np.load(dest)
        assert type(got[device]) is np.ndarray
    if options:
        assert got["cpu"].shape == (5, 3)
        np.testing.assert_allclose(got["cuda:0"], got["cpu"], rtol=RTOL, atol=RTOL / 10)
    else:
        assert got["cpu"].shape == (5,) and got["cpu"].dtype == np.int64
        np.testing.assert_array_equal(got["cuda:0"], got["cpu"])
    capsys.readouterr()
    # printed rather than saved: the same lines
    assert main(["predict", str(runs["iris"]), "--input", str(tmp_path / "x.npy"), *options]) == 0
    printed_cpu = capsys.readouterr().out
    assert main(["predict", str(runs["iris"]), "--input", str(tmp_path / "x.npy"),
                 "--device", "cuda", *options]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(printed_cpu.splitlines()) == 5


def test_regression_predictions_on_cuda_in_target_units(cuda, runs, tmp_path):  # noqa: F811
    from sklearn.datasets import load_diabetes

    np.save(tmp_path / "x.npy", load_diabetes().data[:8])
    got = {}
    for device in ("cpu", "cuda"):
        dest = tmp_path / f"{device}.npy"
        assert main(["predict", str(runs["diabetes"]), "--input", str(tmp_path / "x.npy"),
                     "--output", str(dest), "--device", device]) == 0
        got[device] = np.load(dest)
    assert got["cpu"].shape[0] == 8
    np.testing.assert_allclose(got["cuda"], got["cpu"], rtol=RTOL, atol=1e-4)


@no_cuda
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_device_without_cupy_is_a_usage_error(runs, tmp_path, capsys, command):
    argv = [command, str(runs["iris"]), "--device", "cuda"]
    if command == "predict":
        np.save(tmp_path / "x.npy", RAW_IRIS)
        argv += ["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "p.npy")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"zengrad {command}: error: --device:")
    assert "pip install 'zengrad[cuda]'" in err and "\n" not in err
    assert not (tmp_path / "p.npy").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_an_unknown_device_is_refused_before_the_run_is_read(tmp_path, capsys, command):
    # the run folder doesn't exist: the device is checked first, as train does
    argv = [command, str(tmp_path / "nowhere"), "--device", "gpu"]
    if command == "predict":
        argv += ["--input", str(tmp_path / "x.npy")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"zengrad {command}: error: --device:") and "gpu" in err


def test_help_names_the_device_option(capsys):
    for command in ("train", "evaluate", "predict"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "--device" in out and "zengrad[cuda]" in out, command


def test_info_says_whether_cuda_is_there(capsys):
    assert main(["info"]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("cuda:"))
    if zg.cuda.is_available():
        assert "GPU(s)" in line
    else:
        assert "not available" in line and "zengrad[cuda]" in line


def test_info_names_the_gpu(cuda, capsys):  # noqa: F811
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    count, name = zg.cuda.device_count(), zg.cuda.get_device_name()
    assert f"cuda: cupy, {count} GPU(s): {name} (--device cuda)" in out
