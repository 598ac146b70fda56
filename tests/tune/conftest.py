"""Test setup for zengrad.tune.

* ``tune_objectives`` must be importable by name: worker processes (spawn, Dask) import the
  objectives from there, so they must not live in a test module's namespace.
* The GP works on small matrices, where multi-threaded BLAS only adds overhead, and on a busy
  machine its spinning threads make the GP tests several times slower; each test here runs with
  one BLAS thread (threadpoolctl comes with scikit-learn, a test dependency).
"""

import contextlib
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


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
