"""Benchmark zengrad.tune's samplers against Optuna and scikit-optimize (not a test).

    .venv/bin/python bench/tune/run.py               # everything, 10 seeds (long)
    .venv/bin/python bench/tune/run.py --quick       # 2 seeds, branin + mixed
    .venv/bin/python bench/tune/run.py --seeds 5 --problems branin,hartmann6
    .venv/bin/python bench/tune/run.py --report-only # rebuild the tables from results/raw.jsonl

Problems (all minimized): Branin (2-D, 30 evaluations), Hartmann-6 (60), Rosenbrock-4 on
[-2, 2]^4 (60) and a mixed space (40): f = (log10 lr - mu[c])^2 + 0.1 |n - 7| + offset[c],
lr log-scale in [1e-5, 1], n int in [1, 20], c in {adam, sgd, rmsprop}; minimum 0.

Reported: median [q25-q75] of the final simple regret (best value - global minimum) over
seeds, and the median time per suggestion at trial 11 (the first model-based one for the
GP samplers) and at the last trial.  "Time per suggestion" is the gap between the end of
one evaluation and the start of the next (tell + ask + bookkeeping), single-threaded.
Peers that are not installed (optuna, scikit-optimize) are skipped.

Results go to bench/tune/results/raw.jsonl (one line per run, appended; --resume skips runs
already there) and the tables into bench/tune/README.md between the result markers.
"""

from __future__ import annotations

import os

# single-threaded BLAS for fair timing: must happen before NumPy is imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # run from a checkout without installing

import zengrad.tune as tune  # noqa: E402


# -- problems ---------------------------------------------------------------------------------
@dataclass
class Param:
    name: str
    kind: str  # "float" | "int" | "cat"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple = ()


@dataclass
class Problem:
    name: str
    space: list[Param]
    func: Callable[[dict], float]
    f_min: float
    budget: int
    grid: dict | None


def branin(p: dict) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                 [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(p: dict) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-H6_ALPHA @ np.exp(-np.sum(H6_A * (x - H6_P) ** 2, axis=1)))


def rosen4(p: dict) -> float:
    x = [p[f"x{i}"] for i in range(4)]
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))


MU = {"adam": -3.0, "sgd": -1.5, "rmsprop": -2.5}
OFFSET = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}


def mixed(p: dict) -> float:
    c = p["opt"]
    return (math.log10(p["lr"]) - MU[c]) ** 2 + 0.1 * abs(int(p["n"]) - 7) + OFFSET[c]


def _lin(lo: float, hi: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(lo, hi, n)]


PROBLEMS = {
    "branin": Problem("branin", [Param("x1", "float", -5, 10), Param("x2", "float", 0, 15)],
                      branin, 0.397887, 30, {"x1": _lin(-5, 10, 5), "x2": _lin(0, 15, 6)}),
    "hartmann6": Problem("hartmann6", [Param(f"x{i}", "float", 0, 1) for i in range(6)],
                         hartmann6, -3.32237, 60, None),  # 2^6 = 64 > 60: no grid
    "rosen4": Problem("rosen4", [Param(f"x{i}", "float", -2, 2) for i in range(4)], rosen4, 0.0,
                      60, {"x0": _lin(-2, 2, 3), "x1": _lin(-2, 2, 3), "x2": _lin(-2, 2, 3),
                           "x3": _lin(-2, 2, 2)}),
    "mixed": Problem("mixed", [Param("lr", "float", 1e-5, 1.0, log=True), Param("n", "int", 1, 20),
                               Param("opt", "cat", choices=("adam", "sgd", "rmsprop"))],
                     mixed, 0.0, 40, {"lr": [float(v) for v in np.geomspace(1e-5, 1, 4)],
                                      "n": [1, 7, 14], "opt": ["adam", "sgd", "rmsprop"]}),
}


# -- measuring ----------------------------------------------------------------------------------
class OutOfBudget(Exception):
    pass


class Recorder:
    """Wraps the problem: counts evaluations and times the gaps between them."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.values: list[float] = []
        self.gaps: list[float] = []
        self._last = time.perf_counter()

    def start(self) -> None:
        self._last = time.perf_counter()

    def __call__(self, params: dict) -> float:
        if len(self.values) >= self.problem.budget:
            raise OutOfBudget
        t0 = time.perf_counter()
        self.gaps.append(t0 - self._last)
        value = float(self.problem.func(params))
        self.values.append(value)
        self._last = time.perf_counter()
        return value


def _suggest_all(trial, problem: Problem) -> dict:
    out = {}
    for p in problem.space:
        if p.kind == "float":
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
        else:
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return out


# -- optimizers ---------------------------------------------------------------------------------
def _run_zengrad(problem: Problem, rec: Recorder, sampler) -> None:
    study = tune.create_study(sampler=sampler, pruner=tune.NopPruner())
    rec.start()
    study.optimize(lambda t: rec(_suggest_all(t, problem)), n_trials=problem.budget,
                   catch=())


def run_zg_gp(problem, seed, rec):
    _run_zengrad(problem, rec, tune.GPSampler(seed=seed))


def run_zg_genetic(problem, seed, rec):
    # population 10 and tournaments of 3: the settings of the DEAP GA in the HPO anchors
    sampler = tune.GeneticSampler(population_size=10, tournament_size=3, seed=seed)
    _run_zengrad(problem, rec, sampler)


def run_zg_random(problem, seed, rec):
    _run_zengrad(problem, rec, tune.RandomSampler(seed))


def run_zg_grid(problem, seed, rec):
    _run_zengrad(problem, rec, tune.GridSampler(problem.grid, seed=seed))


def _run_optuna(problem, rec, sampler):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=sampler)
    rec.start()
    study.optimize(lambda t: rec(_suggest_all(t, problem)), n_trials=problem.budget)


def run_optuna_tpe(problem, seed, rec):
    import optuna

    _run_optuna(problem, rec, optuna.samplers.TPESampler(seed=seed))


def run_optuna_gp(problem, seed, rec):
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = optuna.samplers.GPSampler(seed=seed)
    _run_optuna(problem, rec, sampler)


def run_skopt_gp(problem, seed, rec):
    from skopt import gp_minimize
    from skopt.space import Categorical, Integer, Real

    dims = []
    for p in problem.space:
        if p.kind == "float":
            dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform",
                             name=p.name))
        elif p.kind == "int":
            dims.append(Integer(int(p.low), int(p.high), name=p.name))
        else:
            dims.append(Categorical(list(p.choices), name=p.name))
    names = [p.name for p in problem.space]
    rec.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_minimize(lambda x: rec(dict(zip(names, x))), dims, n_calls=problem.budget,
                    acq_func="EI", random_state=seed)


OPTIMIZERS = {
    "zg_gp": (run_zg_gp, None),
    "zg_genetic": (run_zg_genetic, None),
    "zg_random": (run_zg_random, None),
    "zg_grid": (run_zg_grid, None),
    "optuna_tpe": (run_optuna_tpe, "optuna"),
    "optuna_gp": (run_optuna_gp, "optuna"),
    "skopt_gp_ei": (run_skopt_gp, "skopt"),
}
DETERMINISTIC = {"zg_grid"}


def run_one(problem: Problem, opt: str, seed: int) -> dict:
    rec = Recorder(problem)
    error = None
    t0 = time.perf_counter()
    try:
        OPTIMIZERS[opt][0](problem, seed, rec)
    except OutOfBudget:
        pass
    except Exception as e:  # keep the suite going; the report shows the error
        error = f"{type(e).__name__}: {e}"
    return {"problem": problem.name, "opt": opt, "seed": seed,
            "values": [float(f"{v:.10g}") for v in rec.values],
            "gaps": [round(g, 6) for g in rec.gaps],  # seconds, to the microsecond
            "wall": round(time.perf_counter() - t0, 3), "error": error}


# -- report ------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) < 1e-3:
        return f"{x:.1e}"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def report(records: list[dict], problems: list[str]) -> str:
    by = {}
    for r in records:
        if r["error"] is None and r["values"]:
            by.setdefault((r["problem"], r["opt"]), []).append(r)
    opts = [o for o in OPTIMIZERS if any((p, o) in by for p in problems)]
    lines = ["### Final simple regret: median [q25-q75] (n = seeds)", "",
             "| optimizer | " + " | ".join(
                 f"{p} (B={PROBLEMS[p].budget})" for p in problems) + " |",
             "|---" * (len(problems) + 1) + "|"]
    for o in opts:
        cells = []
        for p in problems:
            runs = by.get((p, o))
            if not runs:
                cells.append("n/a")
                continue
            regret = np.array([min(r["values"]) - PROBLEMS[p].f_min for r in runs])
            q25, q50, q75 = np.percentile(regret, [25, 50, 75])
            cells.append(f"{_fmt(q50)} [{_fmt(q25)}-{_fmt(q75)}] (n={len(runs)})")
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    lines += ["", "### Time per suggestion (ms): median over seeds, at trial 11 / at the last "
              "trial (B; grid: its last point)", "",
              "| optimizer | " + " | ".join(f"{p} k=11 / k={PROBLEMS[p].budget}"
                                           for p in problems) + " |",
              "|---" * (len(problems) + 1) + "|"]
    for o in opts:
        cells = []
        for p in problems:
            runs = [r for r in by.get((p, o), []) if len(r["gaps"]) >= 11]
            if not runs:
                cells.append("n/a")
                continue
            k11 = np.median([r["gaps"][10] for r in runs]) * 1e3
            last = np.median([r["gaps"][-1] for r in runs]) * 1e3
            cells.append(f"{_fmt(k11)} / {_fmt(last)}")
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    errors = [r for r in records if r["error"]]
    if errors:
        lines += ["", f"{len(errors)} run(s) failed, e.g. {errors[0]['opt']} on "
                  f"{errors[0]['problem']}: {errors[0]['error']}"]
    return "\n".join(lines)


START, END = "<!-- results:start -->", "<!-- results:end -->"


def write_readme(table: str, note: str) -> None:
    path = HERE / "README.md"
    text = path.read_text() if path.exists() else f"# bench/tune\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{START}\n{note}\n\n{table}\n{END}{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds on branin and mixed")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--opts", default=",".join(OPTIMIZERS))
    ap.add_argument("--resume", action="store_true", help="skip runs already in raw.jsonl")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results" / "raw.jsonl"))
    ap.add_argument("--no-readme", action="store_true", help="print the tables only")
    args = ap.parse_args()
    if args.quick:  # a smoke run: its own results file, README untouched
        args.seeds, args.problems, args.no_readme = 2, "branin,mixed", True
        args.out = str(Path(args.out).with_name("quick.jsonl"))
    problems = [p for p in args.problems.split(",") if p]
    opts = []
    for o in args.opts.split(","):
        module = OPTIMIZERS[o][1]
        if module is None or importlib.util.find_spec(module) is not None:
            opts.append(o)
        else:
            print(f"skipping {o}: {module} is not installed (pip install zengrad[bench])")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists() and (args.resume or args.report_only):
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["problem"], r["opt"], r["seed"]))
    elif out.exists():
        out.unlink()
    if not args.report_only:
        # seed-major order: a run stopped early still covers every problem and optimizer
        jobs = [(p, o, s) for s, p, o in itertools.product(range(args.seeds), problems, opts)
                if (o not in DETERMINISTIC or s == 0)
                and (o != "zg_grid" or PROBLEMS[p].grid is not None)]
        for i, (p, o, s) in enumerate(jobs):
            if (p, o, s) in done:
                continue
            r = run_one(PROBLEMS[p], o, s)
            with out.open("a") as f:
                f.write(json.dumps(r) + "\n")
            regret = min(r["values"]) - PROBLEMS[p].f_min if r["values"] else float("nan")
            print(f"[{i + 1}/{len(jobs)}] {p:9s} {o:11s} seed {s}: regret {regret:.4g} "
                  f"({r['wall']:.1f} s){'  ERROR ' + r['error'] if r['error'] else ''}",
                  flush=True)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    table = report(records, [p for p in problems if any(r["problem"] == p for r in records)])
    print(table)
    if not args.no_readme:
        versions = [f"numpy {np.__version__}"]
        for mod in ("optuna", "skopt"):
            if importlib.util.find_spec(mod):
                versions.append(f"{mod} {__import__(mod).__version__}")
        seeds = sorted({r["seed"] for r in records})
        note = (f"Generated by `bench/tune/run.py` on {time.strftime('%Y-%m-%d')}: "
                f"{len(seeds)} seed(s) per stochastic optimizer, single-threaded BLAS; "
                f"{', '.join(versions)}.")
        write_readme(table, note)


if __name__ == "__main__":
    main()
