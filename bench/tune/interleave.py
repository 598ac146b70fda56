"""Time per suggestion of zengrad's GPSampler against Optuna's, interleaved (not a test).

    .venv/bin/python bench/tune/interleave.py --seeds 2 --reps 2 --variant lcap1

On a shared machine the load moves by 2-3x within minutes, so timings taken in separate
runs cannot be compared.  Here both optimizers run in one process, in turn (seed s:
zengrad, Optuna, zengrad, Optuna, ...), from the same shared start design as ``peers.py``,
single-threaded BLAS for NumPy and torch; reported: per run the median gap between two
evaluations (tell + ask + bookkeeping) over the model-based trials, then the median of those
over the runs of each optimizer, and the ratio.  ``--variant`` names a ``paired.py``
variant for zengrad (default ``warp+grid``: its defaults).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy / torch load

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import paired  # noqa: E402
import peers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problem", default="hartmann6")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--variant", default="warp+grid")
    args = ap.parse_args()
    peers.ZG_KWARGS = {k: v for k, v in paired.VARIANTS[args.variant].items() if k != "own_start"}
    ms: dict[str, list[float]] = {"zg_gp": [], "optuna_gp": []}
    for seed in range(args.seeds):
        for _ in range(args.reps):
            for opt in ms:
                r = peers.run_one((args.problem, opt, seed, True))
                ms[opt].append(r["ms_per_suggestion"])
                print(f"seed {seed} {opt:9s} {r['ms_per_suggestion']:7.1f} ms/suggestion "
                      f"(regret {r['regret']:.3g})", flush=True)
    zg, op = float(np.median(ms["zg_gp"])), float(np.median(ms["optuna_gp"]))
    print(f"median over runs: zengrad ({args.variant}) {zg:.0f} ms, Optuna {op:.0f} ms, "
          f"ratio {zg / op:.2f}")


if __name__ == "__main__":
    main()
