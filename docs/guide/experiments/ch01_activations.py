"""Chapter 1: activations and their derivatives (computed by zengrad's autograd), how the
gradient reaching the first layer of a deep net depends on the activation, and how many ReLU
units die when an MLP on the digits is trained with too high a learning rate.

Run: .venv/bin/python docs/guide/experiments ch01 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.data import load_digits
from zengrad.nn import functional as F

ACTIVATIONS = {"sigmoid": F.sigmoid, "tanh": F.tanh, "relu": F.relu,
               "leaky_relu": lambda x: F.leaky_relu(x, 0.1)}


def value_and_derivative(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x), the derivative by backpropagation (sum of f(x_i) -> df/dx_i)."""
    t = zg.tensor(x, requires_grad=True)
    y = ACTIVATIONS[name](t)
    y.sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def curves(small: bool) -> None:
    x = np.linspace(-8, 8, 401 if small else 1601)
    fig, (ax_f, ax_d) = figure(ncols=2)
    rows = []
    for name in ACTIVATIONS:
        y, d = value_and_derivative(name, x)
        ax_f.plot(x, y, label=name)
        ax_d.plot(x, d, label=name)
        rows.append([name, float(y.min()), float(y.max()), float(d.max()),
                     float(np.mean(d < 0.01))])
    # the range is open for sigmoid and tanh: even at |x| = 8 they stay inside it
    ax_f.set(title="f(x)", xlabel="x", ylim=(-1.5, 3))
    ax_d.set(title="f'(x) by backprop", xlabel="x", ylim=(-0.05, 1.1))
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="gray", lw=0.5)
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=8)
    save_figure(fig, "ch01_activations.png")
    table("ch01_activations", ["activation", "min f on [-8, 8]", "max f on [-8, 8]",
                               "max f'", "share of x with f' < 0.01"], rows, ".7g")


def first_layer_gradient(act: str, depth: int, width: int = 64, batch: int = 64) -> float:
    """Norm of dL/dW of the first layer of a depth-layer MLP at initialization."""
    seed_everything(1)
    layers: list = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
                                             "relu": nn.ReLU()}[act]]
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    for m in model.modules():  # He init suits ReLU; Xavier (gain 1) the saturating ones
        if isinstance(m, nn.Linear):
            if act == "relu":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)
    x = zg.randn(batch, width)
    model(x).pow(2).mean().backward()
    return float(np.linalg.norm(model[0].weight.grad.numpy()))


def depth_table(small: bool) -> None:
    depths = [1, 5, 10] if small else [1, 5, 10, 20]
    rows = [[act, *[first_layer_gradient(act, d) for d in depths]]
            for act in ("sigmoid", "tanh", "relu")]
    table("ch01_depth", ["activation", *[f"depth {d}" for d in depths]], rows, ".2e")


def dead_units(model: nn.Sequential, x: zg.Tensor) -> int:
    """Hidden units (after model[1], the ReLU) that output 0 for every row of x."""
    with zg.no_grad():
        h = model[1](model[0](x)).numpy()
    return int((h.max(axis=0) <= 0).sum())


def dead_relu(small: bool) -> None:
    """Train 64-H-10 ReLU MLPs on the digits with SGD at several learning rates; a hidden
    unit is dead when it outputs 0 for every training image (its gradient is then 0 too)."""
    (xtr, ytr), (xte, yte) = load_digits(flatten=True)
    if small:
        xtr, ytr = xtr[:400], ytr[:400]
    hidden, epochs = (32, 3) if small else (100, 10)
    x_all, x_test = zg.from_numpy(xtr), zg.from_numpy(xte)
    rows, fractions = [], []
    lrs = [0.05, 0.5, 3.0]
    for lr in lrs:
        rng = seed_everything(0)
        model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
        opt = optim.SGD(model.parameters(), lr=lr)
        dead_at_start = dead_units(model, x_all)
        for _ in range(epochs):
            order = rng.permutation(len(xtr))
            for i in range(0, len(order), 32):
                batch = order[i:i + 32]
                loss = F.cross_entropy(model(zg.from_numpy(xtr[batch])),
                                       zg.from_numpy(ytr[batch]))
                opt.zero_grad()
                loss.backward()
                opt.step()
        with zg.no_grad():
            accuracy = float((model(x_test).numpy().argmax(1) == yte).mean())
        dead = dead_units(model, x_all)
        fractions.append(dead / hidden)
        rows.append([lr, f"{dead_at_start}/{hidden}", f"{dead}/{hidden}", accuracy])
    table("ch01_dead_relu", ["SGD lr", "dead units at start", "dead units after training",
                             "test accuracy"], rows, ".3g")
    fig, (ax,) = figure(width=3.6, height=2.6)
    ax.bar([str(lr) for lr in lrs], fractions, color=["tab:green", "tab:olive", "tab:red"])
    ax.set(xlabel="SGD learning rate", ylabel="share of dead ReLU units", ylim=(0, 1))
    save_figure(fig, "ch01_dead_relu.png")


def main(small: bool = False) -> None:
    curves(small)
    depth_table(small)
    dead_relu(small)


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
