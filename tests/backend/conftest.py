"""The 'cuda' backend of the seam tests: the fake CuPy (default, no GPU needed) or, with
ZENGRAD_TEST_CUDA=cupy on a machine with an NVIDIA GPU and CuPy (bench/gpu.sh), the real
one. Either way `device('cuda')` maps to it while a test holds the `cuda` fixture."""

from __future__ import annotations

import os

import pytest

from tests.backend import fake_cupy
from zengrad import backend

KIND = os.environ.get("ZENGRAD_TEST_CUDA", "fake")


@pytest.fixture
def cuda():
    """The array module behind device 'cuda' for the test (fake_cupy unless
    ZENGRAD_TEST_CUDA=cupy)."""
    if KIND == "cupy":
        yield backend.module_for("cuda")
        return
    if KIND != "fake":
        raise pytest.UsageError(f"ZENGRAD_TEST_CUDA must be 'fake' or 'cupy', got {KIND!r}")
    backend.register_array_module(fake_cupy.ndarray, fake_cupy, "cuda",
                                  special=fake_cupy.scipy_special)
    try:
        yield fake_cupy
    finally:
        backend.unregister_array_module("cuda")
