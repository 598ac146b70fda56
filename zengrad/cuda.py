"""zengrad.cuda: what torch.cuda answers on a CPU-only build.

This build of zengrad computes with NumPy on the CPU, so there is no CUDA device:
is_available() is False and device_count() 0, so `device = 'cuda' if
zengrad.cuda.is_available() else 'cpu'` picks the CPU. Seeding functions are harmless
no-ops (there is no CUDA generator to seed), as in torch without a GPU; anything that needs
a device (synchronize, current_device, set_device, get_device_name, ...) raises torch's
"not compiled with CUDA enabled" error.
"""

from __future__ import annotations

from zengrad import devices as _device


def _no_cuda(what: str) -> _device.DeviceUnavailableError:
    return _device.DeviceUnavailableError(
        f"zengrad.cuda.{what}(): Torch not compiled with CUDA enabled: no CUDA device is "
        "available (this build of zengrad runs on the NumPy cpu backend)"
    )


def is_available() -> bool:
    """False: this build has no CUDA backend."""
    return False


def device_count() -> int:
    """0 CUDA devices."""
    return 0


def is_initialized() -> bool:
    """False: CUDA is never initialized here."""
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def manual_seed(seed: int) -> None:
    """A no-op, as torch.cuda.manual_seed without a GPU (no CUDA generator exists)."""
    int(seed)  # the same TypeError as torch for a seed that is not a number


def manual_seed_all(seed: int) -> None:
    """A no-op, as torch.cuda.manual_seed_all without a GPU."""
    int(seed)


def seed() -> None:
    """A no-op without a GPU."""


def seed_all() -> None:
    """A no-op without a GPU."""


def empty_cache() -> None:
    """A no-op: there is no CUDA caching allocator."""


def memory_allocated(device=None) -> int:
    """0 bytes: nothing is ever allocated on a CUDA device here."""
    return 0


def max_memory_allocated(device=None) -> int:
    return 0


def memory_reserved(device=None) -> int:
    return 0


def synchronize(device=None) -> None:
    """torch's error on a CPU-only build: there is no device to wait for."""
    raise _no_cuda("synchronize")


def current_device() -> int:
    raise _no_cuda("current_device")


def set_device(device) -> None:
    raise _no_cuda("set_device")


def get_device_name(device=None) -> str:
    raise _no_cuda("get_device_name")


def get_device_properties(device=None):
    raise _no_cuda("get_device_properties")


def get_device_capability(device=None):
    raise _no_cuda("get_device_capability")


def get_rng_state(device="cuda"):
    raise _no_cuda("get_rng_state")


def set_rng_state(new_state, device="cuda") -> None:
    raise _no_cuda("set_rng_state")
