"""The most two data-parallel ranks can gain on the MLP of bench_ddp.py, from one process.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/ddp_ceiling.py

Two ranks on half of a global batch 2B each take at least C(B), one process's step time on B
(with no communication at all), where one process on the whole batch takes C(2B); so
C(2B) / C(B) bounds the speed-up of bench_ddp.py's "2 ranks x 1 thread" column. Prints the
median ms per step (MLP 784-512-256-10, SGD with momentum, bundled MNIST rows, interleaved
rounds) and that bound per global batch. Results in bench/README_ddp.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import zengrad as zg  # noqa: E402
from zengrad import nn, optim  # noqa: E402
from zengrad.data import load_mnist  # noqa: E402
from zengrad.nn import functional as F  # noqa: E402

BATCHES = (32, 64, 128, 256, 512)


def make_step(x, y, batch: int):
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    xb, yb = x[:batch], y[:batch]

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()

    return step


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    (x, y), _ = load_mnist(flatten=True)
    x, y = zg.from_numpy(np.ascontiguousarray(x)), zg.from_numpy(y.astype(np.int64))
    steps = {b: make_step(x, y, b) for b in BATCHES}
    times: dict[int, list[float]] = {b: [] for b in BATCHES}
    for _ in range(9):
        for b, step in steps.items():
            step()
            t0 = time.perf_counter()
            for _ in range(20):
                step()
            times[b].append((time.perf_counter() - t0) / 20 * 1e3)
    med = {b: statistics.median(v) for b, v in times.items()}
    print("| batch B | ms per step | bound for 2 ranks at global batch B: C(B) / C(B/2) |")
    print("|---|---|---|")
    for b in BATCHES:
        bound = f"{med[b] / med[b // 2]:.2f}x" if b // 2 in med else ""
        print(f"| {b} | {med[b]:.3f} | {bound} |")


if __name__ == "__main__":
    main()
