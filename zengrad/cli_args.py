"""argparse pieces shared by `zengrad` and `zengrad tune`: one-line errors, checked numbers.

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


def model_names() -> list[str]:
    from zengrad.train.zoo import MODELS

    return list(MODELS)


def dataset_names() -> list[str]:
    from zengrad.data.datasets import list_datasets

    return list_datasets()


__all__ = ["Parser", "UsageError", "add_subparser", "dataset_names", "model_names", "number"]
