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


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tests use one BLAS (and torch) thread: their arrays are small, and on a loaded 2-core
    machine a second OpenBLAS thread made some tests 40x slower. Benchmarks (bench/) set
    their own thread counts."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it, run as configured
        yield
        return
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    with threadpool_limits(limits=1, user_api="blas"):
        yield
