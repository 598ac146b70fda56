"""zengrad's GPSampler against Optuna's GPSampler and scikit-optimize, paired (not a test).

    .venv/bin/python bench/tune/peers.py --seeds 20                      # paired, 4 problems
    .venv/bin/python bench/tune/peers.py --seeds 20 --problems hartmann6 --opts zg_gp,skopt_gp
    .venv/bin/python bench/tune/peers.py --report-only

Paired: for every seed, all three optimizers start from **the same first 10 points**
(``RandomSampler(10_000 + seed)``, the shared design of ``paired.py``): zengrad through
``GPSampler(start_points=...)``, Optuna through ``study.enqueue_trial``, scikit-optimize
through ``gp_minimize(x0=..., n_initial_points=0)``; then each runs its model to the
budget (Hartmann-6 60, Rosenbrock-4 60, mixed 40, intmix 40).  The Wilcoxon signed-rank
test (two-sided) is on the per-seed log-regret differences against ``zg_gp``; "stuck" is
the share of runs above the thresholds of ``paired.py``; "ms per suggestion" is the median
gap between two evaluations (tell + ask + bookkeeping) over the model-based trials,
single-threaded BLAS (torch too), on a shared 2-core machine.

``--unpaired``: each optimizer draws its own start points (its defaults, seeded by the seed)
and the rows go to results/peers_unpaired.jsonl.

Rows measured elsewhere with the same procedure are read, not rerun: the paired ``zg_gp``
runs are ``paired.py``'s ``lcap1`` rows (the defaults since round 3 of issue 14, before
that the ``warp+grid`` rows; identical runs, checked: same start points, same seed, same
regret), whose time is the median ``study.ask()`` alone; the
unpaired Optuna / scikit-optimize runs of ``run.py`` (results/raw.jsonl, seeds 0-9, the
same budgets and problems except intmix) are read as unpaired rows.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single-threaded BLAS (NumPy and torch), before they load

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from paired import BUDGETS, N_START, PROBLEMS, STUCK  # noqa: E402
from run import _suggest_all  # noqa: E402

import zengrad.tune as tune  # noqa: E402

OPTS = ("zg_gp", "optuna_gp", "skopt_gp")
# the zengrad sampler measured here: its defaults (since round 3 of issue 14 they include
# max_lengthscale=1.0, paired.py's "lcap1")
ZG_KWARGS: dict = {}
DEFAULT_VARIANT = "lcap1"  # the paired.py rows that are the defaults' runs


def start_points(problem_name: str, seed: int) -> list[dict]:
    """The shared first 10 points: what RandomSampler(10_000 + seed) draws."""
    problem = PROBLEMS[problem_name]
    study = tune.create_study(sampler=tune.RandomSampler(10_000 + seed))
    study.optimize(lambda t: problem.func(_suggest_all(t, problem)), n_trials=N_START)
    return [t.params for t in study.trials]


class Clock:
    """The objective wrapper: values, and the gaps between evaluations."""

    def __init__(self, func) -> None:
        self.func, self.values, self.gaps, self._last = func, [], [], time.perf_counter()

    def __call__(self, params: dict) -> float:
        self.gaps.append(time.perf_counter() - self._last)
        self.values.append(float(self.func(params)))
        self._last = time.perf_counter()
        return self.values[-1]


def _zg(problem, budget, seed, points, clock):
    sampler = tune.GPSampler(seed=seed, n_startup_trials=N_START, start_points=points,
                             **ZG_KWARGS)
    study = tune.create_study(sampler=sampler, pruner=tune.NopPruner())
    study.optimize(lambda t: clock(_suggest_all(t, problem)), n_trials=budget, catch=())


def _optuna(problem, budget, seed, points, clock):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    for p in points or ():
        study.enqueue_trial(p)
    study.optimize(lambda t: clock(_suggest_all(t, problem)), n_trials=budget)


def _skopt(problem, budget, seed, points, clock):
    from skopt import gp_minimize
    from skopt.space import Categorical, Integer, Real

    dims = []
    for p in problem.space:
        if p.kind == "float":
            dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
        elif p.kind == "int":
            dims.append(Integer(int(p.low), int(p.high)))
        else:
            dims.append(Categorical(list(p.choices)))
    names = [p.name for p in problem.space]
    kw = {"x0": [[pt[n] for n in names] for pt in points], "n_initial_points": 0} \
        if points else {"n_initial_points": N_START}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_minimize(lambda x: clock(dict(zip(names, x))), dims, n_calls=budget,
                    acq_func="EI", random_state=seed, **kw)


RUNNERS = {"zg_gp": _zg, "optuna_gp": _optuna, "skopt_gp": _skopt}


def run_one(job: tuple[str, str, int, bool]) -> dict:
    problem_name, opt, seed, paired = job
    problem, budget = PROBLEMS[problem_name], BUDGETS[problem_name]
    points = start_points(problem_name, seed) if paired else None
    clock = Clock(problem.func)
    RUNNERS[opt](problem, budget, seed, points, clock)
    values = clock.values[:budget]
    return {"problem": problem_name, "opt": opt, "seed": seed, "paired": paired,
            "budget": budget, "regret": max(min(values) - problem.f_min, 1e-12),
            "ms_per_suggestion": 1e3 * float(np.median(clock.gaps[N_START:budget])),
            "values": [float(f"{v:.10g}") for v in values]}


def imported_rows(paired: bool) -> list[dict]:
    """Rows of the same runs measured by paired.py (paired) or run.py (unpaired peers)."""
    rows = []
    if paired and (HERE / "results" / "paired.jsonl").exists():
        for r in map(json.loads, (HERE / "results" / "paired.jsonl").read_text().splitlines()):
            if r["variant"] == DEFAULT_VARIANT and r["budget"] == BUDGETS[r["problem"]]:
                rows.append({"problem": r["problem"], "opt": "zg_gp", "seed": r["seed"],
                             "paired": True, "budget": r["budget"], "regret": r["regret"],
                             "ms_per_suggestion": r["ms_per_suggestion"]})
    if not paired and (HERE / "results" / "raw.jsonl").exists():
        names = {"optuna_gp": "optuna_gp", "skopt_gp_ei": "skopt_gp"}
        for r in map(json.loads, (HERE / "results" / "raw.jsonl").read_text().splitlines()):
            if (r["opt"] in names and r["problem"] in BUDGETS and not r["error"]
                    and len(r["values"]) == BUDGETS[r["problem"]]):
                f_min = PROBLEMS[r["problem"]].f_min
                rows.append({"problem": r["problem"], "opt": names[r["opt"]], "seed": r["seed"],
                             "paired": False, "budget": len(r["values"]),
                             "regret": max(min(r["values"]) - f_min, 1e-12),
                             "ms_per_suggestion": 1e3 * float(np.median(r["gaps"][N_START:]))})
    return rows


def load_rows(paired: bool) -> list[dict]:
    path = HERE / "results" / ("peers.jsonl" if paired else "peers_unpaired.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    have = {(r["problem"], r["opt"], r["seed"]) for r in rows}
    return rows + [r for r in imported_rows(paired)
                   if (r["problem"], r["opt"], r["seed"]) not in have]


def _p(d: np.ndarray) -> str:
    from scipy.stats import wilcoxon

    return "-" if not np.any(d != 0) else f"{wilcoxon(d).pvalue:.3g}"


def report(rows: list[dict], paired: bool) -> str:
    lines = []
    for pname, budget in BUDGETS.items():
        by = {}
        for r in rows:
            if r["problem"] == pname and r["budget"] == budget and r["paired"] == paired:
                by.setdefault(r["opt"], {})[r["seed"]] = r
        if "zg_gp" not in by:
            continue
        lines += [f"\n#### {pname} (budget {budget}, "
                  + ("first 10 points shared" if paired else "each its own start points")
                  + ")\n",
                  "| optimizer | n | median regret | geo-mean regret | stuck | Wilcoxon p vs zg_gp"
                  " | zg_gp better / worse (>1.5x) | ms per suggestion |",
                  "|---|---|---|---|---|---|---|---|"]
        for o in OPTS:
            if o not in by:
                continue
            seeds = sorted(set(by[o]) & set(by["zg_gp"]))
            reg = np.array([by[o][s]["regret"] for s in seeds])
            zg = np.array([by["zg_gp"][s]["regret"] for s in seeds])
            d = np.log(zg) - np.log(reg)
            better, worse = int(np.sum(d < -math.log(1.5))), int(np.sum(d > math.log(1.5)))
            ms = np.median([by[o][s]["ms_per_suggestion"] for s in seeds])
            lines.append(
                f"| {o} | {len(seeds)} | {np.median(reg):.3g} | "
                f"{math.exp(np.mean(np.log(reg))):.3g} | {np.mean(reg > STUCK[pname]):.0%} | "
                f"{_p(d) if o != 'zg_gp' else '-'} | "
                f"{f'{better} / {worse}' if o != 'zg_gp' else '-'} | {ms:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--problems", default=",".join(BUDGETS))
    ap.add_argument("--opts", default=",".join(OPTS))
    ap.add_argument("--unpaired", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    paired = not args.unpaired
    raw = HERE / "results" / ("peers.jsonl" if paired else "peers_unpaired.jsonl")
    if not args.report_only:
        done = {(r["problem"], r["opt"], r["seed"]) for r in load_rows(paired)
                if r["budget"] == BUDGETS[r["problem"]]}
        jobs = [(p, o, s, paired) for s in range(args.first_seed, args.first_seed + args.seeds)
                for p in args.problems.split(",") for o in args.opts.split(",")
                if (p, o, s) not in done]
        raw.parent.mkdir(exist_ok=True)
        with ProcessPoolExecutor(args.jobs) as pool, raw.open("a") as f:
            for r in pool.map(run_one, jobs):
                f.write(json.dumps(r) + "\n")
                f.flush()
                print(f"{r['problem']:9s} {r['opt']:9s} seed {r['seed']:2d}: regret "
                      f"{r['regret']:.3g} ({r['ms_per_suggestion']:.0f} ms/suggestion)",
                      flush=True)
    for flag in (True, False):
        print(report(load_rows(flag), flag))


if __name__ == "__main__":
    main()
