"""Chapter 5: regularization and stability. L1 against L2 on a sparse linear regression
(exact zeros counted); dropout and early stopping on an MLP that overfits 200 digits;
gradient clipping rescuing an RNN whose gradients explode; batch norm in a deep sigmoid MLP.

Run: .venv/bin/python docs/guide/experiments ch05 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.data import load_digits
from zengrad.nn import functional as F
from zengrad.nn.utils import clip_grad_norm_


def sparse_regression(small: bool) -> None:
    """50 features, 5 of them informative. L1 by its proximal step (soft thresholding after
    each gradient step: what sets weights exactly to zero); L2 as weight decay."""
    rng = seed_everything(0)
    n, d = 100, 50
    true = np.zeros(d, np.float32)
    true[:5] = [3, -2, 1.5, -1, 2]
    x = rng.normal(size=(2 * n, d)).astype(np.float32)
    y = (x @ true + rng.normal(0, 0.5, 2 * n)).astype(np.float32)
    steps, lr = (200 if small else 2000), 0.01
    rows, weights = [], {}
    for name, lam in (("none", 0.0), ("L2", 0.1), ("L1", 0.1)):
        seed_everything(0)
        w = zg.zeros(d, requires_grad=True)
        opt = optim.SGD([w], lr=lr, weight_decay=lam if name == "L2" else 0.0)
        xt, yt = zg.from_numpy(x[:n]), zg.from_numpy(y[:n])
        for _ in range(steps):
            loss = 0.5 * F.mse_loss(xt @ w, yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if name == "L1":  # prox of lr * lam * |w|: shrink by lr * lam, stop at zero
                with zg.no_grad():
                    a = w.array
                    a[...] = np.sign(a) * np.maximum(np.abs(a) - lr * lam, 0)
        wv = w.detach().numpy()
        weights[name] = wv
        test = float(np.mean((x[n:] @ wv - y[n:]) ** 2))
        rows.append([name, lam, int(np.sum(wv == 0)), int(np.sum(np.abs(wv) < 1e-3)),
                     float(np.linalg.norm(wv)), test])
    table("ch05_l1_l2", ["penalty", "lambda", "weights exactly 0 (of 50)", "|w| < 1e-3",
                         "‖w‖₂ (true 4.5)", "test MSE"], rows, ".3g")
    fig, (ax,) = figure(width=5.0, height=2.8)
    for i, (name, wv) in enumerate(weights.items()):
        ax.bar(np.arange(d) + (i - 1) * 0.28, wv, 0.28, label=name)
    ax.set(xlabel="feature (the first 5 matter)", ylabel="weight", title="L1 vs L2")
    ax.legend(fontsize=7)
    save_figure(fig, "ch05_l1_l2.png")


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with zg.no_grad():
        return float((model(zg.from_numpy(x)).numpy().argmax(1) == y).mean())


def overfitting(small: bool) -> None:
    """An MLP 64-256-256-10 on only 200 digits, full batch Adam; validation loss per epoch."""
    (xtr, ytr), (xte, yte) = load_digits(flatten=True)
    fit_x, fit_y = zg.from_numpy(xtr[:200]), zg.from_numpy(ytr[:200])
    val_x, val_y = zg.from_numpy(xtr[200:600]), zg.from_numpy(ytr[200:600])
    epochs = 40 if small else 200
    rows = []
    fig, (ax,) = figure(width=4.6, height=3.2)
    for p in (0.0, 0.5):
        seed_everything(0)
        model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(p),
                              nn.Linear(256, 256), nn.ReLU(), nn.Dropout(p), nn.Linear(256, 10))
        opt = optim.Adam(model.parameters(), lr=1e-3)
        val, best_state, best = [], None, (np.inf, 0)
        for epoch in range(1, epochs + 1):
            model.train()
            loss = F.cross_entropy(model(fit_x), fit_y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.eval()  # dropout off to measure
            with zg.no_grad():
                v = F.cross_entropy(model(val_x), val_y).item()
            val.append(v)
            if v < best[0]:  # early stopping keeps the weights of the best epoch
                best = (v, epoch)
                best_state = {k: t.numpy().copy() for k, t in model.state_dict().items()}
        last_acc = accuracy(model, xte, yte)
        model.load_state_dict(best_state)
        rows.append([f"dropout p={p}", best[1], best[0], val[-1], last_acc,
                     accuracy(model, xte, yte)])
        ax.plot(range(1, epochs + 1), val, label=f"dropout {p}")
        ax.plot(best[1], best[0], "k|", ms=12)
    ax.set(xlabel="epoch", ylabel="validation loss", yscale="log",
           title="200 training digits (| = early stop)")
    ax.legend()
    save_figure(fig, "ch05_overfit.png")
    table("ch05_overfit", ["model", "best epoch", "val loss at best", "val loss at the end",
                           "test acc. at the end", "test acc. early-stopped"], rows, ".3g")


def exploding_rnn(small: bool) -> None:
    """A tanh RNN (recurrent weights scaled by 3) learns the sum of the last 3 of 20 inputs;
    SGD with momentum at lr 0.2, with and without clip_grad_norm_(max_norm=1)."""
    rng = seed_everything(0)
    x = rng.normal(size=(64, 20, 1)).astype(np.float32)
    y = x[:, -3:, 0].sum(1, keepdims=True).astype(np.float32)
    steps = 40 if small else 100
    rows = []
    fig, (ax_loss, ax_norm) = figure(ncols=2, width=3.8, height=3.0)
    for lr, clip in ((0.05, None), (0.2, None), (0.2, 1.0)):
        seed_everything(0)
        rnn, head = nn.RNN(1, 16, batch_first=True), nn.Linear(16, 1)
        with zg.no_grad():
            rnn.weight_hh_l0.mul_(3.0)
        params = [*rnn.parameters(), *head.parameters()]
        opt = optim.SGD(params, lr=lr, momentum=0.9)
        losses, norms = [], []
        for _ in range(steps):
            out, _ = rnn(zg.from_numpy(x))
            loss = F.mse_loss(head(out[:, -1]), zg.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            with np.errstate(over="ignore", invalid="ignore"):  # the unclipped run overflows
                norm = clip_grad_norm_(params, clip if clip else float("inf"))
            opt.step()
            losses.append(loss.item())
            norms.append(float(norm))
        label = f"lr {lr}" + (f", clip {clip}" if clip else "")
        ax_loss.plot(losses, label=label)
        ax_norm.plot(norms, label=label)
        rows.append([label, losses[0], losses[-1], max(norms)])
    ax_loss.set(xlabel="step", ylabel="training MSE", yscale="log", title="loss")
    ax_norm.set(xlabel="step", ylabel="gradient norm (before clipping)", yscale="log",
                title="gradient norm")
    ax_loss.legend(fontsize=7)
    save_figure(fig, "ch05_clipping.png")
    table("ch05_clipping", ["run", "first loss", "last loss", "largest gradient norm"], rows,
          ".3g")


def batch_norm(small: bool) -> None:
    """A 6-layer sigmoid MLP on the digits, SGD lr 0.5, with and without BatchNorm1d."""
    (xtr, ytr), (xte, yte) = load_digits(flatten=True)
    if small:
        xtr, ytr = xtr[:300], ytr[:300]
    epochs = 2 if small else 8
    rows = []
    fig, (ax,) = figure(width=4.2, height=3.0)
    for use_bn in (False, True):
        rng = seed_everything(0)
        layers: list = []
        for _ in range(6):
            layers += [nn.Linear(64, 64), *([nn.BatchNorm1d(64)] if use_bn else []),
                       nn.Sigmoid()]
        model = nn.Sequential(*layers, nn.Linear(64, 10))
        opt = optim.SGD(model.parameters(), lr=0.5)
        curve = []
        for _ in range(epochs):
            model.train()
            order, total = rng.permutation(len(xtr)), 0.0
            for i in range(0, len(order), 32):
                b = order[i:i + 32]
                loss = F.cross_entropy(model(zg.from_numpy(xtr[b])), zg.from_numpy(ytr[b]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
            curve.append(total / len(xtr))
        model.eval()
        with zg.no_grad():
            acc = float((model(zg.from_numpy(xte)).numpy().argmax(1) == yte).mean())
        name = "with BatchNorm1d" if use_bn else "without"
        ax.plot(range(1, epochs + 1), curve, "o-", ms=3, label=name)
        rows.append([name, curve[0], curve[-1], acc])
    ax.set(xlabel="epoch", ylabel="training loss", title="6 sigmoid layers, SGD lr 0.5")
    ax.legend()
    save_figure(fig, "ch05_batchnorm.png")
    table("ch05_batchnorm", ["model", "loss, epoch 1", "loss, last epoch", "test accuracy"],
          rows, ".3g")


def main(small: bool = False) -> None:
    sparse_regression(small)
    overfitting(small)
    exploding_rnn(small)
    batch_norm(small)


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
