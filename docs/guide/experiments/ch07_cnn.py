"""Chapter 7 experiments: convolution and pooling output sizes (the formula against the
layers), and a deep plain network against the same depth with residual connections.

Run: .venv/bin/python docs/guide/experiments ch07 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.data import load_digits
from zengrad.nn import functional as F


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0,
             dilation: int = 1) -> int:
    """floor((H + 2p - d (k - 1) - 1) / s) + 1: the positions a dilated kernel fits in."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# (H, kernel, stride, padding, dilation): the cases a reader meets most
CASES = [(28, 5, 1, 0, 1), (28, 3, 1, 1, 1), (28, 3, 2, 1, 1), (28, 3, 1, 2, 2),
         (32, 7, 2, 3, 1), (7, 3, 2, 0, 1), (8, 1, 1, 0, 1), (5, 5, 1, 0, 1)]


def size_table() -> list[list]:
    """Each case's formula against what nn.Conv2d and nn.MaxPool2d return."""
    rows = []
    for h, k, s, p, d in CASES:
        x = zg.zeros(1, 1, h, h)
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        got = conv(x).shape[-1]
        pool = nn.MaxPool2d(k, stride=s, padding=min(p, k // 2), dilation=d)(x).shape[-1]
        rows.append([h, k, s, p, d, conv_out(h, k, s, p, d), got,
                     conv_out(h, k, s, min(p, k // 2), d), pool])
    return rows


def pooling_figure() -> None:
    """A digit, max-pooled 2x2 twice: each pool halves the map (8 -> 4 -> 2)."""
    (x, _), _ = load_digits()
    img = zg.tensor(x[:1])                                   # (1, 1, 8, 8)
    maps = [img, F.max_pool2d(img, 2), F.max_pool2d(F.max_pool2d(img, 2), 2)]
    fig, axes = figure(ncols=3, width=2.6, height=2.6)
    for ax, m in zip(axes, maps):
        ax.imshow(m.numpy()[0, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{m.shape[-2]} x {m.shape[-1]}")
        ax.set_xticks([])
        ax.set_yticks([])
    save_figure(fig, "ch07_pooling.png")


class Block(nn.Module):
    """conv-BN-ReLU-conv-BN, then ReLU of (that + x) with the shortcut, of that alone
    without: the same layers and parameters either way."""

    def __init__(self, width: int, residual: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.residual = residual

    def forward(self, x: zg.Tensor) -> zg.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + x) if self.residual else F.relu(out)


def make_net(blocks: int, residual: bool, width: int = 8) -> nn.Module:
    """A stem conv, `blocks` blocks (2 convs each), global average pooling and a linear
    layer: 2 blocks + 2 layers deep."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        *[Block(width, residual) for _ in range(blocks)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


def train_curve(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int,
                rng: np.random.Generator, lr: float = 0.05) -> list[float]:
    """Mean training cross-entropy of each epoch (SGD with momentum, batch 64)."""
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(epochs):
        order, total = rng.permutation(len(x)), 0.0
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(zg.tensor(x[idx])), zg.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(x))
    return losses


def depth_experiment(small: bool) -> dict[str, list[float]]:
    (x, y), _ = load_digits()
    if small:
        x, y = x[:256], y[:256]
    epochs = 3 if small else 10
    curves = {}
    for blocks in (1, 6) if small else (1, 4, 12):
        for residual in (False, True):
            rng = seed_everything(0)
            name = f"{'residual' if residual else 'plain'}, {2 * blocks + 2} layers"
            curves[name] = train_curve(make_net(blocks, residual), x, y, epochs, rng)
    return curves


def main(small: bool = False) -> None:
    table("ch07_sizes", ["H", "k", "s", "p", "d", "conv formula", "nn.Conv2d", "pool formula",
                         "nn.MaxPool2d"], size_table())
    pooling_figure()
    curves = depth_experiment(small)
    fig, (ax,) = figure(width=6.0, height=3.6)
    depths = sorted({name.split(", ")[1] for name in curves}, key=lambda d: int(d.split()[0]))
    for name, losses in curves.items():
        color = f"C{depths.index(name.split(', ')[1])}"
        ax.plot(range(1, len(losses) + 1), losses, "--" if "plain" in name else "-",
                color=color, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cross-entropy")
    ax.set_title("8x8 digits: plain vs residual at equal depth")
    ax.legend(fontsize=8)
    save_figure(fig, "ch07_residual.png")
    table("ch07_residual", ["network", "first epoch", "last epoch"],
          [[name, c[0], c[-1]] for name, c in curves.items()])


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
