"""Small tabular sets from scikit-learn (bundled with it; nothing is downloaded).

Each returns `(x_train, y_train), (x_test, y_test)` with x float32 (N, F), standardized
with the training split's mean/std when standardize=True (the default). Classification
targets are int64 (N,); the diabetes regression target is float32 (N, 1), in its own units
(a disease-progression score, 25..346) unless standardize_target=True.

| name          | samples | features | classes |
|---------------|---------|----------|---------|
| iris          | 150     | 4        | 3       |
| wine          | 178     | 13       | 3       |
| breast_cancer | 569     | 30       | 2       |
| diabetes      | 442     | 10       | (regression) |
"""

from __future__ import annotations

import numpy as np

from zengrad.data.datasets._common import missing, shuffle_split
from zengrad.data.preprocessing import StandardScaler


def _sklearn_load(name: str, who: str):
    try:
        from sklearn import datasets
    except ImportError:
        raise missing("scikit-learn", who) from None
    return getattr(datasets, f"load_{name}")()


def _finish(train, test, standardize: bool):
    (xtr, ytr), (xte, yte) = train, test
    if standardize:
        scaler = StandardScaler().fit(xtr)
        xtr, xte = scaler.transform(xtr), scaler.transform(xte)
    return (xtr, ytr), (xte, yte)


def _classification(name: str, test_size: float, seed: int, standardize: bool):
    d = _sklearn_load(name, f"load_{name}")
    x, y = d.data.astype(np.float32), d.target.astype(np.int64)
    return _finish(*shuffle_split(x, y, test_size, seed, f"load_{name}"), standardize)


def load_iris(test_size: float = 0.2, seed: int = 0, standardize: bool = True):
    return _classification("iris", test_size, seed, standardize)


def load_wine(test_size: float = 0.2, seed: int = 0, standardize: bool = True):
    return _classification("wine", test_size, seed, standardize)


def load_breast_cancer(test_size: float = 0.2, seed: int = 0, standardize: bool = True):
    return _classification("breast_cancer", test_size, seed, standardize)


def load_diabetes(test_size: float = 0.2, seed: int = 0, standardize: bool = True,
                  standardize_target: bool = False):
    """Regression: y (N, 1) float32; with standardize_target, scaled by train mean/std."""
    d = _sklearn_load("diabetes", "load_diabetes")
    x, y = d.data.astype(np.float32), d.target.astype(np.float32).reshape(-1, 1)
    train, test = _finish(*shuffle_split(x, y, test_size, seed, "load_diabetes"), standardize)
    if standardize_target:
        scaler = StandardScaler().fit(train[1])
        train, test = (train[0], scaler.transform(train[1])), (test[0], scaler.transform(test[1]))
    return train, test
