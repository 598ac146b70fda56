"""The training recipe behind `zengrad train`, `zengrad tune` trials and `tune --retrain`.

One home for: the optimizer table (name -> factory, default lr, tuning range and grid), the
model-family defaults (optimizer, epochs, patience, scheduler), the default model per
dataset, the hold-out split, the scheduler set-up, the loss/metrics per task, the run
config (made, validated), the function that builds model + optimizer + loaders + callbacks
and fits, the tuning objective, and the run folder (written as one unit).

A run config is a dict of JSON values (config.json):

    model, dataset, task, input_shape, num_outputs       what evaluate/predict rebuild
    horizon?, input_len?                                  a forecast's window (time series)
    optimizer, lr, batch_size, epochs, patience,          how it was trained
    weight_decay, scheduler, val_fraction, seed, width?
    zengrad_version, tuned?

Hold-out: round(val_fraction * n) samples (at least 1) of the training split validate, the
rest train; val_fraction 0 trains on all of it. Which samples: a seeded permutation's first
ones, or, for a task whose samples are in time order (forecast), the latest ones: with
overlapping windows a random hold-out would validate on windows the training ones contain.

Run folders: everything goes into a hidden folder beside the destination
(`.NAME.tmp-PID`), which is renamed into place when complete, so a reader (or a crash) never
sees half a run; a killed `zengrad train` leaves that folder with its last checkpoint, and
`resume` continues it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class RecipeError(ValueError):
    """A bad choice, config or run folder; the message names the file and the field."""


# ----- optimizers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer of the recipe: factory(params, lr, weight_decay), its default lr, the
    log-uniform lr range a tuning study searches and a 3-point grid inside it."""

    factory: Callable[[Iterable, float, float], Any]
    default_lr: float
    lr_range: tuple[float, float]
    lr_grid: tuple[float, ...]


def _optim():
    from zengrad import optim

    return optim


_SGD_RANGE, _SGD_GRID = (1e-3, 0.3), (0.01, 0.03, 0.1)
_ADAPTIVE_RANGE, _ADAPTIVE_GRID = (1e-4, 1e-2), (3e-4, 1e-3, 3e-3)
OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(lambda p, lr, wd: _optim().SGD(p, lr=lr, weight_decay=wd),
                         0.1, _SGD_RANGE, _SGD_GRID),
    "momentum": OptimizerSpec(
        lambda p, lr, wd: _optim().SGD(p, lr=lr, momentum=0.9, weight_decay=wd),
        0.05, _SGD_RANGE, _SGD_GRID),
    "adagrad": OptimizerSpec(lambda p, lr, wd: _optim().Adagrad(p, lr=lr, weight_decay=wd),
                             0.05, _SGD_RANGE, _SGD_GRID),
    "rmsprop": OptimizerSpec(lambda p, lr, wd: _optim().RMSprop(p, lr=lr, weight_decay=wd),
                             1e-3, _ADAPTIVE_RANGE, _ADAPTIVE_GRID),
    "adam": OptimizerSpec(lambda p, lr, wd: _optim().Adam(p, lr=lr, weight_decay=wd),
                          1e-3, _ADAPTIVE_RANGE, _ADAPTIVE_GRID),
    "adamw": OptimizerSpec(lambda p, lr, wd: _optim().AdamW(p, lr=lr, weight_decay=wd),
                           1e-3, _ADAPTIVE_RANGE, _ADAPTIVE_GRID),
}


def make_optimizer(name: str, params: Iterable, lr: float, weight_decay: float = 0.0):
    """The recipe's optimizer `name` over params."""
    if name not in OPTIMIZERS:
        raise RecipeError(f"unknown optimizer {name!r}; available: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name].factory(params, lr, weight_decay)


# ----- model families, defaults ----------------------------------------------------------------
# CNNs: SGD with momentum on a cosine schedule for a fixed number of epochs (early stopping on
# a small validation slice picked noisy epochs); MLPs: Adam with early stopping.
# Forecasts (a few hundred windows of a series): Adam at lr 1e-2 for a fixed 40 epochs, the
# validation windows too few to stop on (measured for the LSTM on sunspots over seeds 0-4:
# RMSE 17.7-20.2 against the naive 33.3); the Transformer at 3e-3, the safer step for
# attention (on sunspots, seeds 0-1, 1e-2 and 3e-3 both give RMSE 20.0-24.8). "lr" applies
# only with the family's own optimizer (another one starts from its OPTIMIZERS default).
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"optimizer": "momentum", "epochs": 30, "patience": 0, "scheduler": "cosine"},
    "mlp": {"optimizer": "adam", "epochs": 20, "patience": 5, "scheduler": "none"},
    "forecast": {"optimizer": "adam", "lr": 1e-2, "epochs": 40, "patience": 0,
                 "scheduler": "none"},
    "attention-forecast": {"optimizer": "adam", "lr": 3e-3, "epochs": 40, "patience": 0,
                           "scheduler": "none"},
}
DEFAULT_IMAGE_MODEL = "lenet"  # image datasets; the MLP for the others
DEFAULT_FORECAST_MODEL = "lstm"  # time series
SCHEDULERS = ("none", "cosine", "plateau")
DEFAULT_BATCH_SIZE = 32
EVAL_BATCH_SIZE = 512


def family_of(model: str, task: str = "classification") -> str:
    """The FAMILY_DEFAULTS entry of a model trained for a task."""
    if task == "forecast":
        return "attention-forecast" if model == "transformer" else "forecast"
    return "mlp" if model == "mlp" else "cnn"


def family_defaults(model: str, task: str = "classification") -> dict[str, Any]:
    """Optimizer, epochs, patience, scheduler (and maybe lr) for the options a user leaves
    out, by the model and the task it is trained for."""
    return dict(FAMILY_DEFAULTS[family_of(model, task)])


def default_model(input_shape: Sequence[int], task: str = "classification") -> str:
    """The model `zengrad train` picks for a dataset: the LSTM for a forecast, LeNet for
    images (C, H, W), else mlp."""
    if task == "forecast":
        return DEFAULT_FORECAST_MODEL
    return DEFAULT_IMAGE_MODEL if len(input_shape) == 3 else "mlp"


def default_lr(optimizer: str, model: str, task: str = "classification") -> float:
    """The lr a run starts from: the family's when the optimizer is the family's own, else
    the optimizer's default."""
    defaults = family_defaults(model, task)
    if optimizer == defaults["optimizer"] and "lr" in defaults:
        return float(defaults["lr"])
    return OPTIMIZERS[optimizer].default_lr


# ----- tasks ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSpec:
    """What a task trains on and reports: the loss, the metrics, the quantity a tuning study
    optimizes, how model outputs become predictions, and extra report plots."""

    loss: Callable[[], Any]
    metrics: tuple[str, ...]
    monitor: str
    direction: str
    predictions: Callable[[np.ndarray, Any], np.ndarray]  # (outputs, Preprocessing) -> preds
    # (trainer, splits, folder, config) -> names of the plots written
    report: Callable[[Any, Any, Path, Mapping[str, Any]], list[str]] | None = None
    # (test outputs, splits, Preprocessing of the outputs) -> metrics beside the loss's
    test_metrics: Callable[[np.ndarray, Any, Any], dict[str, float]] | None = None
    ordered: bool = False  # samples in time order: the latest validate (see holdout)


def _loss(name: str):
    from zengrad.nn import loss

    return getattr(loss, name)()


def _class_report(trainer, splits, folder: Path, config: Mapping[str, Any]) -> list[str]:
    from zengrad import viz
    from zengrad.train.metrics import confusion_matrix

    pred = trainer.predict(splits.x_test)
    viz.plot_confusion_matrix(confusion_matrix(splits.y_test, pred, splits.num_outputs),
                              folder / "confusion_matrix.png")
    return ["confusion_matrix.png"]


def _forecast_scaled(outputs: np.ndarray, splits, pre) -> np.ndarray:
    """Forecasts in the units of splits.source's scaler, from outputs in `pre`'s scaled units
    (the same unless a run is evaluated on another series)."""
    own = splits.fitted_preprocessing()
    if pre is None or same_scaling(pre, own):
        return outputs
    return own.transform_target(pre.inverse_transform_target(outputs))


def _forecast_test_metrics(outputs: np.ndarray, splits, pre) -> dict[str, float]:
    """evaluate_forecast's RMSE and MAE in the series' units, with the naive and
    seasonal-naive baselines on the same test windows."""
    from zengrad.train.forecast import evaluate_forecast

    if splits.source is None:
        return {}
    return evaluate_forecast(_forecast_scaled(outputs, splits, pre), splits.source)


def _forecast_report(trainer, splits, folder: Path, config: Mapping[str, Any]) -> list[str]:
    from zengrad.train.forecast import save_forecast_plot

    if splits.source is None:
        return []
    save_forecast_plot(folder / "forecast.png", splits.source, trainer.predict,
                       label=config["model"])
    return ["forecast.png"]


TASKS: dict[str, TaskSpec] = {
    "classification": TaskSpec(lambda: _loss("CrossEntropyLoss"), ("accuracy",),
                               "val_accuracy", "maximize",
                               lambda out, pre: out.argmax(axis=1), _class_report),
    "regression": TaskSpec(lambda: _loss("MSELoss"), ("mse", "mae", "r2"), "val_loss",
                           "minimize", lambda out, pre: pre.inverse_transform_target(out)),
    # the loss is the MSE in scaled units; the test metrics add RMSE and MAE in the series'
    # units (no scaled "mae" beside them: one name, one unit)
    "forecast": TaskSpec(lambda: _loss("MSELoss"), (), "val_loss", "minimize",
                         lambda out, pre: pre.inverse_transform_target(out), _forecast_report,
                         _forecast_test_metrics, ordered=True),
}


def task_spec(task: str) -> TaskSpec:
    """The TaskSpec of a task name (register more in TASKS)."""
    if task not in TASKS:
        raise RecipeError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return TASKS[task]


def monitor_of(task: str) -> tuple[str, str]:
    """(the logged quantity a study optimizes, direction) for a task."""
    spec = task_spec(task)
    return spec.monitor, spec.direction


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities: exp(z - max z) / sum exp(z - max z) along the last axis."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


# ----- data ----------------------------------------------------------------------------------
SERIES_OPTIONS = ("horizon", "input_len")  # get_dataset options of the time series


def series_datasets() -> list[str]:
    """The bundled time series (forecast datasets, taking horizon and input_len)."""
    from zengrad.data.datasets.timeseries import SERIES

    return sorted(SERIES)


@functools.lru_cache(maxsize=8)
def _load(dataset: str, seed: int, options: tuple[tuple[str, int], ...]):
    from zengrad.data import get_dataset

    try:
        return get_dataset(dataset, seed=seed, **dict(options))
    except (ImportError, ValueError) as e:
        raise RecipeError(str(e)) from None


def load_splits(dataset: str, seed: int = 0, horizon: int | None = None,
                input_len: int | None = None):
    """get_dataset(dataset, seed[, horizon, input_len]), cached: the arrays are shared, never
    written to. horizon and input_len (None: the series' defaults) apply to the time series
    only; RecipeError for another dataset."""
    given = {k: int(v) for k, v in (("horizon", horizon), ("input_len", input_len))
             if v is not None}
    if given and dataset not in series_datasets():
        what = " and ".join(given) + (" apply" if len(given) > 1 else " applies")
        task = _load(dataset, seed, ()).task
        raise RecipeError(f"{what} to forecasting a time series "
                          f"({', '.join(series_datasets())}); dataset {dataset!r} is a "
                          f"{task} dataset")
    return _load(dataset, seed, tuple(sorted(given.items())))


def forecast_window(splits) -> dict[str, int]:
    """{'horizon', 'input_len'} of a forecast's splits, {} for the other tasks."""
    if splits.task != "forecast":
        return {}
    return {"horizon": splits.num_outputs, "input_len": splits.input_shape[0]}


def dataset_options(config: Mapping[str, Any]) -> dict[str, int]:
    """The get_dataset options a run's data was built with ({} but for a forecast's
    horizon and input_len)."""
    return {k: int(config[k]) for k in SERIES_OPTIONS if config.get(k) is not None}


def splits_of(config: Mapping[str, Any], dataset: str | None = None):
    """The splits a run config trains and tests on (load_splits with its options), or those
    of another dataset of the same task."""
    return load_splits(dataset or config["dataset"], int(config.get("seed", 0)),
                       **dataset_options(config))


def same_scaling(a, b) -> bool:
    """Whether two Preprocessings scale inputs and targets alike (the recorded training
    range, used only to check raw inputs, aside)."""
    def scaling(p) -> dict:
        return {k: v for k, v in p.to_dict().items() if k != "x_range"}

    return scaling(a) == scaling(b)


def holdout(n: int, val_fraction: float, seed: int,
            ordered: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(train indices, validation indices or None) of a training split of n samples: the
    validation part is round(val_fraction * n) of them (at least 1), seeded at random, or
    the last ones when the samples are in time order (ordered=True)."""
    if val_fraction == 0:
        return np.arange(n), None
    n_val = max(1, int(round(val_fraction * n)))
    if n_val >= n:
        raise RecipeError(f"val_fraction {val_fraction} of {n} training samples leaves none "
                          "to train on")
    if ordered:
        return np.arange(n - n_val), np.arange(n - n_val, n)
    order = np.random.default_rng(seed).permutation(n)
    return order[n_val:], order[:n_val]


# ----- configs -------------------------------------------------------------------------------
MAX_INPUT_SIZE = 10**6  # elements of one sample
MAX_OUTPUTS = 10**5
MAX_WIDTH = 4096
MAX_PARAMS = 5 * 10**7  # 200 MB of float32 weights: a config asking more is refused
MAX_HORIZON = 10**4
_REQUIRED = ("model", "dataset", "task", "input_shape", "num_outputs")
_TRAINING = ("optimizer", "lr", "batch_size", "epochs", "patience", "weight_decay",
             "scheduler", "val_fraction", "seed")


def make_config(splits, model: str | None = None, optimizer: str | None = None,
                lr: float | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                epochs: int | None = None, patience: int | None = None,
                weight_decay: float = 0.0, scheduler: str | None = None,
                val_fraction: float = 0.1, seed: int = 0,
                width: int | None = None) -> dict[str, Any]:
    """A validated run config for training on `splits`; None picks the recipe's default.
    A forecast's config records its window (horizon, input_len) to rebuild the data."""
    import zengrad as zg

    model = model or default_model(splits.input_shape, splits.task)
    defaults = family_defaults(model, splits.task)
    optimizer = optimizer or defaults["optimizer"]
    if optimizer not in OPTIMIZERS:
        raise RecipeError(f"unknown optimizer {optimizer!r}; available: {', '.join(OPTIMIZERS)}")
    config = {
        "model": model, "dataset": splits.name, "task": splits.task,
        "input_shape": list(splits.input_shape), "num_outputs": splits.num_outputs,
    }
    config |= forecast_window(splits)
    config |= {
        "optimizer": optimizer,
        "lr": float(lr if lr is not None else default_lr(optimizer, model, splits.task)),
        "batch_size": int(batch_size),
        "epochs": int(epochs if epochs is not None else defaults["epochs"]),
        "patience": int(patience if patience is not None else defaults["patience"]),
        "weight_decay": float(weight_decay),
        "scheduler": scheduler or defaults["scheduler"],
        "val_fraction": float(val_fraction), "seed": int(seed),
        "zengrad_version": zg.__version__,
    }
    if width is not None:
        config["width"] = int(width)
    if not 0 <= config["val_fraction"] < 1:
        raise RecipeError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if config["patience"] > 0 and config["val_fraction"] == 0:
        raise RecipeError("early stopping (patience > 0) needs a validation slice "
                          "(val_fraction > 0)")
    return validate_config(config, "the run config", training=True)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def estimated_params(config: Mapping[str, Any]) -> int | None:
    """A cheap upper estimate of the model's parameter count, before building it (None for
    models whose size doesn't grow with the config's sizes beyond the output layer)."""
    from zengrad.train.zoo import has_width

    features = math.prod(config["input_shape"])
    outputs = config["num_outputs"]
    model = config["model"]
    if model == "mlp":
        width = config.get("width") or 128
        return features * width + width * (outputs + 1)
    if model == "lenet":  # fc1 sees 16 * (side / 2)^2 features
        side = config["input_shape"][-1]
        return 16 * (side // 2 + 1) ** 2 * 120 + 84 * outputs + 10**5
    width = config.get("width") or (16 if has_width(model) else 64)
    return 512 * outputs + 10**4 * width  # the zoo's other models end in <= 512 features


def validate_config(config: Any, where: str, training: bool = False) -> dict[str, Any]:
    """Check a run config's fields (types, known names, sizes within bounds) before anything
    is built; RecipeError naming `where` and the field. training: the training fields too."""
    from zengrad.data.datasets import list_datasets
    from zengrad.train.zoo import MODELS, has_width, models_for, supports

    def bad(name: str, what: str) -> RecipeError:
        got = config.get(name, "<missing>") if isinstance(config, dict) else None
        text = repr(got)
        return RecipeError(f"{where}: field {name!r} must be {what}, got "
                           f"{text if len(text) <= 60 else text[:57] + '...'}")

    if not isinstance(config, dict):
        raise RecipeError(f"{where}: not a zengrad run config (a JSON object expected, got "
                          f"{type(config).__name__})")
    for name in _REQUIRED + (_TRAINING if training else ()):
        if name not in config:
            raise RecipeError(f"{where}: not a zengrad run config (field {name!r} is missing)")
    checks: list[tuple[str, bool, str]] = [
        ("model", config["model"] in MODELS if isinstance(config["model"], str) else False,
         f"one of {', '.join(MODELS)}"),
        ("dataset", isinstance(config["dataset"], str) and config["dataset"] in list_datasets(),
         "a known dataset name"),
        ("task", isinstance(config["task"], str) and config["task"] in TASKS,
         f"one of {', '.join(TASKS)}"),
    ]
    shape = config["input_shape"]
    checks.append(("input_shape", isinstance(shape, list) and 1 <= len(shape) <= 4
                   and all(_is_int(s) and 0 < s <= MAX_INPUT_SIZE for s in shape)
                   and math.prod(shape) <= MAX_INPUT_SIZE,
                   f"a list of 1 to 4 positive ints with a product <= {MAX_INPUT_SIZE:,}"))
    outputs = config["num_outputs"]
    checks.append(("num_outputs", _is_int(outputs) and 1 <= outputs <= MAX_OUTPUTS,
                   f"an int in [1, {MAX_OUTPUTS:,}]"))
    width = config.get("width")
    checks.append(("width", width is None or (_is_int(width) and 1 <= width <= MAX_WIDTH),
                   f"null or an int in [1, {MAX_WIDTH}]"))
    if "seed" in config or training:
        seed = config.get("seed")
        checks.append(("seed", _is_int(seed) and 0 <= seed < 2**63, "an int >= 0"))
    if training or all(k in config for k in _TRAINING):
        checks += [
            ("optimizer", isinstance(config["optimizer"], str)
             and config["optimizer"] in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            ("lr", _is_number(config["lr"]) and 0 < config["lr"] <= 1e3, "a number in (0, 1e3]"),
            ("batch_size", _is_int(config["batch_size"]) and 1 <= config["batch_size"] <= 10**6,
             "an int in [1, 10**6]"),
            ("epochs", _is_int(config["epochs"]) and 1 <= config["epochs"] <= 10**6,
             "an int in [1, 10**6]"),
            ("patience", _is_int(config["patience"]) and 0 <= config["patience"] <= 10**6,
             "an int in [0, 10**6]"),
            ("weight_decay", _is_number(config["weight_decay"])
             and 0 <= config["weight_decay"] <= 1e3, "a number in [0, 1e3]"),
            ("scheduler", config["scheduler"] in SCHEDULERS, f"one of {', '.join(SCHEDULERS)}"),
            ("val_fraction", _is_number(config["val_fraction"])
             and 0 <= config["val_fraction"] < 1, "a number in [0, 1)"),
        ]
    for name, ok, what in checks:
        if not ok:
            raise bad(name, what)
    if width is not None and not has_width(config["model"]):
        raise bad("width", f"null (model {config['model']!r} has no width option)")
    task = config["task"]
    if not supports(config["model"], task):
        raise RecipeError(f"{where}: model {config['model']!r} can't be trained for the "
                          f"{task} task of dataset {config['dataset']!r}; models for it: "
                          f"{', '.join(models_for(task))}")
    if task == "forecast":
        for name in SERIES_OPTIONS:
            if name not in config:
                raise RecipeError(f"{where}: field {name!r} is missing (a forecast's window)")
        horizon, input_len = config["horizon"], config["input_len"]
        if not (_is_int(horizon) and 1 <= horizon <= MAX_HORIZON):
            raise bad("horizon", f"an int in [1, {MAX_HORIZON:,}]")
        if horizon != outputs:
            raise bad("horizon", f"num_outputs ({outputs})")
        if not (_is_int(input_len) and 1 <= input_len <= MAX_INPUT_SIZE):
            raise bad("input_len", f"an int in [1, {MAX_INPUT_SIZE:,}]")
        if shape != [input_len, 1]:
            raise bad("input_shape", f"[input_len, 1] = [{input_len}, 1]")
    else:
        for name in SERIES_OPTIONS:
            if config.get(name) is not None:
                raise bad(name, f"absent (a {task} run has no forecast window)")
    n = estimated_params(config)
    if n is not None and n > MAX_PARAMS:
        raise RecipeError(f"{where}: fields 'input_shape' {shape} and 'num_outputs' {outputs} "
                          f"ask for about {n:,} parameters (more than {MAX_PARAMS:,})")
    return config


def build_model(config: Mapping[str, Any]):
    """The zoo model of a (validated) config; RecipeError if it can't take the inputs."""
    from zengrad.train.zoo import ModelUnavailableError
    from zengrad.train.zoo import build_model as zoo_build

    try:
        return zoo_build(config["model"], tuple(config["input_shape"]),
                         int(config["num_outputs"]), width=config.get("width"),
                         task=config["task"])
    except ModelUnavailableError as e:
        raise RecipeError(str(e)) from None


def check_model_fits(model: str, splits, width: int | None = None) -> None:
    """RecipeError (before any training) when `model` can't take the dataset's inputs."""
    make_config(splits, model=model, width=width, val_fraction=0.1, patience=0)
    from zengrad.train.zoo import ModelUnavailableError
    from zengrad.train.zoo import build_model as zoo_build

    try:  # the zoo's own shape checks, without allocating the weights twice later
        zoo_build(model, tuple(splits.input_shape), splits.num_outputs, width=width,
                  task=splits.task)
    except ModelUnavailableError as e:
        raise RecipeError(str(e)) from None


# ----- one fit -------------------------------------------------------------------------------
def make_scheduler(name: str, optimizer, epochs: int):
    """The LR scheduler of `name` ('none' -> None), stepped once per epoch by the Trainer:
    cosine annealing to 0 over `epochs`, or ReduceLROnPlateau(patience=2) on val_loss (on
    loss without validation)."""
    from zengrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau

    if name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "plateau":
        return ReduceLROnPlateau(optimizer, patience=2)
    if name != "none":
        raise RecipeError(f"unknown scheduler {name!r}; available: {', '.join(SCHEDULERS)}")
    return None


@dataclass
class Prepared:
    """A model, its optimizer, loaders and callbacks, ready to fit (see prepare)."""

    config: dict[str, Any]
    trainer: Any
    train_loader: Any
    val_loader: Any

    @property
    def model(self):
        return self.trainer.model

    def fit(self, resume_from: str | os.PathLike | None = None):
        """Train to config['epochs'] epochs (continuing a checkpoint); returns the History."""
        return self.trainer.fit(self.train_loader, self.val_loader,
                                epochs=self.config["epochs"], resume_from=resume_from)


def prepare(config: Mapping[str, Any], splits=None, callbacks: Sequence = (),
            verbose: int = 0, device=None) -> Prepared:
    """Seed, build the model, optimizer, scheduler, hold-out loaders and callbacks of a
    config: [early stopping (patience > 0, restoring the best weights), *callbacks].
    device ('cuda', ...; None: the CPU) is where the Trainer puts the model and batches;
    it is not part of the config (a run resumes on any device)."""
    import zengrad as zg
    from zengrad import backend
    from zengrad.data import DataLoader, TensorDataset
    from zengrad.train.callbacks import EarlyStopping
    from zengrad.train.trainer import Trainer

    config = dict(config)
    if device is not None:  # before any work: a missing CuPy is reported first
        device = backend.check_device(device, "device")
    splits = splits if splits is not None else splits_of(config)
    spec = task_spec(config["task"])
    zg.manual_seed(config["seed"])  # the same initialization for equal configs
    model = build_model(config)
    opt = make_optimizer(config["optimizer"], model.parameters(), config["lr"],
                         config["weight_decay"])
    tr_idx, val_idx = holdout(len(splits.x_train), config["val_fraction"], config["seed"],
                              ordered=spec.ordered)
    train_loader = DataLoader(TensorDataset(splits.x_train[tr_idx], splits.y_train[tr_idx]),
                              config["batch_size"], shuffle=True, seed=config["seed"])
    val_loader = None
    if val_idx is not None:
        val_loader = DataLoader(TensorDataset(splits.x_train[val_idx],
                                              splits.y_train[val_idx]), EVAL_BATCH_SIZE)
    cbs: list = []
    if config["patience"] > 0:
        cbs.append(EarlyStopping("val_loss", patience=config["patience"],
                                 restore_best_weights=True))
    cbs += list(callbacks)
    # the Trainer steps its scheduler first each epoch and saves its state in checkpoints
    trainer = Trainer(model, spec.loss(), opt,
                      scheduler=make_scheduler(config["scheduler"], opt, config["epochs"]),
                      metrics=spec.metrics, callbacks=cbs, verbose=min(verbose, 1),
                      device=device)
    return Prepared(config, trainer, train_loader, val_loader)


def fit(config: Mapping[str, Any], splits=None, callbacks: Sequence = (), verbose: int = 0,
        resume_from: str | os.PathLike | None = None):
    """prepare(config, ...) and fit it; returns the Trainer (its history, its model)."""
    prepared = prepare(config, splits, callbacks, verbose)
    prepared.fit(resume_from)
    return prepared.trainer


def evaluate_test(trainer, splits, x: np.ndarray | None = None, y: np.ndarray | None = None,
                  preprocessing=None) -> dict[str, float]:
    """The trainer's loss and metrics on the test split, and the task's test metrics (a
    forecast's RMSE/MAE in the series' units against the baselines). x, y: the test split
    as the model takes it when its preprocessing (that of its outputs) differs from the
    split's own (default: splits.x_test, y_test, splits' preprocessing)."""
    from zengrad.data import DataLoader, TensorDataset

    x = splits.x_test if x is None else x
    y = splits.y_test if y is None else y
    metrics = trainer.evaluate(DataLoader(TensorDataset(x, y), EVAL_BATCH_SIZE))
    spec = task_spec(splits.task)
    if spec.test_metrics is not None:
        metrics |= spec.test_metrics(trainer.predict(x), splits, preprocessing)
    return metrics


# ----- run folders ---------------------------------------------------------------------------
CHECKPOINT = "checkpoint.safetensors"
PENDING = "pending.json"  # in an unfinished run folder: where it goes when done
RUN_FILES = ("config.json", "model.safetensors", "trials.csv", "best.json")


def write_run(folder: str | os.PathLike, trainer, config: Mapping[str, Any], splits,
              test: Mapping[str, float], seconds: float) -> list[str]:
    """Write a run: model.safetensors (config in its metadata), config.json,
    preprocessing.json, history.csv/.json, metrics.json and plots; returns the names."""
    from zengrad.data.preprocessing import Preprocessing
    from zengrad.io import atomic_write_text, save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    history = trainer.history
    text = json.dumps(dict(config))
    save(trainer.model, folder / "model.safetensors", metadata={"config": text})
    atomic_write_text(folder / "config.json", json.dumps(dict(config), indent=1) + "\n")
    # a copy: record_range sets the range on its Preprocessing, and splits are shared
    pre = Preprocessing.from_dict(splits.fitted_preprocessing().to_dict())
    atomic_write_text(folder / "preprocessing.json", json.dumps(
        pre.record_range(splits.x_train).to_dict(), indent=1) + "\n")
    history.to_csv(folder / "history.csv")
    history.to_json(folder / "history.json")
    atomic_write_text(folder / "metrics.json", json.dumps(
        {"test": dict(test), "epochs_run": len(history), "train_seconds": seconds},
        indent=1) + "\n")
    written = ["model.safetensors", "config.json", "preprocessing.json", "history.csv",
               "history.json", "metrics.json"]
    try:
        from zengrad import viz

        viz.plot_learning_curves(history, folder / "learning_curves.png",
                                 title=f"{config['model']} on {config['dataset']}")
        written.append("learning_curves.png")
        report = task_spec(config["task"]).report
        if report is not None:
            written += report(trainer, splits, folder, config)
    except ImportError as e:
        print(f"zengrad: no plots: {e}", file=sys.stderr)
    return written


def _holds_run(path: Path) -> bool:
    return any((path / name).exists() for name in RUN_FILES)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def check_destination(out: Path, explicit: bool, overwrite: bool) -> None:
    """RecipeError if a run can't be placed at out: out is a file, or (explicit) an existing
    folder that holds other files, or a run and overwrite is not set."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RecipeError(f"{out} exists and is not a folder")
    if not explicit or not out.exists() or not any(out.iterdir()):
        return
    if not _holds_run(out):
        raise RecipeError(f"{out} exists and holds files that are not a zengrad run; "
                          "choose another --out")
    if not overwrite:
        raise RecipeError(f"{out} already holds a run; pass --overwrite to replace it, or "
                          "choose another --out")


@dataclass
class RunDir:
    """A run folder written as one unit: files go to `tmp` (beside `out`), commit() renames
    it into place. explicit: `out` was asked for by name (an existing run there is refused
    unless overwrite); otherwise a taken `out` gets a free `out-2`, `out-3`, ... at commit."""

    out: Path
    explicit: bool = False
    overwrite: bool = False
    tmp: Path = field(init=False)
    replaced: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        check_destination(self.out, self.explicit, self.overwrite)
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        self.tmp.mkdir(parents=True, exist_ok=False)
        self._write_pending()

    def _write_pending(self) -> None:
        from zengrad.io import atomic_write_text

        atomic_write_text(self.tmp / PENDING, json.dumps(
            {"out": str(self.out), "explicit": self.explicit, "overwrite": self.overwrite,
             "pid": os.getpid()}) + "\n")

    @classmethod
    def adopt(cls, tmp: str | os.PathLike) -> RunDir:
        """The unfinished run folder `tmp` (its pending.json says where it goes)."""
        tmp = Path(tmp)
        where = tmp / PENDING
        try:
            info = json.loads(where.read_text())
            out, explicit, overwrite, pid = (Path(info["out"]), bool(info["explicit"]),
                                             bool(info["overwrite"]), int(info["pid"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RecipeError(f"{where}: not an unfinished zengrad run ({e})") from None
        if _pid_alive(pid):
            raise RecipeError(f"{tmp} is still being written by process {pid}")
        run = cls.__new__(cls)
        run.out, run.explicit, run.overwrite, run.replaced, run.tmp = (out, explicit,
                                                                       overwrite, False, tmp)
        run._write_pending()  # now ours: a second resume of it is refused
        return run

    def _free_name(self) -> Path:
        candidate, k = self.out, 1
        while candidate.exists():
            k += 1
            candidate = self.out.parent / f"{self.out.name}-{k}"
        return candidate

    def commit(self) -> Path:
        """Rename the finished folder into place; returns where it went."""
        (self.tmp / PENDING).unlink(missing_ok=True)
        (self.tmp / CHECKPOINT).unlink(missing_ok=True)
        if not self.explicit:
            while True:
                dest = self._free_name()
                try:
                    os.rename(self.tmp, dest)  # fails if another run took dest meanwhile
                    return dest
                except OSError:
                    if not dest.exists():
                        raise
        check_destination(self.out, self.explicit, self.overwrite)
        out = self.out
        if out.exists():
            if any(out.iterdir()):  # an old run, and overwrite was asked for
                aside = out.parent / f".{out.name}.old-{os.getpid()}"
                os.rename(out, aside)
                os.rename(self.tmp, out)
                shutil.rmtree(aside, ignore_errors=True)
                self.replaced = True
                return out
            out.rmdir()
        os.rename(self.tmp, out)
        return out

    def discard(self) -> None:
        """Remove the unfinished folder."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def find_unfinished(run: str | os.PathLike) -> Path:
    """The unfinished run folder of `run`: the folder itself (holding pending.json), or the
    one left beside a destination path (runs/lenet_digits, or the name lenet_digits under
    runs/); RecipeError when there is none or more than one."""
    path = Path(run)
    if (path / PENDING).is_file():
        return path
    bases = [path] if path.parent != Path(".") or path.exists() else [path, Path("runs") / path]
    found: list[Path] = []
    for base in bases:
        if base.parent.is_dir():
            found += sorted(p for p in base.parent.glob(f".{base.name}.tmp-*")
                            if (p / PENDING).is_file())
    if not found:
        raise RecipeError(f"no unfinished run for {run} (looked for "
                          f"{', '.join(str(b.parent / f'.{b.name}.tmp-*') for b in bases)})")
    if len(found) > 1:
        raise RecipeError(f"several unfinished runs for {run}: "
                          f"{', '.join(map(str, found))}; pass one of them to --resume")
    return found[0]


@dataclass
class TrainResult:
    trainer: Any
    config: dict[str, Any]
    test: dict[str, float]
    seconds: float
    written: list[str]


def train_into(folder: str | os.PathLike, config: Mapping[str, Any], splits=None,
               verbose: int = 0, checkpoint: bool = True, resume: bool = False,
               on_prepared: Callable[[Prepared], None] | None = None,
               device=None) -> TrainResult:
    """Train a config on device (None: the CPU), writing the run into `folder`:
    config.json first, a checkpoint after every epoch (checkpoint=True; resume=True
    continues from it when present), then the run's files (write_run) and no checkpoint."""
    from zengrad.io import atomic_write_text
    from zengrad.train.callbacks import ModelCheckpoint

    folder = Path(folder)
    config = dict(config)
    splits = splits if splits is not None else splits_of(config)
    atomic_write_text(folder / "config.json", json.dumps(config, indent=1) + "\n")
    ckpt = folder / CHECKPOINT
    callbacks = [ModelCheckpoint(ckpt)] if checkpoint else []
    prepared = prepare(config, splits, callbacks, verbose, device=device)
    if on_prepared is not None:
        on_prepared(prepared)
    start = time.perf_counter()
    prepared.fit(resume_from=ckpt if resume and ckpt.is_file() else None)
    seconds = time.perf_counter() - start
    test = evaluate_test(prepared.trainer, splits)
    written = write_run(folder, prepared.trainer, config, splits, test, seconds)
    with contextlib.suppress(FileNotFoundError):
        ckpt.unlink()
    return TrainResult(prepared.trainer, config, test, seconds, written)


def load_run(run: str | os.PathLike) -> tuple[dict[str, Any], Path, Any]:
    """(validated config, weights path, Preprocessing or None) of a run folder or of a
    weights file beside its config.json; RecipeError naming the file and the field."""
    from zengrad.data.preprocessing import Preprocessing

    path = Path(run)
    if path.is_dir():
        weights, config_path = path / "model.safetensors", path / "config.json"
    elif path.is_file():
        weights, config_path = path, path.parent / "config.json"
    else:
        raise RecipeError(f"no such run folder or weights file: {run}")
    if not weights.is_file():
        raise RecipeError(f"{path}: no model.safetensors in the run folder")
    if not config_path.is_file():
        raise RecipeError(f"{weights}: no config.json beside it (written by zengrad train)")
    config = read_json(config_path)
    validate_config(config, str(config_path))
    pre_path = config_path.parent / "preprocessing.json"
    pre = None
    if pre_path.is_file():
        try:
            pre = Preprocessing.from_dict(read_json(pre_path), str(pre_path))
        except ValueError as e:
            raise RecipeError(str(e)) from None
        if list(pre.input_shape) != list(config["input_shape"]):
            raise RecipeError(f"{pre_path}: field 'input_shape' {list(pre.input_shape)} "
                              f"doesn't match config.json's {config['input_shape']}")
    return config, weights, pre


def read_json(path: Path, limit: int = 64 * 2**20) -> Any:
    """A small JSON file's value; RecipeError naming the file when it's not JSON."""
    try:
        if path.stat().st_size > limit:
            raise RecipeError(f"{path}: {path.stat().st_size:,} bytes, more than a run file "
                              f"holds ({limit:,})")
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        if isinstance(e, RecipeError):
            raise
        raise RecipeError(f"{path}: not valid JSON ({e})") from None


def restore(config: Mapping[str, Any], weights: str | os.PathLike):
    """The config's model with the weights loaded, in eval mode."""
    from zengrad.io import load_into

    model = build_model(config)
    load_into(model, weights)
    model.eval()
    return model


# ----- tuning ----------------------------------------------------------------------------------
WEIGHT_DECAY_RANGE, WEIGHT_DECAY_GRID = (1e-6, 1e-2), (1e-5, 1e-3)
BATCH_SIZES, BATCH_SIZE_GRID = (16, 32, 64, 128), (32, 128)
# (low, high, step, log) of the width and its grid, for the models that have one
WIDTHS: dict[str, tuple[tuple[int, int, int, bool], tuple[int, ...]]] = {
    "mlp": ((16, 512, 1, True), (64, 256)),
    "resnet": ((8, 32, 8, False), (8, 16)),
    "resnet8": ((8, 32, 8, False), (8, 16)),
    "resnet20": ((8, 32, 8, False), (8, 16)),
    "lstm": ((16, 128, 1, True), (32, 64)),
}
SETUP_KEY = "setup"  # user attr of every trial: what it tuned (checked when a study resumes)


def width_range(model: str) -> tuple[int, int, int, bool] | None:
    """The width range of a model whose zoo builder takes `width`, else None."""
    from zengrad.train.zoo import has_width

    return WIDTHS[model][0] if model in WIDTHS and has_width(model) else None


@dataclass(frozen=True)
class SearchSpace:
    """What a trial suggests: lr, weight_decay, batch_size and (if set) width."""

    lr: tuple[float, float]
    weight_decay: tuple[float, float]
    batch_sizes: tuple[int, ...]
    width: tuple[int, int, int, bool] | None = None

    @classmethod
    def for_model(cls, model: str, optimizer: str) -> SearchSpace:
        return cls(OPTIMIZERS[optimizer].lr_range, WEIGHT_DECAY_RANGE, BATCH_SIZES,
                   width_range(model))

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
    grid = {"lr": list(OPTIMIZERS[optimizer].lr_grid), "weight_decay": list(WEIGHT_DECAY_GRID),
            "batch_size": list(BATCH_SIZE_GRID)}
    if width_range(model) is not None:
        grid["width"] = list(WIDTHS[model][1])
    return grid


@dataclass(frozen=True)
class TuneObjective:
    """A study's objective: train one configuration, return the last epoch's monitored
    validation value. A frozen dataclass of plain values so that worker processes can
    unpickle it."""

    model: str
    dataset: str
    optimizer: str
    scheduler: str
    epochs: int
    seed: int
    val_fraction: float
    space: SearchSpace
    horizon: int | None = None  # a forecast's window (None: not a time series)
    input_len: int | None = None

    def setup(self) -> dict[str, Any]:
        setup = {"model": self.model, "dataset": self.dataset, "optimizer": self.optimizer,
                 "scheduler": self.scheduler, "epochs": self.epochs, "seed": self.seed,
                 "val_fraction": self.val_fraction}
        if self.horizon is not None:
            setup |= {"horizon": self.horizon, "input_len": self.input_len}
        return setup

    def config(self, params: Mapping[str, Any], val_fraction: float | None = None) -> dict:
        """The run config of one trial's parameters (val_fraction 0: the whole split)."""
        splits = load_splits(self.dataset, self.seed, self.horizon, self.input_len)
        return make_config(splits, model=self.model, optimizer=self.optimizer,
                           lr=float(params["lr"]), batch_size=int(params["batch_size"]),
                           epochs=self.epochs, patience=0,
                           weight_decay=float(params["weight_decay"]),
                           scheduler=self.scheduler,
                           val_fraction=self.val_fraction if val_fraction is None
                           else val_fraction, seed=self.seed,
                           width=None if "width" not in params else int(params["width"]))

    def __call__(self, trial: Any) -> float:
        from zengrad.tune import PruningCallback

        params = self.space.suggest(trial)
        trial.set_user_attr(SETUP_KEY, self.setup())
        config = self.config(params)
        monitor, _ = monitor_of(config["task"])
        trainer = fit(config, callbacks=[PruningCallback(trial, monitor)])
        return float(trainer.history[monitor][-1])


__all__ = [
    "CHECKPOINT", "DEFAULT_BATCH_SIZE", "DEFAULT_IMAGE_MODEL", "EVAL_BATCH_SIZE",
    "FAMILY_DEFAULTS", "OPTIMIZERS", "OptimizerSpec", "Prepared", "RecipeError", "RunDir",
    "SCHEDULERS", "SETUP_KEY", "SearchSpace", "TASKS", "TaskSpec", "TrainResult",
    "TuneObjective", "build_model", "check_destination", "check_model_fits", "default_grid",
    "DEFAULT_FORECAST_MODEL", "SERIES_OPTIONS", "dataset_options", "default_lr",
    "forecast_window",
    "default_model", "estimated_params", "evaluate_test", "family_defaults", "family_of",
    "find_unfinished", "fit", "holdout", "load_run", "load_splits", "make_config",
    "same_scaling", "series_datasets", "splits_of",
    "make_optimizer", "monitor_of", "open_npy", "prepare", "read_json", "restore",
    "make_scheduler", "softmax", "task_spec", "train_into", "validate_config",
    "width_range", "write_run",
]


# ----- prediction inputs ---------------------------------------------------------------------
def open_npy(path: str | os.PathLike) -> np.ndarray:
    """A numeric .npy array of shape (N, ...), N >= 1, memory-mapped (read as used).

    The header is read and checked first: an .npz archive, an empty or truncated file, a 0-d
    array, a non-numeric or object dtype (never unpickled), or a header claiming more bytes
    than the file holds are refused with a RecipeError naming the file, before anything is
    allocated."""
    from numpy.lib import format as npy

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise RecipeError(f"{path}: empty file (0 bytes); expected an array saved with "
                          "numpy.save")
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise RecipeError(f"{path}: an .npz archive; save the inputs as one array with "
                              "numpy.save (.npy)")
        f.seek(0)
        try:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(f)
            else:
                raise ValueError(f"npy format version {version[0]}.{version[1]} is not "
                                 "supported (1.0 and 2.0 are)")
        except (ValueError, OSError, EOFError, SyntaxError) as e:
            raise RecipeError(f"{path}: not a readable .npy file ({e})") from None
        offset = f.tell()
    if dtype.hasobject:
        raise RecipeError(f"{path}: the array holds Python objects ({dtype}); zengrad never "
                          "unpickles them (allow_pickle=False): save numbers")
    if dtype.kind not in "fiub":
        raise RecipeError(f"{path}: numeric inputs expected, got dtype {dtype}")
    if len(shape) == 0:
        raise RecipeError(f"{path}: holds a 0-d array (one number); inputs of shape (N, ...) "
                          "expected")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > size - offset:
        raise RecipeError(f"{path}: the header claims shape {tuple(shape)} ({claimed:,} bytes "
                          f"of {dtype}) but the file holds {size - offset:,} bytes of data "
                          "(truncated or damaged)")
    if math.prod(shape) == 0:
        raise RecipeError(f"{path}: holds no samples (shape {tuple(shape)})")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise RecipeError(f"{path}: can't read it: {e}") from None

