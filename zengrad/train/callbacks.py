"""Callbacks: objects the Trainer calls at fixed points of fit().

Hooks (all optional; any object with some of these methods works, subclassing Callback is
not required): on_train_begin(trainer, logs), on_epoch_begin(trainer, epoch, logs),
on_batch_end(trainer, batch, logs), on_epoch_end(trainer, epoch, logs),
on_train_end(trainer, logs). Epochs are 0-based. Setting `trainer.stop_training = True`
ends training after the current epoch; an exception raised by a hook propagates out of fit
(a tuning PruningCallback raises TrialPruned this way).

Callbacks with `state_dict()` / `load_state_dict()` are saved in training checkpoints.
Under DistributedDataParallel every rank runs the callbacks (the logs are global, so they
decide alike); the writers (ModelCheckpoint, CSVLogger) write on rank 0 only.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.train.history import infer_mode


class Callback:
    """Base class with empty hooks."""

    def on_train_begin(self, trainer, logs: dict | None = None) -> None:
        pass

    def on_train_end(self, trainer, logs: dict | None = None) -> None:
        pass

    def on_epoch_begin(self, trainer, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_batch_end(self, trainer, batch: int, logs: dict | None = None) -> None:
        pass


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        raise KeyError(f"{who} monitors {monitor!r}, but the epoch logs only have "
                       f"{sorted(logs)} (pass a val_loader for val_* quantities)")
    return float(logs[monitor])


class _Best:
    """Tracks the best value of a monitored quantity: improved means better by > min_delta."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = infer_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs in
    a row (Keras' rule: patience=0 stops at the first epoch without improvement); with
    restore_best_weights the model gets the best epoch's weights back when training ends."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False) -> None:
        if not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self.tracker = _Best(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.best_weights: dict[str, np.ndarray] | None = None

    @property
    def best(self) -> float:
        return self.tracker.best

    def on_train_begin(self, trainer, logs=None) -> None:
        if getattr(trainer, "_resumed", False):
            return
        self.tracker.best = math.inf if self.tracker.mode == "min" else -math.inf
        self.wait, self.best_epoch, self.stopped_epoch, self.best_weights = 0, -1, -1, None

    def on_epoch_end(self, trainer, epoch: int, logs=None) -> None:
        value = _monitored(logs or {}, self.monitor, "EarlyStopping")
        if self.tracker.improved(value):
            self.tracker.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.array.copy()  # (on the model's device)
                                     for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer, logs=None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            # as Tensors: load_state_dict takes host arrays or Tensors on any device
            trainer.model.load_state_dict({k: v if isinstance(v, Tensor) else
                                           Tensor._make(v, False, None)
                                           for k, v in self.best_weights.items()})

    def state_dict(self) -> dict:
        return {"best": self.tracker.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.tracker.best = float(state["best"])
        self.wait = int(state["wait"])
        self.best_epoch = int(state["best_epoch"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_weights = state["best_weights"]


class ModelCheckpoint(Callback):
    """Write a checkpoint at the end of epochs.

    path may hold format fields filled from the epoch (1-based) and the logs, e.g.
    'runs/ckpt-{epoch:03d}-{val_loss:.3f}.safetensors'. save_best_only: write only when
    `monitor` improves. save_last: also write the latest epoch to last.safetensors beside
    path (or to the path given). weights_only: write the model's weights only (a file for
    zengrad.io.load / load_into) instead of a full training checkpoint (model, optimizer,
    scheduler, RNG, history: what Trainer.fit(resume_from=...) needs).
    Writes are atomic, so a crash never spoils the previous file.
    """

    runs_last = True  # the Trainer calls it after the other callbacks, to save their state

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, save_last: bool | str | os.PathLike = False,
                 mode: str = "auto", weights_only: bool = False) -> None:
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        if save_last is True:
            self.last_path: str | None = str(Path(self.path).parent / "last.safetensors")
        else:
            self.last_path = str(save_last) if save_last else None
        self.weights_only = weights_only
        self.tracker = _Best(monitor, mode)
        self.best_path: str | None = None

    def _write(self, trainer, path: str) -> None:
        if not getattr(trainer, "is_main_process", True):  # under DDP rank 0 writes alone
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if self.weights_only:
            from zengrad.io import save

            save(trainer.model, path)
        else:
            trainer.save_checkpoint(path)

    def on_epoch_end(self, trainer, epoch: int, logs=None) -> None:
        logs = logs or {}
        path = self.path.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if self.tracker.improved(value):
                self.tracker.best = value
                self._write(trainer, path)
                self.best_path = path
        else:
            self._write(trainer, path)
        if self.last_path is not None:
            self._write(trainer, self.last_path)

    def state_dict(self) -> dict:
        return {"best": self.tracker.best, "best_path": self.best_path}

    def load_state_dict(self, state: dict) -> None:
        self.tracker.best = float(state["best"])
        self.best_path = state["best_path"]


def _is_plateau(scheduler: Any) -> bool:
    return type(scheduler).__name__ == "ReduceLROnPlateau"


class LRSchedulerCallback(Callback):
    """Step an LR scheduler at the end of every epoch. ReduceLROnPlateau (or any scheduler
    when monitor is given) is stepped with the monitored value: monitor, else 'val_loss' when
    there is validation, else 'loss'."""

    def __init__(self, scheduler: Any, monitor: str | None = None) -> None:
        self.scheduler = scheduler
        self.monitor = monitor

    def on_epoch_end(self, trainer, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.monitor is not None or _is_plateau(self.scheduler):
            monitor = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
            self.scheduler.step(_monitored(logs, monitor, "LRSchedulerCallback"))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)


class CSVLogger(Callback):
    """Rewrite path (atomically) with the whole history after every epoch: one row per
    epoch, columns epoch, loss, metrics, val_*, lr."""

    runs_last = True

    def __init__(self, path: str | os.PathLike, separator: str = ",") -> None:
        self.path = Path(path)
        self.separator = separator

    def on_epoch_end(self, trainer, epoch: int, logs=None) -> None:
        if not getattr(trainer, "is_main_process", True):  # under DDP rank 0 writes alone
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        trainer.history.to_csv(self.path, self.separator)


class LambdaCallback(Callback):
    """Callbacks from plain functions: LambdaCallback(on_epoch_end=lambda t, e, logs: ...)."""

    def __init__(self, **hooks) -> None:
        allowed = {"on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                   "on_batch_end"}
        unknown = set(hooks) - allowed
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hooks {sorted(unknown)}; use "
                            f"{sorted(allowed)}")
        for name, fn in hooks.items():
            setattr(self, name, fn)
