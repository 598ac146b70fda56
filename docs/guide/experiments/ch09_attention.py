"""Chapter 9 experiments: one attention layer trained to read two neighbours at once (the
token before and the token after each position), with one head and with two heads of the
same total width; their test accuracy and their attention maps.

Run: .venv/bin/python docs/guide/experiments ch09 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.nn import functional as F

LENGTH, VOCAB = 10, 8


class Neighbours(nn.Module):
    """Token and position embeddings, one multi-head self-attention layer, and a linear
    readout of two predictions per position: (N, L) -> (N, L, 2, VOCAB)."""

    def __init__(self, heads: int, width: int = 32) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, width)
        self.positions = nn.Embedding(LENGTH, width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.readout = nn.Linear(width, 2 * VOCAB)

    def forward(self, x: zg.Tensor, weights: bool = False):
        h = self.tokens(x) + self.positions(zg.arange(LENGTH))
        out, w = self.attn(h, h, h, need_weights=weights, average_attn_weights=False)
        y = self.readout(out).reshape(x.shape[0], LENGTH, 2, VOCAB)
        return (y, w) if weights else y


def neighbour_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x (N, L) random tokens; y (N, L, 2): the tokens at i - 1 and i + 1 (cyclically)."""
    x = np.random.default_rng(seed).integers(0, VOCAB, (n, LENGTH))
    return x, np.stack([np.roll(x, 1, axis=1), np.roll(x, -1, axis=1)], axis=-1)


def train(heads: int, n: int, epochs: int) -> tuple[Neighbours, list[float]]:
    rng = seed_everything(0)
    x, y = neighbour_data(n, seed=0)
    model = Neighbours(heads)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(epochs):
        order, total = rng.permutation(n), 0.0
        for i in range(0, n, 64):
            idx = order[i:i + 64]
            logits = model(zg.tensor(x[idx]))
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), zg.tensor(y[idx].reshape(-1)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    return model, losses


def evaluate(model: Neighbours) -> tuple[float, float, np.ndarray]:
    """Test accuracy of the 'before' and 'after' predictions, and the attention weights of
    one test sequence (heads, L, L)."""
    x, y = neighbour_data(500, seed=1)
    with zg.no_grad():
        logits, w = model(zg.tensor(x), weights=True)
    hit = logits.numpy().argmax(-1) == y
    return float(hit[..., 0].mean()), float(hit[..., 1].mean()), w.numpy()[0]


def plot_maps(maps: dict[str, np.ndarray]):
    panels = [(name, h, m[h]) for name, m in maps.items() for h in range(len(m))]
    fig, axes = figure(ncols=len(panels), width=2.7, height=2.8)
    for ax, (name, h, w) in zip(axes, panels):
        ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"{name}: head {h + 1}", fontsize=9)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
    return fig


def main(small: bool = False) -> None:
    n, epochs = (1000, 6) if small else (3000, 15)
    rows, maps = [], {}
    for heads in (1, 2):
        model, losses = train(heads, n, epochs)
        before, after, w = evaluate(model)
        name = f"{heads} head{'s' if heads > 1 else ''}"
        rows.append([name, losses[-1], before, after])
        maps[name] = w
    table("ch09_heads", ["attention (width 32)", "final training loss",
                         "accuracy: token before", "accuracy: token after"], rows)
    save_figure(plot_maps(maps), "ch09_attention_maps.png")


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
