"""`zengrad tune`: search a model's hyperparameters on a bundled dataset (zengrad.tune).

    zengrad tune --model mlp --dataset digits --sampler gp --n-trials 20 --retrain
    zengrad tune --model lenet --storage sqlite:///study.db --study-name lenet   # resumable

Search space (one optimizer per study, --optimizer, default from the model's recipe; or the
optimizer itself tuned as a categorical among --optimizers, e.g. sgd,adam,adamw):

    optimizer     with --optimizers: one of the listed optimizers (the recipe's table)
    lr            log-uniform: [1e-3, 0.3] for sgd/momentum/adagrad, [1e-4, 1e-2] for
                  adam/adamw/rmsprop; with --optimizers, the union of their ranges (one lr
                  parameter for all, so the GP shares what it learns about it)
    weight_decay  log-uniform [1e-6, 1e-2]
    batch_size    one of 16, 32, 64, 128
    width         models with a width option: mlp hidden units (int, log [16, 512]), resnet
                  base channels ([8, 32] step 8), lstm hidden size (int, log [16, 128]) when
                  its zoo builder takes `width`; for the others (LeNet, transformer) lr,
                  weight decay and batch size are tuned

Objective: the validation accuracy (maximized; the validation loss, minimized, for regression
and forecasts) after --epochs epochs, on a held-out --val-fraction of the training split (the
latest windows of a time series), the same slice for every trial and a fixed initialization
seed, so equal parameters give equal values. The test
split is used only by --retrain, which trains the best configuration on the whole training
split and writes a run folder like `zengrad train` (evaluate/predict work on it).

The output folder is written as one unit (a hidden folder beside it, renamed into place);
an existing default folder gets a numbered sibling, an explicit --out holding an earlier
study is refused unless --overwrite. The search space, objective and training recipe live
in zengrad.train.recipe; this module parses, prints and writes the study's outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zengrad.cli_args import (
    MODEL_HELP,
    UsageError,
    add_series_arguments,
    add_subparser,
    dataset_names,
    model_names,
    number,
    print_metrics,
)
from zengrad.train import recipe
from zengrad.train.recipe import SETUP_KEY, SearchSpace, TuneObjective, default_grid

SAMPLERS = ("gp", "grid", "random", "genetic")
PRUNERS = ("median", "asha", "none")
DEFAULT_TRIALS = 20
DEFAULT_EPOCHS = 10


# ----- the command line ---------------------------------------------------------------------
def add_tune_parser(sub) -> argparse.ArgumentParser:
    """Register `zengrad tune` on the CLI's subparsers."""
    n = add_subparser(
        sub, "tune", help="search hyperparameters (lr, weight decay, batch size, width)",
        description="Tune lr, weight decay, batch size and (mlp/resnet/lstm) width of a model "
                    "on a held-out slice of a bundled dataset's training split.")
    n.add_argument("--model", default=None, choices=model_names(), help=MODEL_HELP)
    n.add_argument("--dataset", default="digits", choices=dataset_names(),
                   help="(default: digits)")
    add_series_arguments(n)
    n.add_argument("--optimizer", default=None, choices=list(recipe.OPTIMIZERS),
                   help="(default: momentum for CNNs, adam for the MLP and forecasts); sets "
                        "the lr range")
    n.add_argument("--optimizers", default=None, type=_optimizer_list,
                   help="tune the optimizer too: a comma-separated list of "
                        f"{', '.join(recipe.OPTIMIZERS)} (e.g. sgd,adam,adamw); lr then spans "
                        "the union of their ranges")
    n.add_argument("--sampler", default="gp", choices=SAMPLERS, help="(default: gp)")
    n.add_argument("--n-trials", type=number(int, 1, True, "an integer"), default=None,
                   help=f"trials to run now (default: {DEFAULT_TRIALS}; grid: the whole grid)")
    n.add_argument("--timeout", type=number(float, 0.0, False, "a number"), default=None,
                   help="stop starting trials after this many seconds")
    n.add_argument("--storage", default=None,
                   help="sqlite:///file.db keeps the study on disk; running the same command "
                        "again resumes it (default: in memory)")
    n.add_argument("--study-name", default=None, help="(default: MODEL_DATASET)")
    n.add_argument("--n-jobs", type=number(int, 1, True, "an integer"), default=1,
                   help="trials run at once in worker processes (default 1)")
    n.add_argument("--epochs", type=number(int, 1, True, "an integer"), default=None,
                   help=f"epochs per trial and for --retrain (default: {DEFAULT_EPOCHS})")
    n.add_argument("--scheduler", default=None, choices=recipe.SCHEDULERS,
                   help="(default: cosine for CNNs, none for the MLP)")
    n.add_argument("--pruner", default="median", choices=PRUNERS,
                   help="stop poor trials early: median, asha (successive halving) or none "
                        "(default: median)")
    n.add_argument("--val-fraction", type=number(float, 0.0, False, "a number"), default=0.2,
                   help="share of the training split the trials are scored on (default 0.2)")
    n.add_argument("--seed", type=number(int, 0, True, "an integer"), default=0,
                   help="seed of the split, the initialization and the sampler")
    n.add_argument("--retrain", action="store_true",
                   help="train the best configuration on the whole training split and report "
                        "its test metrics")
    n.add_argument("--out", default=None,
                   help="folder for trials.csv, best.json, plots and the --retrain run "
                        "(default: runs/tune_STUDY, or a numbered sibling when that exists)")
    n.add_argument("--overwrite", action="store_true",
                   help="replace the earlier outputs in an existing --out (default: refuse)")
    n.add_argument("--verbose", type=int, choices=(0, 1), default=1,
                   help="0: only the summary; 1: a row per trial and a progress bar (default)")
    return n


def _optimizer_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in recipe.OPTIMIZERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown optimizer(s) {', '.join(unknown) or repr(text)}; choose from "
            f"{', '.join(recipe.OPTIMIZERS)}")
    return names


@dataclass(frozen=True)
class OptimizerChoiceObjective:
    """TuneObjective with the optimizer as a tuned categorical ("optimizer"): one lr
    parameter over the union of the optimizers' lr ranges. Frozen plain values, so worker
    processes can unpickle it."""

    base: TuneObjective  # its optimizer field is the comma-joined list (what setup() shows)
    optimizers: tuple[str, ...]

    @property
    def epochs(self) -> int:
        return self.base.epochs

    @property
    def dataset(self) -> str:
        return self.base.dataset

    def setup(self) -> dict[str, Any]:
        return self.base.setup()

    def _with(self, optimizer: str) -> TuneObjective:
        return dataclasses.replace(self.base, optimizer=optimizer)

    def config(self, params: Mapping[str, Any], val_fraction: float | None = None) -> dict:
        return self._with(str(params["optimizer"])).config(params, val_fraction)

    def __call__(self, trial: Any) -> float:
        from zengrad.tune import PruningCallback

        params = {"optimizer": trial.suggest_categorical("optimizer", list(self.optimizers))}
        params |= self.base.space.suggest(trial)
        trial.set_user_attr(SETUP_KEY, self.setup())
        config = self.config(params)
        monitor, _ = recipe.monitor_of(config["task"])
        trainer = recipe.fit(config, callbacks=[PruningCallback(trial, monitor)])
        return float(trainer.history[monitor][-1])


def multi_optimizer_space(model: str, optimizers: tuple[str, ...]) -> SearchSpace:
    """The search space of `model` with lr over the union of the optimizers' ranges."""
    spaces = [SearchSpace.for_model(model, o) for o in optimizers]
    lr = (min(s.lr[0] for s in spaces), max(s.lr[1] for s in spaces))
    return dataclasses.replace(spaces[0], lr=lr)


def tune_grid(model: str, optimizers: tuple[str, ...]) -> dict[str, list]:
    """The default grid; with several optimizers, each of them x the union of the lr grids."""
    grid = default_grid(model, optimizers[0])
    if len(optimizers) > 1:
        lrs = {lr for o in optimizers for lr in default_grid(model, o)["lr"]}
        grid = {"optimizer": list(optimizers), **grid, "lr": sorted(lrs)}
    return grid


def _make_sampler(name: str, seed: int, n_trials: int, grid: dict[str, list]):
    from zengrad import tune

    if name == "grid":
        return tune.GridSampler(grid, seed=seed)
    if name == "random":
        return tune.RandomSampler(seed=seed)
    if name == "genetic":
        # a few generations even on small budgets
        return tune.GeneticSampler(population_size=max(4, min(10, n_trials // 3)),
                                   tournament_size=3, seed=seed)
    return tune.GPSampler(seed=seed, n_startup_trials=max(3, min(10, n_trials // 2)))


def _make_pruner(name: str):
    from zengrad import tune

    if name == "median":
        return tune.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "asha":
        return tune.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return tune.NopPruner()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _emit(line: str) -> None:
    """Print above a running progress bar (tqdm.write), or plainly without tqdm."""
    try:
        from tqdm.auto import tqdm

        tqdm.write(line, file=sys.stdout)
    except ImportError:
        print(line)


class _TablePrinter:
    """A study callback printing one row per finished trial."""

    def __init__(self, monitor: str) -> None:
        self.header = f"{'trial':>5}  {'state':<8}  {monitor:>12}  {'time':>7}  params"

    def row(self, t) -> str:
        value = "-" if t.value is None else f"{t.value:.4f}"
        seconds = t.duration.total_seconds() if t.duration is not None else float("nan")
        params = " ".join(f"{k}={_fmt(v)}" for k, v in t.params.items())
        return f"{t.number:>5}  {t.state.name:<8}  {value:>12}  {seconds:>6.2f}s  {params}"

    def __call__(self, study, frozen) -> None:
        _emit(self.row(frozen))


def _check_setup(study, setup: dict[str, Any]) -> None:
    """A resumed study must tune the same thing: compare with its trials' setup."""
    for t in study.get_trials(deepcopy=False):
        old = t.user_attrs.get(SETUP_KEY)
        if old is None:
            continue
        diff = {k: (old.get(k), v) for k, v in setup.items() if old.get(k) != v}
        if diff:
            what = ", ".join(f"{k} {a!r} (now {b!r})" for k, (a, b) in diff.items())
            raise UsageError(f"study {study.study_name!r} was run with {what}; use another "
                             "--study-name or the same settings")
        return


def _write_outputs(study, out: Path, monitor: str, space: SearchSpace) -> list[str]:
    """trials.csv, best.json and the plots; returns the names written."""
    from zengrad.io import atomic_write_text
    from zengrad.tune import TrialState

    study.to_csv(out / "trials.csv")
    best = study.best_trial
    atomic_write_text(out / "best.json", json.dumps(
        {"study": study.study_name, "trial": best.number, monitor: best.value,
         "params": best.params}, indent=1) + "\n")
    written = ["trials.csv", "best.json"]
    try:
        from zengrad.tune import viz

        viz.plot_optimization_history(study, out / "optimization_history.png")
        viz.plot_slice(study, out / "slice.png")
        written += ["optimization_history.png", "slice.png"]
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) >= 3:
            # the GP contour of the two continuous parameters (the others vary beneath it)
            viz.plot_contour(study, out / "contour.png", params=["lr", "weight_decay"])
            written.append("contour.png")
        else:
            print("no contour plot: it needs 3 completed trials", file=sys.stderr)
    except ImportError as e:
        print(f"zengrad tune: no plots: {e}", file=sys.stderr)
    return written


def _retrain(obj: TuneObjective | OptimizerChoiceObjective, params: dict[str, Any],
             folder: Path, study_name: str, best_trial: int) -> dict:
    """Train params on the whole training split, test it, write the run into folder."""
    config = obj.config(params, val_fraction=0.0)  # retrained on the whole training split
    config["tuned"] = {"study": study_name, "trial": best_trial}
    result = recipe.train_into(folder, config, checkpoint=False)
    print_metrics(f"retrained best on the whole training split ({obj.epochs} epochs, "
                  f"{result.seconds:.1f}s); test ({obj.dataset}):", result.test, config)
    return result.test


def cmd_tune(args) -> int:
    from zengrad import tune

    if args.val_fraction >= 1.0:
        raise UsageError(f"--val-fraction must be < 1, got {args.val_fraction}")
    if args.storage is not None and not args.storage.startswith("sqlite:///"):
        raise UsageError(f"--storage must look like sqlite:///file.db, got {args.storage!r}")
    splits = recipe.load_splits(args.dataset, args.seed, args.horizon, args.input_len)
    model = args.model or recipe.default_model(splits.input_shape, splits.task)
    defaults = recipe.family_defaults(model, splits.task)
    if args.optimizer is not None and args.optimizers is not None:
        raise UsageError("give --optimizer (one, fixed) or --optimizers (tuned), not both")
    optimizers = args.optimizers or (args.optimizer or defaults["optimizer"],)
    optimizer = ",".join(optimizers)
    scheduler = args.scheduler or defaults["scheduler"]
    epochs = args.epochs or DEFAULT_EPOCHS
    monitor, direction = recipe.monitor_of(splits.task)
    # a model that can't take this dataset is a usage error, before any trial starts
    recipe.check_model_fits(model, splits)
    space = multi_optimizer_space(model, optimizers)
    obj: TuneObjective | OptimizerChoiceObjective = TuneObjective(
        model, args.dataset, optimizer, scheduler, epochs, args.seed, args.val_fraction, space,
        **recipe.forecast_window(splits))
    if len(optimizers) > 1:
        obj = OptimizerChoiceObjective(obj, optimizers)
    grid = tune_grid(model, optimizers)
    grid_size = math.prod(len(v) for v in grid.values())
    n_trials = args.n_trials or (grid_size if args.sampler == "grid" else DEFAULT_TRIALS)
    study_name = args.study_name or f"{model}_{args.dataset}"
    out = Path(args.out or f"runs/tune_{study_name}")
    # an --out that can't be written is refused before any trial runs
    recipe.check_destination(out, explicit=args.out is not None, overwrite=args.overwrite)

    try:
        study = tune.create_study(storage=args.storage, study_name=study_name,
                                  direction=direction, load_if_exists=True,
                                  pruner=_make_pruner(args.pruner))
    except tune.CorruptedStorageError:
        raise  # a damaged store is a failure (status 1), not a usage error
    except (ValueError, OSError) as e:
        raise UsageError(str(e)) from None
    _check_setup(study, obj.setup())
    before = len(study.get_trials(deepcopy=False))
    # a resumed study draws new points, not the first run's again
    study.sampler = _make_sampler(args.sampler, args.seed + before, n_trials, grid)

    printer = _TablePrinter(monitor)
    width_note = "" if space.width is not None else f" ({model} has no width option)"
    which = f"optimizer tuned among {optimizer}" if len(optimizers) > 1 else optimizer
    print(f"study {study_name!r}: {model} on {args.dataset}, {which}, {epochs} epoch(s) per "
          f"trial, {args.sampler} sampler, {args.pruner} pruner, {monitor} "
          f"({direction}){width_note}" + (f", resuming after {before} trials" if before else ""))
    if args.sampler == "grid":
        print(f"grid: {grid} ({grid_size} points)")
    if args.verbose:
        print(printer.header)
    start = time.perf_counter()
    study.optimize(obj, n_trials=n_trials, timeout=args.timeout, n_jobs=args.n_jobs,
                   callbacks=[printer] if args.verbose else None,
                   show_progress_bar=bool(args.verbose) and sys.stderr.isatty())
    seconds = time.perf_counter() - start

    trials = study.get_trials(deepcopy=False)
    if args.sampler == "grid" and study.sampler.is_exhausted(study):
        print(f"the grid is done: all {grid_size} points evaluated")
    counts = {s: sum(t.state is s for t in trials) for s in tune.TrialState}
    print(f"{len(trials) - before} trials in {seconds:.1f}s; study total {len(trials)}: "
          f"{counts[tune.TrialState.COMPLETE]} complete, {counts[tune.TrialState.PRUNED]} "
          f"pruned, {counts[tune.TrialState.FAIL]} failed")
    try:
        best = study.best_trial
    except ValueError:
        print("zengrad tune: no trial completed (see the rows above for why)", file=sys.stderr)
        return 1
    print(f"best trial {best.number}: {monitor} {best.value:.4f}")
    for k, v in best.params.items():
        print(f"  {k:<13} {_fmt(v)}")
    run = recipe.RunDir(out, explicit=args.out is not None, overwrite=args.overwrite)
    try:
        written = _write_outputs(study, run.tmp, monitor, space)
        if args.retrain:
            _retrain(obj, best.params, run.tmp, study_name, best.number)
            written.append("the retrained run")
        final = run.commit()
    except BaseException:
        run.discard()
        raise
    note = f" ({out} already exists)" if final != out else ""
    print(f"wrote {', '.join(written)} to {final}{note}")
    return 0


__all__ = ["add_tune_parser", "cmd_tune"]
