"""Shared helpers of the bundled datasets: locate optional packages, split, check args."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


class OptionalDependencyError(ImportError):
    """A bundled dataset needs an optional package that is not installed."""


def missing(package: str, what: str, extra: str = "data") -> OptionalDependencyError:
    return OptionalDependencyError(
        f"{what} needs the optional package {package!r}, which is not installed: "
        f"pip install 'zengrad[{extra}]'"
    )


def package_dir(package: str, what: str, extra: str = "data") -> Path:
    """The folder of an installed package, found without importing it (imports can be slow)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise missing(package, what, extra)
    return Path(next(iter(spec.submodule_search_locations)))


def data_file(package: str, relative: str, what: str) -> Path:
    path = package_dir(package, what) / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{what}: the data file {path} is missing from the installed {package!r} package "
            "(reinstall it, or a newer version moved the file)"
        )
    return path


def check_fraction(test_size: float, who: str) -> float:
    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"{who}: test_size must be in (0, 1), got {test_size}")
    return float(test_size)


def shuffle_split(x: np.ndarray, y: np.ndarray, test_size: float, seed: int, who: str):
    """((x_train, y_train), (x_test, y_test)) after a seeded permutation; the test split
    gets round(test_size * n) samples."""
    check_fraction(test_size, who)
    n = len(x)
    n_test = int(round(test_size * n))
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])
