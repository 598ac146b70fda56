"""A real tuning task: the samplers of zengrad.tune (and Optuna's) tune a zengrad MLP (not a test).

    .venv/bin/python bench/tune/real_task.py                 # 10 seeds, 30 trials (~5 min)
    .venv/bin/python bench/tune/real_task.py --seeds 3 --trials 20 --opts zg_gp,zg_random
    .venv/bin/python bench/tune/real_task.py --model lenet --seeds 3 --trials 20   # ~6 min
    .venv/bin/python bench/tune/real_task.py --report-only   # tables from results/real_task_*.jsonl

The task is the one `zengrad tune --model mlp --dataset digits --optimizer momentum --epochs 3`
runs: SGD with momentum 0.9 trains a one-hidden-layer MLP for 3 epochs on 80% of the digits
training split; the objective is the accuracy on the other 20% (maximized). The small training
budget makes the choices matter: lr (log [1e-3, 0.3]), weight decay (log [1e-6, 1e-2]), batch
size (16/32/64/128) and width (int, log [16, 512]). The training seed is fixed, so the objective
is a deterministic function and only the samplers' own randomness varies between seeds.

For each optimizer and seed: the best validation accuracy after 10 and after all trials, the
test accuracy of the best configuration retrained on the whole training split (same 3 epochs),
and the wall time of the study. No pruning (so that every sampler sees the same objective),
except the `zg_gp_median` row: our GP with the MedianPruner, to show what pruning saves.
Grid search runs its whole default grid once (its order does not matter).
With `--model lenet` the same runs tune LeNet-5 (lr, weight decay, batch size: it has no width).
Single-threaded BLAS. Results: results/real_task_MODEL.jsonl; tables into README.md.
"""

from __future__ import annotations

import os

# single-threaded BLAS: must happen before NumPy is imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # run from a checkout without installing

import zengrad.tune as tune  # noqa: E402
from zengrad.train import recipe  # noqa: E402
from zengrad.train.recipe import SearchSpace, TuneObjective, default_grid  # noqa: E402

README = HERE / "README.md"


def results_path(model: str) -> Path:
    return HERE / "results" / f"real_task_{model}.jsonl"


def markers(model: str) -> tuple[str, str]:
    return f"<!-- real:{model}:start -->", f"<!-- real:{model}:end -->"
OPTS = ("zg_gp", "zg_gp_median", "zg_genetic", "zg_random", "zg_grid", "optuna_tpe",
        "optuna_gp")


def make_objective(model: str, optimizer: str, epochs: int) -> TuneObjective:
    return TuneObjective(model, "digits", optimizer, "none", epochs, 0, 0.2,
                         SearchSpace.for_model(model, optimizer))


def test_accuracy(obj: TuneObjective, params: dict) -> float:
    """Retrain params on the whole training split and score the test split."""
    splits = recipe.load_splits(obj.dataset, obj.seed)
    trainer = recipe.fit(obj.config(params, val_fraction=0.0), splits)
    return float(recipe.evaluate_test(trainer, splits)["accuracy"])


def _zengrad(obj, opt: str, seed: int, n_trials: int) -> list[tuple[str, float | None, dict]]:
    if opt == "zg_grid":
        sampler = tune.GridSampler(default_grid(obj.model, obj.optimizer), seed=seed)
    elif opt == "zg_random":
        sampler = tune.RandomSampler(seed=seed)
    elif opt == "zg_genetic":  # as `zengrad tune` sets it for this budget
        sampler = tune.GeneticSampler(population_size=10, tournament_size=3, seed=seed)
    else:
        sampler = tune.GPSampler(seed=seed)
    pruner = tune.MedianPruner(n_startup_trials=5, n_warmup_steps=1) \
        if opt == "zg_gp_median" else tune.NopPruner()
    study = tune.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(obj, n_trials=n_trials)
    return [(t.state.name, t.value, t.params) for t in study.trials]


def _optuna(obj, opt: str, seed: int, n_trials: int) -> list[tuple[str, float | None, dict]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GPSampler is marked experimental in some versions
        sampler = (optuna.samplers.TPESampler(seed=seed) if opt == "optuna_tpe"
                   else optuna.samplers.GPSampler(seed=seed))
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=optuna.pruners.NopPruner())
    study.optimize(obj, n_trials=n_trials, catch=(Exception,))
    return [(t.state.name, t.value, t.params) for t in study.trials]


def run_one(obj, opt: str, seed: int, n_trials: int) -> dict:
    start = time.perf_counter()
    runner = _optuna if opt.startswith("optuna") else _zengrad
    trials = runner(obj, opt, seed, n_trials)
    wall = time.perf_counter() - start
    done = [(i, v, p) for i, (s, v, p) in enumerate(trials) if s == "COMPLETE"]
    best_i, best_v, best_p = max(done, key=lambda d: d[1])  # first of equal values
    best10 = max((v for i, v, _ in done if i < 10), default=float("nan"))
    return {"opt": opt, "seed": seed, "n_trials": len(trials), "wall_s": wall,
            "best_val": best_v, "best_val_at_10": best10, "best_trial": best_i,
            "best_params": best_p, "test_acc": test_accuracy(obj, best_p),
            "states": [s for s, _, _ in trials], "values": [v for _, v, _ in trials]}


def _q(values: list[float], digits: int = 4) -> str:
    a = np.asarray(values, dtype=float)
    if len(a) == 1:
        return f"{a[0]:.{digits}f} (n=1)"
    q25, med, q75 = np.quantile(a, [0.25, 0.5, 0.75])
    return f"{med:.{digits}f} [{q25:.{digits}f}-{q75:.{digits}f}]"


def report(records: list[dict], header: str) -> str:
    lines = [header, "",
             "| optimizer | runs | best val acc after 10 trials | best val acc (all trials) | "
             "test acc of the best config | wall s per study | pruned / failed trials |",
             "|---|---|---|---|---|---|---|"]
    for opt in OPTS:
        recs = [r for r in records if r["opt"] == opt]
        if not recs:
            continue
        pruned = sum(s.count("PRUNED") for s in (r["states"] for r in recs))
        failed = sum(s.count("FAIL") for s in (r["states"] for r in recs))
        total = sum(r["n_trials"] for r in recs)
        lines.append(
            f"| {opt} | {len(recs)} x {recs[0]['n_trials']} | "
            f"{_q([r['best_val_at_10'] for r in recs])} | {_q([r['best_val'] for r in recs])} | "
            f"{_q([r['test_acc'] for r in recs])} | "
            f"{np.median([r['wall_s'] for r in recs]):.1f} | {pruned} / {failed} of {total} |")
    return "\n".join(lines)


def write_readme(table: str, model: str) -> None:
    start_mark, end_mark = markers(model)
    text = README.read_text()
    if start_mark not in text or end_mark not in text:
        print(f"no {start_mark} ... {end_mark} markers in {README}; table not written",
              file=sys.stderr)
        return
    head, rest = text.split(start_mark, 1)
    _, tail = rest.split(end_mark, 1)
    README.write_text(f"{head}{start_mark}\n{table}\n{end_mark}{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--optimizer", default="momentum")
    ap.add_argument("--opts", default=",".join(OPTS))
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    logging.getLogger("zengrad.tune").setLevel(logging.ERROR)

    if not args.report_only:
        have_optuna = importlib.util.find_spec("optuna") is not None
        obj = make_objective(args.model, args.optimizer, args.epochs)
        results = results_path(args.model)
        results.parent.mkdir(exist_ok=True)
        results.write_text("")
        start = time.perf_counter()
        for opt in args.opts.split(","):
            if opt not in OPTS:
                sys.exit(f"unknown optimizer {opt!r}; choose from {OPTS}")
            if opt.startswith("optuna") and not have_optuna:
                print(f"skipping {opt}: optuna is not installed")
                continue
            seeds = [0] if opt == "zg_grid" else range(args.seeds)
            for seed in seeds:
                rec = run_one(obj, opt, seed, args.trials)
                rec.update(model=args.model, optimizer=args.optimizer, epochs=args.epochs)
                with results.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                print(f"{opt:>13} seed {seed}: best val {rec['best_val']:.4f} (trial "
                      f"{rec['best_trial']}), test {rec['test_acc']:.4f}, {rec['wall_s']:.1f}s",
                      flush=True)
        total = time.perf_counter() - start
        print(f"total {total / 60:.1f} min")
    records = [json.loads(line) for line in results_path(args.model).read_text().splitlines()
               if line.strip()]
    versions = f"numpy {np.__version__}"
    if importlib.util.find_spec("optuna") is not None:
        import optuna as _o

        versions += f", optuna {_o.__version__}"
    r0 = records[0]
    grid_size = int(np.prod([len(v) for v in default_grid(r0["model"], r0["optimizer"]).values()]))
    header = (f"Generated by `bench/tune/real_task.py` on {time.strftime('%Y-%m-%d')}: "
              f"{r0['model']} on digits, {r0['optimizer']}, {r0['epochs']} epochs per trial, "
              f"{max(r['seed'] for r in records) + 1} seed(s) x {r0['n_trials']} trials "
              f"(grid: its {grid_size} points once), single-threaded BLAS; {versions}. "
              "Median [q25-q75] over seeds.")
    table = report(records, header)
    print(table)
    if not args.no_readme:
        write_readme(table, args.model)


if __name__ == "__main__":
    main()
