"""A tuning task where samplers separate: a small CNN on MNIST, 5 hyperparameters (not a test).

    .venv/bin/python bench/tune/real_cnn.py                     # 5 seeds x 30 trials, 4 samplers
    .venv/bin/python bench/tune/real_cnn.py --seeds 2 --opts zg_gp,zg_random
    .venv/bin/python bench/tune/real_cnn.py --report-only       # table from results/real_cnn.jsonl

Data: the bundled 5,000-image MNIST subset (``zengrad.data.load_mnist``), its 4,000 training
images 2x2-average-pooled to 14x14 and split 3,200 train / 800 validation (fixed).  Model:
conv3x3(1->w) ReLU maxpool2, conv3x3(w->2w) ReLU maxpool2, dropout(p), linear(2w*3*3 -> 10).
Training: 2 epochs of SGD with momentum 0.9, the weights and the batch order seeded by 0, so
the objective is a deterministic function of the hyperparameters and only the samplers'
randomness changes between seeds.  Objective (minimized): the validation cross-entropy
after the 2 epochs, capped at 10 (a diverged run: NaN or worse than 10 counts as 10, so
every trial completes and every sampler sees the same function).

Space: lr log [1e-3, 1], weight decay log [1e-6, 0.1], width int log [4, 32], dropout
[0, 0.8], batch size {16, 32, 64, 128}.  A wide lr range with divergence on one side and
no progress in 2 epochs on the other, weight decay that can kill training, and a batch
size that trades steps against noise: random configurations are mostly poor (see the
"after 10 trials" column), so model-based search has room to pay.

Samplers: ``zg_gp`` (GPSampler defaults), ``zg_random``, ``zg_genetic`` (population 10,
tournaments of 3: what ``zengrad tune`` picks for 30 trials) and ``zg_genetic6``
(population 6: 5 generations in 30 trials).  Paired over seeds: Wilcoxon signed-rank of
the best validation loss against ``zg_random`` and ``zg_gp``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single-threaded BLAS, before NumPy loads

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import zengrad as zg  # noqa: E402
import zengrad.tune as tune  # noqa: E402
from zengrad import nn, optim  # noqa: E402
from zengrad.nn import functional as F  # noqa: E402

RAW = HERE / "results" / "real_cnn.jsonl"
CAP = 10.0
OPTS = ("zg_gp", "zg_random", "zg_genetic", "zg_genetic6")
_DATA: tuple | None = None


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3,200 / 800 images of 14x14 (2x2 means of the 28x28 pixels), float32 in [0, 1]."""
    global _DATA
    if _DATA is None:
        from zengrad.data import load_mnist

        (x, y), _ = load_mnist()
        x = np.asarray(x, dtype=np.float32).reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5))
        y = np.asarray(y, dtype=np.int64)
        _DATA = (x[:3200], y[:3200], x[3200:4000], y[3200:4000])
    return _DATA


class SmallCNN(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width * 9, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 14 -> 7
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 7 -> 3
        return self.fc(self.drop(x.flatten(1)))


def validation_loss(params: dict) -> float:
    """Train 2 epochs with params, return the capped validation cross-entropy."""
    xtr, ytr, xva, yva = data()
    zg.manual_seed(0)
    model = SmallCNN(int(params["width"]), float(params["dropout"]))
    opt = optim.SGD(model.parameters(), lr=params["lr"], momentum=0.9,
                    weight_decay=params["weight_decay"])
    bs = int(params["batch_size"])
    order_rng = np.random.default_rng(0)
    with np.errstate(all="ignore"):
        for _ in range(2):
            model.train()
            order = order_rng.permutation(len(xtr))
            for i in range(0, len(order), bs):
                idx = order[i:i + bs]
                loss = F.cross_entropy(model(zg.from_numpy(xtr[idx])), zg.from_numpy(ytr[idx]))
                if not math.isfinite(float(loss.item())):
                    return CAP
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with zg.no_grad():
            val = float(F.cross_entropy(model(zg.from_numpy(xva)), zg.from_numpy(yva)).item())
    return min(val, CAP) if math.isfinite(val) else CAP


def objective(trial) -> float:
    return validation_loss({
        "lr": trial.suggest_float("lr", 1e-3, 1.0, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 0.1, log=True),
        "width": trial.suggest_int("width", 4, 32, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.8),
        "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
    })


def sampler_for(opt: str, seed: int):
    if opt == "zg_gp":
        return tune.GPSampler(seed=seed)
    if opt == "zg_random":
        return tune.RandomSampler(seed)
    if opt == "zg_genetic":
        return tune.GeneticSampler(population_size=10, tournament_size=3, seed=seed)
    if opt == "zg_genetic6":
        return tune.GeneticSampler(population_size=6, tournament_size=3, seed=seed)
    raise ValueError(f"unknown optimizer {opt!r}")


def run_one(job: tuple[str, int, int]) -> dict:
    opt, seed, n_trials = job
    start = time.perf_counter()
    study = tune.create_study(sampler=sampler_for(opt, seed), pruner=tune.NopPruner())
    study.optimize(objective, n_trials=n_trials, catch=())
    values = [t.value for t in study.trials]
    best = study.best_trial
    return {"opt": opt, "seed": seed, "n_trials": n_trials, "values": values,
            "best_val": best.value, "best_val_at_10": min(values[:10]),
            "best_params": best.params, "wall_s": time.perf_counter() - start,
            "capped": sum(v >= CAP for v in values)}


def _q(a: list[float]) -> str:
    q25, med, q75 = np.quantile(np.asarray(a, dtype=float), [0.25, 0.5, 0.75])
    return f"{med:.4f} [{q25:.4f}-{q75:.4f}]"


def _p(a: np.ndarray, b: np.ndarray) -> str:
    from scipy.stats import wilcoxon

    d = a - b
    return "-" if not np.any(d != 0) else f"{wilcoxon(d).pvalue:.3g}"


def report(rows: list[dict]) -> str:
    by = {o: {r["seed"]: r for r in rows if r["opt"] == o} for o in OPTS}
    lines = ["| sampler | runs | best val loss after 10 trials | best val loss (30 trials) | "
             "better / worse than random | Wilcoxon p vs random | p vs GP | diverged trials "
             "| wall s per study |", "|---|---|---|---|---|---|---|---|---|"]
    for o in OPTS:
        if not by[o]:
            continue
        recs = list(by[o].values())
        cells = []
        for ref in ("zg_random", "zg_gp"):
            seeds = sorted(set(by[o]) & set(by[ref]))
            a = np.array([by[o][s]["best_val"] for s in seeds])
            b = np.array([by[ref][s]["best_val"] for s in seeds])
            cells.append((int(np.sum(a < b)), int(np.sum(a > b)), _p(a, b) if o != ref else "-"))
        lines.append(
            f"| {o} | {len(recs)} x {recs[0]['n_trials']} | "
            f"{_q([r['best_val_at_10'] for r in recs])} | {_q([r['best_val'] for r in recs])} | "
            f"{cells[0][0]} / {cells[0][1]} | {cells[0][2]} | {cells[1][2]} | "
            f"{sum(r['capped'] for r in recs)} of {sum(r['n_trials'] for r in recs)} | "
            f"{np.median([r['wall_s'] for r in recs]):.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--opts", default=",".join(OPTS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    if not args.report_only:
        done = set()
        if RAW.exists():
            done = {(r["opt"], r["seed"]) for r in map(json.loads, RAW.read_text().splitlines())
                    if r["n_trials"] == args.trials}
        jobs = [(o, s, args.trials) for s in range(args.seeds) for o in args.opts.split(",")
                if (o, s) not in done]
        RAW.parent.mkdir(exist_ok=True)
        with ProcessPoolExecutor(args.jobs) as pool, RAW.open("a") as f:
            for r in pool.map(run_one, jobs):
                f.write(json.dumps(r) + "\n")
                f.flush()
                print(f"{r['opt']:12s} seed {r['seed']}: best {r['best_val']:.4f} "
                      f"({r['wall_s']:.0f} s)", flush=True)
    print(report([json.loads(line) for line in RAW.read_text().splitlines()]))


if __name__ == "__main__":
    main()
