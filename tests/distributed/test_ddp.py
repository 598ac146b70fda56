"""DistributedDataParallel, the collectives and SyncBatchNorm on 2 MPI ranks (mpiexec -n 2).

The workers beside this file run under mpiexec; these tests launch them and read what they
report. They skip when mpi4py is not installed.
"""

import json
import time
from pathlib import Path

import numpy as np
import pytest

import zengrad as zg
from tests.distributed.mpi_helpers import run_ranks
from zengrad import nn
from zengrad.distributed.shared_memory import ENV_SWITCH
from zengrad.io import load_checkpoint

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@pytest.fixture(scope="module", params=["shared-memory", "mpi-allreduce"])
def ddp_results(request, tmp_path_factory) -> dict:
    """Both transports: the buckets summed in shared memory (the default on one machine)
    and MPI's non-blocking all-reduce (what runs across machines)."""
    out = tmp_path_factory.mktemp("ddp") / "results.json"
    env = {ENV_SWITCH: "1" if request.param == "shared-memory" else "0"}
    proc = run_ranks("ddp_worker.py", str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results.pop("transports") == [request.param]
    return results


CASES = [f"{m}-{d}" for m in ("mlp", "shared", "lenet_bn", "lstm")
         for d in ("float64", "float32", "float64-no_sync")]


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_train_as_one_process_on_the_whole_batch(ddp_results, case):
    """2 ranks on B samples each = 1 process on 2B, step by step (parameters and buffers)."""
    tol = TOLERANCE[case.split("-")[1]]
    assert ddp_results[case] <= tol, (case, ddp_results[case])


def test_the_comparison_can_fail(ddp_results):
    # without DDP the ranks' replicas part at the first step
    assert ddp_results["control-without-ddp"] == float("inf")


def test_collectives_and_sync_batchnorm():
    proc = run_ranks("collectives_worker.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "collectives ok" in proc.stdout


@pytest.mark.parametrize("mode", ["kill", "hang"])
def test_a_failed_rank_ends_the_job_and_the_checkpoint_resumes(tmp_path, mode):
    """Rank 1 dies (SIGKILL) or hangs at step 3: the job ends with an error in seconds, not
    forever, and rank 0's last checkpoint loads into a fresh model."""
    ckpt = tmp_path / "ckpt.safetensors"
    start = time.monotonic()
    proc = run_ranks("fault_worker.py", mode, str(ckpt), timeout=45)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < 30
    if mode == "hang":
        assert "timed out after 3 s waiting for the other ranks" in proc.stderr
    else:
        assert "BAD TERMINATION" in proc.stdout + proc.stderr
    # rank 1 stops at step 3, so rank 0 can't finish it; mpiexec may kill rank 0 while it
    # writes step 2's checkpoint (atomic: then step 1's is there) or before it prints
    printed = [int(line.split()[1]) for line in proc.stdout.splitlines()
               if line.startswith("step ")]
    assert printed and max(printed) <= 2
    state = load_checkpoint(ckpt)
    assert max(printed) <= state["step"] <= 2
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    model.load_state_dict(state["model"])
    opt = zg.optim.SGD(model.parameters(), lr=0.1)
    opt.load_state_dict(state["optimizer"])
    assert np.isfinite(model(zg.randn(3, 4)).array).all()


def test_without_a_process_group():
    import zengrad.distributed as dist

    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="process group has not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")
    # SyncBatchNorm without a group is BatchNorm
    x = zg.randn(6, 3, 2)
    a, b = nn.SyncBatchNorm(3), nn.BatchNorm1d(3)
    assert np.allclose(a(x).array, b(x).array) and np.allclose(a.running_var.array,
                                                               b.running_var.array)


def test_trainer_on_two_ranks_trains_as_one_process(tmp_path):
    """Trainer.fit with global batches (uneven last batch) on 2 ranks: the weights, losses
    and metrics of one process; rank 0 alone writes the checkpoint and the CSV."""
    out = tmp_path / "trainer.json"
    proc = run_ranks("trainer_worker.py", str(out), str(tmp_path / "files"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["weights"] <= 1e-12
    ranks, alone = result["logs"]
    assert ranks["epoch"] == alone["epoch"] == [0, 1, 2]
    for key, values in alone["history"].items():
        assert np.allclose(ranks["history"][key], values, rtol=0, atol=1e-12), key
    assert result["files"] == ["ckpt.safetensors", "history.csv"]
    # progress lines come from rank 0 only: 3 epochs under DDP, 3 of the twin alone
    assert proc.stderr.count("epoch 1/3") == 2


@pytest.mark.slow
def test_cli_nproc_2_gives_the_one_process_run(tmp_path):
    """`zengrad train --nproc 2` (mpiexec under the hood): the metrics of `zengrad train`,
    one run folder, written by rank 0."""
    import os
    import subprocess
    import sys

    from tests.distributed.mpi_helpers import mpiexec

    mpiexec()  # skips without MPI
    root = str(Path(__file__).parent.parent.parent)
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    metrics = {}
    for n in (2, 1):
        cmd = [sys.executable, "-m", "zengrad", "train", "--model", "mlp", "--epochs", "2",
               "--nproc", str(n), "--out", f"run{n}", "--verbose", "0"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.count("run folder:") == 1
        metrics[n] = json.loads((tmp_path / f"run{n}" / "metrics.json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1", "run2"]
    assert metrics[2].keys() == metrics[1].keys()
    for key, value in metrics[1]["test"].items():
        assert abs(metrics[2]["test"][key] - value) <= 1e-4, key
