"""Feature scaling fitted on the training split and applied unchanged to the others.

StandardScaler: z = (x - mean) / std per feature (std of 0 is treated as 1).
MinMaxScaler:   z = (x - min) / (max - min) * (hi - lo) + lo per feature.
Statistics are taken over axis 0 (samples); the output keeps the input's float dtype.
"""

from __future__ import annotations

import math

import numpy as np

from zengrad.autograd.tensor import Tensor


def _as_float(x, who: str) -> np.ndarray:
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
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


def _finite_list(value, field: str, where: str, size: int) -> np.ndarray:
    """A JSON list of `size` finite numbers as float64, or a ValueError naming the field."""
    if not isinstance(value, list) or len(value) != size or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{where}: field {field!r} must be a list of {size} numbers")
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: field {field!r} holds a non-finite number")
    return arr


def scaler_to_dict(scaler: StandardScaler) -> dict:
    """A fitted StandardScaler as JSON-ready lists: {"kind", "shape", "mean", "scale"}."""
    if scaler.mean_ is None or scaler.scale_ is None:
        raise RuntimeError("StandardScaler: call fit() first")
    return {"kind": "standardize", "shape": list(scaler.mean_.shape),
            "mean": [float(v) for v in np.ravel(scaler.mean_)],
            "scale": [float(v) for v in np.ravel(scaler.scale_)]}


def scaler_from_dict(d, where: str, field: str) -> StandardScaler:
    """The StandardScaler written by scaler_to_dict, checked field by field."""
    if not isinstance(d, dict) or d.get("kind") != "standardize":
        raise ValueError(f"{where}: field {field!r} must be an object with kind 'standardize'")
    shape = d.get("shape")
    if (not isinstance(shape, list) or len(shape) > 4
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= 10**6
                       for s in shape)
            or math.prod(shape) > 10**6):
        raise ValueError(f"{where}: field '{field}.shape' must be a list of at most 4 positive "
                         f"ints with a product <= 10**6, got {shape!r}")
    size = math.prod(shape)
    mean = _finite_list(d.get("mean"), f"{field}.mean", where, size)
    scale = _finite_list(d.get("scale"), f"{field}.scale", where, size)
    if not (scale > 0).all():
        raise ValueError(f"{where}: field '{field}.scale' must hold positive numbers")
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = mean.reshape(shape), scale.reshape(shape)
    return scaler


def _range_from_dict(d, where: str, shape: tuple[int, ...]) -> dict:
    """The x_range written by Preprocessing.to_dict, checked field by field."""
    if not isinstance(d, dict):
        raise ValueError(f"{where}: field 'x_range' must be an object")
    size = math.prod(shape)
    raw_min = _finite_list(d.get("raw_min"), "x_range.raw_min", where, size).reshape(shape)
    raw_max = _finite_list(d.get("raw_max"), "x_range.raw_max", where, size).reshape(shape)
    if (raw_min > raw_max).any():
        raise ValueError(f"{where}: field 'x_range': raw_min exceeds raw_max")
    lo, hi = _finite_list([d.get("model_min"), d.get("model_max")], "x_range.model_min/max",
                          where, 2)
    if lo > hi:
        raise ValueError(f"{where}: field 'x_range': model_min exceeds model_max")
    return {"raw_min": raw_min, "raw_max": raw_max, "model_min": float(lo),
            "model_max": float(hi)}


def fixed_scaler(shape: tuple[int, ...], scale: float, mean: float = 0.0) -> StandardScaler:
    """A StandardScaler with given constant statistics, e.g. pixels 0..255 -> [0, 1]."""
    scaler = StandardScaler()
    scaler.mean_ = np.full(shape, float(mean))
    scaler.scale_ = np.full(shape, float(scale))
    return scaler


PREPROCESSING_FORMAT = "zengrad.preprocessing/1"


class Preprocessing:
    """Every step from raw inputs (as a dataset's source gives them) to model inputs, and from
    model outputs back to targets in their own units; saved with a run (preprocessing.json).

    transform(x):  x of shape (N, *input_shape) or flattened (N, prod(input_shape)) ->
                   reshape to (N, *input_shape) -> z = (x - mean) / scale (x_scaler) -> float32
    inverse_transform_target(z): y = z * scale + mean (y_scaler; identity without one)

    With the training inputs' range recorded (`record_range`), `check_raw` refuses inputs in
    other units, or already preprocessed, instead of predicting quietly from wrong inputs.
    """

    def __init__(self, input_shape: tuple[int, ...], x_scaler: StandardScaler | None = None,
                 y_scaler: StandardScaler | None = None,
                 x_range: dict | None = None) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        self.x_scaler = x_scaler
        self.y_scaler = y_scaler
        # {"raw_min", "raw_max": per-feature arrays; "model_min", "model_max": floats}
        self.x_range = x_range
        if x_scaler is not None and tuple(x_scaler.mean_.shape) != self.input_shape:
            raise ValueError(f"Preprocessing: the input scaler has shape "
                             f"{tuple(x_scaler.mean_.shape)}, the inputs {self.input_shape}")

    def check_shape(self, shape: tuple[int, ...], who: str) -> None:
        """Raise ValueError unless (N, ...) `shape` is (N, *input_shape) or (N, features)."""
        want = self.input_shape
        if len(shape) >= 1 and (tuple(shape[1:]) == want
                                or (len(shape) == 2 and shape[1] == math.prod(want))):
            return
        raise ValueError(f"{who}: inputs have shape {tuple(shape)}, the model takes "
                         f"(N, {', '.join(map(str, want))})")

    def transform(self, x, who: str = "Preprocessing.transform") -> np.ndarray:
        arr = np.asarray(x)
        self.check_shape(arr.shape, who)
        arr = arr.reshape((len(arr), *self.input_shape)).astype(np.float32, copy=False)
        if self.x_scaler is not None:
            arr = self.x_scaler.transform(arr)
        return np.ascontiguousarray(arr, dtype=np.float32)

    def inverse_transform(self, z) -> np.ndarray:
        """Model inputs back to raw inputs (shape (N, *input_shape))."""
        arr = np.asarray(z, dtype=np.float32)
        return arr if self.x_scaler is None else self.x_scaler.inverse_transform(arr)

    def record_range(self, model_inputs) -> Preprocessing:
        """Remember the range of the training inputs: in raw units (mapped back from
        `model_inputs`, the transformed training split) per feature of tabular inputs, over
        all values of images and sequences (whose values share one unit: a pixel that is
        always dark in training may be bright later), and overall as model inputs."""
        z = np.asarray(model_inputs, dtype=np.float32)
        raw = self.inverse_transform(z).astype(np.float64)
        low, high = raw.min(axis=0), raw.max(axis=0)
        if len(self.input_shape) > 1:
            low, high = np.full_like(low, low.min()), np.full_like(high, high.max())
        self.x_range = {"raw_min": low, "raw_max": high,
                        "model_min": float(z.min()), "model_max": float(z.max())}
        return self

    def check_raw(self, low, high, where: str) -> None:
        """Raise ValueError if raw inputs whose per-feature minimum and maximum are low, high
        (arrays of input_shape) can't be what this preprocessing was fitted on:
        - a feature beyond its training range by more than the range's width (other units);
        - every value within the model inputs' range while raw training inputs span more
          than twice as wide (the inputs look already preprocessed).
        Nothing is checked without a recorded range."""
        if self.x_range is None:
            return
        rmin, rmax = self.x_range["raw_min"], self.x_range["raw_max"]
        mlo, mhi = self.x_range["model_min"], self.x_range["model_max"]
        low = np.asarray(low, np.float64).reshape(rmin.shape)
        high = np.asarray(high, np.float64).reshape(rmin.shape)
        span = rmax - rmin
        outside = (span > 0) & ((low < rmin - span) | (high > rmax + span))
        if outside.any():
            i = np.unravel_index(int(np.argmax(outside)), rmin.shape)
            feature = int(np.ravel_multi_index(i, rmin.shape))
            raise ValueError(
                f"{where}: feature {feature} of the inputs ranges over [{low[i]:.4g}, "
                f"{high[i]:.4g}], far outside the training data's [{rmin[i]:.4g}, "
                f"{rmax[i]:.4g}] ({int(outside.sum())} of {outside.size} features are out of "
                "range): inputs in other units, or already preprocessed? (pass --preprocessed "
                "for model inputs)")
        raw_lo, raw_hi = float(rmin.min()), float(rmax.max())
        if (self.x_scaler is not None and (raw_hi - raw_lo) > 2 * (mhi - mlo)
                and float(low.min()) >= mlo and float(high.max()) <= mhi):
            raise ValueError(
                f"{where}: every input lies in [{mlo:.4g}, {mhi:.4g}], the range of the "
                f"model's (preprocessed) inputs, while the raw training inputs span "
                f"[{raw_lo:.4g}, {raw_hi:.4g}]: these look already preprocessed. Pass raw "
                "inputs as the dataset's source gives them, or --preprocessed")

    def transform_target(self, y) -> np.ndarray:
        return np.asarray(y) if self.y_scaler is None else self.y_scaler.transform(y)

    def inverse_transform_target(self, z) -> np.ndarray:
        return np.asarray(z) if self.y_scaler is None else self.y_scaler.inverse_transform(z)

    def to_dict(self) -> dict:
        d = {"format": PREPROCESSING_FORMAT, "input_shape": list(self.input_shape),
             "x": None if self.x_scaler is None else scaler_to_dict(self.x_scaler),
             "y": None if self.y_scaler is None else scaler_to_dict(self.y_scaler)}
        if self.x_range is not None:
            r = self.x_range
            d["x_range"] = {"raw_min": [float(v) for v in np.ravel(r["raw_min"])],
                            "raw_max": [float(v) for v in np.ravel(r["raw_max"])],
                            "model_min": r["model_min"], "model_max": r["model_max"]}
        return d

    @classmethod
    def from_dict(cls, d, where: str = "preprocessing") -> Preprocessing:
        """The Preprocessing written by to_dict; ValueError naming `where` and the field."""
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(d).__name__}")
        if d.get("format") != PREPROCESSING_FORMAT:
            raise ValueError(f"{where}: field 'format' must be {PREPROCESSING_FORMAT!r}, "
                             f"got {d.get('format')!r}")
        shape = d.get("input_shape")
        if (not isinstance(shape, list) or not 1 <= len(shape) <= 4
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                           for s in shape) or math.prod(shape) > 10**6):
            raise ValueError(f"{where}: field 'input_shape' must be a list of 1 to 4 positive "
                             f"ints with a product <= 10**6, got {shape!r}")
        x = None if d.get("x") is None else scaler_from_dict(d["x"], where, "x")
        y = None if d.get("y") is None else scaler_from_dict(d["y"], where, "y")
        x_range = None if d.get("x_range") is None else _range_from_dict(
            d["x_range"], where, tuple(shape))
        try:
            return cls(tuple(shape), x, y, x_range)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preprocessing) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
