"""Forecasting a bundled time series: scoring a model's forecasts against the naive and
seasonal-naive baselines in the series' own units, and plotting them. The data (split,
windows, scaler, baselines, metrics: the formulas) live in zengrad.data.forecasting and are
re-exported here.

Typical use (see the CLI): data = make_forecast_data("sunspots", horizon=3); a model from
zengrad.train.zoo.build_model("lstm", data.input_shape, data.num_outputs, task="forecast");
Trainer(model, nn.MSELoss(), Adam) on data.train_dataset(); then
evaluate_forecast(trainer.predict, data) and save_forecast_plot(path, data, trainer.predict).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.data.datasets.timeseries import SERIES
from zengrad.data.forecasting import (
    JSON_FORMAT,
    JSON_VERSION,
    ForecastData,
    ForecastPreprocessing,
    forecast_data_from_series,
    forecast_metrics,
    make_forecast_data,
    naive_forecast,
    seasonal_naive_forecast,
)

__all__ = [
    "ForecastData", "ForecastPreprocessing", "JSON_FORMAT", "JSON_VERSION",
    "evaluate_forecast", "forecast_data_from_series", "forecast_metrics",
    "format_forecast_report", "make_forecast_data", "naive_forecast", "save_forecast_plot",
    "scaled_predictions", "seasonal_naive_forecast",
]


# ----- evaluation -------------------------------------------------------------------------
def scaled_predictions(predictions: Any, data: ForecastData) -> np.ndarray:
    """The model's test forecasts in scaled units, (N_test, horizon), from: an array of them;
    a zengrad Module (run in eval mode under no_grad); or a callable taking data.x_test
    (e.g. Trainer.predict). (N,) and (N, horizon, 1) are accepted and reshaped."""
    from zengrad.nn.module import Module

    if isinstance(predictions, Module):
        from zengrad.autograd.engine import no_grad

        was_training = predictions.training
        predictions.eval()
        try:
            with no_grad():
                out = predictions(Tensor._make(data.x_test, False, None))
        finally:
            predictions.train(was_training)
    elif callable(predictions):
        out = predictions(data.x_test)
    else:
        out = predictions
    if isinstance(out, Tensor):
        out = out.detach().numpy()
    p = np.asarray(out, dtype=np.float64)
    n, h = data.y_test.shape
    if p.shape == (n, h, 1) or (h == 1 and p.shape == (n,)):
        p = p.reshape(n, h)
    if p.shape != (n, h):
        raise ValueError(f"evaluate_forecast: predictions must be (N_test, horizon) = "
                         f"{(n, h)}, got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"evaluate_forecast: {int(np.sum(~np.isfinite(p)))} predictions "
                         "are NaN or infinite")
    return p


def evaluate_forecast(predictions: Any, data: ForecastData) -> dict[str, float]:
    """RMSE and MAE of the model's test forecasts and of the two baselines, all in the
    series' units: {'rmse', 'mae', 'naive_rmse', 'naive_mae', 'seasonal_naive_rmse',
    'seasonal_naive_mae'}. predictions: see scaled_predictions (scaled units)."""
    truth = data.y_test_original
    out = forecast_metrics(data.inverse_transform(scaled_predictions(predictions, data)), truth)
    for name, base in (("naive", data.naive()), ("seasonal_naive", data.seasonal_naive())):
        out.update({f"{name}_{k}": v for k, v in forecast_metrics(base, truth).items()})
    return out


def format_forecast_report(metrics: dict[str, float], model: str = "model") -> str:
    """One line: 'lstm RMSE 18.2 vs naive 25.1, seasonal-naive 30.4; MAE 13.1 vs ...'."""
    def line(k: str) -> str:
        return (f"{k.upper()} {metrics[k]:.4g} vs naive {metrics['naive_' + k]:.4g}, "
                f"seasonal-naive {metrics['seasonal_naive_' + k]:.4g}")

    return f"{model} {line('rmse')}; {line('mae')}"


def save_forecast_plot(path: str | os.PathLike, data: ForecastData, predictions: Any,
                       label: str = "model", title: str | None = None) -> None:
    """viz.plot_forecast of the held-out truth, the model's first-step forecasts and the
    naive baseline (original units), with the training part's last stretch for context."""
    from zengrad import viz

    pred = data.inverse_transform(scaled_predictions(predictions, data))
    scores = forecast_metrics(pred, data.y_test_original)
    naive = data.naive()
    base = forecast_metrics(naive, data.y_test_original)
    lo = max(0, data.split - 4 * data.input_len)
    info = SERIES.get(data.name)
    viz.plot_forecast(
        path, data.y_test_original[:, 0], pred[:, 0], naive[:, 0], times=data.test_times,
        context=(data.times[lo:data.split], data.series[lo:data.split]),
        label=f"{label} (RMSE {scores['rmse']:.3g})",
        naive_label=f"naive (RMSE {base['rmse']:.3g})",
        xlabel=info.step if info else "time", ylabel=info.unit if info else None,
        title=title or (f"{data.name}: {label}, one-step forecasts on the held-out tail"
                        + (f" (horizon {data.horizon}, step 1 shown)" if data.horizon > 1
                           else "")))

