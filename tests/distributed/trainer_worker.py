"""Run under `mpiexec -n 2`: Trainer.fit on 2 ranks = Trainer.fit in one process.

Rank 0 also trains a twin alone; it writes {"weights": max difference, "logs": [both
histories' last logs]} as JSON to argv[1]. ModelCheckpoint and CSVLogger write into argv[2]
(rank 0 alone). Not a test file: tests/distributed/test_ddp.py launches it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import zengrad as zg
import zengrad.distributed as dist
from zengrad import nn, optim
from zengrad.data import DataLoader, TensorDataset
from zengrad.nn import functional as F
from zengrad.train import Trainer
from zengrad.train.callbacks import CSVLogger, ModelCheckpoint


def trainer(folder: Path | None) -> tuple[Trainer, DataLoader, DataLoader]:
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((45, 6))  # 45 = 5 batches of 8 and one of 5 (uneven shares)
    y = rng.integers(0, 3, 45)
    train = DataLoader(TensorDataset(zg.tensor(x), zg.tensor(y)), 8, shuffle=True, seed=3)
    val = DataLoader(TensorDataset(zg.tensor(x[:13]), zg.tensor(y[:13])), 4)
    cbs = [] if folder is None else [ModelCheckpoint(folder / "ckpt.safetensors"),
                                     CSVLogger(folder / "history.csv")]
    t = Trainer(model, F.cross_entropy, optim.Adam(model.parameters(), lr=0.01),
                metrics=["accuracy"], callbacks=cbs, verbose=1)
    return t, train, val


def main() -> None:
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    folder = Path(sys.argv[2]) / f"rank{rank}"
    t, train, val = trainer(folder)
    t.fit(train, val, epochs=3)
    if rank == 0:
        alone, train1, val1 = trainer(None)
        dist.destroy_process_group()  # one process from here
        alone.fit(train1, val1, epochs=3)
        sa, sb = t.model.state_dict(), alone.model.state_dict()
        diff = max(float(np.abs(sa[k].array - sb[k].array).max()) for k in sa)
        out = {"weights": diff, "logs": [t.history.state_dict(), alone.history.state_dict()],
               "files": sorted(p.name for p in folder.iterdir())}
        Path(sys.argv[1]).write_text(json.dumps(out))
    else:
        assert not folder.exists() or not any(folder.iterdir()), "rank 1 wrote files"
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
