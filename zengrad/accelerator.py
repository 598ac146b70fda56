"""zengrad.accelerator: what torch.accelerator answers when no accelerator is present.

This build of zengrad runs on the NumPy CPU backend: is_available() is False,
current_accelerator() is None and device_count() 0; what needs an accelerator raises
torch's "Cannot access accelerator device when none is available." error.
"""

from __future__ import annotations

from zengrad import devices as _device


def _none_available(what: str) -> RuntimeError:
    return RuntimeError(
        f"zengrad.accelerator.{what}(): Cannot access accelerator device when none is "
        "available (this build of zengrad runs on the NumPy cpu backend)"
    )


def is_available() -> bool:
    """False: no accelerator (CUDA, MPS, XPU, ...) in this build."""
    return False


def device_count() -> int:
    """0 accelerators."""
    return 0


def current_accelerator(check_available: bool = False) -> _device.device | None:
    """None: there is no accelerator (torch returns None too when none is present)."""
    return None


def current_device_index() -> int:
    raise _none_available("current_device_index")


current_device_idx = current_device_index


def set_device_index(device) -> None:
    raise _none_available("set_device_index")


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    raise _none_available("synchronize")
