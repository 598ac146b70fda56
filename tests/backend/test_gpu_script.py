"""bench/gpu.sh and bench/gpu_steps.py, tested up to their GPU calls (no GPU in CI): the dry
run lists the steps, and gpu_steps.py runs every workload's whole code path on the CPU at a
few samples a batch (the same builders, first-loss check, timing and table as on 'cuda')."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the lent GPU machine runs these from a checkout that is not installed: zengrad from ROOT
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
           PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
FIVE = ("mlp", "lenet", "block", "lstm", "encoder")  # issue 15's workloads


def _gpu_steps(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "bench/gpu_steps.py", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=180)


def test_gpu_script_dry_run_lists_its_steps():
    env = dict(ENV, ZENGRAD_GPU_DRY_RUN="1", PYTHON=sys.executable)
    out = subprocess.run(["bash", "bench/gpu.sh"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for step in ("pip install", "cupy-cuda12x", "ZENGRAD_TEST_CUDA=cupy", "tests/backend",
                 "tests/data/test_loader_devices.py", "tests/io/test_device_save_load.py",
                 "tests/train/test_trainer_device.py", "bench/gpu_steps.py --device cuda"):
        assert step in out.stdout, step
    # every test file the script names exists (a rename must update the script)
    for word in out.stdout.split():
        if word.startswith("tests/") and word.endswith(".py"):
            assert os.path.isfile(os.path.join(ROOT, word)), word
    # the steps' timeouts keep the whole run under ~8 minutes
    timeouts = [int(w) for line in out.stdout.splitlines() if line.startswith("+ ")
                for prev, w in zip(line.split(), line.split()[1:]) if prev == "timeout"]
    assert len(timeouts) == 3 and sum(timeouts) <= 480, timeouts


def test_gpu_script_without_a_venv_uses_python3():
    env = {k: v for k, v in ENV.items() if k != "PYTHON"}
    env["ZENGRAD_GPU_DRY_RUN"] = "1"
    script = os.path.join(ROOT, "bench", "gpu.sh")
    text = open(script).read()
    assert 'PY=python3' in text and 'export PYTHONPATH="$PWD' in text
    out = subprocess.run(["bash", script], cwd="/", env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    py = ".venv/bin/python" if os.path.exists(os.path.join(ROOT, ".venv/bin/python")) else "python3"
    assert f"+ {py} bench/gpu_steps.py" in out.stdout.replace("timeout 150 ", ""), out.stdout


def test_gpu_steps_runs_every_workload_on_the_cpu(tmp_path):
    log = tmp_path / "gpu.jsonl"
    out = _gpu_steps("--device", "cpu", "--small", "--steps", "1", "--rounds", "1",
                     "--block-s", "0", "--json", str(log))
    assert out.returncode == 0, out.stderr
    assert "failed" not in out.stdout and "differ" not in out.stdout, out.stdout
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    names = [r["workload"] for r in rows]
    assert names[:5] == list(FIVE) and {"tiny", "adam", "wide"} <= set(names), names
    for r in rows:
        assert isinstance(r["torch"], list) and isinstance(r["zengrad"], list), r
        assert r["loss_agrees"] and r["ratio"] > 0 and r["device"] == "cpu", r
        assert f"| {r['workload']} | {r['batch']} |" in out.stdout
        assert f"b{r['batch']}" in r["what"]  # the builder took the small batch
    assert {r["workload"]: r["goal"] for r in rows if r["goal"]} == {
        "mlp": 1.1, "encoder": 1.1, "lenet": 1.5, "block": 1.5, "lstm": 1.5}
    assert "issue 15's goal met by" in out.stdout


def test_gpu_steps_skips_what_the_budget_leaves_no_time_for(tmp_path):
    log = tmp_path / "gpu.jsonl"
    out = _gpu_steps("--device", "cpu", "--small", "--budget-s", "0", "--only", "tiny", "mlp",
                     "--json", str(log))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["workload"] for r in rows] == ["tiny", "mlp"]
    assert all(r["zengrad"].startswith("skipped") for r in rows), rows


@pytest.fixture
def wl(monkeypatch):
    """bench/workloads.py as a module (it puts bench/ on sys.path: undone afterwards)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location(
        "bench_workloads", os.path.join(ROOT, "bench", "workloads.py"))
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_workloads_default_to_the_cpu_sizes_and_name_bad_input(wl):
    w = wl.build("tiny")
    assert w.batch == wl.DEFAULT_BATCH["tiny"] == 16 and w.device == "cpu"
    w.torch_sync(), w.zengrad_sync()  # no-ops on the CPU
    assert abs(float(w.torch_step()) - float(w.zengrad_step())) < 1e-5
    assert wl.build("lstm", 3).batch == 3
    with pytest.raises(KeyError, match="no workload 'nope'; known: tiny"):
        wl.build("nope")
    with pytest.raises(ValueError, match="batch must be at least 1, got 0"):
        wl.build("mlp", 0)


@pytest.mark.parametrize("name", FIVE)
def test_zengrad_side_of_a_workload_runs_on_the_cuda_backend(wl, cuda, name):
    """zengrad's model and data on 'cuda' (the fake CuPy here; with ZENGRAD_TEST_CUDA=cupy,
    bench/gpu.sh's real one), torch's on the CPU: the same first losses."""
    w = wl.build(name, 2, "cuda", torch_device="cpu")
    losses = [float(w.torch_step()), float(w.zengrad_step())]
    w.zengrad_sync()
    assert abs(losses[0] - losses[1]) <= 1e-4 * max(1.0, abs(losses[0])), losses
    second = [float(w.torch_step()), float(w.zengrad_step())]  # after one SGD update each
    assert abs(second[0] - second[1]) <= 1e-4 * max(1.0, abs(second[0])), second
