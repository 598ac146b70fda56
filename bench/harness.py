"""Timing helpers shared by the benchmarks (not tests).

Method: warm up every implementation, then run interleaved rounds; in each round every
implementation runs a block of >= min_steps steps (more when steps are fast, so a block
lasts >= min_block_s). ms/step per block; report the median and best over rounds.
Thread counts must be fixed before NumPy is imported: `run_in_subprocess` re-runs a
script with OMP/OPENBLAS/MKL_NUM_THREADS set.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def machine_load() -> float:
    """1-minute load average: on 2 cores, a busy neighbour skews multi-threaded BLAS."""
    return os.getloadavg()[0]


SPIN_GAP_S = 0.2


def time_interleaved(
    impls: dict[str, Callable[[], object]],
    warmup: int = 5,
    rounds: int = 7,
    min_steps: int = 20,
    min_block_s: float = 0.3,
) -> dict[str, dict[str, float]]:
    """{name: {"median_ms", "best_ms"}} for step functions run in interleaved blocks."""
    steps = {}
    for name, fn in impls.items():
        for _ in range(warmup):
            fn()
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        steps[name] = max(min_steps, int(min_block_s / one))
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            n = steps[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) * 1000 / n)
            # let idle worker threads stop spinning before the other side's block: OpenBLAS's
            # spin ~0.12 s after a shared product (a core's worth of CPU time, measured), so a
            # shorter gap slowed torch's next block; torch's OpenMP threads spin ~5-10 ms
            time.sleep(SPIN_GAP_S)
    return {
        name: {"median_ms": statistics.median(v), "best_ms": min(v)} for name, v in samples.items()
    }


def run_in_subprocess(script: str, threads: int, args: list[str] | None = None) -> dict:
    """Run `script --inner` with the thread count fixed; it prints one JSON line last."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["BENCH_THREADS"] = str(threads)
    cmd = [sys.executable, script, "--inner", *(args or [])]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def set_torch_threads(torch_module) -> None:
    torch_module.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))


def blas_kernels() -> str:
    """NumPy's BLAS as threadpoolctl sees it (library, version, kernel set) and the
    environment variables that force OpenBLAS's kernels. Some machines set those two for
    older OpenBLAS builds; a current one then runs slower kernels than it would pick (here:
    AVX2 Haswell instead of AVX-512 SkylakeX, products 1.5-2x slower), so every table says
    which kernels it measured."""
    import numpy  # noqa: F401  (loads NumPy's BLAS for threadpoolctl to find)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        libs = "BLAS unknown (no threadpoolctl)"
    else:
        libs = ", ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')}"
                         for p in threadpool_info() if p.get("user_api") == "blas")
    forced = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
              if k in os.environ]
    return libs + (f" (forced: {' '.join(forced)})" if forced else "")


def run_info() -> dict:
    """What an --inner run reports first: its thread count, the NumPy and torch versions and
    NumPy's BLAS kernels."""
    import numpy as np
    import torch

    return {
        "threads": int(os.environ.get("BENCH_THREADS", "1")),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "blas": blas_kernels(),
    }


def report_per_thread_count(
    script: str, report: Callable[[dict], None], threads: tuple[int, ...] = (1, 2)
) -> None:
    """Run `script --inner` once per thread count and print report(result) under a heading,
    with the machine load before and after."""
    print(f"load average before: {machine_load():.2f} (2 cores; > 0.3 means a busy neighbour)")
    for n in threads:
        r = run_in_subprocess(script, n)
        print(f"\n### {n} thread(s) — numpy {r['numpy']} ({r['blas']}), torch {r['torch']}\n")
        report(r)
    print(f"\nload average after: {machine_load():.2f}")


def main(script: str, inner: Callable[[], None], report: Callable[[dict], None]) -> None:
    """A benchmark script's entry point: `--inner` measures in this process (threads already
    fixed), otherwise report_per_thread_count runs it for 1 and 2 threads."""
    if "--inner" in sys.argv:
        inner()
    else:
        report_per_thread_count(script, report)


def format_table(title: str, results: dict[str, dict], baseline: str, floor: str | None) -> str:
    """A Markdown table with ratios to torch and to the NumPy floor."""
    head = "| implementation | median ms | best ms | x torch | x floor |\n|---|---|---|---|---|"
    rows = [f"**{title}**", "", head]
    base = results[baseline]["median_ms"]
    flo = results[floor]["median_ms"] if floor and floor in results else None
    for name, r in results.items():
        xt = r["median_ms"] / base
        xf = f"{r['median_ms'] / flo:.2f}" if flo else "-"
        rows.append(f"| {name} | {r['median_ms']:.3f} | {r['best_ms']:.3f} | {xt:.2f} | {xf} |")
    return "\n".join(rows)
