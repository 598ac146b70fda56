"""Shared fixtures. Helpers (torch parity, gradcheck) live in tests/helpers.py."""

import numpy as np
import pytest

import zengrad as zg


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, fresh for every test."""
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_zengrad():
    """Every test starts from the same zengrad RNG state and with grad mode on."""
    zg.manual_seed(0)
    yield
    zg.set_grad_enabled(True)


@pytest.fixture(autouse=True, scope="session")
def _strict_grad_dtypes():
    """A backward that returns a gradient of another dtype than its input fails the test."""
    from zengrad.autograd import engine

    engine.check_grad_dtypes = True
    yield
    engine.check_grad_dtypes = False
