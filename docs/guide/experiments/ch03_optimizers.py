"""Chapter 3: weight-update rules. zengrad's optimizers on an ill-conditioned quadratic and on
Rosenbrock's valley (trajectories on contour plots), each with its own learning rate tuned
on a grid; the noise of a mini-batch gradient against the batch size, measured on the
digits; the optimizers training an MLP on the digits (learning rate tuned on a validation
split); and a double well where plain gradient descent stops in the local minimum.

Run: .venv/bin/python docs/guide/experiments ch03 [--small]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.data import load_digits
from zengrad.nn import functional as F

OPTIMIZERS: dict[str, Callable] = {
    "SGD": lambda p, lr: optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9),
    "Nesterov": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "AdaGrad": lambda p, lr: optim.Adagrad(p, lr=lr),
    "RMSProp": lambda p, lr: optim.RMSprop(p, lr=lr),
    "Adam": lambda p, lr: optim.Adam(p, lr=lr),
}
ALL_OPTIMIZERS = {**OPTIMIZERS,
                  "AdamW": lambda p, lr: optim.AdamW(p, lr=lr, weight_decay=1e-2)}


def quadratic(p: zg.Tensor) -> zg.Tensor:
    """f = (x^2 + 50 y^2) / 2: curvatures 1 and 50 (condition number 50), minimum 0 at 0."""
    return 0.5 * (p[0] ** 2 + 50 * p[1] ** 2)


def rosenbrock(p: zg.Tensor) -> zg.Tensor:
    """f = (1 - x)^2 + 100 (y - x^2)^2: a curved, flat-bottomed valley, minimum 0 at (1, 1)."""
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def double_well(p: zg.Tensor) -> zg.Tensor:
    """f = x^4 - 3 x^2 + x: a local minimum near x = 1.13, the global one near x = -1.30."""
    return p[0] ** 4 - 3 * p[0] ** 2 + p[0]


def descend(fn: Callable, start, name: str, lr: float, steps: int) -> np.ndarray:
    """Run optimizer `name` on fn from start; the path, one row per step (float64)."""
    p = zg.tensor(np.array(start, dtype=np.float64), requires_grad=True)
    opt = OPTIMIZERS[name]([p], lr)
    path = [p.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = fn(p)
        loss.backward()
        opt.step()
        path.append(p.detach().numpy().copy())
        if not np.isfinite(path[-1]).all() or np.abs(path[-1]).max() > 1e6:
            break  # diverged: this learning rate loses the search
    return np.array(path)


def final_loss(fn: Callable, path: np.ndarray) -> float:
    last = path[-1]
    if not np.isfinite(last).all() or np.abs(last).max() > 1e6:
        return float("inf")
    return float(fn(zg.tensor(last)).item())


def tune_lr(fn: Callable, start, name: str, steps: int, lrs: np.ndarray
            ) -> tuple[float, np.ndarray]:
    """The learning rate of the grid with the lowest final loss, and its path."""
    best = min(((final_loss(fn, path), lr, path)
                for lr in lrs for path in [descend(fn, start, name, lr, steps)]),
               key=lambda r: r[0])
    return best[1], best[2]


def surfaces(small: bool) -> None:
    lrs = np.logspace(-3, 0, 4 if small else 13)
    cases = [("quadratic", quadratic, (-4.0, 1.0), 30 if small else 100, (-4.5, 4.5, -1.5, 1.5)),
             ("Rosenbrock", rosenbrock, (-1.5, 2.0), 100 if small else 500, (-2, 2, -1, 3))]
    fig, axes = figure(ncols=2, width=4.2, height=3.4)
    rows = []
    for ax, (title, fn, start, steps, (x0, x1, y0, y1)) in zip(axes, cases):
        gx, gy = np.meshgrid(np.linspace(x0, x1, 120), np.linspace(y0, y1, 120))
        z = fn(zg.tensor(np.stack([gx, gy]))).numpy()
        ax.contour(gx, gy, np.log1p(z), levels=20, cmap="Greys", linewidths=0.6)
        for name in OPTIMIZERS:
            lr, path = tune_lr(fn, start, name, steps, lrs)
            ax.plot(path[:, 0], path[:, 1], "-", lw=1.2, label=f"{name} (lr {lr:.2g})")
            rows.append([title, name, float(lr), steps, final_loss(fn, path)])
        ax.plot(*start, "ko", ms=4)
        ax.plot(*((0, 0) if title == "quadratic" else (1, 1)), "r*", ms=10)
        ax.set(title=f"{title}, {steps} steps", xlim=(x0, x1), ylim=(y0, y1))
        ax.legend(fontsize=6, loc="lower right" if title == "quadratic" else "upper left")
    save_figure(fig, "ch03_trajectories.png")
    table("ch03_surfaces", ["surface", "optimizer", "tuned lr", "steps", "final loss"], rows,
          ".3g")


def gradient_noise(small: bool) -> None:
    """E ||g_B - g||^2 of a softmax regression's weight gradient at initialization, for
    mini-batches of B examples drawn without replacement; g is the full-batch gradient."""
    (xtr, ytr), _ = load_digits(flatten=True)
    rng = seed_everything(0)
    model = nn.Linear(64, 10)

    def gradient(rows: np.ndarray) -> np.ndarray:
        model.zero_grad()
        F.cross_entropy(model(zg.from_numpy(xtr[rows])), zg.from_numpy(ytr[rows])).backward()
        return model.weight.grad.numpy().copy()

    full = gradient(np.arange(len(xtr)))
    sizes = [1, 4, 16, 64] if small else [1, 2, 4, 8, 16, 32, 64, 128, 256]
    draws = 20 if small else 200
    rows, noise = [], []
    for b in sizes:
        sq = np.mean([np.sum((gradient(rng.choice(len(xtr), b, replace=False)) - full) ** 2)
                      for _ in range(draws)])
        noise.append(sq)
        rows.append([b, float(sq), float(sq * b)])
    table("ch03_noise", ["batch size B", "E‖g_B − g‖²", "B · E‖g_B − g‖²"], rows,
          ".3g")
    fig, (ax,) = figure(width=4.2, height=3.0)
    ax.loglog(sizes, noise, "o-", label="measured")
    ax.loglog(sizes, noise[0] / np.array(sizes), "--", color="gray", label="noise(1) / B")
    ax.set(xlabel="batch size B", ylabel="E‖g_B − g‖²", title="mini-batch gradient noise")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, "ch03_noise.png")


def train_digits(name: str, lr: float, data, epochs: int, seed: int = 0) -> tuple[list, float]:
    """An MLP 64-64-10 trained with mini-batches of 32; (loss per epoch, accuracy on eval)."""
    (xtr, ytr), (xev, yev) = data
    rng = seed_everything(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = ALL_OPTIMIZERS[name](model.parameters(), lr)
    curve = []
    for _ in range(epochs):
        order, total = rng.permutation(len(xtr)), 0.0
        for i in range(0, len(order), 32):
            batch = order[i:i + 32]
            loss = F.cross_entropy(model(zg.from_numpy(xtr[batch])), zg.from_numpy(ytr[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        curve.append(total / len(xtr))
    with zg.no_grad():
        accuracy = float((model(zg.from_numpy(xev)).numpy().argmax(1) == yev).mean())
    return curve, accuracy


def digits(small: bool) -> None:
    (xtr, ytr), (xte, yte) = load_digits(flatten=True)
    if small:
        xtr, ytr = xtr[:300], ytr[:300]
    cut = int(0.8 * len(xtr))
    fit, val = (xtr[:cut], ytr[:cut]), (xtr[cut:], ytr[cut:])
    epochs = 2 if small else 10
    grid = {"SGD": [0.03, 0.1, 0.3], "momentum": [0.003, 0.01, 0.03],
            "Nesterov": [0.003, 0.01, 0.03], "AdaGrad": [0.01, 0.03, 0.1],
            "RMSProp": [3e-4, 1e-3, 3e-3], "Adam": [3e-4, 1e-3, 3e-3],
            "AdamW": [3e-4, 1e-3, 3e-3]}
    rows = []
    fig, (ax,) = figure(width=4.6, height=3.2)
    for name, lrs in grid.items():
        lr = max(lrs, key=lambda lr: train_digits(name, lr, (fit, val), epochs)[1])
        curve, accuracy = train_digits(name, lr, ((xtr, ytr), (xte, yte)), epochs)
        ax.plot(range(1, epochs + 1), curve, "o-", ms=3, label=f"{name} (lr {lr:g})")
        rows.append([name, lr, curve[-1], accuracy])
    ax.set(xlabel="epoch", ylabel="training loss", yscale="log", title="MLP on the digits")
    ax.legend(fontsize=7)
    save_figure(fig, "ch03_digits.png")
    table("ch03_digits", ["optimizer", "lr (tuned on validation)", "final training loss",
                          "test accuracy"], rows, ".3g")


def double_well_table(small: bool) -> None:
    steps, lr = (100, 0.01) if small else (300, 0.01)
    rows = []
    for name in OPTIMIZERS:
        path = descend(double_well, (2.0,), name, lr, steps)
        x = float(path[-1, 0])
        reached = ("global" if abs(x + 1.301) < 0.05 else "local" if abs(x - 1.131) < 0.05
                   else "none yet")
        rows.append([name, lr, x, final_loss(double_well, path), reached])
    table("ch03_double_well", ["optimizer", "lr", "final x", "f(x)", "minimum reached"], rows,
          ".4g")
    fig, (ax,) = figure(width=4.2, height=3.0)
    xs = np.linspace(-2.1, 2.1, 300)
    ax.plot(xs, xs ** 4 - 3 * xs ** 2 + xs, color="k", lw=1)
    for name, _, x, fx, _ in rows:
        ax.plot(x, fx, "o", label=name)
    ax.plot(2.0, double_well(zg.tensor([2.0])).item(), "ks", label="start")
    ax.set(xlabel="x", ylabel="f(x)", title=f"double well, lr {lr}, {steps} steps")
    ax.legend(fontsize=7)
    save_figure(fig, "ch03_double_well.png")


def main(small: bool = False) -> None:
    surfaces(small)
    gradient_noise(small)
    digits(small)
    double_well_table(small)


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
