"""Top-level objectives for the tune tests (picklable, importable by worker processes)."""

from __future__ import annotations

import math
import os
import time

from zengrad.tune import TrialPruned

BRANIN_MIN = 0.397887


def branin_value(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5.0 / math.pi, 1.0 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1 - t) * math.cos(x1) + 10.0


def branin(trial) -> float:
    return branin_value(trial.suggest_float("x1", -5.0, 10.0), trial.suggest_float("x2", 0.0, 15.0))


def quadratic(trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    return (x - 1.0) ** 2


def mixed(trial) -> float:
    """Log float, stepped int, categorical; minimum 0 at lr=1e-3, n=7, opt=adam."""
    mu = {"adam": -3.0, "sgd": -1.5, "rmsprop": -2.5}
    offset = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.1}
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    n = trial.suggest_int("n", 1, 20)
    opt = trial.suggest_categorical("opt", ["adam", "sgd", "rmsprop"])
    return (math.log10(lr) - mu[opt]) ** 2 + 0.1 * abs(n - 7) + offset[opt]


def conditional(trial) -> float:
    """``momentum`` exists only for sgd, ``beta`` only for adam."""
    opt = trial.suggest_categorical("opt", ["sgd", "adam"])
    x = trial.suggest_float("x", -2.0, 2.0)
    if opt == "sgd":
        m = trial.suggest_float("momentum", 0.0, 0.99)
        return x**2 + (m - 0.9) ** 2
    b = trial.suggest_int("beta", 1, 9)
    trial.set_user_attr("branch", "adam")
    return x**2 + 0.01 * b


def grid_objective(trial) -> float:
    x = trial.suggest_categorical("x", [0, 1, 2])
    y = trial.suggest_categorical("y", ["a", "b"])
    time.sleep(0.02)
    return x + (0.5 if y == "b" else 0.0)


def failing(trial) -> float:
    """Raises for x < -2, returns NaN for x > 3: both recorded as FAIL."""
    x = trial.suggest_float("x", -5.0, 5.0)
    if x < -2.0:
        raise ValueError(f"bad x {x}")
    if x > 3.0:
        return float("nan")
    return x * x


def pruned_curve(trial) -> float:
    """Learning-curve-like: value = x at every step; reports and asks to prune."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(5):
        trial.report(x + 0.01 * (5 - step), step)
        if trial.should_prune():
            raise TrialPruned()
    return x


def slow_persisted(trial) -> float:
    """For the SIGKILL test: suggest, report, then sleep (the kill lands here)."""
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.report(x, 0)
    time.sleep(float(os.environ.get("TUNE_TEST_SLEEP", "0.25")))
    return x * x


def pid_objective(trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr("pid", os.getpid())
    time.sleep(0.05)
    return 0.0
