"""Chapter 4: losses. MSE against Huber on a line fit with outliers; softmax cross-entropy
against per-class sigmoid BCE on multi-label targets (how many labels each can predict).

Run: .venv/bin/python docs/guide/experiments ch04 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.nn import functional as F

TRUE_SLOPE, TRUE_INTERCEPT = 2.0, 1.0


def fit_line(x: np.ndarray, y: np.ndarray, loss_name: str, steps: int) -> tuple[float, float]:
    """Fit y ~ a x + b by full-batch Adam on the named loss; (a, b)."""
    seed_everything(0)
    model = nn.Linear(1, 1)
    opt = optim.Adam(model.parameters(), lr=0.05)
    xt, yt = zg.from_numpy(x[:, None]), zg.from_numpy(y[:, None])
    for _ in range(steps):
        out = model(xt)
        loss = F.mse_loss(out, yt) if loss_name == "MSE" else F.huber_loss(out, yt, delta=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.weight.item(), model.bias.item()


def outliers(small: bool) -> None:
    rng = seed_everything(0)
    n = 100
    x = rng.uniform(-3, 3, n).astype(np.float32)
    y = (TRUE_SLOPE * x + TRUE_INTERCEPT + rng.normal(0, 0.5, n)).astype(np.float32)
    bad = rng.choice(n, 10, replace=False)
    y[bad] += 15.0  # 10% of the targets corrupted upwards
    steps = 300 if small else 1500
    fig, (ax_fit, ax_loss) = figure(ncols=2)
    ax_fit.scatter(x, y, s=8, color="gray")
    ax_fit.scatter(x[bad], y[bad], s=12, color="red", label="outliers")
    grid = np.linspace(-3, 3, 2)
    rows = []
    for name, color in (("MSE", "tab:blue"), ("Huber (delta 1)", "tab:green")):
        a, b = fit_line(x, y, name, steps)
        ax_fit.plot(grid, a * grid + b, color=color, label=name)
        rows.append([name, a, b, abs(a - TRUE_SLOPE) + abs(b - TRUE_INTERCEPT)])
    ax_fit.plot(grid, TRUE_SLOPE * grid + TRUE_INTERCEPT, "k--", lw=1, label="true line")
    ax_fit.set(title="line fit with 10% outliers", xlabel="x", ylabel="y")
    ax_fit.legend(fontsize=7)
    z = np.linspace(-3, 3, 301)
    huber = np.where(np.abs(z) < 1, 0.5 * z * z, np.abs(z) - 0.5)
    ax_loss.plot(z, z * z, label="MSE term z²")
    ax_loss.plot(z, huber, label="Huber, delta 1")
    ax_loss.plot(z, 2 * z, ":", label="d/dz of z²")
    ax_loss.plot(z, np.clip(z, -1, 1), ":", label="d/dz of Huber")
    ax_loss.axvspan(-1, 1, color="green", alpha=0.08)
    ax_loss.set(title="loss of one residual z", xlabel="z", ylim=(-3, 6))
    ax_loss.legend(fontsize=7)
    save_figure(fig, "ch04_huber.png")
    table("ch04_huber", ["loss", "slope (true 2)", "intercept (true 1)",
                         "|slope error| + |intercept error|"], rows, ".3f")


def multilabel_data(rng: np.random.Generator, n: int, features: int = 10, labels: int = 4):
    """Each of `labels` tags is present independently (a thresholded random projection)."""
    w = rng.normal(size=(features, labels))
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ w + rng.normal(0, 0.3, (n, labels)) > 0.3).astype(np.float32)
    return x, y


def multilabel(small: bool) -> None:
    rng = seed_everything(1)
    n_train, n_test = (300, 300) if small else (2000, 1000)
    xtr, ytr = multilabel_data(rng, n_train + n_test)
    xte, yte = xtr[n_train:], ytr[n_train:]
    xtr, ytr = xtr[:n_train], ytr[:n_train]
    steps = 100 if small else 400
    rows = []
    for name in ("softmax cross-entropy", "sigmoid BCE per class"):
        seed_everything(0)
        model = nn.Linear(10, 4)
        opt = optim.Adam(model.parameters(), lr=0.05)
        xt = zg.from_numpy(xtr)
        # softmax CE needs a distribution: spread each example's mass over its labels
        share = ytr / np.maximum(ytr.sum(1, keepdims=True), 1)
        for _ in range(steps):
            logits = model(xt)
            if name.startswith("softmax"):
                loss = F.cross_entropy(logits, zg.from_numpy(share))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, zg.from_numpy(ytr))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with zg.no_grad():
            logits = model(zg.from_numpy(xte))
            p = (F.softmax(logits, dim=1) if name.startswith("softmax")
                 else F.sigmoid(logits)).numpy()
        predicted = p > 0.5
        rows.append([name, float(yte.sum(1).mean()), float(predicted.sum(1).mean()),
                     int(predicted.sum(1).max()), float((predicted == yte).mean()),
                     float((predicted == yte).all(1).mean())])
    table("ch04_multilabel", ["loss", "labels per example (true)", "predicted (p > 0.5)",
                              "most predicted at once", "per-label accuracy",
                              "all labels right"], rows, ".3f")
    fig, (ax,) = figure(width=4.2, height=2.8)
    counts = np.arange(5)
    ax.bar(counts - 0.2, [np.mean(yte.sum(1) == c) for c in counts], 0.4, label="true")
    ax.bar(counts + 0.2, [np.mean(predicted.sum(1) == c) for c in counts], 0.4,
           label="BCE predicted")
    ax.set(xlabel="labels per example", ylabel="share of test examples",
           title="multi-label targets (4 tags)")
    ax.legend()
    save_figure(fig, "ch04_multilabel.png")


def main(small: bool = False) -> None:
    outliers(small)
    multilabel(small)


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
