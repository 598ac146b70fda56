"""The command line against hostile input files, hostile run configs, kill -9 at random
moments, a full disk, and a killed run resumed to the same weights as an uninterrupted one."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

from zengrad.cli import main
from zengrad.io import load, load_metadata

TRAIN = ["train", "--dataset", "iris", "--verbose", "0"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "iris"
    assert main([*TRAIN, "--epochs", "2", "--out", str(folder)]) == 0
    return folder


def _err(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err  # one line, no traceback
    return err


def _npy_header(path: Path, shape, descr="<f4", version=(1, 0), payload=b"") -> Path:
    with open(path, "wb") as f:
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        if version == (1, 0):
            npy.write_array_header_1_0(f, header)
        else:
            npy.write_array_header_2_0(f, header)
        f.write(payload)
    return path


# ----- predict's input file ---------------------------------------------------------------------
def test_hostile_input_files(run, tmp_path, capsys):
    cases = {}
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 4)))
    cases["a.npz"] = ".npz archive"
    np.save(tmp_path / "zero_d.npy", np.float32(3.0))
    cases["zero_d.npy"] = "0-d array"
    (tmp_path / "empty.npy").write_bytes(b"")
    cases["empty.npy"] = "empty file"
    np.save(tmp_path / "text.npy", np.array([["a", "b", "c", "d"]]))
    cases["text.npy"] = "numeric inputs expected, got dtype <U1"
    np.save(tmp_path / "obj.npy", np.array([[1, 2, 3, {}]], dtype=object), allow_pickle=True)
    cases["obj.npy"] = "allow_pickle=False"
    np.save(tmp_path / "complex.npy", np.zeros((2, 4), np.complex64))
    cases["complex.npy"] = "numeric inputs expected"
    np.save(tmp_path / "rec.npy", np.zeros(3, dtype=[("a", "f4"), ("b", "f4")]))
    cases["rec.npy"] = "numeric inputs expected"
    _npy_header(tmp_path / "huge.npy", (10**13, 4), payload=b"\0" * 64)
    cases["huge.npy"] = "header claims shape (10000000000000, 4)"
    _npy_header(tmp_path / "huge2.npy", (10**13, 4), version=(2, 0))
    cases["huge2.npy"] = "header claims"
    _npy_header(tmp_path / "short.npy", (10, 4), payload=b"\0" * 100)
    cases["short.npy"] = "truncated or damaged"
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00\xff\xff{'descr': ")
    cases["junk.npy"] = "not a readable .npy file"
    (tmp_path / "text.txt.npy").write_bytes(b"1,2,3,4\n")
    cases["text.txt.npy"] = "not a readable .npy file"
    np.save(tmp_path / "none.npy", np.zeros((0, 4), np.float32))
    cases["none.npy"] = "holds no samples"
    np.save(tmp_path / "wide.npy", np.zeros((3, 5), np.float32))
    cases["wide.npy"] = "the model takes (N, 4)"
    x = np.ones((6, 4), np.float32)
    x[4, 2] = np.nan
    np.save(tmp_path / "nan.npy", x)
    cases["nan.npy"] = "sample 4 holds NaN or infinity"
    start = time.perf_counter()
    for name, needle in cases.items():
        err = _err(capsys, ["predict", str(run), "--input", str(tmp_path / name)])
        assert needle in err, (name, err)
        assert name in err, (name, err)  # names the file
    assert time.perf_counter() - start < 30  # nothing was allocated for 10**13 rows
    _err(capsys, ["predict", str(run), "--input", str(tmp_path / "missing.npy")])


def test_predict_is_batched_over_a_memory_mapped_file(run, tmp_path, capsys):
    # iris-like measurements in cm, as big-endian float64
    x = np.random.default_rng(0).normal([5.8, 3.0, 3.8, 1.2], [0.8, 0.4, 1.7, 0.7],
                                        size=(1000, 4)).clip(0.1).astype(">f8")
    np.save(tmp_path / "x.npy", x)
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--batch-size", "64",
                 "--output", str(tmp_path / "p.npy")]) == 0
    one = np.load(tmp_path / "p.npy")
    assert main(["predict", str(run), "--input", str(tmp_path / "x.npy"), "--batch-size",
                 "1000", "--output", str(tmp_path / "q.npy")]) == 0
    assert one.shape == (1000,) and (one == np.load(tmp_path / "q.npy")).all()


# ----- hostile run folders ------------------------------------------------------------------------
HOSTILE_CONFIG = [
    ({"num_outputs": 10**8}, "'num_outputs' must be an int in [1, 100,000]"),
    ({"num_outputs": 3.5}, "'num_outputs'"),
    ({"num_outputs": True}, "'num_outputs'"),
    ({"input_shape": [-1]}, "'input_shape' must be a list of 1 to 4 positive ints"),
    ({"input_shape": [10**4, 10**4]}, "'input_shape'"),
    ({"input_shape": "4"}, "'input_shape'"),
    ({"input_shape": [4, [4]]}, "'input_shape'"),
    ({"input_shape": [1000, 1000]}, "parameters"),  # fits the bounds, not the memory budget
    ({"model": "gpt"}, "'model' must be one of"),
    ({"model": ["mlp"]}, "'model'"),
    ({"dataset": "imagenet"}, "'dataset' must be a known dataset name"),
    ({"task": "poetry"}, "'task'"),
    ({"width": 10**9}, "'width'"),
    ({"lr": "fast"}, "'lr' must be a number"),
    ({"lr": -1}, "'lr'"),
    ({"batch_size": 0}, "'batch_size'"),
    ({"epochs": 10**12}, "'epochs'"),
    ({"scheduler": "warp"}, "'scheduler'"),
    ({"seed": -3}, "'seed'"),
    ({"model": None}, "'model'"),
]


@pytest.mark.parametrize("change,needle", HOSTILE_CONFIG)
def test_hostile_config_fields(run, tmp_path, capsys, change, needle):
    bad = tmp_path / "bad"
    shutil.copytree(run, bad)
    config = json.loads((bad / "config.json").read_text())
    config.update(change)
    (bad / "config.json").write_text(json.dumps(config))
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    for argv in (["evaluate", str(bad)], ["predict", str(bad), "--input", str(tmp_path / "x.npy")]):
        err = _err(capsys, argv)
        assert "config.json" in err and needle in err, err


@pytest.mark.parametrize("text,needle", [
    ("{", "not valid JSON"),
    ("[1, 2]", "a JSON object expected"),
    ("{}", "field 'model' is missing"),
    ("[" * 100000 + "]" * 100000, "not valid JSON"),
    ("\xff\xfe", "not valid JSON"),
])
def test_unreadable_config(run, tmp_path, capsys, text, needle):
    bad = tmp_path / "bad"
    shutil.copytree(run, bad)
    (bad / "config.json").write_bytes(text.encode("latin-1"))
    err = _err(capsys, ["evaluate", str(bad)])
    assert needle in err and "config.json" in err


@pytest.mark.parametrize("change,needle", [
    ({"x": {"kind": "standardize", "shape": [4], "mean": [0, 0, 0], "scale": [1, 1, 1, 1]}},
     "'x.mean' must be a list of 4 numbers"),
    ({"x": {"kind": "standardize", "shape": [4], "mean": [0] * 4, "scale": [1, -1, 1, 1]}},
     "'x.scale' must hold positive numbers"),
    ({"x": {"kind": "standardize", "shape": [4], "mean": [float("nan")] * 4,
            "scale": [1] * 4}}, "non-finite"),
    ({"x": {"kind": "standardize", "shape": [10**9], "mean": [], "scale": []}}, "'x.shape'"),
    ({"x": {"kind": "exec", "code": "import os"}}, "kind 'standardize'"),
    ({"format": "pickle"}, "'format'"),
    ({"input_shape": [2, 2]}, "the input scaler has shape (4,), the inputs (2, 2)"),
    ({"input_shape": [2, 2], "x": None}, "doesn't match config.json"),
])
def test_hostile_preprocessing(run, tmp_path, capsys, change, needle):
    bad = tmp_path / "bad"
    shutil.copytree(run, bad)
    pre = json.loads((bad / "preprocessing.json").read_text())
    pre.update(change)
    (bad / "preprocessing.json").write_text(json.dumps(pre))
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    err = _err(capsys, ["predict", str(bad), "--input", str(tmp_path / "x.npy")])
    assert "preprocessing.json" in err and needle in err, err


# ----- kill -9, a full disk, resume ------------------------------------------------------------
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "zengrad", *args]


def _consistent_run(folder: Path) -> dict:
    """A complete run: config.json equals the config embedded in the weights, and the
    metrics exist; returns the config."""
    config = json.loads((folder / "config.json").read_text())
    assert json.loads(load_metadata(folder / "model.safetensors")["config"]) == config
    assert "test" in json.loads((folder / "metrics.json").read_text())
    assert (folder / "preprocessing.json").is_file()
    assert not (folder / "checkpoint.safetensors").exists()
    return config


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_old_or_new_complete_run(tmp_path):
    out = tmp_path / "r"
    args = [*TRAIN, "--epochs", "40", "--out", str(out)]
    assert subprocess.run(_cli(*args, "--seed", "0"), capture_output=True,
                          timeout=120).returncode == 0
    seeds = {0}
    rng = random.Random(1234)
    for k, delay in enumerate([rng.uniform(0.3, 5.0) for _ in range(4)], start=1):
        proc = subprocess.Popen(_cli(*args, "--seed", str(k), "--overwrite"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        config = _consistent_run(out)  # the old run or the new one, never a mixture
        assert config["seed"] in seeds | {k}
        seeds.add(config["seed"])
        for leftover in tmp_path.glob(".r.*"):
            shutil.rmtree(leftover)  # a killed run's unfinished folder (resumable) or set-aside


@pytest.mark.slow
def test_disk_full_keeps_the_earlier_run(tmp_path):
    out = tmp_path / "r"
    assert subprocess.run(_cli(*TRAIN, "--epochs", "2", "--out", str(out)), capture_output=True,
                          timeout=120).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))

    for extra in (["--overwrite"], []):
        target = ["--out", str(out)] if extra else ["--out", str(tmp_path / "other")]
        r = subprocess.run(_cli(*TRAIN, "--epochs", "3", "--seed", "9", *target, *extra),
                           capture_output=True, text=True, timeout=120, preexec_fn=small_disk)
        assert r.returncode == 1, r.stderr
        assert "File too large" in r.stderr and "Traceback" not in r.stderr
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert not (tmp_path / "other").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_resume_after_kill_9_reaches_the_uninterrupted_weights(tmp_path):
    args = ["train", "--model", "mlp", "--dataset", "digits", "--epochs", "25", "--patience",
            "3", "--scheduler", "cosine", "--seed", "7", "--verbose", "0"]
    ref = subprocess.run(_cli(*args, "--out", str(tmp_path / "ref")), capture_output=True,
                         text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "runs" / "killed"
    proc = subprocess.Popen(_cli(*args, "--out", str(out)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    pattern = ".killed.tmp-*/checkpoint.safetensors"
    while not list(out.parent.glob(pattern)) and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and list(out.parent.glob(pattern)), "killed after it finished"

    r = subprocess.run(_cli("train", "--resume", str(out), "--verbose", "0"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "from its last checkpoint" in r.stdout and f"run folder: {out}" in r.stdout
    assert not list(out.parent.glob(".killed.*"))
    a, b = load(tmp_path / "ref" / "model.safetensors"), load(out / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert _consistent_run(out) == _consistent_run(tmp_path / "ref")
    ha = json.loads((tmp_path / "ref" / "history.json").read_text())
    hb = json.loads((out / "history.json").read_text())
    assert ha == hb
    # nothing left to resume
    r = subprocess.run(_cli("train", "--resume", str(out)), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "no unfinished run" in r.stderr


def test_resume_refuses_a_folder_still_being_written(tmp_path, capsys):
    pending = tmp_path / ".r.tmp-1"
    pending.mkdir()
    (pending / "pending.json").write_text(json.dumps(
        {"out": str(tmp_path / "r"), "explicit": True, "overwrite": False,
         "pid": os.getppid()}))
    err = _err(capsys, ["train", "--resume", str(tmp_path / "r")])
    assert "is still being written by process" in err
    (pending / "pending.json").write_text("{")
    assert "not an unfinished zengrad run" in _err(capsys, ["train", "--resume", str(pending)])


@pytest.mark.slow
def test_sigterm_unwinds_like_ctrl_c_and_keeps_the_checkpoint(tmp_path):
    out = tmp_path / "runs" / "r"
    proc = subprocess.Popen(_cli("train", "--model", "mlp", "--epochs", "500", "--patience",
                                 "0", "--out", str(out), "--verbose", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (not list(out.parent.glob(".r.tmp-*/checkpoint.safetensors"))
           and time.monotonic() < deadline):
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "--resume" in err and not out.exists()
    assert list(out.parent.glob(".r.tmp-*/checkpoint.safetensors"))
