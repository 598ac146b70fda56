"""History: per-epoch values (loss, metrics, val_*, lr) recorded by Trainer.fit."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping

from zengrad.io.atomic import atomic_write_text

_MAX_HINTS = ("acc", "f1", "precision", "recall", "r2")


def infer_mode(monitor: str, mode: str = "auto") -> str:
    """'min' or 'max' for a monitored quantity: accuracy-like names are maximised."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    name = monitor.lower()
    return "max" if any(h in name for h in _MAX_HINTS) else "min"


class History:
    """history[key] -> list of per-epoch values; epoch -> list of epoch indices (0-based)."""

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            # keys that appear late are padded with NaN for the earlier epochs
            self.history.setdefault(k, [math.nan] * n).append(float(v))
        for col in self.history.values():
            if len(col) < n + 1:
                col.append(math.nan)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def best(self, key: str, mode: str = "auto") -> float:
        """The best recorded value of key (min or max by infer_mode)."""
        if key not in self.history:
            raise KeyError(f"history has no {key!r}; it has {sorted(self.history)}")
        values = [v for v in self.history[key] if not math.isnan(v)]
        if not values:
            return math.nan
        return max(values) if infer_mode(key, mode) == "max" else min(values)

    def state_dict(self) -> dict:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in
                                                       self.history.items()}}

    def load_state_dict(self, state: Mapping) -> None:
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}

    def to_csv_text(self, separator: str = ",") -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=separator, lineterminator="\n")
        keys = list(self.history)
        writer.writerow(["epoch", *keys])
        for i, e in enumerate(self.epoch):
            writer.writerow([e, *(repr(self.history[k][i]) for k in keys)])
        return buf.getvalue()

    def to_csv(self, path: str | os.PathLike, separator: str = ",") -> None:
        atomic_write_text(path, self.to_csv_text(separator))

    def to_json(self, path: str | os.PathLike) -> None:
        # NaN is not JSON; write null
        clean = {k: [None if math.isnan(x) else x for x in v] for k, v in self.history.items()}
        atomic_write_text(path, json.dumps({"epoch": self.epoch, **clean}, indent=1) + "\n")

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={list(self.history)})"
