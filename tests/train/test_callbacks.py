"""EarlyStopping, ModelCheckpoint, LRSchedulerCallback, CSVLogger and duck-typed callbacks."""

import csv
import types

import numpy as np
import pytest

from zengrad import optim
from zengrad.io import load, load_checkpoint
from zengrad.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LRSchedulerCallback,
    ModelCheckpoint,
    Trainer,
)

from .conftest import assert_same_weights, weights


def scripted(key, values):
    """A callback that overwrites logs[key] with values[epoch] (runs before the others)."""
    return LambdaCallback(on_epoch_end=lambda t, e, logs: logs.__setitem__(key, values[e]))


@pytest.mark.parametrize("patience,expected_stop", [(0, 2), (2, 3), (3, 4)])
def test_early_stopping_patience(patience, expected_stop):
    es = EarlyStopping("val_loss", patience=patience)
    trainer = types.SimpleNamespace(stop_training=False, model=None)
    es.on_train_begin(trainer)
    values = [1.0, 0.9, 0.95, 0.91, 0.96, 0.97, 0.98]
    for epoch, v in enumerate(values):
        es.on_epoch_end(trainer, epoch, {"val_loss": v})
        if trainer.stop_training:
            break
    assert es.stopped_epoch == expected_stop and es.best == 0.9 and es.best_epoch == 1


def test_early_stopping_min_delta_and_max_mode():
    es = EarlyStopping("val_accuracy", patience=1, min_delta=0.05)
    assert es.tracker.mode == "max"
    t = types.SimpleNamespace(stop_training=False, model=None)
    es.on_train_begin(t)
    for e, v in enumerate([0.5, 0.52, 0.6]):  # +0.02 is not an improvement
        es.on_epoch_end(t, e, {"val_accuracy": v})
        if t.stop_training:
            break
    assert es.stopped_epoch == 1 and es.best == 0.5
    with pytest.raises(KeyError, match="val_loss"):
        EarlyStopping().on_epoch_end(t, 0, {"loss": 1.0})


def test_early_stopping_in_fit_restores_best_weights(setup_factory):
    s = setup_factory()
    snapshots = {}
    keep = LambdaCallback(on_epoch_end=lambda t, e, logs: snapshots.__setitem__(
        e, weights(t.model)))
    es = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    trainer = Trainer(s.model, s.loss, s.opt, verbose=0,
                      callbacks=[scripted("val_loss", [3, 2, 1, 1.5, 1.2, 0.5, 0.1]), keep,
                                 es])
    hist = trainer.fit(s.train, s.val, epochs=7)
    assert len(hist) == 5 and es.stopped_epoch == 4 and es.best_epoch == 2
    assert_same_weights(weights(s.model), snapshots[2])


def test_model_checkpoint_best_only_and_last(setup_factory, tmp_path):
    s = setup_factory()
    pattern = str(tmp_path / "ck-{epoch:02d}-{val_loss:.1f}.safetensors")
    mc = ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True, save_last=True,
                         weights_only=True)
    snapshots = {}
    keep = LambdaCallback(on_epoch_end=lambda t, e, logs: snapshots.__setitem__(
        e, weights(t.model)))
    Trainer(s.model, s.loss, s.opt, verbose=0,
            callbacks=[scripted("val_loss", [3, 2, 2.5, 1]), keep, mc]).fit(
        s.train, s.val, epochs=4)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ck-01-3.0.safetensors", "ck-02-2.0.safetensors",
                     "ck-04-1.0.safetensors", "last.safetensors"]
    assert mc.best_path.endswith("ck-04-1.0.safetensors")
    assert_same_weights(load(tmp_path / "ck-02-2.0.safetensors"), snapshots[1])
    assert_same_weights(load(tmp_path / "last.safetensors"), snapshots[3])


def test_full_checkpoint_contents(setup_factory, tmp_path):
    s = setup_factory()
    path = tmp_path / "full.safetensors"
    Trainer(s.model, s.loss, s.opt, s.sched, verbose=0,
            callbacks=[ModelCheckpoint(path)]).fit(s.train, s.val, epochs=2)
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and len(state["history"]["epoch"]) == 2
    assert state["scheduler"]["last_epoch"] == 2
    assert set(state["optimizer"]["state"]) == {0, 1, 2, 3}
    assert "generator" in state["loaders"]["train"]
    assert_same_weights(state["model"], weights(s.model))


def test_reduce_lr_on_plateau_via_callback(setup_factory):
    s = setup_factory(scheduler=False)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(s.opt, factor=0.5, patience=1)
    trainer = Trainer(s.model, s.loss, s.opt, verbose=0,
                      callbacks=[scripted("val_loss", [1.0] * 6),
                                 LRSchedulerCallback(plateau)])
    hist = trainer.fit(s.train, s.val, epochs=6)
    # constant metric: after the best epoch, every 2nd stale epoch halves the lr
    assert hist["lr"] == [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]


def test_scheduler_on_custom_monitor(setup_factory):
    s = setup_factory(scheduler=False)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(s.opt, mode="max", factor=0.1, patience=0)
    Trainer(s.model, s.loss, s.opt, verbose=0,
            callbacks=[scripted("val_accuracy", [0.5, 0.4]),
                       LRSchedulerCallback(plateau, monitor="val_accuracy")]).fit(
        s.train, s.val, epochs=2)
    assert s.opt.param_groups[0]["lr"] == pytest.approx(0.001)


def test_csv_logger(setup_factory, tmp_path):
    s = setup_factory()
    path = tmp_path / "log" / "h.csv"
    trainer = Trainer(s.model, s.loss, s.opt, verbose=0, callbacks=[CSVLogger(path)])
    hist = trainer.fit(s.train, s.val, epochs=3)
    rows = list(csv.DictReader(path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert [float(r["val_loss"]) for r in rows] == hist["val_loss"]


class _FakeTrial:
    number = 7

    def __init__(self):
        self.reports = []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= 2


def test_duck_typed_pruning_callback_exception_propagates(setup_factory):
    from zengrad.tune.integration import PruningCallback
    from zengrad.tune.trial import TrialPruned

    s = setup_factory()
    trial = _FakeTrial()
    trainer = Trainer(s.model, s.loss, s.opt, verbose=0,
                      callbacks=[PruningCallback(trial, monitor="val_loss")])
    with pytest.raises(TrialPruned):
        trainer.fit(s.train, s.val, epochs=5)
    assert [step for step, _ in trial.reports] == [0, 1]
    assert trial.reports[1][1] == pytest.approx(trainer.history["val_loss"][1])


def test_stop_training_flag_and_hook_order(setup_factory):
    s = setup_factory()
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer, logs=None):
            events.append("begin")

        def on_epoch_begin(self, trainer, epoch, logs=None):
            events.append(f"e{epoch}")

        def on_batch_end(self, trainer, batch, logs=None):
            assert np.isfinite(logs["loss"])

        def on_epoch_end(self, trainer, epoch, logs=None):
            events.append(f"/e{epoch}")
            trainer.stop_training = epoch == 1

        def on_train_end(self, trainer, logs=None):
            events.append("end")

    Trainer(s.model, s.loss, s.opt, verbose=0, callbacks=[Recorder()]).fit(s.train, epochs=9)
    assert events == ["begin", "e0", "/e0", "e1", "/e1", "end"]
