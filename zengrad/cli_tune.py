"""`zengrad tune`: search a model's hyperparameters on a bundled dataset (zengrad.tune).

    zengrad tune --model mlp --dataset digits --sampler gp --n-trials 20 --retrain
    zengrad tune --model lenet --storage sqlite:///study.db --study-name lenet   # resumable

Search space (one optimizer per study, --optimizer, default from the model's recipe):

    lr            log-uniform: [1e-3, 0.3] for sgd/momentum/adagrad, [1e-4, 1e-2] for
                  adam/adamw/rmsprop
    weight_decay  log-uniform [1e-6, 1e-2]
    batch_size    one of 16, 32, 64, 128
    width         models with a width option: mlp hidden units (int, log [16, 512]), resnet
                  base channels ([8, 32] step 8), lstm hidden size (int, log [16, 128]) when
                  its zoo builder takes `width`; for the others (LeNet, transformer) lr,
                  weight decay and batch size are tuned

Objective: the validation accuracy (maximized; the validation loss, minimized, for regression)
after --epochs epochs, on a held-out --val-fraction of the training split, the same slice for
every trial and a fixed initialization seed, so equal parameters give equal values. The test
split is used only by --retrain, which trains the best configuration on the whole training
split and writes a run folder like `zengrad train` (evaluate/predict work on it).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zengrad.cli import (
    _OPTIMIZERS,
    DEFAULT_MODEL,
    UsageError,
    _dataset_names,
    _model_names,
    _number,
    _recipe,
)

SAMPLERS = ("gp", "grid", "random", "genetic")
PRUNERS = ("median", "asha", "none")
DEFAULT_TRIALS = 20
DEFAULT_EPOCHS = 10
# (low, high) of the log-uniform lr and a 3-point grid inside it, per optimizer
_LR = {
    "sgd": ((1e-3, 0.3), (0.01, 0.03, 0.1)),
    "momentum": ((1e-3, 0.3), (0.01, 0.03, 0.1)),
    "adagrad": ((1e-3, 0.3), (0.01, 0.03, 0.1)),
    "rmsprop": ((1e-4, 1e-2), (3e-4, 1e-3, 3e-3)),
    "adam": ((1e-4, 1e-2), (3e-4, 1e-3, 3e-3)),
    "adamw": ((1e-4, 1e-2), (3e-4, 1e-3, 3e-3)),
}
_WEIGHT_DECAY = ((1e-6, 1e-2), (1e-5, 1e-3))
_BATCH_SIZES = ((16, 32, 64, 128), (32, 128))
# (low, high, step, log) of the width and its grid, for the models that have one
_WIDTH = {
    "mlp": ((16, 512, 1, True), (64, 256)),
    "resnet": ((8, 32, 8, False), (8, 16)),
    "resnet8": ((8, 32, 8, False), (8, 16)),
    "resnet20": ((8, 32, 8, False), (8, 16)),
    "lstm": ((16, 128, 1, True), (32, 64)),
}
SETUP_KEY = "setup"  # user attr of every trial: what it tuned (checked when a study resumes)


def _width(model: str) -> tuple[int, int, int, bool] | None:
    """The width range of a model whose zoo builder takes `width`, else None."""
    from zengrad.train.zoo import has_width

    return _WIDTH[model][0] if model in _WIDTH and has_width(model) else None


@dataclass(frozen=True)
class SearchSpace:
    """What a trial suggests: lr, weight_decay, batch_size and (if set) width."""

    lr: tuple[float, float]
    weight_decay: tuple[float, float]
    batch_sizes: tuple[int, ...]
    width: tuple[int, int, int, bool] | None = None

    @classmethod
    def for_model(cls, model: str, optimizer: str) -> SearchSpace:
        return cls(_LR[optimizer][0], _WEIGHT_DECAY[0], _BATCH_SIZES[0], _width(model))

    def suggest(self, trial: Any) -> dict[str, Any]:
        params = {
            "lr": trial.suggest_float("lr", *self.lr, log=True),
            "weight_decay": trial.suggest_float("weight_decay", *self.weight_decay, log=True),
            "batch_size": trial.suggest_categorical("batch_size", list(self.batch_sizes)),
        }
        if self.width is not None:
            low, high, step, log = self.width
            params["width"] = trial.suggest_int("width", low, high, step=step, log=log)
        return params


def default_grid(model: str, optimizer: str) -> dict[str, list]:
    """The GridSampler's grid: 3 lr x 2 weight decays x 2 batch sizes (x 2 widths)."""
    grid = {"lr": list(_LR[optimizer][1]), "weight_decay": list(_WEIGHT_DECAY[1]),
            "batch_size": list(_BATCH_SIZES[1])}
    if _width(model) is not None:
        grid["width"] = list(_WIDTH[model][1])
    return grid


@functools.lru_cache(maxsize=4)
def _splits(dataset: str, seed: int):
    from zengrad.data import get_dataset

    return get_dataset(dataset, seed=seed)


def _holdout(n: int, val_fraction: float, seed: int):
    """(train indices, validation indices) of the training split, as `zengrad train` does."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(val_fraction * n)))
    return order[n_val:], order[:n_val]


def monitor_of(task: str) -> tuple[str, str]:
    """(the logged quantity the study optimizes, direction) for a task."""
    return ("val_accuracy", "maximize") if task == "classification" else ("val_loss", "minimize")


@dataclass(frozen=True)
class TuneObjective:
    """The study's objective: train one configuration, return the last epoch's validation
    score. A frozen dataclass of plain values so that worker processes can unpickle it."""

    model: str
    dataset: str
    optimizer: str
    scheduler: str
    epochs: int
    seed: int
    val_fraction: float
    space: SearchSpace

    def setup(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "optimizer": self.optimizer,
                "scheduler": self.scheduler, "epochs": self.epochs, "seed": self.seed,
                "val_fraction": self.val_fraction}

    def __call__(self, trial: Any) -> float:
        from zengrad.tune import PruningCallback

        params = self.space.suggest(trial)
        trial.set_user_attr(SETUP_KEY, self.setup())
        splits = _splits(self.dataset, self.seed)
        tr_idx, val_idx = _holdout(len(splits.x_train), self.val_fraction, self.seed)
        monitor, _ = monitor_of(splits.task)
        trainer, _ = fit_config(self, params, splits, tr_idx, val_idx,
                                [PruningCallback(trial, monitor)])
        return float(trainer.history[monitor][-1])


def _config(obj: TuneObjective, params: dict[str, Any], splits) -> dict[str, Any]:
    """A `zengrad train` run config for one configuration (what evaluate/predict read)."""
    import zengrad as zg

    config = {
        "model": obj.model, "dataset": obj.dataset, "task": splits.task,
        "input_shape": list(splits.input_shape), "num_outputs": splits.num_outputs,
        "optimizer": obj.optimizer, "lr": float(params["lr"]),
        "batch_size": int(params["batch_size"]), "epochs": obj.epochs, "patience": 0,
        "weight_decay": float(params["weight_decay"]), "scheduler": obj.scheduler,
        "val_fraction": obj.val_fraction, "seed": obj.seed, "zengrad_version": zg.__version__,
    }
    if "width" in params:
        config["width"] = int(params["width"])
    return config


def fit_config(obj: TuneObjective, params: dict[str, Any], splits, tr_idx, val_idx,
               callbacks: list, verbose: int = 0):
    """Train one configuration on x_train[tr_idx] (validating on val_idx unless None);
    returns (trainer, config)."""
    import zengrad as zg
    from zengrad.cli import _build, _make_optimizer, _task_setup
    from zengrad.data import DataLoader, TensorDataset
    from zengrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau
    from zengrad.train import LRSchedulerCallback, Trainer

    config = _config(obj, params, splits)
    zg.manual_seed(obj.seed)  # the same initialization for every trial of a given width
    model = _build(config)
    loss_fn, metrics = _task_setup(splits.task)
    opt = _make_optimizer(obj.optimizer, model.parameters(), config["lr"],
                          config["weight_decay"])
    train_loader = DataLoader(TensorDataset(splits.x_train[tr_idx], splits.y_train[tr_idx]),
                              config["batch_size"], shuffle=True, seed=obj.seed)
    val_loader = None
    if val_idx is not None:
        val_loader = DataLoader(
            TensorDataset(splits.x_train[val_idx], splits.y_train[val_idx]), 512)
    callbacks = list(callbacks)
    if obj.scheduler == "cosine":
        callbacks.insert(0, LRSchedulerCallback(CosineAnnealingLR(opt, T_max=obj.epochs)))
    elif obj.scheduler == "plateau":
        monitor = "val_loss" if val_loader is not None else "loss"
        callbacks.insert(0, LRSchedulerCallback(ReduceLROnPlateau(opt, patience=2),
                                                monitor=monitor))
    trainer = Trainer(model, loss_fn, opt, metrics=metrics, callbacks=callbacks,
                      verbose=verbose)
    trainer.fit(train_loader, val_loader, epochs=obj.epochs)
    return trainer, config


# ----- the command line ---------------------------------------------------------------------
def add_tune_parser(sub) -> argparse.ArgumentParser:
    """Register `zengrad tune` on the CLI's subparsers."""
    n = sub.add_parser(
        "tune", help="search hyperparameters (lr, weight decay, batch size, width)",
        description="Tune lr, weight decay, batch size and (mlp/resnet/lstm) width of a model "
                    "on a held-out slice of a bundled dataset's training split.")
    n.add_argument("--model", default=None, choices=_model_names(),
                   help=f"(default: {DEFAULT_MODEL} for image datasets, mlp for the others)")
    n.add_argument("--dataset", default="digits", choices=_dataset_names(),
                   help="(default: digits)")
    n.add_argument("--optimizer", default=None, choices=_OPTIMIZERS,
                   help="(default: momentum for CNNs, adam for the MLP); sets the lr range")
    n.add_argument("--sampler", default="gp", choices=SAMPLERS, help="(default: gp)")
    n.add_argument("--n-trials", type=_number(int, 1, True, "an integer"), default=None,
                   help=f"trials to run now (default: {DEFAULT_TRIALS}; grid: the whole grid)")
    n.add_argument("--timeout", type=_number(float, 0.0, False, "a number"), default=None,
                   help="stop starting trials after this many seconds")
    n.add_argument("--storage", default=None,
                   help="sqlite:///file.db keeps the study on disk; running the same command "
                        "again resumes it (default: in memory)")
    n.add_argument("--study-name", default=None, help="(default: MODEL_DATASET)")
    n.add_argument("--n-jobs", type=_number(int, 1, True, "an integer"), default=1,
                   help="trials run at once in worker processes (default 1)")
    n.add_argument("--epochs", type=_number(int, 1, True, "an integer"), default=None,
                   help=f"epochs per trial and for --retrain (default: {DEFAULT_EPOCHS})")
    n.add_argument("--scheduler", default=None, choices=("none", "cosine", "plateau"),
                   help="(default: cosine for CNNs, none for the MLP)")
    n.add_argument("--pruner", default="median", choices=PRUNERS,
                   help="stop poor trials early: median, asha (successive halving) or none "
                        "(default: median)")
    n.add_argument("--val-fraction", type=_number(float, 0.0, False, "a number"), default=0.2,
                   help="share of the training split the trials are scored on (default 0.2)")
    n.add_argument("--seed", type=_number(int, 0, True, "an integer"), default=0,
                   help="seed of the split, the initialization and the sampler")
    n.add_argument("--retrain", action="store_true",
                   help="train the best configuration on the whole training split and report "
                        "its test metrics")
    n.add_argument("--out", default=None,
                   help="folder for trials.csv, best.json, plots and the --retrain run "
                        "(default: runs/tune_STUDY)")
    n.add_argument("--verbose", type=int, choices=(0, 1), default=1,
                   help="0: only the summary; 1: a row per trial and a progress bar (default)")
    return n


def _make_sampler(name: str, seed: int, n_trials: int, model: str, optimizer: str):
    from zengrad import tune

    if name == "grid":
        return tune.GridSampler(default_grid(model, optimizer), seed=seed)
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

    out.mkdir(parents=True, exist_ok=True)
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


def _retrain(obj: TuneObjective, params: dict[str, Any], out: Path, study_name: str,
             best_trial: int) -> dict:
    """Train params on the whole training split, test it, write the run folder."""
    import numpy as np

    from zengrad.cli import _print_metrics, _write_run
    from zengrad.data import DataLoader

    splits = _splits(obj.dataset, obj.seed)
    all_idx = np.arange(len(splits.x_train))
    start = time.perf_counter()
    trainer, config = fit_config(obj, params, splits, all_idx, None, [], verbose=0)
    seconds = time.perf_counter() - start
    test = trainer.evaluate(DataLoader(splits.test_dataset(), 512))
    config["val_fraction"] = 0.0  # retrained on the whole training split
    config["tuned"] = {"study": study_name, "trial": best_trial}
    _write_run(out, trainer.model, trainer, config, trainer.history, test, seconds, splits)
    _print_metrics(f"retrained best on the whole training split ({obj.epochs} epochs, "
                   f"{seconds:.1f}s); test ({obj.dataset}):", test)
    return test


def cmd_tune(args) -> int:
    from zengrad import tune
    from zengrad.cli import _build

    if args.val_fraction >= 1.0:
        raise UsageError(f"--val-fraction must be < 1, got {args.val_fraction}")
    if args.storage is not None and not args.storage.startswith("sqlite:///"):
        raise UsageError(f"--storage must look like sqlite:///file.db, got {args.storage!r}")
    splits = _splits(args.dataset, args.seed)
    model = args.model or (DEFAULT_MODEL if len(splits.input_shape) == 3 else "mlp")
    recipe = _recipe(model)
    optimizer = args.optimizer or recipe["optimizer"]
    scheduler = args.scheduler or recipe["scheduler"]
    epochs = args.epochs or DEFAULT_EPOCHS
    monitor, direction = monitor_of(splits.task)
    # a model that can't take this dataset is a usage error, before any trial starts
    _build({"model": model, "input_shape": splits.input_shape,
            "num_outputs": splits.num_outputs})
    space = SearchSpace.for_model(model, optimizer)
    obj = TuneObjective(model, args.dataset, optimizer, scheduler, epochs, args.seed,
                        args.val_fraction, space)
    grid_size = math.prod(len(v) for v in default_grid(model, optimizer).values())
    n_trials = args.n_trials or (grid_size if args.sampler == "grid" else DEFAULT_TRIALS)
    study_name = args.study_name or f"{model}_{args.dataset}"
    out = Path(args.out or f"runs/tune_{study_name}")

    try:
        study = tune.create_study(storage=args.storage, study_name=study_name,
                                  direction=direction, load_if_exists=True,
                                  pruner=_make_pruner(args.pruner))
    except (ValueError, OSError) as e:
        raise UsageError(str(e)) from None
    _check_setup(study, obj.setup())
    before = len(study.get_trials(deepcopy=False))
    # a resumed study draws new points, not the first run's again
    study.sampler = _make_sampler(args.sampler, args.seed + before, n_trials, model, optimizer)

    printer = _TablePrinter(monitor)
    width_note = "" if space.width is not None else f" ({model} has no width option)"
    print(f"study {study_name!r}: {model} on {args.dataset}, {optimizer}, {epochs} epoch(s) per "
          f"trial, {args.sampler} sampler, {args.pruner} pruner, {monitor} "
          f"({direction}){width_note}" + (f", resuming after {before} trials" if before else ""))
    if args.sampler == "grid":
        print(f"grid: {default_grid(model, optimizer)} ({grid_size} points)")
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
    written = _write_outputs(study, out, monitor, space)
    if args.retrain:
        _retrain(obj, best.params, out, study_name, best.number)
        written.append("the retrained run")
    print(f"wrote {', '.join(written)} to {out}")
    return 0


__all__ = ["SearchSpace", "TuneObjective", "add_tune_parser", "cmd_tune", "default_grid",
           "fit_config", "monitor_of"]
