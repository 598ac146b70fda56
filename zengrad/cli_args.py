"""argparse pieces shared by `zengrad` and `zengrad tune`: one-line errors, checked numbers,
the time-series options, the metrics line.

Every parser is built with allow_abbrev=False: `--epoch 3` is an error, not `--epochs 3`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


class UsageError(Exception):
    """A bad command line value found after parsing (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit status 2, no abbreviations."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_subparser(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """sub.add_parser with abbreviations off (subparsers don't inherit allow_abbrev)."""
    return sub.add_parser(name, allow_abbrev=False, **kwargs)


def number(kind: type, low: float, inclusive: bool, what: str) -> Callable[[str], float]:
    """An argparse type: `kind(text)` that must be >= low (inclusive) or > low; NaN refused."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None
        ok = value >= low if inclusive else value > low
        if not ok or value != value:  # also rejects NaN
            op = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be {op} {low}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


MODEL_HELP = ("(default: lstm for time series, lenet for image datasets, mlp for the others; "
              "forecasts: mlp, lstm or transformer)")


def add_series_arguments(parser: argparse.ArgumentParser) -> None:
    """--horizon and --input-len: the forecast window of a time-series dataset."""
    from zengrad.data.datasets.timeseries import SERIES

    parser.add_argument("--horizon", type=number(int, 1, True, "an integer"), default=None,
                        help=f"time series ({', '.join(SERIES)}): forecast this many steps "
                             "ahead (default: 1)")
    windows = ", ".join(f"{info.input_len} {info.step}s of {name}"
                        for name, info in SERIES.items())
    parser.add_argument("--input-len", type=number(int, 1, True, "an integer"), default=None,
                        help="time series: steps the model reads before each forecast "
                             f"(default: two seasons, {windows})")


def print_metrics(title: str, metrics: dict, config: dict | None = None) -> None:
    """The metrics on one line; for a forecast run (config) also its RMSE and MAE against
    the naive and seasonal-naive forecasts."""
    print(title + "  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    if config is not None and config["task"] == "forecast" and "naive_rmse" in metrics:
        from zengrad.train.forecast import format_forecast_report

        print(format_forecast_report(metrics, config["model"]))


def model_names() -> list[str]:
    from zengrad.train.zoo import MODELS

    return list(MODELS)


def dataset_names() -> list[str]:
    from zengrad.data.datasets import list_datasets

    return list_datasets()


__all__ = ["MODEL_HELP", "Parser", "UsageError", "add_series_arguments", "add_subparser",
           "dataset_names", "model_names", "number", "print_metrics"]
