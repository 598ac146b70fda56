"""Parameter distributions: the ranges that ``trial.suggest_*`` describes.

Three kinds, as in Optuna:

* ``FloatDistribution(low, high, log=False, step=None)``
* ``IntDistribution(low, high, log=False, step=1)``
* ``CategoricalDistribution(choices)``

Each distribution also knows how to map a value to the unit interval and back
(``to_unit`` / ``from_unit``).  Samplers work in that normalized space:

    u = (t(v) - t(low - pad)) / (t(high + pad) - t(low - pad)),   t = log if log else identity

where ``pad = step / 2`` for discrete (int or stepped float) distributions, so that
every allowed value owns an equally wide slice of [0, 1] (uniform sampling in ``u``
then gives every integer the same probability, and a continuous model such as
the GP can be optimized over ``u`` and rounded afterwards).

Distributions serialize to JSON (``distribution_to_json`` / ``json_to_distribution``);
storage never pickles.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from typing import Any

CategoricalChoice = None | bool | int | float | str


class BaseDistribution:
    """Common interface; subclasses are small immutable value objects."""

    def to_unit(self, value: Any) -> float:
        """Map an external value to [0, 1] (categoricals: not used, see ``index``)."""
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        """Inverse of ``to_unit``: snap to the nearest allowed value."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def single(self) -> bool:
        """True when only one value is possible."""
        raise NotImplementedError

    def _attrs(self) -> dict[str, Any]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._attrs() == other._attrs()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, json.dumps(self._attrs(), sort_keys=True)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._attrs().items())
        return f"{type(self).__name__}({args})"


class _NumericDistribution(BaseDistribution):
    """Shared code for floats and ints: bounds, log scale, step grid."""

    low: float
    high: float
    log: bool
    step: float | int | None

    def _pad(self) -> float:
        return 0.0 if self.step is None else self.step / 2.0

    def _bounds_t(self) -> tuple[float, float]:
        """Padded bounds in the transformed (log or linear) space."""
        pad = self._pad()
        lo, hi = self.low - pad, self.high + pad
        if self.log:
            return math.log(lo), math.log(hi)
        return lo, hi

    def to_unit(self, value: Any) -> float:
        lo, hi = self._bounds_t()
        if hi == lo:
            return 0.5
        t = math.log(value) if self.log else float(value)
        return min(max((t - lo) / (hi - lo), 0.0), 1.0)

    def _snap(self, v: float) -> float:
        """Clip to [low, high] and round to the step grid."""
        if self.step is not None:
            v = self.low + round((v - self.low) / self.step) * self.step
        return min(max(v, self.low), self.high)

    def from_unit(self, u: float) -> Any:
        lo, hi = self._bounds_t()
        t = lo + min(max(float(u), 0.0), 1.0) * (hi - lo)
        return self._cast(self._snap(math.exp(t) if self.log else t))

    def _cast(self, v: float) -> Any:
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if math.isnan(v) or v < self.low or v > self.high:
            return False
        if self.step is not None:
            k = (v - self.low) / self.step
            return abs(k - round(k)) < 1e-8
        return True

    def single(self) -> bool:
        if self.low == self.high:
            return True
        return self.step is not None and self.high - self.low < self.step

    def _attrs(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step}


def _check_range(name: str, low: float, high: float, log: bool, step: float | None) -> None:
    """The validation Optuna users expect, with the parameter name in every message."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"parameter {name!r}: low and high must be finite, got {low}, {high}")
    if low > high:
        raise ValueError(f"parameter {name!r}: low={low} must be <= high={high}")
    if log and low <= 0:
        raise ValueError(f"parameter {name!r}: log=True needs low > 0, got low={low}")
    if step is not None:
        if log:
            raise ValueError(f"parameter {name!r}: step={step} cannot be combined with log=True")
        if step <= 0:
            raise ValueError(f"parameter {name!r}: step must be > 0, got {step}")


class FloatDistribution(_NumericDistribution):
    """Floats in [low, high]; ``log`` samples uniformly in log space; ``step`` discretizes."""

    def __init__(
        self, low: float, high: float, log: bool = False, step: float | None = None,
        *, name: str = "?",
    ) -> None:
        _check_range(name, low, high, log, step)
        self.low, self.high, self.log = float(low), float(high), bool(log)
        self.step = None if step is None else float(step)
        if self.step is not None:
            # Optuna's rule: high is moved down onto the step grid.
            n = math.floor((self.high - self.low) / self.step + 1e-9)
            self.high = self.low + n * self.step

    def _cast(self, v: float) -> float:
        return float(v)


class IntDistribution(_NumericDistribution):
    """Integers in [low, high] with ``step``; ``log`` samples log-uniformly (step must be 1)."""

    def __init__(
        self, low: int, high: int, log: bool = False, step: int = 1, *, name: str = "?"
    ) -> None:
        for label, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not float(v).is_integer():
                raise ValueError(f"parameter {name!r}: {label} must be an integer, got {v!r}")
        if log and step != 1:
            raise ValueError(f"parameter {name!r}: step={step} cannot be combined with log=True")
        _check_range(name, low, high, log, None if log else step)
        self.low, self.high, self.log, self.step = int(low), int(high), bool(log), int(step)
        self.high = self.low + (self.high - self.low) // self.step * self.step

    def _cast(self, v: float) -> int:
        return int(round(v))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if not math.isfinite(value) or value != int(value):
            return False
        return super().contains(value)


class CategoricalDistribution(BaseDistribution):
    """One of a fixed list of choices (None, bool, int, float or str, so they are JSON)."""

    def __init__(self, choices: Sequence[CategoricalChoice], *, name: str = "?") -> None:
        choices = tuple(choices)
        if len(choices) == 0:
            raise ValueError(f"parameter {name!r}: choices must not be empty")
        for c in choices:
            if c is not None and not isinstance(c, bool | int | float | str):
                raise ValueError(
                    f"parameter {name!r}: choice {c!r} of type {type(c).__name__} is not "
                    "supported; use None, bool, int, float or str (they are stored as JSON)"
                )
        self.choices = choices

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            # compare type too, so that True and 1 stay distinct choices
            if c == value and type(c) is type(value):
                return i
            if isinstance(c, float) and isinstance(value, float) and math.isnan(c) and math.isnan(
                value
            ):
                return i
        raise ValueError(f"{value!r} is not one of the choices {self.choices}")

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[min(int(min(max(u, 0.0), 1.0) * n), n - 1)]

    def single(self) -> bool:
        return len(self.choices) == 1

    def _attrs(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}


def distribution_to_json(dist: BaseDistribution) -> str:
    return json.dumps({"name": type(dist).__name__, "attributes": dist._attrs()})


_KINDS = {
    "FloatDistribution": FloatDistribution,
    "IntDistribution": IntDistribution,
    "CategoricalDistribution": CategoricalDistribution,
}


def json_to_distribution(text: str) -> BaseDistribution:
    data = json.loads(text)
    cls = _KINDS.get(data.get("name"))
    if cls is None:
        raise ValueError(f"unknown distribution in storage: {text!r}")
    return cls(**data["attributes"])


def check_compatible(name: str, old: BaseDistribution, new: BaseDistribution) -> None:
    """Raise if a parameter name is reused with a different kind of distribution.

    Ranges may change from trial to trial (dynamic search spaces), but a name that was
    a float cannot become a categorical, and categorical choices must stay the same.
    """
    if type(old) is not type(new):
        raise ValueError(
            f"parameter {name!r} was suggested as {old!r} and now as {new!r}; "
            "one name must keep one kind of distribution"
        )
    if isinstance(old, CategoricalDistribution) and old != new:
        raise ValueError(
            f"parameter {name!r}: choices changed from {list(old.choices)} to "  # type: ignore
            f"{list(new.choices)}; categorical choices must stay the same within a study"  # type: ignore
        )
