"""Chunks of work on zengrad's threads with BLAS held to one thread while they run.

Two threads that each run their own small matrix products beat OpenBLAS splitting each product
over both cores (the products of a chunk are too small to pay for its hand-offs), and the two
must not both split: four threads on two cores. `over_threads(fn, arrays, per)` is
threads.for_blocks(fn, arrays, per) (chunks of `per` rows of axis 0, cut by shape only) with,
when more than one chunk runs on more than one thread, BLAS limited to one thread
(threadpoolctl, process-wide) for the duration. Without threadpoolctl BLAS keeps its threads:
slower, the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zengrad.ops import threads

_blas = None


def _controller():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas = False
        else:
            _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def over_threads(fn: Callable[..., None], arrays: Sequence, per: int, least: int = 0) -> None:
    """fn(*(a[s:s + per] for a in arrays)) over the chunks of axis 0, spread over zengrad's
    threads from `least` elements of arrays[0]; BLAS runs one thread while they do."""
    if threads.get_num_threads() == 1 or arrays[0].shape[0] <= per or arrays[0].size < least:
        threads.for_blocks(fn, arrays, per, least)  # one at a time: BLAS splits each product
        return
    blas = _controller()
    if blas is False:
        threads.for_blocks(fn, arrays, per, least)
        return
    with blas.limit(limits=1):
        threads.for_blocks(fn, arrays, per, least)
