"""Generated data sets, seeded (the same seed gives the same arrays)."""

from __future__ import annotations

import numpy as np


def _check_n(n: int, who: str, low: int = 1) -> int:
    if not isinstance(n, (int, np.integer)) or n < low:
        raise ValueError(f"{who}: expected an integer >= {low}, got {n!r}")
    return int(n)


def make_moons(n_samples: int = 1000, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: x float32 (N, 2), y int64 (N,) in {0, 1}.

    Upper moon (cos t, sin t), lower moon (1 - cos t, 0.5 - sin t), t ~ U(0, pi), plus
    N(0, noise^2) on each coordinate.
    """
    n = _check_n(n_samples, "make_moons: n_samples", 2)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t = rng.uniform(0.0, np.pi, size=n)
    y = (np.arange(n) >= n0).astype(np.int64)
    x = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], 1),
                 np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1))
    x = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order]


def make_spirals(n_samples: int = 900, n_classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Interleaved spiral arms, one per class: x float32 (N, 2), y int64 (N,).

    Arm k: radius r ~ U(0, 1), angle 4 r + 2 pi k / K + N(0, noise^2).
    """
    n = _check_n(n_samples, "make_spirals: n_samples")
    k = _check_n(n_classes, "make_spirals: n_classes", 2)
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int64) % k
    r = rng.uniform(0.0, 1.0, size=n)
    angle = 4.0 * r + 2.0 * np.pi * y / k + rng.normal(0.0, noise, size=n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], 1)
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order]


def make_noisy_sine(n_points: int = 1000, period: float = 50.0, noise: float = 0.1,
                    seed: int = 0):
    """A series sin(2 pi t / period) + N(0, noise^2), t = 0..n-1: float32 (n_points,);
    cut it into windows with sliding_windows."""
    n = _check_n(n_points, "make_noisy_sine: n_points")
    if period <= 0:
        raise ValueError(f"make_noisy_sine: period must be > 0, got {period}")
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (np.sin(2.0 * np.pi * t / period) + rng.normal(0.0, noise, n)).astype(np.float32)


_TASKS = ("copy", "reverse", "sort")


def make_sequence_task(task: str = "reverse", n_samples: int = 1000, seq_len: int = 10,
                       vocab_size: int = 10, seed: int = 0):
    """Token sequences for attention models: x int64 (N, seq_len) uniform over
    [0, vocab_size), y int64 (N, seq_len) = x copied, reversed or sorted per row."""
    if task not in _TASKS:
        raise ValueError(f"make_sequence_task: task must be one of {_TASKS}, got {task!r}")
    n = _check_n(n_samples, "make_sequence_task: n_samples")
    length = _check_n(seq_len, "make_sequence_task: seq_len")
    v = _check_n(vocab_size, "make_sequence_task: vocab_size", 2)
    x = np.random.default_rng(seed).integers(0, v, size=(n, length), dtype=np.int64)
    if task == "copy":
        y = x.copy()
    elif task == "reverse":
        y = x[:, ::-1].copy()
    else:
        y = np.sort(x, axis=1)
    return x, y
