"""Chunks of work on zengrad's threads with BLAS held to one thread while they run.

Two threads that each run their own small products beat OpenBLAS splitting each of them, and
the two must not both split (four threads on two cores). Also, a product BLAS runs on one
thread does not wake OpenBLAS's workers, which spin for about 0.1 s after every product they
share (measured here: 120 ms of a core burnt in a 200 ms sleep after one 2-thread GEMM; a
split attention core took 2.1 ms right after a threaded GEMM against 1.2 ms without one).

- `over_threads(fn, arrays, per)`: threads.for_blocks with BLAS held to one thread, for ops
  whose chunks run their own small products (convolutions, attention, recurrences).
- `one_blas_thread()`: the hold itself, a context manager (about 2 us; threadpoolctl's
  `limit` costs 150 us).
- `small_product(macs)`: the hold for a product of fewer than SMALL_PRODUCT_MACS
  multiply-adds (linear layers, the im2col convolution's chunks), a no-op for others. A step
  whose products are all small then never wakes OpenBLAS's workers, and zengrad's threads
  have the second core to themselves (LeNet-5 at two threads: with its products split by
  OpenBLAS, its worker spun ~95% of the step's wall time and the main thread ran only ~80%
  of it; see bench/README.md).
Without threadpoolctl BLAS keeps its threads: slower, the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext

from zengrad.ops import threads

# products below this many multiply-adds run with BLAS at one thread (small_product): LeNet-5's
# largest is 15.5M (conv2, in chunks of 7.5M), its linear layers' 3M; the MLP's and the
# Transformer's are 17-134M and keep BLAS's threads, as does the LSTM's step (its own op)
SMALL_PRODUCT_MACS = 8 << 20
# OpenBLAS runs a GEMM of fewer multiply-adds than this on one thread anyway (its
# GEMM_MULTITHREAD_THRESHOLD 4 x 65536): no hold needed
BLAS_ONE_THREAD_MACS = 4 * 65536
_NO_HOLD = nullcontext()

_libs: list | None = None


def _blas_libs() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded ([] without threadpoolctl)."""
    global _libs
    if _libs is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _libs = []
        else:
            _libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libs


@contextmanager
def one_blas_thread():
    """BLAS at one thread inside the block (process-wide), its thread count restored after."""
    libs = _blas_libs()
    before = [lib.get_num_threads() for lib in libs]
    for lib, n in zip(libs, before):
        if n != 1:
            lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            if n != 1:
                lib.set_num_threads(n)


def small_product(macs: int):
    """one_blas_thread() for a product of BLAS_ONE_THREAD_MACS to SMALL_PRODUCT_MACS
    multiply-adds while zengrad uses more than one thread; else a context that does nothing."""
    if not BLAS_ONE_THREAD_MACS <= macs < SMALL_PRODUCT_MACS or threads.get_num_threads() == 1:
        return _NO_HOLD
    return one_blas_thread()


def over_threads(fn: Callable[..., None], arrays: Sequence, per: int, least: int = 0) -> None:
    """fn(*(a[s:s + per] for a in arrays)) over the chunks of axis 0, spread over zengrad's
    threads from `least` elements of arrays[0]; BLAS runs one thread while they do."""
    if threads.get_num_threads() == 1 or arrays[0].shape[0] <= per or arrays[0].size < least:
        threads.for_blocks(fn, arrays, per, least)  # one at a time: BLAS splits each product
        return
    with one_blas_thread():
        threads.for_blocks(fn, arrays, per, least)
