"""The array backend: which array module ops use, the default dtype and the seeded RNG.

NumPy on the CPU. A CuPy backend (device "cuda") plugs in here later: ops call
`get_array_module(x)` instead of naming numpy, so they are written once.
"""

from __future__ import annotations

import numpy as np

# dtypes, as PyTorch names them (NumPy dtypes underneath)
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_default_dtype = float32
_rng = np.random.default_rng()


def get_array_module(_array: object = None):
    """The array module (numpy) for an array; cupy arrays will map to cupy."""
    return np


def get_default_dtype() -> np.dtype:
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype of floating tensors created from Python floats (float32 or float64)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"default dtype must be a floating dtype, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random draw in zengrad (creation ops, init, dropout, shuffling)."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def rng() -> np.random.Generator:
    """The global generator; fetch it at call time, manual_seed replaces it."""
    return _rng


def get_rng_state() -> dict:
    """The generator's state as plain JSON-able data (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    global _rng
    gen = np.random.default_rng()
    gen.bit_generator.state = state
    _rng = gen


def parse_to_args(args: tuple, kwargs: dict) -> tuple[str | None, np.dtype | None]:
    """(device, dtype) from the arguments of Tensor.to / Module.to, as PyTorch accepts them:
    to(dtype), to(device), to(device, dtype), to(other_tensor), dtype=/device= keywords."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if not isinstance(a, type) and isinstance(getattr(a, "dtype", None), np.dtype):  # tensor
            dtype = a.dtype
        elif isinstance(a, str):
            device = a
        elif a is not None:
            dtype = a
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(
            f"device {device!r} is not available: this build of zengrad runs on the "
            "NumPy (cpu) backend"
        )
    return device, (None if dtype is None else np.dtype(dtype))
