"""The `zengrad` command: train | evaluate | predict | tune | info (also `python -m zengrad`).

    zengrad train --model mlp --dataset digits --epochs 20 --out runs/digits
    zengrad evaluate runs/digits
    zengrad predict runs/digits --input images.npy --output labels.npy
    zengrad tune --model mlp --dataset digits --sampler gp --n-trials 20 --retrain
    zengrad info

A run folder holds model.safetensors (weights), config.json (what evaluate/predict need to
rebuild the model and data), history.csv / history.json, metrics.json (test metrics) and
learning_curves.png. Bad arguments give a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

_OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw")
_DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.05, "rmsprop": 1e-3, "adam": 1e-3,
               "adamw": 1e-3}
# Recipes per model family, used for every option the user leaves out. CNNs: SGD with
# momentum on a cosine schedule for a fixed number of epochs (early stopping on a small
# validation slice picked noisy epochs); MLPs: Adam with early stopping.
_RECIPES = {
    "cnn": {"optimizer": "momentum", "epochs": 30, "patience": 0, "scheduler": "cosine"},
    "mlp": {"optimizer": "adam", "epochs": 20, "patience": 5, "scheduler": "none"},
}
DEFAULT_MODEL = "lenet"  # for image datasets; the MLP for the others


def _recipe(model: str) -> dict:
    return _RECIPES["mlp" if model == "mlp" else "cnn"]


class UsageError(Exception):
    """A bad command line value found after parsing (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind, low: float, inclusive: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None
        ok = value >= low if inclusive else value > low
        if not ok or value != value:  # also rejects NaN
            op = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be {op} {low}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _dataset_names() -> list[str]:
    from zengrad.data.datasets import list_datasets

    return list_datasets()


def _model_names() -> list[str]:
    from zengrad.train.zoo import MODELS

    return list(MODELS)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zengrad", description="Train and use zengrad models from the shell.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,predict,tune,info}")

    t = sub.add_parser("train", help="train a model on a bundled dataset",
                       description="Train a model on a bundled dataset and write a run folder.")
    t.add_argument("--model", default=None, choices=_model_names(),
                   help=f"(default: {DEFAULT_MODEL} for image datasets, mlp for the others)")
    t.add_argument("--dataset", default="digits", choices=_dataset_names(),
                   help="(default: digits)")
    t.add_argument("--optimizer", default=None, choices=_OPTIMIZERS,
                   help="(default: momentum for CNNs, adam for the MLP)")
    t.add_argument("--lr", type=_number(float, 0.0, False, "a number"), default=None,
                   help="learning rate (default: 1e-3 for adam/adamw/rmsprop, 0.1 sgd, "
                        "0.05 momentum/adagrad)")
    t.add_argument("--batch-size", type=_number(int, 1, True, "an integer"), default=32)
    t.add_argument("--epochs", type=_number(int, 1, True, "an integer"), default=None,
                   help="(default: 30 for CNNs, 20 for the MLP)")
    t.add_argument("--patience", type=_number(int, 0, True, "an integer"), default=None,
                   help="early stopping on the validation loss after this many epochs without "
                   "improvement, restoring the best weights; 0 turns it off "
                   "(default: 0 for CNNs, 5 for the MLP)")
    t.add_argument("--weight-decay", type=_number(float, 0.0, True, "a number"), default=0.0)
    t.add_argument("--scheduler", default=None, choices=("none", "cosine", "plateau"),
                   help="learning-rate schedule per epoch: cosine annealing to 0 over --epochs, "
                   "or ReduceLROnPlateau on the validation loss (default: cosine for CNNs, "
                   "none for the MLP)")
    t.add_argument("--val-fraction", type=_number(float, 0.0, False, "a number"), default=0.1,
                   help="share of the training split held out for validation (default 0.1)")
    t.add_argument("--seed", type=_number(int, 0, True, "an integer"), default=0)
    t.add_argument("--out", default=None, help="run folder (default: runs/MODEL_DATASET)")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 progress (default), 2 also the model")

    e = sub.add_parser("evaluate", help="test metrics of a trained run",
                       description="Evaluate a run folder (or a weights file beside its "
                                   "config.json) on its dataset's test split.")
    e.add_argument("run", help="run folder or .safetensors weights file")
    e.add_argument("--dataset", default=None, choices=_dataset_names(),
                   help="evaluate on another dataset with the same input shape")

    p = sub.add_parser("predict", help="predictions for inputs in a .npy file",
                       description="Run a trained model on the inputs in a .npy file.")
    p.add_argument("run", help="run folder")
    p.add_argument("--input", required=True, help=".npy file of inputs, shape (N, ...)")
    p.add_argument("--output", default=None,
                   help=".npy file for the predictions (default: print them)")
    p.add_argument("--batch-size", type=_number(int, 1, True, "an integer"), default=256)

    from zengrad.cli_tune import add_tune_parser

    add_tune_parser(sub)
    sub.add_parser("info", help="version, backend and library versions",
                   description="Print zengrad's version, backend, NumPy and BLAS details.")
    return parser


# ----- shared --------------------------------------------------------------------------
def _task_setup(task: str):
    """(loss module, metric names) for a task."""
    from zengrad.nn.loss import CrossEntropyLoss, MSELoss

    if task == "classification":
        return CrossEntropyLoss(), ("accuracy",)
    return MSELoss(), ("mse", "mae", "r2")


def _make_optimizer(name: str, params, lr: float, weight_decay: float):
    from zengrad import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _build(config: dict):
    from zengrad.train.zoo import ModelUnavailableError, build_model

    try:
        return build_model(config["model"], tuple(config["input_shape"]),
                           int(config["num_outputs"]), width=config.get("width"))
    except ModelUnavailableError as e:
        raise UsageError(str(e)) from None


def _print_metrics(title: str, metrics: dict) -> None:
    print(title + "  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


# ----- train -----------------------------------------------------------------------------
def _cmd_train(args) -> int:
    import numpy as np

    import zengrad as zg
    from zengrad.data import DataLoader, TensorDataset, get_dataset
    from zengrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau
    from zengrad.train import EarlyStopping, LRSchedulerCallback, Trainer

    if args.val_fraction >= 1.0:
        raise UsageError(f"--val-fraction must be < 1, got {args.val_fraction}")
    splits = get_dataset(args.dataset, seed=args.seed)
    if args.model is None:
        args.model = DEFAULT_MODEL if len(splits.input_shape) == 3 else "mlp"
    for key, value in _recipe(args.model).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    lr = args.lr if args.lr is not None else _DEFAULT_LR[args.optimizer]
    out = Path(args.out or f"runs/{args.model}_{args.dataset}")
    config = {
        "model": args.model, "dataset": args.dataset, "task": splits.task,
        "input_shape": list(splits.input_shape), "num_outputs": splits.num_outputs,
        "optimizer": args.optimizer, "lr": lr, "batch_size": args.batch_size,
        "epochs": args.epochs, "patience": args.patience, "weight_decay": args.weight_decay,
        "scheduler": args.scheduler,
        "val_fraction": args.val_fraction, "seed": args.seed,
        "zengrad_version": zg.__version__,
    }
    zg.manual_seed(args.seed)
    model = _build(config)
    if args.verbose >= 2:
        print(model)
    loss_fn, metrics = _task_setup(splits.task)
    opt = _make_optimizer(args.optimizer, model.parameters(), lr, args.weight_decay)

    # hold out part of the training split for early stopping; the test split stays unseen
    n = len(splits.x_train)
    order = np.random.default_rng(args.seed).permutation(n)
    n_val = max(1, int(round(args.val_fraction * n)))
    val_idx, tr_idx = order[:n_val], order[n_val:]
    train_loader = DataLoader(TensorDataset(splits.x_train[tr_idx], splits.y_train[tr_idx]),
                              args.batch_size, shuffle=True, seed=args.seed)
    val_loader = DataLoader(TensorDataset(splits.x_train[val_idx], splits.y_train[val_idx]),
                            512)
    test_loader = DataLoader(splits.test_dataset(), 512)

    callbacks: list = []
    if args.patience > 0:
        callbacks.append(EarlyStopping("val_loss", patience=args.patience,
                                       restore_best_weights=True))
    if args.scheduler == "cosine":
        callbacks.append(LRSchedulerCallback(CosineAnnealingLR(opt, T_max=args.epochs)))
    elif args.scheduler == "plateau":
        callbacks.append(LRSchedulerCallback(ReduceLROnPlateau(opt, patience=2),
                                             monitor="val_loss"))
    trainer = Trainer(model, loss_fn, opt, metrics=metrics, callbacks=callbacks,
                      verbose=min(args.verbose, 1))
    start = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=args.epochs)
    seconds = time.perf_counter() - start
    test = trainer.evaluate(test_loader)
    _write_run(out, model, trainer, config, history, test, seconds, splits)
    _print_metrics(f"test ({args.dataset}, {len(history)} epochs, {seconds:.1f}s):", test)
    print(f"run folder: {out}")
    return 0


def _write_run(out: Path, model, trainer, config: dict, history, test: dict, seconds: float,
               splits) -> None:
    """Write a run folder: weights, config, history, test metrics and plots."""
    from zengrad.io import atomic_write_text, save

    out.mkdir(parents=True, exist_ok=True)
    save(model, out / "model.safetensors", metadata={"config": json.dumps(config)})
    atomic_write_text(out / "config.json", json.dumps(config, indent=1) + "\n")
    history.to_csv(out / "history.csv")
    history.to_json(out / "history.json")
    atomic_write_text(out / "metrics.json", json.dumps(
        {"test": test, "epochs_run": len(history), "train_seconds": seconds}, indent=1) + "\n")
    try:
        from zengrad import viz

        viz.plot_learning_curves(history, out / "learning_curves.png",
                                 title=f"{config['model']} on {config['dataset']}")
        if splits.task == "classification":
            from zengrad.train.metrics import confusion_matrix

            pred = trainer.predict(splits.x_test)
            viz.plot_confusion_matrix(confusion_matrix(splits.y_test, pred,
                                                       splits.num_outputs),
                                      out / "confusion_matrix.png")
    except ImportError as e:
        print(f"zengrad: no plots: {e}", file=sys.stderr)


# ----- evaluate / predict --------------------------------------------------------------------
def _load_run(run: str) -> tuple[dict, Path]:
    path = Path(run)
    if path.is_dir():
        weights, config_path = path / "model.safetensors", path / "config.json"
    elif path.is_file():
        weights, config_path = path, path.parent / "config.json"
    else:
        raise UsageError(f"no such run folder or weights file: {run}")
    if not weights.is_file():
        raise UsageError(f"{path}: no model.safetensors in the run folder")
    if not config_path.is_file():
        raise UsageError(f"{weights}: no config.json beside it (written by zengrad train)")
    try:
        config = json.loads(config_path.read_text())
        for key in ("model", "dataset", "task", "input_shape", "num_outputs"):
            config[key]  # noqa: B018 - presence check
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UsageError(f"{config_path}: not a zengrad run config ({e})") from None
    return config, weights


def _restore(config: dict, weights: Path):
    from zengrad.io import load_into

    model = _build(config)
    load_into(model, weights)
    model.eval()
    return model


def _cmd_evaluate(args) -> int:
    from zengrad.data import DataLoader, get_dataset
    from zengrad.train import Trainer

    config, weights = _load_run(args.run)
    dataset = args.dataset or config["dataset"]
    splits = get_dataset(dataset, seed=int(config.get("seed", 0)))
    if list(splits.input_shape) != list(config["input_shape"]):
        raise UsageError(f"dataset {dataset!r} has inputs of shape {splits.input_shape}, the "
                         f"model takes {tuple(config['input_shape'])}")
    model = _restore(config, weights)
    loss_fn, metrics = _task_setup(config["task"])
    trainer = Trainer(model, loss_fn, None, metrics=metrics, verbose=0)
    result = trainer.evaluate(DataLoader(splits.test_dataset(), 512))
    _print_metrics(f"test ({dataset}, {len(splits.x_test)} samples):", result)
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    from zengrad.train import Trainer

    config, weights = _load_run(args.run)
    try:
        # allow_pickle=False: an .npy holding Python objects is refused, never unpickled
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"can't read {args.input}: {e}") from None
    shape = tuple(config["input_shape"])
    if x.ndim >= 1 and x.shape[1:] != shape:
        if x.ndim >= 2 and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
            x = x.reshape((len(x), *shape))
        else:
            raise UsageError(f"{args.input}: inputs have shape {x.shape}, the model takes "
                             f"(N, {', '.join(map(str, shape))})")
    if x.dtype.kind not in "fiub":
        raise UsageError(f"{args.input}: numeric inputs expected, got dtype {x.dtype}")
    model = _restore(config, weights)
    out = Trainer(model, None, None, metrics=(), verbose=0).predict(
        x.astype(np.float32, copy=False), batch_size=args.batch_size)
    pred = out.argmax(axis=1) if config["task"] == "classification" else out
    if args.output:
        import io

        from zengrad.io import atomic_write_bytes

        buf = io.BytesIO()
        np.save(buf, pred)
        atomic_write_bytes(args.output, buf.getvalue())
        print(f"wrote {len(pred)} predictions to {args.output}")
    else:
        for row in pred:
            print(row if np.ndim(row) == 0 else " ".join(f"{v:.6g}" for v in np.ravel(row)))
    return 0


# ----- info ---------------------------------------------------------------------------------
def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p.get('internal_api')} ({p.get('num_threads')} threads)"
                 for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return ", ".join(pools)
    except ImportError:
        pass
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS") if k in os.environ}
    return f"unknown (threadpoolctl not installed; env {env or 'unset'})"


def _cmd_info(_args) -> int:
    import importlib.util

    import numpy as np

    import zengrad as zg

    print(f"zengrad {zg.__version__}")
    print(f"backend: numpy (cpu), default dtype {zg.get_default_dtype()}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"numpy {np.__version__}")
    print(f"BLAS: {_blas_info()}")
    print(f"cpu cores: {os.cpu_count()}")
    extras = {"scikit-learn": "sklearn", "statsmodels": "statsmodels", "mlxtend": "mlxtend",
              "matplotlib": "matplotlib"}
    have = [n for n, mod in extras.items() if importlib.util.find_spec(mod) is not None]
    print(f"optional packages: {', '.join(have) or 'none'}")
    return 0


def _cmd_tune(args) -> int:
    from zengrad.cli_tune import cmd_tune

    return cmd_tune(args)


_COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
             "tune": _cmd_tune, "info": _cmd_info}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 bad usage)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code or 0)
    if args.version:
        import zengrad as zg

        print(f"zengrad {zg.__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except UsageError as e:
        print(f"zengrad {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a failure, not a usage error: one line, status 1
        print(f"zengrad {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
