"""Paired benchmark of GPSampler variants: every variant starts from the same 10 points.

    .venv/bin/python bench/tune/paired.py                    # 10 seeds, all variants (~15 min)
    .venv/bin/python bench/tune/paired.py --seeds 3 --variants base,all
    .venv/bin/python bench/tune/paired.py --report-only      # tables from results/paired.jsonl

Why paired: on Hartmann-6 a run either finds the global basin or stalls in a local one, and
which happens depends mostly on the 10 random start points.  Drawing those per variant
buries a 2x difference under a 10x spread; giving every variant the same start design per
seed (``RandomSampler(10_000 + seed)`` for trials 0-9, then ``GPSampler(seed, **variant)``)
and testing the per-seed differences (Wilcoxon signed-rank on log regret) resolves it.

Variants (GPSampler keyword arguments): ``base`` is the sampler before issue 14 (no warp,
ints optimized as continuous and rounded, weak log-normal lengthscale prior); each other
variant adds one change or all of them.  Reported per problem: median and geometric-mean
final regret (best value - global minimum, floored at 1e-12), Wilcoxon p against ``base``
(two-sided), wins/losses against ``base`` (regret ratio beyond 1.5x either way), and the
median time per GP suggestion (ask + tell + bookkeeping, single-threaded BLAS).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single-threaded BLAS for fair timing, before NumPy loads

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from run import PROBLEMS, Param, Problem, _suggest_all  # noqa: E402  # noqa: E402

import zengrad.tune as tune  # noqa: E402


def intmix(p: dict) -> float:
    """Two wide integers with interior optima, a log float and a categorical; minimum 0."""
    off = {"relu": 0.0, "tanh": 0.2, "gelu": 0.05, "elu": 0.1}
    return ((math.log10(p["lr"]) + 2.5) ** 2 + 0.05 * abs(p["n"] - 37)
            + (p["m"] - 11) ** 2 / 20 + off[p["act"]])


PROBLEMS = dict(PROBLEMS, intmix=Problem(
    "intmix", [Param("lr", "float", 1e-5, 1.0, log=True), Param("n", "int", 1, 64),
               Param("m", "int", 1, 16),
               Param("act", "cat", choices=("relu", "tanh", "gelu", "elu"))],
    intmix, 0.0, 40, None))
N_START = 10
BUDGETS = {"hartmann6": 60, "rosen4": 60, "mixed": 40, "intmix": 40}  # issue 14's first round: 50
# a run counts as stuck when its regret is above the value of the nearest local minimum /
# wrong integer or category (Hartmann-6's local minima sit at regret 0.12 and more)
STUCK = {"hartmann6": 0.05, "rosen4": 10.0, "mixed": 0.05, "intmix": 0.05}
VARIANTS: dict[str, dict] = {
    "base": dict(warp_objective=False, discrete_search=False, lengthscale_prior="lognormal"),
    "warp": dict(warp_objective=True, discrete_search=False, lengthscale_prior="lognormal"),
    "prior": dict(warp_objective=False, discrete_search=False, lengthscale_prior="balanced"),
    "grid": dict(warp_objective=False, discrete_search=True, lengthscale_prior="lognormal"),
    "grid+prior": dict(warp_objective=False, discrete_search=True, lengthscale_prior="balanced"),
    "warp+prior": dict(warp_objective=True, discrete_search=False, lengthscale_prior="balanced"),
    "warp+grid": dict(warp_objective=True, discrete_search=True, lengthscale_prior="lognormal"),
    "all": dict(warp_objective=True, discrete_search=True, lengthscale_prior="balanced"),
    # the moonshot round (on top of the then defaults warp+grid); "own_start": the sampler draws
    # its own first 10 points (its start design, seeded by the seed) instead of the shared ones
    "sobol": dict(start_design="sobol", own_start=True),
    "escape8": dict(stall_patience=8),
    "escape5": dict(stall_patience=5),
    "escape8x1": dict(stall_patience=8, max_excursions=1),
    "escape8x2": dict(stall_patience=8, max_excursions=2),
    "sobol+escape8": dict(start_design="sobol", stall_patience=8, own_start=True),
    "sobol+escape5": dict(start_design="sobol", stall_patience=5, own_start=True),
    # round 3: trust regions (TuRBO-style boxes, restarts that forget the left basin) and a
    # cap on the GP's lengthscales (the local basin's flat directions cannot grow to 5-10)
    "tr": dict(trust_region=dict(tol=0.02, failure_tol=2)),
    "tr_wide": dict(trust_region=dict(init=1.6, tol=0.02, failure_tol=3, min_length=0.2)),
    "lcap1": dict(max_lengthscale=1.0),
    "lcap0.7": dict(max_lengthscale=0.7),
    "lcap2": dict(max_lengthscale=2.0),
    "ucb5": dict(explore_every=5, explore_beta=3.0, max_lengthscale=None),
    "lcap1+ucb5": dict(max_lengthscale=1.0, explore_every=5, explore_beta=3.0),
    "lcap1+escape8x1": dict(max_lengthscale=1.0, stall_patience=8, max_excursions=1),
    "lcap1+tr": dict(max_lengthscale=1.0, trust_region=dict(tol=0.02, failure_tol=2)),
}
# the variants before "lcap1" ran without the lengthscale cap, the default since round 3
for _name in list(VARIANTS)[: list(VARIANTS).index("lcap1")]:
    VARIANTS[_name].setdefault("max_lengthscale", None)
RAW = HERE / "results" / "paired.jsonl"


def run_one(problem_name: str, variant: str, seed: int) -> dict:
    """One study: 10 shared random start points, then the GP variant to the budget."""
    problem = PROBLEMS[problem_name]
    budget = BUDGETS[problem_name]
    values: list[float] = []
    times: list[float] = []

    def objective(trial):
        values.append(float(problem.func(_suggest_all(trial, problem))))
        return values[-1]

    kwargs = dict(VARIANTS[variant])
    own_start = kwargs.pop("own_start", False)
    sampler = tune.GPSampler(seed=seed, n_startup_trials=N_START, **kwargs)
    study = tune.create_study(sampler=sampler if own_start else tune.RandomSampler(10_000 + seed),
                              pruner=tune.NopPruner())
    study.optimize(objective, n_trials=N_START, catch=())
    study.sampler = sampler
    for _ in range(budget - N_START):
        t0 = time.perf_counter()
        trial = study.ask()
        times.append(time.perf_counter() - t0)
        study.tell(trial, objective(trial))
    regret = max(min(values) - problem.f_min, 1e-12)
    params = [t.params for t in study.trials]
    return {"problem": problem_name, "variant": variant, "seed": seed, "regret": regret,
            "ms_per_suggestion": 1e3 * float(np.median(times)), "budget": budget,
            "duplicates": len(params) - len({json.dumps(p, sort_keys=True) for p in params})}


def _job(args: tuple[str, str, int]) -> dict:
    return run_one(*args)


def _p(d: np.ndarray) -> str:
    from scipy.stats import wilcoxon

    return "-" if not np.any(d != 0) else f"{wilcoxon(d).pvalue:.3g}"


def report(rows: list[dict], against: str = "warp", base_name: str = "base",
           variants: list[str] | None = None) -> str:
    lines = []
    for pname in BUDGETS:
        by = {}
        for r in rows:
            if r["problem"] == pname and r["budget"] == BUDGETS[pname]:
                by.setdefault(r["variant"], {})[r["seed"]] = r
        if base_name not in by:
            continue
        lines += [f"\n#### {pname} (budget {BUDGETS[pname]}, first {N_START} points shared)\n",
                  f"| variant | n | median regret | geo-mean regret | stuck | Wilcoxon p vs "
                  f"{base_name} | better / worse than {base_name} (>1.5x) | p vs {against} | "
                  "ms per suggestion |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for v in variants or VARIANTS:
            if v not in by:
                continue
            seeds = sorted(set(by[v]) & set(by[base_name]))
            reg = np.array([by[v][s]["regret"] for s in seeds])
            base = np.array([by[base_name][s]["regret"] for s in seeds])
            d = np.log(reg) - np.log(base)
            better, worse = int(np.sum(d < -math.log(1.5))), int(np.sum(d > math.log(1.5)))
            ms = np.median([by[v][s]["ms_per_suggestion"] for s in seeds])
            stuck = float(np.mean(reg > STUCK[pname]))
            vs = "-"
            if against in by and v != against:
                common = sorted(set(by[v]) & set(by[against]))
                vs = _p(np.log([by[v][s]["regret"] for s in common])
                        - np.log([by[against][s]["regret"] for s in common]))
            lines.append(f"| {v} | {len(seeds)} | {np.median(reg):.3g} | "
                         f"{math.exp(np.mean(np.log(reg))):.3g} | {stuck:.0%} | {_p(d)} | "
                         f"{better} / {worse} | {vs} | {ms:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--problems", default=",".join(BUDGETS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--base", default="base", help="the variant the others are tested against")
    ap.add_argument("--against", default="warp", help="a second reference variant")
    args = ap.parse_args()
    if not args.report_only:
        done = set()
        if RAW.exists():
            for line in RAW.read_text().splitlines():
                r = json.loads(line)
                if r["budget"] == BUDGETS[r["problem"]]:
                    done.add((r["problem"], r["variant"], r["seed"]))
        jobs = [(p, v, s) for s in range(args.seeds) for p in args.problems.split(",")
                for v in args.variants.split(",") if (p, v, s) not in done]
        RAW.parent.mkdir(exist_ok=True)
        with ProcessPoolExecutor(args.jobs) as pool, RAW.open("a") as f:
            for r in pool.map(_job, jobs):
                f.write(json.dumps(r) + "\n")
                f.flush()
                print(r, flush=True)
    rows = [json.loads(line) for line in RAW.read_text().splitlines()]
    print(report(rows, args.against, args.base, args.variants.split(",")))


if __name__ == "__main__":
    main()
