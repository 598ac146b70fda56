"""Data-parallel training speed: 2 MPI ranks (DistributedDataParallel, one BLAS thread each)
against 1 process with 1 and with 2 BLAS threads, on the bundled MNIST subset (4,000 train
images). Not a test; results in bench/README_ddp.md.

    .venv/bin/python bench/bench_ddp.py [--epochs 3]

Each configuration runs in its own process(es) (thread counts are fixed before NumPy loads):
seconds per epoch (median over the epochs after the first) of an MLP 784-512-256-10 (global
batch 128) and LeNet-5 (global batch 64), SGD. With 2 ranks each takes half of every global
batch. Communication share: the DDP step time minus the same step under no_sync (no
all-reduce), over the DDP step time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"mlp": 128, "lenet": 64}


def worker(model_name: str, epochs: int, batch: int) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import zengrad as zg
    import zengrad.distributed as dist
    from zengrad import nn, optim
    from zengrad.data import load_mnist
    from zengrad.models import LeNet5
    from zengrad.nn import functional as F

    ranks = os.environ.get("ZENGRAD_BENCH_DDP") == "1"
    rank, world = 0, 1
    if ranks:
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    (x, y), _ = load_mnist(flatten=model_name == "mlp")
    zg.manual_seed(0)
    if model_name == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                              nn.Linear(256, 10))
    else:
        model = LeNet5()
    net = nn.parallel.DistributedDataParallel(model) if ranks else model
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = zg.from_numpy(np.ascontiguousarray(x)), zg.from_numpy(y.astype(np.int64))
    n = len(y) - len(y) % batch
    lo, hi = batch * rank // world, batch * (rank + 1) // world

    def step(i: int, sync: bool = True) -> None:
        xb, yb = x[i + lo:i + hi], y[i + lo:i + hi]
        opt.zero_grad()
        if ranks and not sync:
            with net.no_sync():
                F.cross_entropy(net(xb), yb).backward()
        else:
            F.cross_entropy(net(xb), yb).backward()
        opt.step()

    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            step(i)
        times.append(time.perf_counter() - t0)
    result = {"epoch_s": statistics.median(times[1:] or times), "steps": n // batch}
    if ranks:  # the same steps without the all-reduce
        dist.barrier()
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            step(i, sync=False)
        dist.barrier()
        nosync = time.perf_counter() - t0
        result["comm_share"] = max(0.0, 1 - nosync / result["epoch_s"])
    if rank == 0:
        print(json.dumps(result))


def run(model_name: str, epochs: int, threads: int, nproc: int, batch: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", model_name, "--epochs", str(epochs),
           "--batch", str(batch)]
    if nproc > 1:
        from zengrad.distributed.launch import mpiexec_path

        env["ZENGRAD_BENCH_DDP"] = "1"
        cmd = [mpiexec_path(), "-n", str(nproc)] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--worker", choices=list(MODELS))
    ap.add_argument("--batch", type=int, help="(worker) the global batch")
    ap.add_argument("--mlp-batches", type=int, nargs="+", default=[MODELS["mlp"]],
                    help="global batches of the MLP rows (default: 128)")
    ap.add_argument("--only", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.epochs, args.batch)
        return
    sys.path.insert(0, str(ROOT))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| model | global batch | 1 proc 1 thread | 1 proc 2 threads | 2 ranks x 1 thread | "
          "speed-up vs 1 rank | vs 2 threads | comm share |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [(name, b) for name in args.only
            for b in (args.mlp_batches if name == "mlp" else [MODELS[name]])]
    for name, batch in rows:
        one = run(name, args.epochs, 1, 1, batch)
        two_threads = run(name, args.epochs, 2, 1, batch)
        ranks = run(name, args.epochs, 1, 2, batch)
        print(f"| {name} | {batch} | {one['epoch_s']:.3f} s | {two_threads['epoch_s']:.3f} s | "
              f"{ranks['epoch_s']:.3f} s | {one['epoch_s'] / ranks['epoch_s']:.2f}x | "
              f"{two_threads['epoch_s'] / ranks['epoch_s']:.2f}x | "
              f"{100 * ranks['comm_share']:.0f}% |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
