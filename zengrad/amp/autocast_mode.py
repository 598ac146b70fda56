"""autocast, as torch.autocast: a no-op where torch would disable it; refused where torch
would cast (zengrad has no lower-precision kernels)."""

from __future__ import annotations

import warnings
from typing import Any

_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "hpu", "ipu", "mtia", "meta")


def _device_available(device_type: str) -> bool:
    from zengrad import cuda

    return device_type == "cpu" or (device_type == "cuda" and cuda.is_available())


class autocast:  # noqa: N801 - torch's name
    """with autocast(device_type, dtype=None, enabled=True, cache_enabled=None): ops inside
    would run in dtype where torch autocasts. Disabled (enabled=False, or a device that is
    not there: torch warns and disables) it changes nothing; enabled on an available device
    it raises NotImplementedError. Also a decorator, as torch's."""

    def __init__(self, device_type: str = "cuda", dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICE_TYPES:
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)
        if self._enabled and not _device_available(device_type):
            warnings.warn(f"User provided device_type of '{device_type}', but it is not "
                          "available. Disabling autocast.", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            raise NotImplementedError(
                f"autocast on '{device_type}': zengrad runs every op in its inputs' dtype and "
                "has no lower-precision kernels to cast to (NumPy has no bfloat16); pass "
                "enabled=False, or cast the model and inputs yourself (model.half())")

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, fn):
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        wrapped.__wrapped__ = fn
        return wrapped


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Always False: zengrad never autocasts."""
    return False
