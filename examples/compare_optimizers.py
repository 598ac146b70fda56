"""Train one 64-32-10 MLP on scikit-learn's 8x8 digits with six optimizers; plot the losses.

Every run starts from the same initial weights and sees the mini-batches in the same order,
so the curves differ only by the update rule: full-batch gradient descent, mini-batch SGD,
SGD with momentum, AdaGrad, RMSProp and Adam.

Run: .venv/bin/python examples/compare_optimizers.py  (writes compare_optimizers.png)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_digits

import zengrad as zg
import zengrad.nn.functional as F
from zengrad import nn, optim

# name -> (optimizer factory, batch size; None = the whole training set)
OPTIMIZERS: dict[str, tuple[Callable, int | None]] = {
    "gradient descent (full batch)": (lambda p: optim.SGD(p, lr=0.5), None),
    "mini-batch SGD": (lambda p: optim.SGD(p, lr=0.05), 32),
    "SGD + momentum 0.9": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9), 32),
    "AdaGrad": (lambda p: optim.Adagrad(p, lr=0.05), 32),
    "RMSProp": (lambda p: optim.RMSprop(p, lr=1e-3), 32),
    "Adam": (lambda p: optim.Adam(p, lr=1e-3), 32),
}


def load_data() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


def make_model(seed: int) -> nn.Module:
    zg.manual_seed(seed)  # the same initial weights for every optimizer
    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))


def train(make_optimizer: Callable, batch_size: int | None, x: np.ndarray, y: np.ndarray,
          epochs: int, seed: int) -> list[float]:
    """Loss on the whole training set before training and after each epoch."""
    model = make_model(seed)
    opt = make_optimizer(model.parameters())
    xs, ys = zg.from_numpy(x), zg.from_numpy(y)
    rng = np.random.default_rng(seed)
    batch = len(x) if batch_size is None else batch_size

    def full_loss() -> float:
        with zg.no_grad():
            return F.cross_entropy(model(xs), ys).item()

    losses = [full_loss()]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(zg.from_numpy(x[idx])), zg.from_numpy(y[idx]))
            loss.backward()
            opt.step()
        losses.append(full_loss())
    return losses


def plot(curves: dict[str, list[float]], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    for name, losses in curves.items():
        ax.plot(range(len(losses)), losses, label=name, linewidth=1.6)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cross-entropy (full set)")
    ax.set_title("64-32-10 MLP on 8x8 digits: one network, six optimizers")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))  # outside: curves stay clear
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(epochs: int = 30, out: str = "compare_optimizers.png",
         seed: int = 0) -> dict[str, list[float]]:
    """Train with each optimizer, save the loss plot to `out`, return the loss curves."""
    x, y = load_data()
    curves = {
        name: train(factory, batch_size, x, y, epochs, seed)
        for name, (factory, batch_size) in OPTIMIZERS.items()
    }
    plot(curves, out)
    return curves


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="compare_optimizers.png")
    args = parser.parse_args()
    for name, losses in main(args.epochs, args.out).items():
        print(f"{name:32s} loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(f"saved {args.out}")
