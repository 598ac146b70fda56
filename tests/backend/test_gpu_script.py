"""bench/gpu.sh and bench/gpu_steps.py, tested up to their GPU calls (no GPU in CI)."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_gpu_script_dry_run_lists_its_steps():
    env = dict(os.environ, ZENGRAD_GPU_DRY_RUN="1", PYTHON=sys.executable)
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


def test_gpu_steps_times_both_libraries_on_the_cpu(tmp_path):
    log = tmp_path / "gpu.jsonl"
    out = subprocess.run(
        [sys.executable, "bench/gpu_steps.py", "--device", "cpu", "--steps", "1", "--rounds", "1",
         "--only", "tiny", "--json", str(log)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr
    assert "| tiny |" in out.stdout and "failed" not in out.stdout, out.stdout
    assert '"zengrad": [' in log.read_text() and '"torch": [' in log.read_text()
