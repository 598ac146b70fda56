"""Plots as PNG files: learning curves, a confusion matrix, activation functions and their
derivatives (computed with zengrad's autograd), and forecasts on a held-out series tail.

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


def _first_step(name: str, values, n: int | None) -> np.ndarray:
    """(N,) from (N,) or the first column of (N, H): the one-step forecast."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, 0]
    if a.ndim != 1 or (n is not None and len(a) != n):
        want = f"({n},) or ({n}, horizon)" if n is not None else "(N,) or (N, horizon)"
        raise ValueError(f"plot_forecast: {name} must be {want}, got shape {np.shape(values)}")
    return a


def plot_forecast(path: str | os.PathLike, truth, forecast, naive=None, times=None, *,
                  context=None, label: str = "forecast", naive_label: str = "naive",
                  xlabel: str = "time", ylabel: str | None = None,
                  title: str | None = None) -> None:
    """The held-out truth against a model's one-step forecasts (and the naive baseline).

    truth (N,) or (N, H); forecast and naive (N,) or (N, H): only the first column (the
    first horizon step) is drawn; times (N,) the x values (default 0 .. N-1); context
    (times, values): the observed series before the held-out part, drawn in grey.
    """
    y = _first_step("truth", truth, None)
    n = len(y)
    f = _first_step("forecast", forecast, n)
    b = _first_step("naive", naive, n) if naive is not None else None
    t = np.arange(n) if times is None else np.asarray(times)
    if t.shape != (n,):
        raise ValueError(f"plot_forecast: times must be ({n},), got shape {t.shape}")
    fig = _figure(8.5, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    if context is not None:
        ct, cv = context
        ax.plot(ct, cv, color="gray", lw=1.0, label="observed (training part)")
    ax.plot(t, y, color="black", lw=1.4, label="held-out truth")
    ax.plot(t, f, color="C1", lw=1.4, marker="o", ms=2.5, label=label)
    if b is not None:
        ax.plot(t, b, color="C0", lw=1.0, ls="--", label=naive_label)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "one-step forecasts on the held-out tail")
    _save(fig, path)
