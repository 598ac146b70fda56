"""Trainer: the training loop (fit), evaluation and prediction for a Module.

One epoch: model.train(); for each batch (x..., y): out = model(*x); loss = loss_fn(out, y);
optimizer.zero_grad(); loss.backward(); optionally clip the global gradient norm;
optimizer.step(). Then, with a val_loader, evaluate under no_grad in eval mode. The epoch
loss is the sample-weighted mean of the batch losses; metrics are computed on the epoch's
outputs (train metrics on the outputs seen during training, as Keras does).

Checkpoints (Trainer.save_checkpoint, ModelCheckpoint) hold everything fit needs to go on
bit for bit: weights, optimizer and scheduler state, zengrad's RNG (and the GPU's, once
device 'cuda' is used: zengrad.train.device_rng), the loaders' shuffling generators,
callback state and the history. `fit(..., resume_from=path)` continues from
there and reaches the same weights as an uninterrupted run.

Under zengrad.distributed (several MPI ranks, e.g. `zengrad train --nproc N`) the model runs
wrapped in DistributedDataParallel (a model passed already wrapped is used as it is;
Trainer.model is the plain module). A loader whose sampler is a DistributedSampler gives each
rank its own shard; any other loader gives global batches: every rank builds the same ones and
takes its contiguous share of each, its loss weighted by W n_r / n (n_r of the batch's n
rows), so that the averaged gradient is that of the whole batch's mean loss and N ranks train
as one process would. Losses and metrics are over all ranks (outputs gathered); progress,
prints and checkpoints come from rank 0 alone; the callbacks run on every rank. Every rank
must call fit / evaluate together (they communicate). BatchNorm layers keep per-rank batch
statistics unless converted with nn.SyncBatchNorm.convert_sync_batchnorm (as torch).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import no_grad
from zengrad.autograd.tensor import Tensor
from zengrad.train import device_rng
from zengrad.train.callbacks import LRSchedulerCallback
from zengrad.train.history import History
from zengrad.train.metrics import get_metric

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_end")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; raised with the epoch and batch where it happened."""


def _split_batch(batch) -> tuple[tuple, Any]:
    """(model inputs, target) of a batch (x, y) or (x1, x2, ..., y)."""
    if isinstance(batch, (tuple, list)):
        if len(batch) < 2:
            raise ValueError("Trainer: a training batch needs inputs and a target, e.g. "
                             f"(x, y); got a {type(batch).__name__} of {len(batch)} item(s)")
        return tuple(batch[:-1]), batch[-1]
    raise TypeError(f"Trainer: batches must be tuples (x, ..., y), got {type(batch).__name__}")


def _pred_inputs(batch) -> tuple:
    """Model inputs of a prediction batch: x, (x,) or (x, y) -> (x,)."""
    if isinstance(batch, (tuple, list)):
        return tuple(batch[:-1]) if len(batch) > 1 else tuple(batch)
    return (batch,)


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x), False, None)


def _host(t) -> np.ndarray:
    """A batch's output or target as a host array (for the epoch's metrics)."""
    return backend.asnumpy(_as_tensor(t).array)


def _moved(batch, device):
    """A batch with its tensors and arrays on device (tuples, lists and dicts followed),
    as a torch loop does with x.to(device); other values as they are."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, np.ndarray):
        return Tensor._make(batch, False, None).to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_moved(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _moved(v, device) for k, v in batch.items()}
    return batch


def _show_progress(verbose: int) -> bool:
    return verbose > 0 and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def _world() -> tuple[int, int]:
    """(rank, world size) of zengrad.distributed's process group; (0, 1) without one."""
    from zengrad import distributed as dist

    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _is_sharded(loader) -> bool:
    from zengrad.data import DistributedSampler

    return isinstance(getattr(loader, "sampler", None), DistributedSampler)


def _shard(items: tuple, rank: int, world: int) -> tuple[tuple, float]:
    """This rank's contiguous share of a global batch's rows, and its loss weight
    W n_r / n; a rank left without rows gets the first one with weight 0 (it must still run
    forward and backward: they communicate)."""
    n = len(items[-1])
    lo, hi = n * rank // world, n * (rank + 1) // world
    weight = world * (hi - lo) / n if n else 0.0
    if hi == lo:
        lo, hi = 0, min(1, n)
    return tuple(t[lo:hi] for t in items), weight


def _all_sum(values: list[float]):
    """Start summing values over the ranks; returns (tensor, work): wait, then read."""
    from zengrad import distributed as dist

    t = Tensor._make(np.array(values, np.float64), False, None)
    return t, dist.all_reduce(t, async_op=True)


def _gather_rows(a: np.ndarray) -> np.ndarray:
    """Every rank's rows of a, concatenated in rank order (on every rank)."""
    from zengrad import distributed as dist

    world = dist.get_world_size()
    counts = Tensor._make(np.zeros(world, np.int64), False, None)
    counts.array[dist.get_rank()] = len(a)
    dist.all_reduce(counts)
    most = int(counts.array.max())
    padded = np.zeros((most,) + a.shape[1:], a.dtype)
    padded[:len(a)] = a
    every = Tensor._make(np.empty((world * most,) + a.shape[1:], a.dtype), False, None)
    dist.all_gather_into_tensor(every, Tensor._make(padded, False, None))
    rows = every.array.reshape((world, most) + a.shape[1:])
    return np.concatenate([rows[r, :c] for r, c in enumerate(counts.array.tolist())])


def _fmt(logs: dict) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in logs.items())


class Trainer:
    """fit / evaluate / predict a model with a loss, an optimizer and callbacks.

    device= ('cuda', 'cuda:0', 'cpu'; default None) moves the model there and each batch
    (tensors and arrays in tuples, lists, dicts) as it comes from the loader; metrics and
    predict's outputs come back to the host. Without it, batches reach the model as the
    loader gives them (move them yourself, or build the loader on device tensors)."""

    def __init__(
        self,
        model,
        loss_fn: Callable,
        optimizer,
        scheduler=None,
        metrics: Sequence[str | Callable] = ("accuracy",),
        clip_grad_norm: float | None = None,
        callbacks: Iterable = (),
        verbose: int = 1,
        device=None,
    ) -> None:
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be > 0 or None, got {clip_grad_norm}")
        # device: the model moved there (its parameters in place, so the optimizer made
        # over them keeps them) and every batch moved there; None leaves both as they are
        self.device = None if device is None else backend.check_device(device, "Trainer")
        if self.device is not None:
            model.to(self.device)
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.metrics = [get_metric(m) for m in (metrics or ())]
        self.clip_grad_norm = clip_grad_norm
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not any(hasattr(cb, h) for h in _HOOKS):
                raise TypeError(f"callback {cb!r} has none of the hooks {_HOOKS}")
        self.verbose = int(verbose)
        from zengrad.nn.parallel import DistributedDataParallel

        self._ddp = model if isinstance(model, DistributedDataParallel) else None
        if self._ddp is not None:
            self.model = model.module
        self.history = History()
        self.epoch = 0  # epochs completed
        self.stop_training = False
        self._resumed = False
        self._loaders: dict[str, Any] = {}
        self._active: list = []

    # ----- distributed -----------------------------------------------------------------
    @property
    def rank(self) -> int:
        """This process's rank in zengrad.distributed's group (0 without one)."""
        return _world()[0]

    @property
    def world_size(self) -> int:
        return _world()[1]

    @property
    def is_main_process(self) -> bool:
        """Rank 0 (or no process group): the one that prints and writes files."""
        return self.rank == 0

    def _net(self):
        """What forward calls: the model, or under several ranks its DDP wrapper."""
        if _world()[1] == 1:
            return self.model if self._ddp is None else self._ddp
        if self._ddp is None:
            from zengrad.nn.parallel import DistributedDataParallel

            self._ddp = DistributedDataParallel(self.model)
        return self._ddp

    # ----- callbacks -----------------------------------------------------------------
    def _callback_list(self, extra: Iterable) -> list:
        cbs = list(self.callbacks) + list(extra)
        if self.scheduler is not None:
            # the schedule steps first so checkpoints see the stepped state
            cbs.insert(0, LRSchedulerCallback(self.scheduler))
        # writers (checkpoints, CSV) last, after every other callback updated its state
        return ([c for c in cbs if not getattr(c, "runs_last", False)]
                + [c for c in cbs if getattr(c, "runs_last", False)])

    def _call(self, hook: str, *args) -> None:
        for cb in self._active:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    # ----- one pass --------------------------------------------------------------------
    def _compute_metrics(self, outputs: list, targets: list, prefix: str) -> dict:
        if not self.metrics or not outputs:
            return {}
        out = np.concatenate(outputs)
        tgt = np.concatenate(targets)
        return {prefix + name: float(fn(tgt, out)) for name, fn in self.metrics}

    def _make_bar(self, total: int, epoch: int, epochs: int):
        """A tqdm bar for one epoch, or None (verbose=0, or stderr is not a terminal)."""
        if not _show_progress(self.verbose) or not self.is_main_process:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=True,
                    file=sys.stderr, dynamic_ncols=True)

    def _train_epoch(self, loader, epoch: int, bar) -> dict:
        self.model.train()
        net = self._net()
        rank, world = _world()
        split = world > 1 and not _is_sharded(loader)
        total, count = 0.0, 0
        outputs, targets = [], []
        keep = bool(self.metrics)
        params = None
        if self.clip_grad_norm is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
        device = self.device
        for b, batch in enumerate(loader):
            if device is not None:
                batch = _moved(batch, device)
            inputs, target = _split_batch(batch)
            weight = 1.0
            if split:
                (*inputs, target), weight = _shard((*inputs, target), rank, world)
            out = net(*inputs)
            loss = self.loss_fn(out, target)
            value = float(loss.item())
            n = len(target)
            if world > 1:
                # the batch's loss over all ranks, summed while backward runs; a non-finite
                # loss on any rank stops every rank after backward (no rank left waiting)
                bad = 0.0 if math.isfinite(value) else 1.0
                share = value * weight / world if split else value * n
                stats, work = _all_sum([share, n, bad])
                self.optimizer.zero_grad()
                (loss * weight if weight != 1.0 else loss).backward()
                work.wait()
                s_loss, s_n, s_bad = stats.array.tolist()
                n = len(batch[-1]) if split else int(s_n)
                value = math.nan if s_bad else (s_loss if split else s_loss / max(n, 1))
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"non-finite loss ({value}) at epoch {epoch + 1}, batch {b + 1}; "
                    "training stopped before the update (checkpoints already written "
                    "are untouched)"
                )
            if world == 1:
                self.optimizer.zero_grad()
                loss.backward()
            if params is not None:
                from zengrad.nn.utils import clip_grad_norm_

                clip_grad_norm_(params, self.clip_grad_norm)
            self.optimizer.step()
            total += value * n
            count += n
            if keep and weight:
                outputs.append(_host(out))
                targets.append(_host(target))
            self._call("on_batch_end", b, {"loss": value, "size": n})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        logs = {"loss": total / max(count, 1)}
        logs.update(self._compute_metrics(*self._gathered(outputs, targets), ""))
        return logs

    def _gathered(self, outputs: list, targets: list) -> tuple[list, list]:
        """The epoch's outputs and targets of every rank (as they are with one rank)."""
        if _world()[1] == 1 or not self.metrics:
            return outputs, targets
        if not outputs:
            return [], []
        return [_gather_rows(np.concatenate(outputs))], [_gather_rows(np.concatenate(targets))]

    def _run_eval(self, loader, prefix: str) -> dict:
        was_training = getattr(self.model, "training", False)
        self.model.eval()
        net = self._net()
        rank, world = _world()
        split = world > 1 and not _is_sharded(loader)
        total, count = 0.0, 0
        outputs, targets = [], []
        try:
            with no_grad():
                for batch in loader:
                    if self.device is not None:
                        batch = _moved(batch, self.device)
                    inputs, target = _split_batch(batch)
                    weight = 1.0
                    if split:
                        (*inputs, target), weight = _shard((*inputs, target), rank, world)
                    out = net(*inputs)  # also on a placeholder row: DDP's forward communicates
                    if not weight:
                        continue
                    n = len(target)
                    total += float(self.loss_fn(out, target).item()) * n
                    count += n
                    if self.metrics:
                        outputs.append(_host(out))
                        targets.append(_host(target))
        finally:
            self.model.train(was_training)
        if world > 1:
            sums, work = _all_sum([total, count])
            work.wait()
            total, count = float(sums.array[0]), int(sums.array[1])
        logs = {prefix + "loss": total / max(count, 1)}
        logs.update(self._compute_metrics(*self._gathered(outputs, targets), prefix))
        return logs

    # ----- public API ------------------------------------------------------------------
    def fit(self, train_loader, val_loader=None, epochs: int = 1, callbacks: Iterable = (),
            resume_from: str | os.PathLike | None = None) -> History:
        """Train for `epochs` epochs in total (a resumed run counts the epochs already
        done); return the History of per-epoch logs."""
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be an integer >= 0, got {epochs!r}")
        previous = (self._active, self._loaders)
        self._active = self._callback_list(callbacks)
        self._loaders = {"train": train_loader, "val": val_loader}
        if resume_from is not None:
            try:  # a refused checkpoint leaves the trainer as it was
                self.load_checkpoint(resume_from)
            except BaseException:
                self._active, self._loaders = previous
                raise
        else:
            self.history = History()
            self.epoch = 0
        self.stop_training = False
        self._resumed = resume_from is not None
        self._call("on_train_begin", {})
        try:
            while self.epoch < epochs and not self.stop_training:
                epoch = self.epoch
                logs: dict[str, float] = {}
                self._call("on_epoch_begin", epoch, logs)
                for ld in (train_loader, val_loader):  # a DistributedSampler's epoch order
                    set_epoch = getattr(getattr(ld, "sampler", None), "set_epoch", None)
                    if set_epoch is not None:
                        set_epoch(epoch)
                lr = self.optimizer.param_groups[0].get("lr") if self.optimizer else None
                bar = self._make_bar(len(train_loader), epoch, epochs)
                try:
                    logs.update(self._train_epoch(train_loader, epoch, bar))
                    if val_loader is not None:
                        logs.update(self._run_eval(val_loader, "val_"))
                    if lr is not None:
                        logs["lr"] = float(lr)
                    if bar is not None:  # the epoch's loss and metrics end up in the bar
                        bar.set_postfix_str(_fmt(logs))
                finally:
                    if bar is not None:
                        bar.close()
                if self.verbose > 0 and bar is None and self.is_main_process:
                    print(f"epoch {epoch + 1}/{epochs}  {_fmt(logs)}", file=sys.stderr)
                self.history.append(epoch, logs)
                self.epoch = epoch + 1
                self._call("on_epoch_end", epoch, logs)
            self._call("on_train_end", {})
        finally:
            self._resumed = False
        return self.history

    def evaluate(self, loader) -> dict:
        """{'loss': ..., metric: ...} over the loader, in eval mode under no_grad."""
        return self._run_eval(loader, "")

    def predict(self, data, batch_size: int = 256) -> np.ndarray:
        """Model outputs for every sample of a loader (batches (x,) or (x, y)) or of an
        array/Tensor of inputs, concatenated along the batch axis (a host array)."""
        was_training = getattr(self.model, "training", False)
        self.model.eval()
        outs = []
        device = self.device
        try:
            with no_grad():
                if isinstance(data, (np.ndarray, Tensor)):
                    x = data.array if isinstance(data, Tensor) else data
                    xp = backend.xp_of(x)
                    for i in range(0, len(x), batch_size):
                        chunk = Tensor._make(xp.ascontiguousarray(x[i:i + batch_size]),
                                             False, None)
                        if device is not None:
                            chunk = chunk.to(device)
                        outs.append(_host(self.model(chunk)))
                else:
                    for batch in data:
                        if device is not None:
                            batch = _moved(batch, device)
                        outs.append(_host(self.model(*_pred_inputs(batch))))
        finally:
            self.model.train(was_training)
        if not outs:
            raise ValueError("predict: no data")
        return np.concatenate(outs)

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> float:
        """The best value of monitor in the last fit's history."""
        return self.history.best(monitor, mode)

    # ----- checkpoints -------------------------------------------------------------------
    def _stateful_callbacks(self) -> dict[str, Any]:
        return {f"{i}:{type(cb).__name__}": cb for i, cb in enumerate(self._active)
                if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict")}

    def checkpoint_state(self) -> dict:
        """Everything needed to resume: see the module docstring."""
        state = {
            "epoch": self.epoch,
            "model": {k: v.array for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": backend.get_rng_state(),
            "loaders": {name: ld.state_dict() for name, ld in self._loaders.items()
                        if ld is not None and hasattr(ld, "state_dict")},
            "callbacks": {k: cb.state_dict() for k, cb in self._stateful_callbacks().items()
                          if not isinstance(cb, LRSchedulerCallback)},
            "history": self.history.state_dict(),
        }
        if device_rng.in_use():  # dropout on a GPU draws from its generator
            state[device_rng.FIELD] = device_rng.DeviceGenerators().state_dict()
        return state

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write checkpoint_state() atomically to path (a safetensors file); under several
        ranks only rank 0 writes (the others hold the same state)."""
        from zengrad.io import save_checkpoint

        if not self.is_main_process:
            return
        save_checkpoint(self.checkpoint_state(), path)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore the state written by save_checkpoint (the model must match).

        All or nothing: every field is checked before anything changes, and should a
        component still refuse its state, those already restored are put back; a bad
        field raises one CheckpointError (a ValueError) naming the file and the field."""
        from zengrad.io import load_checkpoint
        from zengrad.io.checkpoint import CheckpointError, check_like, check_rng_state
        from zengrad.io.checkpoint import field_error as bad

        # on the host: the model and optimizer copy it to their own device as they load it
        # (so a run checkpointed on a GPU resumes on another device, or on the CPU)
        state = load_checkpoint(path, map_location="cpu")
        missing = sorted({"epoch", "model", "optimizer", "rng", "history"} - set(state))
        if missing:
            raise CheckpointError(f"{path}: checkpoint lacks the field(s) {missing}")
        epoch = state["epoch"]
        if not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool) or epoch < 0:
            raise bad(path, "epoch", f"must be a non-negative integer, got {epoch!r}")
        for name in ("model", "optimizer"):
            if not isinstance(state[name], dict):
                raise bad(path, name, f"must be a dict (a state_dict), got "
                                      f"{type(state[name]).__name__}")
        check_rng_state(state["rng"], path, "rng", type(backend.rng().bit_generator).__name__)
        history = _checked_history(state["history"], path)
        if self.scheduler is not None:
            if state.get("scheduler") is None:
                raise bad(path, "scheduler", "is missing, but the Trainer has a scheduler")
            check_like(state["scheduler"], self.scheduler.state_dict(), path, "scheduler")
        loaders = {n: ld for n, ld in self._loaders.items() if hasattr(ld, "load_state_dict")}
        callbacks = self._stateful_callbacks()
        for field, live in (("loaders", loaders), ("callbacks", callbacks)):
            saved = state.get(field, {})
            if not isinstance(saved, dict):
                raise bad(path, field, f"must be a dict, got {type(saved).__name__}")
            for key, obj in live.items():
                if key not in saved:
                    continue
                if field == "callbacks":  # (keys may vary with a user callback's state)
                    check_like(saved[key], obj.state_dict(), path, f"{field}/{key}",
                               top=False)
                elif not isinstance(saved[key], dict):  # a loader: its shuffling generator
                    raise bad(path, f"loaders/{key}", f"must be a dict, got {saved[key]!r}")
                elif saved[key].get("generator") is not None:
                    check_rng_state(saved[key]["generator"], path, f"loaders/{key}/generator")
        device_states = state.get(device_rng.FIELD)
        if device_states is not None:
            device_states = device_rng.checked(device_states, path)
        # restore, riskiest first; the model last (its load is itself all or nothing)
        steps = [("optimizer", self.optimizer, state["optimizer"])]
        if device_states and device_rng.in_use():  # (without a GPU, not needed)
            steps.insert(0, (device_rng.FIELD, device_rng.DeviceGenerators(), device_states))
        if self.scheduler is not None:
            steps.append(("scheduler", self.scheduler, state["scheduler"]))
        for field, live in (("loaders", loaders), ("callbacks", callbacks)):
            steps += [(f"{field}/{k}", obj, state[field][k]) for k, obj in live.items()
                      if k in state.get(field, {})]
        steps.append(("model", self.model, state["model"]))
        undo: list = []
        for field, obj, value in steps:
            # the optimizer replaces (never edits) its state and groups: keep the old ones
            old = ((obj.state, obj.param_groups) if obj is self.optimizer
                   else None if obj is self.model else obj.state_dict())
            try:
                obj.load_state_dict(value)
            except Exception as e:  # noqa: BLE001 - any refusal becomes one error
                for prev, saved in reversed(undo):
                    if prev is self.optimizer:
                        prev.state, prev.param_groups = saved
                    else:
                        prev.load_state_dict(saved)
                raise bad(path, field, f"doesn't fit this {type(obj).__name__}: "
                                       f"{e}") from None
            if old is not None:
                undo.append((obj, old))
        backend.set_rng_state(state["rng"])
        self.history = History()  # a new one: a History returned by an earlier fit stays
        self.history.load_state_dict(history)
        self.epoch = int(epoch)


def _checked_history(value: Any, path) -> dict:
    """The history field, checked: {'epoch': [int >= 0, ...], 'history': {name: [number,
    ...]}}, every list as long as 'epoch'."""
    from zengrad.io.checkpoint import field_error as bad

    if not (isinstance(value, dict) and set(value) == {"epoch", "history"}):
        raise bad(path, "history", f"must be a dict with keys 'epoch' and 'history', got "
                                   f"{str(value)[:80]}")
    epochs, logs = value["epoch"], value["history"]
    if not (isinstance(epochs, list) and all(
            isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in epochs)):
        raise bad(path, "history/epoch", f"must be a list of epoch numbers, got "
                                         f"{str(epochs)[:80]}")
    if not isinstance(logs, dict):
        raise bad(path, "history/history", f"must be a dict, got {type(logs).__name__}")
    for key, col in logs.items():
        if not (isinstance(col, list) and len(col) == len(epochs) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in col)):
            raise bad(path, f"history/history/{key}", f"must be a list of {len(epochs)} "
                                                      f"numbers, got {str(col)[:80]}")
    return value
