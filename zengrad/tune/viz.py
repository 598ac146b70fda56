"""Plots of a study, as PNG files (matplotlib's Agg canvas; no display, no pyplot state).

* ``plot_optimization_history``: each trial's value and the best so far.
* ``plot_slice``: one panel per parameter, value against parameter.
* ``plot_contour``: for two numeric parameters, the posterior mean of a GP fitted to the
  completed trials (the GPSampler's model), with the trials on top.

Each returns the matplotlib ``Figure`` and writes ``path`` when given (atomically: the image
is rendered in memory first, so a failed write never leaves a truncated file).
Needs matplotlib: ``pip install matplotlib``.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from .samplers.base import completed_trials
from .samplers.gp import GPSampler
from .study import write_file

if TYPE_CHECKING:
    from .study import Study


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("zengrad.tune.viz needs matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # attaches itself to the figure: savefig writes PNG with Agg
    return fig


def _save(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
        buffer = io.BytesIO()
        fig.savefig(buffer, format=suffix or "png", dpi=100)
        write_file(path, buffer.getvalue(), "a plot")
    return fig


def _done(study: Study) -> list:
    trials = completed_trials(study)
    if not trials:
        raise ValueError("nothing to plot: the study has no completed trial")
    return trials


def plot_optimization_history(study: Study, path: str | os.PathLike | None = None) -> Any:
    trials = _done(study)
    numbers = [t.number for t in trials]
    values = np.array([t.value for t in trials])
    best = np.maximum.accumulate(values) if study.direction.value == "maximize" else \
        np.minimum.accumulate(values)
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    ax.scatter(numbers, values, s=18, label="objective value")
    ax.step(numbers, best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("value")
    ax.set_title(f"optimization history ({study.direction.value})")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_slice(
    study: Study, path: str | os.PathLike | None = None, params: list[str] | None = None
) -> Any:
    trials = _done(study)
    names = params or sorted({n for t in trials for n in t.params})
    if not names:
        raise ValueError("nothing to plot: the trials have no parameters")
    fig = _figure(3.2 * len(names), 3.4)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        have = [t for t in trials if name in t.params]
        xs = [t.params[name] for t in have]
        dist = have[0].distributions[name] if have else None
        if isinstance(dist, CategoricalDistribution):
            xs = [str(x) for x in xs]
        ax.scatter(xs, [t.value for t in have], c=[t.number for t in have], s=16, cmap="viridis")
        if isinstance(dist, FloatDistribution | IntDistribution) and dist.log:
            ax.set_xscale("log")
        ax.set_xlabel(name)
        if i == 0:
            ax.set_ylabel("value")
    fig.suptitle("slice plot (colour: trial number)")
    fig.tight_layout()
    return _save(fig, path)


def plot_contour(
    study: Study, path: str | os.PathLike | None = None, params: list[str] | None = None,
    resolution: int = 50,
) -> Any:
    """GP posterior mean over two numeric parameters (the only two, or ``params``)."""
    trials = _done(study)
    numeric = sorted({
        n for t in trials for n, d in t.distributions.items() if not isinstance(
            d, CategoricalDistribution)
    })
    names = list(params) if params is not None else numeric
    if len(names) != 2 or any(n not in numeric for n in names):
        raise ValueError(
            f"plot_contour needs exactly two numeric parameters; got {names} "
            f"(numeric parameters of the study: {numeric})"
        )
    trials = [t for t in trials if all(n in t.params for n in names)]
    space = {n: trials[-1].distributions[n] for n in names}
    fitted = GPSampler(seed=0).fit(study, space, trials)
    axes = []
    for n in names:
        d = space[n]
        axes.append(np.geomspace(d.low, d.high, resolution) if d.log
                    else np.linspace(d.low, d.high, resolution))
    gx, gy = np.meshgrid(*axes)
    unit = np.column_stack([
        [space[names[0]].to_unit(v) for v in gx.ravel()],
        [space[names[1]].to_unit(v) for v in gy.ravel()],
    ])
    mean, _ = fitted.predict(unit)
    fig = _figure(6, 5)
    ax = fig.add_subplot()
    cs = ax.contourf(gx, gy, mean.reshape(gx.shape), levels=20, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="GP posterior mean")
    ax.scatter([t.params[names[0]] for t in trials], [t.params[names[1]] for t in trials],
               c="white", edgecolors="black", s=20, label="trials")
    best = study.best_trial
    if all(n in best.params for n in names):
        ax.scatter([best.params[names[0]]], [best.params[names[1]]], marker="*", s=200,
                   c="red", label="best")
    for n, setter in zip(names, (ax.set_xscale, ax.set_yscale)):
        if space[n].log:
            setter("log")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.legend(loc="upper right")
    fig.tight_layout()
    return _save(fig, path)
