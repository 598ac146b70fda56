"""Chapter 6 experiments: grid, random, GP and genetic search on the same budget; the cost of
a grid as dimensions grow; the GP posterior and its acquisition, step by step, in 1-D; and a
needle that no sampler is guaranteed to find.

Run: .venv/bin/python docs/guide/experiments ch06 [--small]
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from common import figure, save_figure, table
from scipy.stats import norm

import zengrad.tune as tune


# -- objectives ----------------------------------------------------------------------------
def validation_error(lr_exp: float, dropout: float) -> float:
    """A stand-in for a validation error over (log10 learning rate, dropout): a narrow valley
    in the learning rate and a gentle slope in dropout, as real ones often are (one
    hyperparameter matters much more than the other). Minimum 0.05 at (-2.6, 0.2)."""
    return 0.05 + 0.08 * (lr_exp + 2.6) ** 2 + 0.01 * (dropout - 0.2) ** 2


def error_objective(trial) -> float:
    return validation_error(trial.suggest_float("lr_exp", -5.0, -1.0),
                            trial.suggest_float("dropout", 0.0, 0.6))


def gp_options(small: bool) -> dict:
    """Fewer acquisition candidates and local searches at the tests' size (the GP is the
    slowest sampler: each trial fits a model and optimizes the acquisition)."""
    return ({"n_candidates": 128, "n_local_search": 2, "n_restarts": 1} if small
            else {"n_candidates": 512, "n_restarts": 1})


def make_sampler(kind: str, seed: int, budget: int, small: bool):
    """One sampler of each family, sized for `budget` trials."""
    if kind == "grid":
        side = int(round(budget ** 0.5))
        return tune.GridSampler({"lr_exp": np.linspace(-5.0, -1.0, side).tolist(),
                                 "dropout": np.linspace(0.0, 0.6, side).tolist()}, seed=seed)
    if kind == "random":
        return tune.RandomSampler(seed=seed)
    if kind == "gp":
        return tune.GPSampler(seed=seed, n_startup_trials=4 if small else 5,
                              **gp_options(small))
    return tune.GeneticSampler(population_size=4, seed=seed)


def compare_samplers(budget: int = 16, seeds: int = 5,
                     small: bool = False) -> dict[str, np.ndarray]:
    """Best validation error so far after each trial, (seeds, budget) per sampler; the true
    minimum is 0.05."""
    curves = {}
    for kind in ("grid", "random", "gp", "genetic"):
        rows = []
        for seed in range(seeds):
            study = tune.create_study(sampler=make_sampler(kind, seed, budget, small))
            study.optimize(error_objective, n_trials=budget)
            rows.append(np.minimum.accumulate([t.value for t in study.trials]))
        curves[kind] = np.array(rows)
    return curves


def plot_samplers(curves: dict[str, np.ndarray]):
    fig, (ax,) = figure(width=6.0, height=3.4)
    for kind, rows in curves.items():
        trials = np.arange(1, rows.shape[1] + 1)
        ax.plot(trials, np.median(rows, 0) - 0.05, "o-", ms=3, label=kind)
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("best error so far - minimum")
    ax.set_title(f"median of {len(rows)} seeds, {rows.shape[1]} trials each")
    ax.legend(fontsize=8)
    return fig


# -- the grid's curse of dimensionality ------------------------------------------------------
def one_important(x: np.ndarray) -> np.ndarray:
    """f on [0, 1]^d: only the first coordinate matters (minimum 0 at x_0 = 0.37)."""
    return (x[..., 0] - 0.37) ** 2 + 1e-3 * (x[..., 1:] ** 2).sum(-1)


def grid_vs_random(dims: range, budget: int = 64, seeds: int = 20) -> dict[int, tuple]:
    """Per dimension d: (grid points per axis within the budget, grid trials, the grid's
    best f, the median best f of `budget` uniform random trials)."""
    rows = {}
    rng = np.random.default_rng(0)
    for d in dims:
        side = int(np.floor(budget ** (1.0 / d) + 1e-9))
        axes = np.meshgrid(*[np.linspace(0, 1, side)] * d, indexing="ij")
        grid = np.stack(axes, -1).reshape(-1, d)
        rand = rng.random((seeds, budget, d))
        rows[d] = (side, side**d, float(one_important(grid).min()),
                   float(np.median(one_important(rand).min(1))))
    return rows


def plot_grid_cost(rows: dict[int, tuple]):
    dims = np.array(list(rows))
    fig, (a, b) = figure(ncols=2, width=4.5, height=3.4)
    for k in (3, 5, 10):
        a.semilogy(dims, float(k) ** dims, "o-", label=f"{k} values per axis")
    a.set_xlabel("number of hyperparameters d")
    a.set_ylabel("trials in the full grid")
    a.set_title("a grid's cost is k^d")
    a.legend(fontsize=8)
    b.semilogy(dims, [r[2] + 1e-6 for r in rows.values()], "s-", label="grid (<= 64 trials)")
    b.semilogy(dims, [r[3] + 1e-6 for r in rows.values()], "o-", label="random (64 trials)")
    b.set_xlabel("number of hyperparameters d (only one matters)")
    b.set_ylabel("best f found")
    b.set_title("the same budget of 64 trials")
    b.legend(fontsize=8)
    return fig


# -- the GP, step by step -------------------------------------------------------------------
def wiggly(x: np.ndarray) -> np.ndarray:
    """A 1-D objective with two basins: a local minimum -0.30 at x = 0.58, the global
    one -0.43 at x = 0.90."""
    return np.sin(6 * x) + 0.6 * np.cos(17 * x) + x


def gp_steps(n_start: int = 3, steps: int = 4, small: bool = False):
    """Run a GPSampler by ask-and-tell; before each new trial, record the fitted posterior
    (mean, std) on a grid, the expected improvement, and the point the sampler then chose."""
    sampler = tune.GPSampler(seed=1, n_startup_trials=n_start, warp_objective=False,
                             **gp_options(small))
    study = tune.create_study(sampler=sampler)
    xs = np.linspace(0, 1, 201)
    frames = []
    for i in range(n_start + steps):
        fitted = sampler.fit(study) if i >= n_start else None
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        if fitted is not None:
            mean, sd = fitted.predict(xs[:, None])
            best = study.best_value
            z = (best - mean) / np.maximum(sd, 1e-12)
            ei = (best - mean) * norm.cdf(z) + sd * norm.pdf(z)   # expected improvement
            seen = np.array([[t.params["x"], t.value] for t in study.trials
                             if t.value is not None])
            frames.append((mean, sd, ei, seen, x))
        study.tell(trial, float(wiggly(np.array(x))))
    return xs, frames, study


def plot_gp_steps(xs, frames):
    fig, axes = plt.subplots(2, len(frames), figsize=(2.4 * len(frames), 4.4), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1]})
    for j, (mean, sd, ei, seen, nxt) in enumerate(frames):
        top, bottom = axes[0, j], axes[1, j]
        top.plot(xs, wiggly(xs), "k:", lw=1, label="objective")
        top.plot(xs, mean, "C0", label="GP mean")
        top.fill_between(xs, mean - 2 * sd, mean + 2 * sd, color="C0", alpha=0.2,
                         label="mean +- 2 sd")
        top.plot(seen[:, 0], seen[:, 1], "ko", ms=4, label="trials")
        top.axvline(nxt, color="C3", lw=1)
        top.set_title(f"after {len(seen)} trials")
        bottom.plot(xs, ei, "C2")
        bottom.axvline(nxt, color="C3", lw=1, label="next trial")
        bottom.set_xlabel("x")
        if j == 0:
            top.legend(fontsize=7, loc="upper left")
            bottom.set_ylabel("expected\nimprovement")
            bottom.legend(fontsize=7)
    return fig


# -- a needle no sampler is promised to find --------------------------------------------------
def needle(x: float) -> float:
    """A smooth bowl (minimum 0 at x = 0.3) and a narrow well at x = 0.85 that goes to -1."""
    return (x - 0.3) ** 2 - float(np.exp(-(((x - 0.85) / 0.004) ** 2)))


def needle_search(budget: int = 20, seeds: int = 3, small: bool = False) -> dict[str, list]:
    """Best value each sampler finds per seed; the global minimum is about -0.70."""
    out = {}
    for kind in ("gp", "genetic"):
        best = []
        for seed in range(seeds):
            sampler = (tune.GPSampler(seed=seed, n_startup_trials=5, **gp_options(small))
                       if kind == "gp" else tune.GeneticSampler(population_size=5, seed=seed))
            study = tune.create_study(sampler=sampler)
            study.optimize(lambda t: needle(t.suggest_float("x", 0.0, 1.0)), n_trials=budget)
            best.append(round(study.best_value, 4))
        out[kind] = best
    return out


def main(small: bool = False) -> None:
    budget = 9 if small else 16
    curves = compare_samplers(budget, seeds=1 if small else 5, small=small)
    table("ch06_samplers", ["sampler", f"best error in {budget} trials (minimum 0.05)",
                            "trials to get within 0.001"],
          [[kind, float(np.median(rows[:, -1])),
            int(np.argmax(np.median(rows, 0) < 0.051)) + 1
            if np.median(rows, 0)[-1] < 0.051 else "never"]
           for kind, rows in curves.items()])
    save_figure(plot_samplers(curves), "ch06_samplers.png")

    rows = grid_vs_random(range(1, 7), budget=64, seeds=20)
    table("ch06_grid_cost", ["d", "grid values per axis", "grid trials", "grid best f",
                             "random best f (64 trials, median)"],
          [[d, side, n, g, r] for d, (side, n, g, r) in rows.items()], floatfmt=".2e")
    save_figure(plot_grid_cost(rows), "ch06_grid_cost.png")

    xs, frames, _ = gp_steps(steps=3 if small else 6, small=small)
    save_figure(plot_gp_steps(xs, frames), "ch06_gp_steps.png")
    table("ch06_gp_steps", ["trial", "x chosen by the GP", "argmax of expected improvement"],
          [[4 + i, f[4], float(xs[np.argmax(f[2])])] for i, f in enumerate(frames)],
          floatfmt=".3f")

    found = needle_search(budget=8 if small else 25, seeds=1 if small else 5, small=small)
    table("ch06_needle", ["sampler", "best value per seed (global minimum -0.70)"],
          [[kind, ", ".join(f"{v:.3f}" for v in values)] for kind, values in found.items()])


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
