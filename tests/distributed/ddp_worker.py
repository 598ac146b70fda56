"""Run under `mpiexec -n 2`: DDP training against one process on the whole batch.

Each case trains a model with DistributedDataParallel, each rank on its half of a global batch
of 2B, and on rank 0 a twin (the same initial weights) in one process on all 2B; after every
step rank 0 records the largest difference between the two models' parameters (and buffers).
Both ranks also check that their replicas agree. Rank 0 writes {case: max difference} as JSON
to argv[1]. Not a test file: tests/distributed/test_ddp.py launches it.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import zengrad as zg
import zengrad.distributed as dist
from zengrad import nn, optim
from zengrad.nn import functional as F
from zengrad.nn.parallel import DistributedDataParallel as DDP

B, STEPS = 6, 4
TRANSPORTS: set[str] = set()  # how the DDPs built here summed their buckets


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def lenet_bn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(),
        nn.Linear(6 * 3 * 3, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3),
    )


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class Shared(nn.Module):
    """One Linear used twice (two gradient contributions per step) and one never used."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(8, 8)
        self.unused = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.inner(self.inner(x).tanh()).tanh())


MODELS = {"mlp": (mlp, (8,)), "shared": (Shared, (8,)), "lenet_bn": (lenet_bn, (1, 12, 12)),
          "lstm": (LSTMClassifier, (5, 4))}


def batches(shape: tuple, dtype, steps: int, seed: int):
    """The global batches (2B samples each), the same on every rank."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal((2 * B,) + shape).astype(dtype)
        y = rng.integers(0, 3, 2 * B)
        yield zg.from_numpy(x), zg.from_numpy(y)


def max_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float(np.max(np.abs(sa[k].array.astype(np.float64) - sb[k].array)))
               if sa[k].array.size else 0.0 for k in sa)


def replicas_agree(model: nn.Module) -> bool:
    flat = np.concatenate([t.array.reshape(-1).astype(np.float64)
                           for t in model.state_dict().values()])
    mine = zg.from_numpy(flat.copy())
    lo, hi = zg.from_numpy(flat.copy()), mine
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    return bool(np.array_equal(lo.array, hi.array))


def run_case(name: str, dtype, accumulate: int, wrap: bool = True) -> float:
    """accumulate > 1: that many micro-batches per step, all but the last under no_sync.
    wrap=False: no DDP (the control: each rank trains on its half alone)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    build, shape = MODELS[name]
    zg.manual_seed(100 + rank)  # different initial weights per rank: DDP must broadcast
    local = build().to(dtype)
    if name == "lenet_bn":
        local = nn.SyncBatchNorm.convert_sync_batchnorm(local)
    if wrap:
        ddp = DDP(local, bucket_cap_mb=0.001)  # tiny buckets: several in flight per step
        TRANSPORTS.add("shared-memory" if ddp._node is not None else "mpi-allreduce")
    else:
        ddp = nn.Module()
        ddp.module = local
        ddp.forward = local
        ddp.no_sync = _nullcontext
    ref = build().to(dtype)
    ref.load_state_dict({k: v.array.copy() for k, v in ddp.module.state_dict().items()})
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ddp, ref)]
    worst = 0.0
    data = list(batches(shape, dtype, STEPS * accumulate, seed=7))
    for step in range(STEPS):
        for opt in opts:
            opt.zero_grad()
        for k in range(accumulate):
            x, y = data[step * accumulate + k]
            mine = slice(rank * B, (rank + 1) * B)
            sync = k == accumulate - 1
            ctx = ddp.no_sync() if not sync else _nullcontext()
            with ctx:
                (F.cross_entropy(ddp(x[mine]), y[mine]) / accumulate).backward()
            if rank == 0:
                (F.cross_entropy(ref(x), y) / accumulate).backward()
        for opt in opts:
            opt.step()
        if rank == 0:
            worst = max(worst, max_diff(ddp.module, ref))
        if not replicas_agree(ddp.module):
            raise AssertionError(f"{name}: the replicas differ after step {step}")
    assert world == 2
    if name == "shared":
        assert all(p.grad is None for p in ddp.module.unused.parameters())
    return worst


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def main() -> None:
    dist.init_process_group("mpi")
    results = {}
    for name in MODELS:
        for dtype in (np.float64, np.float32):
            results[f"{name}-{np.dtype(dtype).name}"] = run_case(name, dtype, 1)
        results[f"{name}-float64-no_sync"] = run_case(name, np.float64, 2)
    try:
        results["control-without-ddp"] = run_case("mlp", np.float64, 1, wrap=False)
    except AssertionError:  # the replicas differ: expected without DDP
        results["control-without-ddp"] = float("inf")
    results["transports"] = sorted(TRANSPORTS)
    if dist.get_rank() == 0:
        with open(sys.argv[1], "w") as f:
            json.dump(results, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
