"""Train a 2-layer MLP on scikit-learn's 8x8 digits with the bare engine and hand-written SGD.

Run: make train (or .venv/bin/python examples/train_digits.py)
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

import zengrad as zg


def load(seed: int = 0):
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = 360
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def train(epochs: int = 30, batch_size: int = 32, lr: float = 0.1, hidden: int = 64,
          seed: int = 0) -> float:
    """Return the test accuracy of an MLP 64-hidden-10 trained with mini-batch SGD."""
    zg.manual_seed(seed)
    (xtr, ytr), (xte, yte) = load(seed)
    w1 = (zg.randn(64, hidden) * (1 / 8)).requires_grad_()
    b1 = zg.zeros(hidden, requires_grad=True)
    w2 = (zg.randn(hidden, 10) * hidden**-0.5).requires_grad_()
    b2 = zg.zeros(10, requires_grad=True)
    params = [w1, b1, w2, b2]
    rng = np.random.default_rng(seed)

    def forward(x):
        return (x @ w1 + b1).relu() @ w2 + b2

    for epoch in range(epochs):
        order = rng.permutation(len(xtr))
        for start in range(0, len(xtr), batch_size):
            idx = order[start : start + batch_size]
            logits = forward(zg.from_numpy(xtr[idx]))
            # cross-entropy from logits: mean of logsumexp(z) - z[target]
            target = zg.from_numpy(ytr[idx])
            loss = (logits.logsumexp(1) - logits[np.arange(len(idx)), target]).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with zg.no_grad():
                for p in params:
                    p.data -= lr * p.grad.data
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1:3d}  loss {loss.item():.4f}")
    with zg.no_grad():
        pred = forward(zg.from_numpy(xte)).argmax(1).numpy()
    return float((pred == yte).mean())


if __name__ == "__main__":
    acc = train()
    print(f"test accuracy: {acc:.4f}")
