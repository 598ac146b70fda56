"""Plots as PNG files: learning curves, a confusion matrix, activation functions and their
derivatives (computed with zengrad's autograd).

matplotlib (the `viz` extra) is imported only when a plot is drawn, and only its
object-oriented API with the Agg canvas is used: no pyplot, no global backend switch.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence

import numpy as np

from zengrad.io.atomic import atomic_write_bytes


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plots need the optional package 'matplotlib': pip install 'zengrad[viz]'"
        ) from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")  # no overlapping labels
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _history_dict(history) -> Mapping[str, Sequence[float]]:
    return history.history if hasattr(history, "history") else history


def plot_learning_curves(history, path: str | os.PathLike, title: str | None = None) -> None:
    """One panel per quantity (loss, then each metric): train vs validation per epoch.

    history: a train.History or a dict {'loss': [...], 'val_loss': [...], ...}.
    """
    h = _history_dict(history)
    names = [k for k in h if not k.startswith("val_") and k != "lr"]
    names += [k[4:] for k in h if k.startswith("val_") and k[4:] not in names]
    if not names:
        raise ValueError("plot_learning_curves: the history is empty")
    fig = _figure(4.2 * len(names), 3.4)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        for key, label in ((name, "train"), ("val_" + name, "validation")):
            if key in h and len(h[key]):
                ax.plot(np.arange(1, len(h[key]) + 1), h[key], marker="o", ms=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_confusion_matrix(cm, path: str | os.PathLike, class_names: Sequence[str] | None = None,
                          normalize: bool = False, title: str | None = None) -> None:
    """Heat map of cm[i, j] = count of true class i predicted as j (rows normalised to 1
    with normalize=True)."""
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: cm must be square, got shape {cm.shape}")
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    fig = _figure(1.0 + 0.5 * k, 0.8 + 0.5 * k)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(k), names, rotation=45 if k > 10 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        threshold = cm.max() / 2
        for i in range(k):
            for j in range(k):
                text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > threshold else "black")
    ax.set_title(title or "confusion matrix")
    _save(fig, path)


DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu",
                       "softplus")


def activation_curves(names: Sequence[str] = DEFAULT_ACTIVATIONS, low: float = -4.0,
                      high: float = 4.0, n: int = 401) -> dict[str, tuple[np.ndarray, ...]]:
    """name -> (x, f(x), f'(x)), f' from one backward pass of sum(f(x)) (elementwise f, so
    the gradient of the sum is the derivative at each point)."""
    import zengrad as zg

    out = {}
    for name in names:
        fn = getattr(zg, name, None)
        if fn is None:
            raise ValueError(f"activation_curves: zengrad has no activation {name!r}")
        x = zg.linspace(low, high, n, dtype=np.float64, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        out[name] = (x.detach().numpy().copy(), y.detach().numpy().copy(),
                     x.grad.numpy().copy())
    return out


def plot_activations(path: str | os.PathLike, names: Sequence[str] = DEFAULT_ACTIVATIONS,
                     low: float = -4.0, high: float = 4.0) -> None:
    """A grid of the activation functions (solid) with their derivatives (dashed)."""
    curves = activation_curves(names, low, high)
    cols = min(4, len(curves))
    rows = -(-len(curves) // cols)
    fig = _figure(3.2 * cols, 2.6 * rows)
    for i, (name, (x, y, dy)) in enumerate(curves.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot(x, y, label="f(x)")
        ax.plot(x, dy, "--", label="f'(x)")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
    _save(fig, path)
