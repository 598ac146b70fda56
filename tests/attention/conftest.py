"""Attention tests work on small matrices, where multi-threaded BLAS only adds overhead and,
on a busy machine, its spinning threads make steps 10x slower: one BLAS thread per test
(threadpoolctl comes with scikit-learn, a test dependency)."""

import contextlib

import pytest


@pytest.fixture(autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
    with limits:
        yield
