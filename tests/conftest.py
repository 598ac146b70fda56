"""Shared fixtures. Helpers (torch parity, gradcheck) live in tests/helpers.py.

Tests that train take their seed from the `train_seed` fixture and assert a margin that must
hold on any machine. To check that by hand, rerun them under other seeds, BLAS kernels and
thread counts (never set these in CI):

    ZENGRAD_TEST_SEED=3 ZENGRAD_TEST_THREADS=2 OPENBLAS_CORETYPE=Sandybridge \
        .venv/bin/python -m pytest tests -m trains -s

(`-s` shows the `metric:` line each of them prints.)
"""

import os

import numpy as np
import pytest

import zengrad as zg


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, fresh for every test."""
    return np.random.default_rng(1234)


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer, got {text!r}") from None


@pytest.fixture
def train_seed() -> int:
    """The seed of a test that trains: 0, or ZENGRAD_TEST_SEED to check other seeds."""
    return _env_int("ZENGRAD_TEST_SEED", 0)


@pytest.fixture
def two_threads():
    """Run with 2 zengrad pool threads (whatever the machine), the count restored after."""
    before = zg.get_num_threads()
    zg.set_num_threads(2)
    yield
    zg.set_num_threads(before)


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
    """Tests use one BLAS (and torch) thread, or ZENGRAD_TEST_THREADS: their arrays are small,
    and on a loaded 2-core machine a second OpenBLAS thread made some tests 40x slower.
    Benchmarks (bench/) set their own thread counts."""
    threads = _env_int("ZENGRAD_TEST_THREADS", 1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it, run as configured
        yield
        return
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    import zengrad

    before = zengrad.get_num_threads()
    zengrad.set_num_threads(threads)  # zengrad's own pool too (a test that changes it restores it)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        zengrad.set_num_threads(before)
