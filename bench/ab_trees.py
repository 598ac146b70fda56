"""zengrad against itself: two source trees (e.g. before and after a change), interleaved.

On a shared machine the load moves every timing by 15-40% (and up to 10x at load 10), but it
moves two implementations timed in alternating blocks about equally. Each tree gets one
persistent worker process (its own `import zengrad`, thread count fixed before NumPy
loads); the parent asks them in turn for a block of steps of each workload and reports the
median and best ms/step of each and their ratio.

    git archive <rev> | tar -x -C /tmp/base        # the other tree, outside the checkout
    .venv/bin/python bench/ab_trees.py /tmp/base . --threads 1 --only lenet lstm --procs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(tree: str) -> None:
    """Read `name steps` lines; answer the ms/step of that many zengrad steps (JSON)."""
    sys.path.insert(0, os.path.abspath(tree))
    sys.path.insert(1, HERE)  # the workloads of this checkout, run on the tree's zengrad
    import torch
    from workloads import build

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    steps = {}
    for line in sys.stdin:
        name, n = line.split()
        if name not in steps:
            steps[name] = build(name).zengrad_step
            for _ in range(3):
                steps[name]()
        t0 = time.perf_counter()
        for _ in range(int(n)):
            steps[name]()
        print(json.dumps((time.perf_counter() - t0) * 1e3 / int(n)), flush=True)


def main() -> None:
    from harness import SPIN_GAP_S
    from workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs=2, help="two source trees (folders holding zengrad/)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--block-s", type=float, default=0.5, help="seconds per block (about)")
    p.add_argument("--procs", type=int, default=1,
                   help="worker processes per tree, asked in turn (a process keeps one memory "
                        "layout: the same tree in two processes differed by up to 5%%)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker)
        return
    env = dict(os.environ, BENCH_THREADS=str(args.threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    procs = [  # procs[i]: tree i's workers
        [subprocess.Popen([sys.executable, __file__, "x", "y", "--worker", t], env=env,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
         for _ in range(args.procs)]
        for t in args.trees
    ]

    def ask(proc, name, n):
        proc.stdin.write(f"{name} {n}\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    print(f"load average at start: {open('/proc/loadavg').read().strip()}; "
          f"{args.threads} thread(s); A = {args.trees[0]}, B = {args.trees[1]}\n")
    print("| workload | A median / best ms | B median / best ms | B / A (median) |")
    print("|---|---|---|---|")
    for name in args.only:
        one = max(ask(proc, name, 1) for tree in procs for proc in tree)
        n = max(2, int(args.block_s * 1e3 / one))
        times: list[list[float]] = [[], []]
        for r in range(args.rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for i in order:
                times[i].append(ask(procs[i][r % args.procs], name, n))
                time.sleep(SPIN_GAP_S)  # the other tree's BLAS workers stop spinning
        a, b = (statistics.median(t) for t in times)
        print(f"| {name} | {a:.3f} / {min(times[0]):.3f} | {b:.3f} / {min(times[1]):.3f} | "
              f"**{b / a:.2f}** |", flush=True)
    for proc in (proc for tree in procs for proc in tree):
        proc.stdin.close()
        proc.wait()
    print(f"\nload average at end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
