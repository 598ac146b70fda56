"""Where a whole training step's CPU time goes, torch and zengrad alike: a sampling profile.

Each (workload, library, thread count) runs in its own process: the step is built from
bench/workloads.py, warmed up, and once its timed loop starts Linux `perf record` samples the
process (all its threads) at ~2 kHz. The samples are summed into categories by the shared
library and symbol they fell in:

    gemm      BLAS products and their packing: OpenBLAS (`sgemm_kernel`, `sgemm_*copy`,
              `sgemv`), MKL (`mkl_blas_*`), oneDNN's generated code (`[JIT]`, `brgemm`,
              `jit_*`, gates_reduction: torch's convolutions and its LSTM)
    loops     elementwise and reduction loops (NumPy's ufunc loops; torch's ATen kernels)
    copies    memmove / memcpy / memset and NumPy's copy loops (`raw_array_assign`,
              `*_to_contig`); OpenBLAS's clearing of C before every beta = 0 product is a
              memset (its caller, not sampled here, is `sgemm_beta`)
    python    the interpreter (module calls, the autograd engine's bookkeeping)
    spin      idle worker threads waiting for work: OpenBLAS's `blas_thread_server`,
              OpenMP's (libgomp) barriers and waits (at several threads only)
    other     malloc, the kernel, thread hand-offs, the rest

and scaled by the median step time of the same loop, so each share is ms per step (at several
threads the samples of all threads together: a category's ms is its share of the CPU time). The
"gemm bound" column is zengrad's gemm ms over torch's whole step: no work outside the BLAS
calls can take zengrad below it without a faster product or fewer FLOPs.

    .venv/bin/python bench/perf_shares.py [--threads 1 2] [--only mlp encoder] [--seconds 4]

Needs `perf` (linux-tools) with permission to attach to a child process (root, or
kernel.perf_event_paranoid <= 1). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CATEGORIES = ("gemm", "loops", "copies", "python", "spin", "other")
READY = "perf_shares: loop starts"

_COPY_SYMBOLS = re.compile(
    r"memmove|memcpy|memset|raw_array_assign|_to_contig|_to_strided|contig_to_")
_GEMM_SYMBOLS = re.compile(r"gemm|gemv|mkl_blas|brgemm|jit_|gates_reduction|dnnl")


def category(dso: str, symbol: str) -> str:
    """The category of one sample from its shared object and symbol."""
    sym = symbol.lower()
    if "blas_thread_server" in sym or "libgomp" in dso:
        return "spin"
    if dso.startswith("[JIT]") or "openblas" in dso or _GEMM_SYMBOLS.search(sym):
        return "gemm"
    if _COPY_SYMBOLS.search(sym):
        return "copies"
    if "libpython" in dso:
        return "python"
    if "_multiarray_umath" in dso or "_umath" in dso or "libtorch_cpu" in dso:
        return "loops"
    return "other"


def child(name: str, lib: str, seconds: float) -> None:
    """Build one workload, warm it up, announce the loop, run it for `seconds`, print the
    median ms/step (the last line) and exit at once (interpreter shutdown is not sampled)."""
    import statistics

    import torch
    from harness import set_torch_threads
    from workloads import build

    set_torch_threads(torch)
    w = build(name)
    step, sync = (w.zengrad_step, w.zengrad_sync) if lib == "zengrad" else (
        w.torch_step, w.torch_sync)
    for _ in range(5):
        step()
    sync()
    print(READY, flush=True)
    time.sleep(0.5)  # perf attaches meanwhile
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    print(f"{statistics.median(times) * 1e3:.6f}", flush=True)
    os._exit(0)


def _perf_report(data: str) -> Counter:
    """Per-category percentages of the samples in a perf.data file."""
    out = subprocess.run(
        ["perf", "report", "-i", data, "--sort", "dso,sym", "--stdio", "--no-children"],
        capture_output=True, text=True, check=True).stdout
    shares: Counter = Counter()
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+(?: tid \d+)?)\s+\[.\]\s+(.*)", line)
        if m:
            shares[category(m.group(2), m.group(3))] += float(m.group(1))
    return shares


def measure(name: str, lib: str, threads: int, seconds: float) -> dict:
    """{"ms": median step, category: ms per step} for one workload in a fresh process."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["BENCH_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", name, lib, str(seconds)],
            env=env, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.strip() == READY:
                break
        else:
            raise RuntimeError(f"{name} {lib}: the child process ended before its loop")
        perf = subprocess.Popen(
            ["perf", "record", "-q", "-F", "1999", "-p", str(proc.pid), "-o", data],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ms = float(proc.stdout.read().strip().splitlines()[-1])
        proc.wait()
        perf.wait(timeout=30)
        shares = _perf_report(data)
    total = sum(shares.values()) or 1.0
    return {"ms": ms, **{c: ms * shares[c] / total for c in CATEGORIES}}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--only", nargs="+", default=["tiny", "mlp", "adam", "lenet", "block",
                                                   "lstm", "encoder"])
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    if shutil.which("perf") is None:
        sys.exit("perf_shares.py needs Linux `perf` (linux-tools) on the PATH")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    head = ("| workload | lib | step ms | " + " | ".join(CATEGORIES)
            + " | gemm bound |\n|---|---|---|" + "---|" * (len(CATEGORIES) + 1))
    for n in args.threads:
        print(f"\n### {n} thread(s): ms per step in each category (share of the samples "
              "x the median step)\n")
        print(head)
        for name in args.only:
            r = {lib: measure(name, lib, n, args.seconds) for lib in ("torch", "zengrad")}
            bound = r["zengrad"]["gemm"] / r["torch"]["ms"]
            for lib in ("torch", "zengrad"):
                cells = " | ".join(f"{r[lib][c]:.3g}" for c in CATEGORIES)
                last = f"{bound:.2f}" if lib == "zengrad" else ""
                print(f"| {name} | {lib} | {r[lib]['ms']:.3g} | {cells} | {last} |", flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
