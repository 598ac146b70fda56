"""Small tabular sets from scikit-learn (bundled with it; nothing is downloaded).

Each returns `(x_train, y_train), (x_test, y_test)` with x float32 (N, F), standardized
with the training split's mean/std when standardize=True (the default). Classification
targets are int64 (N,); the diabetes regression target is float32 (N, 1), in its own units
(a disease-progression score, 25..346) unless standardize_target=True.

With return_preprocessing=True a third item is returned: the fitted
zengrad.data.preprocessing.Preprocessing (the scalers), which maps raw features as
scikit-learn gives them to the returned x, and predictions back to target units.

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
from zengrad.data.preprocessing import Preprocessing, StandardScaler


def _sklearn_load(name: str, who: str):
    try:
        from sklearn import datasets
    except ImportError:
        raise missing("scikit-learn", who) from None
    return getattr(datasets, f"load_{name}")()


def _finish(train, test, standardize: bool, standardize_target: bool = False,
            return_preprocessing: bool = False):
    """Fit the scalers on the training split and apply them to both splits."""
    (xtr, ytr), (xte, yte) = train, test
    x_scaler = StandardScaler().fit(xtr) if standardize else None
    y_scaler = StandardScaler().fit(ytr) if standardize_target else None
    pre = Preprocessing(xtr.shape[1:], x_scaler, y_scaler)
    xtr, xte = pre.transform(xtr), pre.transform(xte)
    if y_scaler is not None:
        ytr, yte = y_scaler.transform(ytr), y_scaler.transform(yte)
    if return_preprocessing:
        return (xtr, ytr), (xte, yte), pre
    return (xtr, ytr), (xte, yte)


def _classification(name: str, test_size: float, seed: int, standardize: bool,
                    return_preprocessing: bool):
    d = _sklearn_load(name, f"load_{name}")
    x, y = d.data.astype(np.float32), d.target.astype(np.int64)
    return _finish(*shuffle_split(x, y, test_size, seed, f"load_{name}"), standardize,
                   return_preprocessing=return_preprocessing)


def load_iris(test_size: float = 0.2, seed: int = 0, standardize: bool = True,
              return_preprocessing: bool = False):
    return _classification("iris", test_size, seed, standardize, return_preprocessing)


def load_wine(test_size: float = 0.2, seed: int = 0, standardize: bool = True,
              return_preprocessing: bool = False):
    return _classification("wine", test_size, seed, standardize, return_preprocessing)


def load_breast_cancer(test_size: float = 0.2, seed: int = 0, standardize: bool = True,
                       return_preprocessing: bool = False):
    return _classification("breast_cancer", test_size, seed, standardize, return_preprocessing)


def load_diabetes(test_size: float = 0.2, seed: int = 0, standardize: bool = True,
                  standardize_target: bool = False, return_preprocessing: bool = False):
    """Regression: y (N, 1) float32; with standardize_target, scaled by train mean/std."""
    d = _sklearn_load("diabetes", "load_diabetes")
    x, y = d.data.astype(np.float32), d.target.astype(np.float32).reshape(-1, 1)
    return _finish(*shuffle_split(x, y, test_size, seed, "load_diabetes"), standardize,
                   standardize_target, return_preprocessing)
