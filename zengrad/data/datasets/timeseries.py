"""Time series bundled with statsmodels (read as CSV, without importing statsmodels), and a
sliding-window helper that turns a series into (input, target) pairs for forecasting.

- sunspots: yearly mean sunspot numbers 1700-2008, 309 points.
- co2: weekly atmospheric CO2 at Mauna Loa (ppm), 1958-03-29 to 2001-12-29, 2,284 points;
  the 59 missing weeks are filled by linear interpolation in time.

SERIES holds, per bundled series, its loader, seasonal period and default forecasting window
(zengrad.train.forecast reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from zengrad.data.datasets._common import data_file


def _read_csv(relative: str, who: str) -> np.ndarray:
    path = data_file("statsmodels", relative, who)
    # empty fields (missing weeks) become NaN
    return np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)


def load_sunspots(return_years: bool = False):
    """Values float32 (309,); with return_years, (years int64 (309,), values)."""
    table = _read_csv("datasets/sunspots/sunspots.csv", "load_sunspots")
    values = table[:, 1].astype(np.float32)
    return (table[:, 0].astype(np.int64), values) if return_years else values


def load_co2(return_dates: bool = False):
    """Values float32 (2284,), gaps interpolated; with return_dates, (datetime64[D], values)."""
    table = _read_csv("datasets/co2/co2.csv", "load_co2")
    stamps = table[:, 0].astype(np.int64)
    dates = np.array(
        [f"{s // 10000:04d}-{s // 100 % 100:02d}-{s % 100:02d}" for s in stamps],
        dtype="datetime64[D]",
    )
    values = table[:, 1]
    days = (dates - dates[0]).astype(np.float64)
    ok = ~np.isnan(values)
    values = np.interp(days, days[ok], values[ok]).astype(np.float32)
    return (dates, values) if return_dates else values


def sliding_windows(series, input_len: int, horizon: int = 1, stride: int = 1):
    """All (x, y) windows of a series: x[i] = s[t:t+input_len], y[i] = s[t+input_len :
    t+input_len+horizon] for t = 0, stride, 2*stride, ...

    series: (T,) or (T, F). Returns copies x (N, input_len[, F]) and y (N, horizon[, F]),
    N = (T - input_len - horizon) // stride + 1.
    """
    s = np.asarray(series)
    if s.ndim not in (1, 2):
        raise ValueError(f"sliding_windows: series must be (T,) or (T, F), got {s.shape}")
    for name, v in (("input_len", input_len), ("horizon", horizon), ("stride", stride)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"sliding_windows: {name} must be an integer >= 1, got {v!r}")
    total = input_len + horizon
    if len(s) < total:
        raise ValueError(f"sliding_windows: a series of length {len(s)} is shorter than "
                         f"input_len + horizon = {total}")
    win = np.lib.stride_tricks.sliding_window_view(s, total, axis=0)[::stride]
    # sliding_window_view puts the window axis last: (N, [F,] total) -> (N, total[, F])
    if s.ndim == 2:
        win = win.transpose(0, 2, 1)
    return win[:, :input_len].copy(), win[:, input_len:].copy()


@dataclass(frozen=True)
class SeriesInfo:
    """What forecasting needs to know about a bundled series.

    period: the seasonal period in steps (the seasonal-naive baseline repeats the value one
    period earlier); input_len: the default window, two periods, so a model sees one whole
    cycle and the one before it; unit: of the values, for plot labels.
    """

    load: Callable[[], tuple[np.ndarray, np.ndarray]]  # () -> (times, values float32)
    period: int
    input_len: int
    unit: str
    step: str  # one time step: "year", "week"


# The sunspot cycle is about 11 years (Schwabe); CO2 has a yearly cycle of 52 weeks.
SERIES: dict[str, SeriesInfo] = {
    "sunspots": SeriesInfo(lambda: load_sunspots(return_years=True), period=11, input_len=22,
                           unit="sunspot number", step="year"),
    "co2": SeriesInfo(lambda: load_co2(return_dates=True), period=52, input_len=104,
                      unit="CO2 (ppm)", step="week"),
}


def series_info(name: str) -> SeriesInfo:
    """The SERIES entry of a bundled series, or a ValueError naming the ones there are."""
    if name not in SERIES:
        raise ValueError(f"unknown series {name!r}; bundled series: {', '.join(SERIES)}")
    return SERIES[name]
