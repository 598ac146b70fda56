"""Feature scaling fitted on the training split and applied unchanged to the others.

StandardScaler: z = (x - mean) / std per feature (std of 0 is treated as 1).
MinMaxScaler:   z = (x - min) / (max - min) * (hi - lo) + lo per feature.
Statistics are taken over axis 0 (samples); the output keeps the input's float dtype.
"""

from __future__ import annotations

import numpy as np

from zengrad.autograd.tensor import Tensor


def _as_float(x, who: str) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{who}: expected an array with at least one sample, got shape "
                         f"{arr.shape}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


class _Scaler:
    _fitted: tuple[str, ...] = ()

    def _check_fitted(self, x: np.ndarray, who: str) -> None:
        name = type(self).__name__
        if getattr(self, self._fitted[0]) is None:
            raise RuntimeError(f"{name}.{who}: call fit() first")
        ref = getattr(self, self._fitted[0])
        if x.shape[1:] != ref.shape:
            raise ValueError(f"{name}.{who}: features have shape {x.shape[1:]}, but the "
                             f"scaler was fitted on {ref.shape}")

    def fit_transform(self, x):
        return self.fit(x).transform(x)


class StandardScaler(_Scaler):
    """Standardize features to zero mean and unit variance (population std, as sklearn)."""

    _fitted = ("mean_", "scale_")

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x) -> StandardScaler:
        arr = _as_float(x, "StandardScaler.fit").astype(np.float64)
        self.mean_ = arr.mean(axis=0)
        std = arr.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        arr = _as_float(x, "StandardScaler.transform")
        self._check_fitted(arr, "transform")
        return ((arr - self.mean_) / self.scale_).astype(arr.dtype)

    def inverse_transform(self, z) -> np.ndarray:
        arr = _as_float(z, "StandardScaler.inverse_transform")
        self._check_fitted(arr, "inverse_transform")
        return (arr * self.scale_ + self.mean_).astype(arr.dtype)


class MinMaxScaler(_Scaler):
    """Rescale each feature linearly to feature_range (constant features map to lo)."""

    _fitted = ("min_", "range_")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"MinMaxScaler: feature_range must be (lo, hi) with lo < hi, "
                             f"got {feature_range}")
        self.feature_range = (float(lo), float(hi))
        self.min_: np.ndarray | None = None
        self.range_: np.ndarray | None = None

    def fit(self, x) -> MinMaxScaler:
        arr = _as_float(x, "MinMaxScaler.fit").astype(np.float64)
        self.min_ = arr.min(axis=0)
        span = arr.max(axis=0) - self.min_
        self.range_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        arr = _as_float(x, "MinMaxScaler.transform")
        self._check_fitted(arr, "transform")
        lo, hi = self.feature_range
        return ((arr - self.min_) / self.range_ * (hi - lo) + lo).astype(arr.dtype)

    def inverse_transform(self, z) -> np.ndarray:
        arr = _as_float(z, "MinMaxScaler.inverse_transform")
        self._check_fitted(arr, "inverse_transform")
        lo, hi = self.feature_range
        return ((arr - lo) / (hi - lo) * self.range_ + self.min_).astype(arr.dtype)
