"""Glue between a training loop and a trial, without importing anything outside ``tune``.

    def objective(trial):
        model = ...
        trainer.fit(model, callbacks=[PruningCallback(trial, monitor="val_loss")])
        return trainer.best("val_loss")

Any loop that calls ``callback.on_epoch_end(trainer, epoch, logs)`` with a dict of metrics
works (duck typing): the callback reports ``logs[monitor]`` at step ``epoch`` and raises
``TrialPruned`` when the pruner says so; the study records the trial as PRUNED.
"""

from __future__ import annotations

from typing import Any

from .trial import TrialPruned


class PruningCallback:
    def __init__(self, trial: Any, monitor: str = "val_loss") -> None:
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"PruningCallback monitors {self.monitor!r}, but the epoch logs only have "
                f"{sorted(logs)}"
            )
        self.trial.report(float(logs[self.monitor]), int(epoch))
        if self.trial.should_prune():
            raise TrialPruned(f"trial {self.trial.number} pruned at epoch {epoch}")
