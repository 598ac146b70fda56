"""The `zengrad` command: train | evaluate | predict | tune | info (also `python -m zengrad`).

    zengrad train --model mlp --dataset digits --epochs 20 --out runs/digits
    zengrad train --resume lenet_digits          # continue a killed run from its checkpoint
    zengrad train --model lstm --dataset sunspots --horizon 3   # forecast a time series
    zengrad evaluate runs/digits --device cuda   # --device: train, evaluate and predict
    zengrad predict runs/digits --input images.npy --output labels.npy
    zengrad tune --model mlp --dataset digits --sampler gp --n-trials 20 --retrain
    zengrad info

A run folder holds model.safetensors (weights), config.json (what evaluate/predict need to
rebuild the model), preprocessing.json (raw inputs -> model inputs), history.csv /
history.json, metrics.json (test metrics) and plots. A forecast run (sunspots, co2) reads
windows of --input-len steps and predicts the next --horizon; its test metrics are RMSE and
MAE in the series' units beside the naive and seasonal-naive forecasts', and forecast.png
plots it against the held-out tail. It is written as one unit (see
zengrad.train.recipe); a new run never replaces an old one without --overwrite. Bad
arguments give a one-line error and exit status 2. This module only parses and prints: the
recipe lives in zengrad.train.recipe.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import threading
from pathlib import Path

from zengrad.cli_args import (
    MODEL_HELP,
    Parser,
    UsageError,
    add_series_arguments,
    add_subparser,
    dataset_names,
    model_names,
    number,
    print_metrics,
)
from zengrad.train import recipe
from zengrad.train.recipe import RecipeError

# train options and their defaults (None: the recipe's default for the model family);
# --resume takes them all from the saved config, so it refuses any other value
TRAIN_DEFAULTS = {"model": None, "dataset": "digits", "optimizer": None, "lr": None,
                  "batch_size": recipe.DEFAULT_BATCH_SIZE, "epochs": None, "patience": None,
                  "weight_decay": 0.0, "scheduler": None, "val_fraction": 0.1, "seed": 0,
                  "horizon": None, "input_len": None, "out": None, "overwrite": False}


def _build_parser() -> Parser:
    parser = Parser(prog="zengrad", description="Train and use zengrad models from the shell.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,predict,export,tune,info}")

    t = add_subparser(sub, "train", help="train a model on a bundled dataset",
                      description="Train a model on a bundled dataset and write a run folder.")
    t.set_defaults(**TRAIN_DEFAULTS)
    t.add_argument("--model", choices=model_names(), help=MODEL_HELP)
    t.add_argument("--dataset", choices=dataset_names(), help="(default: digits)")
    add_series_arguments(t)
    t.add_argument("--optimizer", choices=list(recipe.OPTIMIZERS),
                   help="(default: momentum for CNNs, adam for the MLP and forecasts)")
    t.add_argument("--lr", type=number(float, 0.0, False, "a number"),
                   help="learning rate (default: 1e-3 for adam/adamw/rmsprop, 0.1 sgd, "
                        "0.05 momentum/adagrad; forecasts with adam: 1e-2, 3e-3 for the "
                        "transformer)")
    t.add_argument("--batch-size", type=number(int, 1, True, "an integer"),
                   help=f"(default: {recipe.DEFAULT_BATCH_SIZE})")
    t.add_argument("--epochs", type=number(int, 1, True, "an integer"),
                   help="(default: 30 for CNNs, 20 for the MLP, 40 for forecasts)")
    t.add_argument("--patience", type=number(int, 0, True, "an integer"),
                   help="early stopping on the validation loss after this many epochs without "
                   "improvement, restoring the best weights; 0 turns it off "
                   "(default: 5 for the MLP on tables and images, else 0)")
    t.add_argument("--weight-decay", type=number(float, 0.0, True, "a number"))
    t.add_argument("--scheduler", choices=recipe.SCHEDULERS,
                   help="learning-rate schedule per epoch: cosine annealing to 0 over --epochs, "
                   "or ReduceLROnPlateau on the validation loss (default: cosine for CNNs, "
                   "none for the MLP)")
    t.add_argument("--val-fraction", type=number(float, 0.0, False, "a number"),
                   help="share of the training split held out for validation, at random "
                        "(the latest windows of a time series) (default 0.1)")
    t.add_argument("--seed", type=number(int, 0, True, "an integer"), help="(default: 0)")
    t.add_argument("--out", help="run folder (default: runs/MODEL_DATASET, or MODEL_DATASET-2, "
                                 "-3, ... when that exists)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run in an existing --out (default: refuse)")
    t.add_argument("--resume", metavar="RUN",
                   help="continue a killed run from its last checkpoint: its name "
                        "(lenet_digits), destination (runs/lenet_digits) or unfinished folder; "
                        "the settings come from its saved config")
    t.add_argument("--nproc", type=number(int, 1, True, "an integer"), default=1,
                   help="data-parallel training on this many MPI ranks (mpiexec; the batch "
                        "size is the global one, split across them; needs zengrad[mpi])")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 progress (default), 2 also a model summary")
    _add_device_argument(t, "where to train", "; --resume may name another one")

    e = add_subparser(sub, "evaluate", help="test metrics of a trained run",
                      description="Evaluate a run folder (or a weights file beside its "
                                  "config.json) on its dataset's test split.")
    e.add_argument("run", help="run folder or .safetensors weights file")
    e.add_argument("--dataset", default=None, choices=dataset_names(),
                   help="evaluate on another dataset with the same input shape")
    _add_device_argument(e, "where to run the model")

    p = add_subparser(sub, "predict", help="predictions for inputs in a .npy file",
                      description="Run a trained model on raw inputs in a .npy file (as the "
                                  "dataset's source gives them: the run's preprocessing.json "
                                  "is applied).")
    p.add_argument("run", help="run folder")
    p.add_argument("--input", required=True,
                   help=".npy file of raw inputs, shape (N, ...) or (N, features)")
    p.add_argument("--output", default=None,
                   help=".npy file for the predictions (default: print them)")
    p.add_argument("--proba", action="store_true",
                   help="class probabilities (softmax) instead of class indices")
    p.add_argument("--preprocessed", action="store_true",
                   help="the inputs are already model inputs (preprocessing.json applied, as "
                        "zengrad's own dataset loaders give them): only reshape them")
    p.add_argument("--batch-size", type=number(int, 1, True, "an integer"), default=256)
    _add_device_argument(p, "where to run the model")

    from zengrad.cli_export import add_export_parser
    from zengrad.cli_tune import add_tune_parser

    add_export_parser(sub)
    add_tune_parser(sub)
    add_subparser(sub, "info", help="version, backend and library versions",
                  description="Print zengrad's version, backend, NumPy and BLAS details.")
    return parser


def _add_device_argument(parser, what: str, note: str = "") -> None:
    """--device of train, evaluate and predict: one wording, checked by _check_device."""
    parser.add_argument("--device", default=None,
                        help=f"{what}: cpu (default), cuda or cuda:N (an NVIDIA GPU; needs "
                             f"CuPy: pip install 'zengrad[cuda]'){note}")


# ----- train -----------------------------------------------------------------------------
def _cmd_train(args) -> int:
    from zengrad.distributed import launch

    _check_device(args.device)
    if args.nproc > 1 and not launch.launched():
        return launch.launch(args.nproc, args.argv)
    if launch.launched():
        import zengrad.distributed as dist

        dist.init_process_group("mpi")
        if dist.get_rank() > 0:
            return _train_other_rank(args)
    if args.resume is not None:
        return _resume(args)
    config, splits = _new_config(args)
    out = Path(args.out or f"runs/{config['model']}_{args.dataset}")
    run = recipe.RunDir(out, explicit=args.out is not None, overwrite=args.overwrite)
    return _train_in(run, config, splits, args.verbose, resume=False, device=args.device)


def _check_device(device: str | None) -> None:
    """--device names a device this machine has (CuPy and a GPU for 'cuda'), before any
    data is loaded."""
    if device is None:
        return
    from zengrad import backend

    try:
        backend.check_device(device, "--device")
    except RuntimeError as e:  # (DeviceUnavailableError, or an unknown device name)
        text = str(e)  # torch's unknown-name message doesn't say which option it was
        raise UsageError(text if text.startswith("--device") else f"--device: {text}") from None


def _new_config(args) -> tuple[dict, object]:
    if args.val_fraction >= 1.0:
        raise UsageError(f"--val-fraction must be < 1, got {args.val_fraction}")
    splits = recipe.load_splits(args.dataset, args.seed, args.horizon, args.input_len)
    config = recipe.make_config(
        splits, model=args.model, optimizer=args.optimizer, lr=args.lr,
        batch_size=args.batch_size, epochs=args.epochs, patience=args.patience,
        weight_decay=args.weight_decay, scheduler=args.scheduler,
        val_fraction=args.val_fraction, seed=args.seed)
    recipe.check_model_fits(config["model"], splits)
    return config, splits


def _train_other_rank(args) -> int:
    """A rank > 0 of `train --nproc`: trains alongside rank 0 (which alone writes the run
    folder), its own files going to a scratch folder that is removed."""
    import shutil
    import tempfile

    from zengrad.distributed.launch import share_text

    folder = Path(share_text(None))  # rank 0's unfinished run folder
    if args.resume is not None:
        config = recipe.validate_config(recipe.read_json(folder / "config.json"),
                                        str(folder / "config.json"), training=True)
        splits = recipe.splits_of(config)
    else:
        config, splits = _new_config(args)
    with tempfile.TemporaryDirectory(prefix="zengrad-rank-") as scratch:
        if args.resume is not None and (folder / recipe.CHECKPOINT).is_file():
            shutil.copy(folder / recipe.CHECKPOINT, Path(scratch) / recipe.CHECKPOINT)
        recipe.train_into(scratch, config, splits, verbose=0, resume=args.resume is not None,
                          device=args.device)
    return 0


def _resume(args) -> int:
    given = [f"--{k.replace('_', '-')}" for k, v in TRAIN_DEFAULTS.items()
             if getattr(args, k) != v]
    if given:
        raise UsageError(f"--resume takes the settings from the run's saved config; drop "
                         f"{', '.join(given)}")
    tmp = recipe.find_unfinished(args.resume)
    run = recipe.RunDir.adopt(tmp)
    where = tmp / "config.json"
    if not where.is_file():
        raise UsageError(f"{tmp}: no config.json (the run was killed before it started)")
    config = recipe.validate_config(recipe.read_json(where), str(where), training=True)
    splits = recipe.splits_of(config)
    if list(splits.input_shape) != config["input_shape"]:
        raise UsageError(f"{where}: field 'input_shape' {config['input_shape']} doesn't match "
                         f"dataset {config['dataset']!r} ({list(splits.input_shape)})")
    has_ckpt = (tmp / recipe.CHECKPOINT).is_file()
    print(f"resuming {tmp} " + ("from its last checkpoint" if has_ckpt
                                else "from the start (no checkpoint was written)"))
    return _train_in(run, config, splits, args.verbose, resume=True, device=args.device)


def _train_in(run: recipe.RunDir, config: dict, splits, verbose: int, resume: bool,
              device: str | None = None) -> int:
    def show(prepared: recipe.Prepared) -> None:
        if verbose >= 2:
            from zengrad.nn.utils import summary

            print(summary(prepared.model, (1, *config["input_shape"])))

    from zengrad.distributed import launch

    if launch.launched():  # rank 0 tells the other ranks where the run is
        launch.share_text(str(run.tmp))
    try:
        result = recipe.train_into(run.tmp, config, splits, verbose=verbose, resume=resume,
                                   on_prepared=show, device=device)
        final = run.commit()
    except BaseException:
        if (run.tmp / recipe.CHECKPOINT).is_file():
            print(f"zengrad train: the unfinished run is kept in {run.tmp}; continue it with "
                  f"`zengrad train --resume {run.tmp}`", file=sys.stderr)
        else:
            run.discard()
        raise
    epochs = len(result.trainer.history)
    print_metrics(f"test ({config['dataset']}, {epochs} epochs, {result.seconds:.1f}s):",
                   result.test, config)
    note = ""
    if final != run.out:
        note = f" ({run.out} already exists)"
    elif run.replaced:
        note = " (replaced the run that was there)"
    print(f"run folder: {final}{note}")
    return 0


# ----- evaluate / predict --------------------------------------------------------------------
def _cmd_evaluate(args) -> int:
    from zengrad.train import Trainer

    _check_device(args.device)
    config, weights, pre = recipe.load_run(args.run)
    dataset = args.dataset or config["dataset"]
    task = recipe.load_splits(dataset, int(config.get("seed", 0))).task
    if task != config["task"]:
        raise UsageError(f"dataset {dataset!r} is a {task} task, the model was trained "
                         f"for {config['task']}")
    splits = recipe.splits_of(config, dataset)  # a forecast's windows as the run's
    if list(splits.input_shape) != list(config["input_shape"]):
        raise UsageError(f"dataset {dataset!r} has inputs of shape {splits.input_shape}, the "
                         f"model takes {tuple(config['input_shape'])}")
    x, y = splits.x_test, splits.y_test
    own = splits.fitted_preprocessing()
    if pre is not None and not recipe.same_scaling(pre, own):
        # the run's own scaling of the raw test inputs (and targets), not this dataset's
        x = pre.transform(own.inverse_transform(x))
        if config["task"] != "classification":
            y = pre.transform_target(own.inverse_transform_target(y))
    model = recipe.restore(config, weights)
    spec = recipe.task_spec(config["task"])
    trainer = Trainer(model, spec.loss(), None, metrics=spec.metrics, verbose=0,
                      device=args.device)
    result = recipe.evaluate_test(trainer, splits, x, y, pre)
    print_metrics(f"test ({dataset}, {len(x)} samples):", result, config)
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    from zengrad import backend
    from zengrad.autograd.engine import no_grad
    from zengrad.autograd.tensor import Tensor
    from zengrad.data.preprocessing import Preprocessing

    _check_device(args.device)
    config, weights, pre = recipe.load_run(args.run)
    if pre is None:
        print(f"zengrad predict: {args.run} has no preprocessing.json (an older run): the "
              "inputs are used as given", file=sys.stderr)
        pre = Preprocessing(tuple(config["input_shape"]))
    spec = recipe.task_spec(config["task"])
    if args.proba and config["task"] != "classification":
        raise UsageError(f"--proba gives class probabilities; {args.run} is a "
                         f"{config['task']} model")
    x = recipe.open_npy(args.input)
    try:
        pre.check_shape(x.shape, args.input)
    except ValueError as e:
        raise UsageError(str(e)) from None

    def batches():  # one batch in memory at a time
        for i in range(0, len(x), args.batch_size):
            batch = np.asarray(x[i:i + args.batch_size]).reshape(-1, *pre.input_shape)
            if not np.isfinite(batch.astype(np.float64, copy=False)).all():
                row = i + int(np.argwhere(~np.isfinite(
                    batch.reshape(len(batch), -1).astype(np.float64))).min(axis=0)[0])
                raise UsageError(f"{args.input}: sample {row} holds NaN or infinity")
            yield batch

    if args.preprocessed:
        pre = Preprocessing(pre.input_shape, y_scaler=pre.y_scaler)
    else:  # a first pass over the file: are these raw inputs in the training data's units?
        low = high = None
        for batch in batches():
            bl, bh = batch.min(axis=0), batch.max(axis=0)
            low = bl if low is None else np.minimum(low, bl)
            high = bh if high is None else np.maximum(high, bh)
        try:
            pre.check_raw(low, high, args.input)
        except ValueError as e:
            raise UsageError(str(e)) from None
    model = recipe.restore(config, weights)
    if args.device is not None:
        model.to(args.device)
    preds = []
    with no_grad():
        for batch in batches():
            x_in = Tensor(pre.transform(batch, args.input))
            if args.device is not None:
                x_in = x_in.to(args.device)
            out = backend.asnumpy(model(x_in).array)  # the outputs come back to the host
            pred = recipe.softmax(out) if args.proba else spec.predictions(out, pre)
            if args.output:
                preds.append(pred)
            else:
                for r in pred:
                    print(r if np.ndim(r) == 0 else " ".join(f"{v:.6g}" for v in np.ravel(r)))
    if args.output:
        import io

        from zengrad.io import atomic_write_bytes

        buf = io.BytesIO()
        np.save(buf, np.concatenate(preds), allow_pickle=False)
        atomic_write_bytes(args.output, buf.getvalue())
        what = "class probabilities" if args.proba else "predictions"
        print(f"wrote {len(x)} {what} to {args.output}")
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
    if zg.cuda.is_available():  # (imports CuPy only when it is installed)
        print(f"cuda: cupy, {zg.cuda.device_count()} GPU(s): {zg.cuda.get_device_name()} "
              "(--device cuda)")
    else:
        print("cuda: not available (an NVIDIA GPU and pip install 'zengrad[cuda]' give "
              "--device cuda)")
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


def _cmd_export(args) -> int:
    from zengrad.cli_export import cmd_export

    return cmd_export(args)


_COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
             "export": _cmd_export, "tune": _cmd_tune, "info": _cmd_info}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 bad usage)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # for train --nproc
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code or 0)
    if args.version:
        import zengrad as zg

        print(f"zengrad {zg.__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    previous = _sigterm_interrupts()
    try:
        return _COMMANDS[args.command](args)
    except (UsageError, RecipeError) as e:
        print(f"zengrad {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a failure, not a usage error: one line, status 1
        print(f"zengrad {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _sigterm_interrupts():
    """SIGTERM (kill, a scheduler's stop) unwinds like Ctrl-C: trials still running are
    marked failed, a training run keeps its checkpoint for --resume, temporary files go.
    Returns the previous handler (None off the main thread, where signals can't be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)
