"""The data of a forecast of a bundled time series: a chronological split, sliding windows,
a target scaler fitted on the training part only, the naive and seasonal-naive baselines, and
RMSE/MAE in the series' own units.

Split. The series s_0 .. s_{T-1} is cut at c = T - round(T * test_fraction): s_0 .. s_{c-1}
is the training part, s_c .. s_{T-1} the held-out tail.

Scaler. mu, sigma = mean and (population) std of s_0 .. s_{c-1} only;
z_t = (s_t - mu) / sigma, and back: s = z * sigma + mu.

Windows (sliding_windows over z, input length L, horizon H): window t has
x = z_t .. z_{t+L-1} and y = z_{t+L} .. z_{t+L+H-1}; its forecast origin (last observed
step) is o = t + L - 1.
    training windows: the whole target in the training part,  t + L + H <= c
    test windows:     the whole target in the tail,            t + L >= c
Windows whose target straddles the cut are in neither. A test input may reach back into the
training part (that history is known when the forecast is made); nothing of the tail is used
to fit the scaler or the model.

Baselines at origin o for step h = 1 .. H (Hyndman & Athanasopoulos, "Forecasting: principles
and practice", section 5.2), with the seasonal period P:
    naive:          s_o
    seasonal-naive: s_{o + h - P * ceil(h / P)}   (the same phase of the last observed season)

Metrics over all N windows and H steps, in original units:
    RMSE = sqrt(mean_{i,h} (yhat_ih - y_ih)^2),   MAE = mean_{i,h} |yhat_ih - y_ih|

Scoring a model's forecasts and plotting them: zengrad.train.forecast."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.data.dataset import TensorDataset
from zengrad.data.datasets.timeseries import SERIES, series_info, sliding_windows

JSON_FORMAT = "zengrad.forecast"
JSON_VERSION = 1


def _check_int(who: str, name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{who}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _as_series(series: Any, who: str) -> np.ndarray:
    s = np.asarray(series.detach().numpy() if isinstance(series, Tensor) else series)
    if s.ndim != 1:
        raise ValueError(f"{who}: the series must be 1-D (T,), got shape {s.shape}")
    if s.dtype.kind not in "fiu":
        raise ValueError(f"{who}: the series must be numeric, got dtype {s.dtype}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{who}: the series has {int(np.sum(~np.isfinite(s)))} NaN or "
                         "infinite values")
    return s


# ----- baselines and metrics ---------------------------------------------------------------
def _check_origins(series: np.ndarray, origins: Any, who: str) -> np.ndarray:
    o = np.asarray(origins)
    if o.ndim != 1 or o.dtype.kind not in "iu":
        raise ValueError(f"{who}: origins must be a 1-D integer array, got shape {o.shape} "
                         f"dtype {o.dtype}")
    if o.size and (o.min() < 0 or o.max() >= len(series)):
        raise ValueError(f"{who}: origins must index the series (0 .. {len(series) - 1}), got "
                         f"values in [{o.min()}, {o.max()}]")
    return o.astype(np.int64)


def naive_forecast(series: Any, origins: Any, horizon: int = 1) -> np.ndarray:
    """The last observed value for every step: out[i, h] = s[origins[i]], shape (N, horizon)
    (float64)."""
    s = _as_series(series, "naive_forecast").astype(np.float64)
    horizon = _check_int("naive_forecast", "horizon", horizon)
    o = _check_origins(s, origins, "naive_forecast")
    return np.repeat(s[o][:, None], horizon, axis=1)


def seasonal_naive_forecast(series: Any, origins: Any, horizon: int, period: int) -> np.ndarray:
    """The value one season before each target, from the last observed season:
    out[i, h-1] = s[o_i + h - period * ceil(h / period)] for h = 1 .. horizon, shape
    (N, horizon) (float64). Needs o_i >= period - 1 (a whole season observed)."""
    who = "seasonal_naive_forecast"
    s = _as_series(series, who).astype(np.float64)
    horizon = _check_int(who, "horizon", horizon)
    period = _check_int(who, "period", period)
    o = _check_origins(s, origins, who)
    if o.size and o.min() < period - 1:
        raise ValueError(f"{who}: origin {o.min()} has fewer than period = {period} observed "
                         "steps before it (origins must be >= period - 1)")
    h = np.arange(1, horizon + 1)
    back = h - period * (-(-h // period))  # h - P ceil(h/P), in (-P, 0]
    return s[o[:, None] + back[None, :]]


def forecast_metrics(pred: Any, truth: Any) -> dict[str, float]:
    """{'rmse': sqrt(mean (pred - truth)^2), 'mae': mean |pred - truth|} over all windows
    and horizon steps; pred and truth have the same shape (N, horizon)."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"forecast_metrics: pred and truth must both be (N, horizon), got "
                         f"{p.shape} and {t.shape}")
    if p.size == 0:
        raise ValueError("forecast_metrics: no windows to score")
    err = p - t
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}


# ----- the preprocessing (what `predict` needs) -------------------------------------------
@dataclass(frozen=True)
class ForecastPreprocessing:
    """Window sizes and the target scaler, as plain values a CLI saves as JSON.

    z = (s - mean) / std on the way in, s = z * std + mean on the way out.
    """

    series: str
    input_len: int
    horizon: int
    test_fraction: float
    period: int
    split: int  # first index of the held-out tail
    mean: float
    std: float

    def transform(self, values: Any) -> np.ndarray:
        """(values - mean) / std as float32 (the model's units)."""
        return ((np.asarray(values, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse_transform(self, scaled: Any) -> np.ndarray:
        """scaled * std + mean as float64 (the series' units); accepts Tensors."""
        arr = scaled.detach().numpy() if isinstance(scaled, Tensor) else scaled
        return np.asarray(arr, dtype=np.float64) * self.std + self.mean

    def make_inputs(self, history: Any) -> np.ndarray:
        """The model input (1, input_len, 1) for forecasting what follows `history` (the
        observed series in original units; its last input_len values are used)."""
        s = _as_series(history, "ForecastPreprocessing.make_inputs")
        if len(s) < self.input_len:
            raise ValueError(f"ForecastPreprocessing.make_inputs: the history has {len(s)} "
                             f"values, the model reads input_len = {self.input_len}")
        return self.transform(s[-self.input_len:]).reshape(1, self.input_len, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"format": JSON_FORMAT, "version": JSON_VERSION, "series": self.series,
                "input_len": self.input_len, "horizon": self.horizon,
                "test_fraction": self.test_fraction, "period": self.period,
                "split": self.split,
                "scaler": {"kind": "standard", "mean": self.mean, "std": self.std}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes | dict) -> ForecastPreprocessing:
        """Read back to_json()'s text (or its parsed dict)."""
        who = "ForecastPreprocessing.from_json"
        d = json.loads(text) if isinstance(text, (str, bytes)) else dict(text)
        if d.get("format") != JSON_FORMAT or d.get("version") != JSON_VERSION:
            raise ValueError(f"{who}: not a {JSON_FORMAT} v{JSON_VERSION} file (format "
                             f"{d.get('format')!r}, version {d.get('version')!r})")
        keys = ("series", "input_len", "horizon", "test_fraction", "period", "split", "scaler")
        missing = [k for k in keys if k not in d]
        scaler = d.get("scaler")
        if not isinstance(scaler, dict) or scaler.get("kind") != "standard":
            missing.append("scaler {'kind': 'standard', 'mean', 'std'}")
        elif not {"mean", "std"} <= set(scaler):
            missing.append("scaler.mean/std")
        if missing:
            raise ValueError(f"{who}: missing or bad entries: {', '.join(missing)}")
        std = float(scaler["std"])
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"{who}: scaler std must be finite and > 0, got {std}")
        return cls(str(d["series"]), _check_int(who, "input_len", d["input_len"]),
                   _check_int(who, "horizon", d["horizon"]), float(d["test_fraction"]),
                   _check_int(who, "period", d["period"]), _check_int(who, "split", d["split"]),
                   float(scaler["mean"]), std)


# ----- the data --------------------------------------------------------------------------
@dataclass
class ForecastData:
    """Scaled windows of one series, split chronologically (see the module docstring).

    x_train (N_train, input_len, 1), y_train (N_train, horizon), x_test, y_test likewise,
    float32 in scaled units; series and times are the whole series in original units.
    """

    prep: ForecastPreprocessing
    series: np.ndarray
    times: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    # the preprocessing's values, for convenience
    name = property(lambda self: self.prep.series)
    input_len = property(lambda self: self.prep.input_len)
    horizon = property(lambda self: self.prep.horizon)
    period = property(lambda self: self.prep.period)
    split = property(lambda self: self.prep.split)
    mean = property(lambda self: self.prep.mean)
    std = property(lambda self: self.prep.std)

    @property
    def input_shape(self) -> tuple[int, int]:
        """One sample's shape, (input_len, 1), for a zoo model builder."""
        return (self.input_len, 1)

    @property
    def num_outputs(self) -> int:
        """The regression head's width: the horizon."""
        return self.horizon

    @property
    def test_origins(self) -> np.ndarray:
        """Index of each test window's last observed step: split - 1, split, ..."""
        return np.arange(len(self.y_test), dtype=np.int64) + (self.split - 1)

    @property
    def test_times(self) -> np.ndarray:
        """The time of each test window's first target step."""
        return self.times[self.test_origins + 1]

    @property
    def y_test_original(self) -> np.ndarray:
        """The test targets in the series' units (float64), (N_test, horizon), read from the
        series itself (exact, not un-scaled from float32)."""
        steps = self.test_origins[:, None] + np.arange(1, self.horizon + 1)[None, :]
        return self.series[steps].astype(np.float64)

    def transform(self, values: Any) -> np.ndarray:
        return self.prep.transform(values)

    def inverse_transform(self, scaled: Any) -> np.ndarray:
        return self.prep.inverse_transform(scaled)

    def naive(self) -> np.ndarray:
        """The naive baseline on the test windows, original units (N_test, horizon)."""
        return naive_forecast(self.series, self.test_origins, self.horizon)

    def seasonal_naive(self) -> np.ndarray:
        """The seasonal-naive baseline on the test windows, original units."""
        return seasonal_naive_forecast(self.series, self.test_origins, self.horizon,
                                       self.period)

    def train_dataset(self) -> TensorDataset:
        return TensorDataset(self.x_train, self.y_train)

    def test_dataset(self) -> TensorDataset:
        return TensorDataset(self.x_test, self.y_test)

    def validation_split(self, val_fraction: float) -> tuple[TensorDataset, TensorDataset]:
        """(train, validation) datasets from the training windows, the validation part being
        the last round(val_fraction * N_train) of them (chronological, as the test split)."""
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"validation_split: val_fraction must be in (0, 1), got "
                             f"{val_fraction!r}")
        n_val = round(len(self.x_train) * val_fraction)
        if not 1 <= n_val < len(self.x_train):
            raise ValueError(f"validation_split: val_fraction {val_fraction} of "
                             f"{len(self.x_train)} training windows leaves an empty part")
        cut = len(self.x_train) - n_val
        return (TensorDataset(self.x_train[:cut], self.y_train[:cut]),
                TensorDataset(self.x_train[cut:], self.y_train[cut:]))

    def to_json(self) -> str:
        """The preprocessing as JSON (ForecastPreprocessing.to_json)."""
        return self.prep.to_json()

    @classmethod
    def from_json(cls, text: str | bytes | dict) -> ForecastData:
        """Rebuild the data of a bundled series from to_json()'s text; the stored scaler must
        match the one refitted on the training part (else the series changed)."""
        prep = ForecastPreprocessing.from_json(text)
        data = make_forecast_data(prep.series, prep.input_len, prep.horizon, prep.test_fraction)
        if (data.split != prep.split
                or not np.isclose(data.mean, prep.mean, rtol=1e-6, atol=0)
                or not np.isclose(data.std, prep.std, rtol=1e-6, atol=0)):
            raise ValueError(
                f"ForecastData.from_json: series {prep.series!r} no longer matches the saved "
                f"preprocessing (split {data.split} vs {prep.split}, mean {data.mean:.6g} vs "
                f"{prep.mean:.6g}, std {data.std:.6g} vs {prep.std:.6g})")
        return data


def forecast_data_from_series(series: Any, input_len: int, horizon: int = 1,
                              test_fraction: float = 0.2, period: int = 1,
                              name: str = "series", times: Any = None) -> ForecastData:
    """ForecastData for any 1-D series (make_forecast_data does this for the bundled ones).

    period: the seasonal period in steps for the seasonal-naive baseline (1: same as naive).
    times: one time stamp per step (default 0, 1, ...), for plots.
    """
    who = "make_forecast_data"
    s = _as_series(series, who)
    input_len = _check_int(who, "input_len", input_len)
    horizon = _check_int(who, "horizon", horizon)
    period = _check_int(who, "period", period)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (float, int)) or not (
            0.0 < test_fraction < 1.0):
        raise ValueError(f"{who}: test_fraction must be a number in (0, 1), got "
                         f"{test_fraction!r}")
    t = len(s)
    tail = round(t * test_fraction)
    split = t - tail
    if tail < horizon:
        raise ValueError(f"{who}: test_fraction {test_fraction} holds out {tail} of the "
                         f"{t} steps of {name!r}, fewer than horizon = {horizon}")
    n_train = split - input_len - horizon + 1
    if n_train < 1:
        raise ValueError(
            f"{who}: input_len {input_len} + horizon {horizon} = {input_len + horizon} is "
            f"longer than the training part of {name!r} ({split} of {t} steps); use "
            f"input_len <= {split - horizon}")
    if split < period:
        raise ValueError(f"{who}: the training part ({split} steps) is shorter than the "
                         f"seasonal period {period}")
    train = s[:split].astype(np.float64)
    mean, std = float(train.mean()), float(train.std())
    if not std > 0:
        raise ValueError(f"{who}: the training part of {name!r} is constant ({mean}); it "
                         "cannot be standardized")
    if times is None:
        times = np.arange(t)
    times = np.asarray(times)
    if times.shape != (t,):
        raise ValueError(f"{who}: times must have one entry per step ({t},), got {times.shape}")
    prep = ForecastPreprocessing(name, input_len, horizon, float(test_fraction), period, split,
                                 mean, std)
    x, y = sliding_windows(prep.transform(s), input_len, horizon)
    # window t's target starts at t + input_len: train t + L + H <= split, test t + L >= split
    first_test = split - input_len
    return ForecastData(prep, s.astype(np.float32), times, x[:n_train, :, None], y[:n_train],
                        x[first_test:, :, None], y[first_test:])


def make_forecast_data(name: str, input_len: int | None = None, horizon: int = 1,
                       test_fraction: float = 0.2) -> ForecastData:
    """Windows of a bundled series (zengrad.data.datasets.timeseries.SERIES: 'sunspots',
    'co2'), split chronologically with the last test_fraction held out and standardized by
    the training part's mean and std. input_len defaults to the series' entry (two seasons:
    sunspots 22 years, co2 104 weeks)."""
    if not isinstance(name, str) or name not in SERIES:
        raise ValueError(f"make_forecast_data: unknown series {name!r}; bundled series: "
                         f"{', '.join(SERIES)}")
    info = series_info(name)
    times, values = info.load()
    return forecast_data_from_series(values, info.input_len if input_len is None else input_len,
                                     horizon, test_fraction, info.period, name, times)
