"""A registry of supervised datasets by name (used by the CLI): get_dataset('digits').

Each entry is a builder(seed=0, **kwargs) -> Splits. Register more with
`@register_dataset("name")`.

The bundled time series (timeseries.SERIES: sunspots, co2) are forecasting tasks:
get_dataset("sunspots", input_len=22, horizon=3) gives zengrad.data.forecasting's windows
(chronological split, standardized by the training part's mean and std), x (N, input_len, 1)
and y (N, horizon) in scaled units, with a Preprocessing that takes raw windows (N, input_len)
and maps forecasts back to the series' units.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zengrad.data.dataset import TensorDataset
from zengrad.data.datasets import images, synthetic, tabular, timeseries
from zengrad.data.datasets._common import shuffle_split
from zengrad.data.preprocessing import Preprocessing, fixed_scaler


@dataclass
class Splits:
    """Train/test arrays of one dataset plus what a model builder needs to know."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification", "regression" or "forecast"
    num_classes: int | None = None
    # raw inputs (as the dataset's source gives them) -> x_*, and predictions -> target
    # units; None means x_* are the raw inputs
    preprocessing: Preprocessing | None = None
    # what the splits were cut from, for a task's report: a forecast's ForecastData (the
    # whole series, for the baselines and the plot); None for the others
    source: Any = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (1, 8, 8) or (4,)."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_outputs(self) -> int:
        """Classes for classification, target width for regression (the horizon of a
        forecast)."""
        if self.task == "classification":
            return int(self.num_classes)
        return int(np.prod(self.y_train.shape[1:], dtype=np.int64)) or 1

    def fitted_preprocessing(self) -> Preprocessing:
        """The preprocessing of this dataset (the identity reshape when there is none)."""
        return self.preprocessing or Preprocessing(self.input_shape)

    def train_dataset(self) -> TensorDataset:
        return TensorDataset(self.x_train, self.y_train)

    def test_dataset(self) -> TensorDataset:
        return TensorDataset(self.x_test, self.y_test)


_REGISTRY: dict[str, Callable[..., Splits]] = {}


def register_dataset(name: str):
    """Decorator: add builder(seed=0, **kwargs) -> Splits under name."""

    def deco(builder: Callable[..., Splits]) -> Callable[..., Splits]:
        _REGISTRY[name] = builder
        return builder

    return deco


def list_datasets() -> list[str]:
    return sorted(_REGISTRY)


def get_dataset(name: str, seed: int = 0, **kwargs) -> Splits:
    """The named dataset's train/test splits (see list_datasets())."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(list_datasets())}")
    return _REGISTRY[name](seed=seed, **kwargs)


def _classes(name: str, loaded, preprocessing: Preprocessing | None = None) -> Splits:
    (xtr, ytr), (xte, yte) = loaded[:2]
    if len(loaded) == 3:
        preprocessing = loaded[2]
    k = int(max(ytr.max(), yte.max())) + 1
    return Splits(name, xtr, ytr, xte, yte, "classification", k, preprocessing)


def _pixels(loaded, pixel_max: float) -> Preprocessing:
    """The loaders scale pixels 0..pixel_max to [0, 1]: raw images get the same."""
    shape = loaded[0][0].shape[1:]
    return Preprocessing(shape, fixed_scaler(shape, pixel_max))


@register_dataset("digits")
def _digits(seed: int = 0, flatten: bool = False, **kw) -> Splits:
    loaded = images.load_digits(flatten=flatten, seed=seed, **kw)
    return _classes("digits", loaded, _pixels(loaded, 16.0))


@register_dataset("mnist")
def _mnist(seed: int = 0, flatten: bool = False, **kw) -> Splits:
    loaded = images.load_mnist(flatten=flatten, seed=seed, **kw)
    return _classes("mnist", loaded, _pixels(loaded, 255.0))


@register_dataset("iris")
def _iris(seed: int = 0, **kw) -> Splits:
    return _classes("iris", tabular.load_iris(seed=seed, return_preprocessing=True, **kw))


@register_dataset("wine")
def _wine(seed: int = 0, **kw) -> Splits:
    return _classes("wine", tabular.load_wine(seed=seed, return_preprocessing=True, **kw))


@register_dataset("breast_cancer")
def _breast_cancer(seed: int = 0, **kw) -> Splits:
    return _classes("breast_cancer",
                    tabular.load_breast_cancer(seed=seed, return_preprocessing=True, **kw))


@register_dataset("diabetes")
def _diabetes(seed: int = 0, **kw) -> Splits:
    kw.setdefault("standardize_target", True)
    (xtr, ytr), (xte, yte), pre = tabular.load_diabetes(seed=seed, return_preprocessing=True,
                                                        **kw)
    return Splits("diabetes", xtr, ytr, xte, yte, "regression", preprocessing=pre)


@register_dataset("moons")
def _moons(seed: int = 0, n_samples: int = 1000, noise: float = 0.2, test_size: float = 0.2,
           **_kw) -> Splits:
    x, y = synthetic.make_moons(n_samples, noise, seed)
    return _classes("moons", shuffle_split(x, y, test_size, seed, "moons"))


@register_dataset("spirals")
def _spirals(seed: int = 0, n_samples: int = 900, n_classes: int = 3, noise: float = 0.2,
             test_size: float = 0.2, **_kw) -> Splits:
    x, y = synthetic.make_spirals(n_samples, n_classes, noise, seed)
    return _classes("spirals", shuffle_split(x, y, test_size, seed, "spirals"))


def _series(name: str, seed: int = 0, input_len: int | None = None, horizon: int = 1,
            test_fraction: float = 0.2) -> Splits:
    """The forecast windows of a bundled series (zengrad.data.forecasting.make_forecast_data);
    seed is accepted for the registry's signature and unused (the split is chronological)."""
    # the windowing, split and scaler of a forecast have one home, zengrad.data.forecasting;
    # imported when a series is asked for (it imports zengrad.data, which imports this module)
    from zengrad.data.forecasting import make_forecast_data

    data = make_forecast_data(name, input_len, horizon, test_fraction)
    shape = data.input_shape
    # z = (s - mean) / std for the window and the target alike: raw windows in, forecasts
    # back in the series' units
    pre = Preprocessing(shape, fixed_scaler(shape, data.std, data.mean),
                        fixed_scaler((data.horizon,), data.std, data.mean))
    return Splits(name, data.x_train, data.y_train, data.x_test, data.y_test, "forecast",
                  preprocessing=pre, source=data)


for _name in timeseries.SERIES:
    register_dataset(_name)(functools.partial(_series, _name))
