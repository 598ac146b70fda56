"""All seven training-step workloads of issue 12, zengrad vs PyTorch, in one table.

Each thread count runs in its own subprocess (OMP/OPENBLAS/MKL_NUM_THREADS set before NumPy
is imported, torch.set_num_threads); inside it every workload times torch and zengrad in
interleaved blocks (harness.time_interleaved: warm-up, `rounds` blocks of >= `steps` steps
lasting >= 0.3 s each), median and best ms/step. The same process measures this machine's
float32 GEMM peak (best of a few 2048^3 sgemms, NumPy's and torch's) and reports, per workload,
the fraction of NumPy's peak a step reaches: GEMM FLOPs per step / median time / peak.

    .venv/bin/python bench/bench_all.py [--threads 1 2] [--only lenet lstm] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def gemm_peak(lib: str, n: int = 2048, tries: int = 4) -> float:
    """Best GFLOP/s of an n x n x n float32 matrix product."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    if lib == "torch":
        import torch

        a = torch.from_numpy(a)
        mm = torch.mm
    else:
        mm = np.matmul
    mm(a, a)
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        mm(a, a)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def inner(args) -> None:
    import torch
    from harness import machine_load, run_info, set_torch_threads, time_interleaved
    from workloads import build

    set_torch_threads(torch)
    out = {**run_info(), "load_before": machine_load(), "results": {}}
    out["peak_numpy"] = gemm_peak("numpy")
    out["peak_torch"] = gemm_peak("torch")
    for name in args.only:
        w = build(name)
        r = time_interleaved({"torch": w.torch_step, "zengrad": w.zengrad_step},
                             warmup=3, rounds=args.rounds, min_steps=args.steps)
        out["results"][name] = {"what": w.what, "flops": w.flops, **r}
    out["load_after"] = machine_load()
    print(json.dumps(out))


def report(r: dict) -> None:
    from workloads import TARGETS

    th = r["threads"]
    print(f"\n### {th} thread(s): numpy {r['numpy']} ({r['blas']}), torch {r['torch']}; "
          f"load average {r['load_before']:.2f} -> {r['load_after']:.2f}; sgemm peak NumPy "
          f"{r['peak_numpy']:.0f} GFLOP/s, torch {r['peak_torch']:.0f}\n")
    print("| workload | torch median / best ms | zengrad median / best ms | x torch "
          "| target | GEMM GFLOP/step | zengrad % peak | torch % peak |")
    print("|---|---|---|---|---|---|---|---|")
    for name, v in r["results"].items():
        t, z = v["torch"], v["zengrad"]
        ratio = z["median_ms"] / t["median_ms"]
        target = TARGETS[name][0 if th == 1 else 1]
        mark = "" if target is None else (f"<= {target}" + (" ok" if ratio <= target else " MISS"))
        gf = v["flops"] / 1e9

        def pct(ms, gf=gf):
            return 100 * gf / (ms / 1e3) / r["peak_numpy"]

        print(f"| {v['what']} | {t['median_ms']:.3f} / {t['best_ms']:.3f} | "
              f"{z['median_ms']:.3f} / {z['best_ms']:.3f} | **{ratio:.2f}** | {mark} | "
              f"{gf:.3g} | {pct(z['median_ms']):.0f}% | {pct(t['median_ms']):.0f}% |")


def main() -> None:
    from harness import run_in_subprocess
    from workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--only", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--inner", action="store_true")
    args = p.parse_args()
    if args.inner:
        inner(args)
        return
    print(f"load average at start: {open('/proc/loadavg').read().strip()}")
    passthrough = ["--only", *args.only, "--rounds", str(args.rounds), "--steps", str(args.steps)]
    for threads in args.threads:
        report(run_in_subprocess(__file__, threads, passthrough))
    print(f"\nload average at end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
