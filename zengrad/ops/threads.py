"""A small persistent thread pool for elementwise work over large arrays.

NumPy's BLAS calls use every core, but its ufuncs run on one: an Adam step or a ReLU
backward over a few million floats leaves the second core idle where torch splits the pass.
NumPy releases the GIL inside a ufunc's inner loop, so Python threads that each run the same
ufuncs on their own slice of a flat array do run in parallel.

`for_blocks(fn, arrays)` cuts 1-D arrays of one length into blocks of BLOCK elements and
calls fn(*slices) on each: in this thread when the arrays are short or one thread is set,
else spread over the pool. Each element is computed by the same ufuncs whichever thread runs
its block, so results are bit for bit those of one thread (only elementwise work goes here,
never a reduction). Blocks also keep a multi-pass update's working set in cache: all its
passes run over one block before the next (an Adam step is 13 passes).

The thread count: `set_num_threads(n)`, else OMP_NUM_THREADS, else the cores this process may
run on (as torch reads it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# elements per block: 16K float32 = 64 KB per array, so the 4-6 arrays of an optimizer step
# stay in a core's L2 cache through all passes
BLOCK = 16384
# below this many elements a pass is too short to pay for handing blocks to other threads
PARALLEL_MIN = 4 * BLOCK

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_threads: int | None = None


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many threads split elementwise work (1: all of it runs in the calling thread)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int) -> None:
    """Use n threads from now on, as torch.set_num_threads: for zengrad's own blocked
    elementwise work and, through threadpoolctl where it is installed (it comes with
    scikit-learn), for the BLAS library NumPy calls."""
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer (got {n})")
    with _lock:
        _threads = n
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # BLAS keeps the count it read at start (OPENBLAS_NUM_THREADS)
        return
    threadpool_limits(limits=n, user_api="blas")  # called, not entered: it stays set


def _forget_pool_after_fork() -> None:
    """A forked child (a DataLoader worker) has none of the parent's threads: a pool
    inherited from the parent would take tasks and never run them."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(get_num_threads(), thread_name_prefix="zengrad-ew")
        return _pool


def for_blocks(fn: Callable[..., None], arrays: Sequence[np.ndarray]) -> None:
    """fn(*(a[s:e] for a in arrays)) over consecutive blocks [s, e) covering the arrays (1-D,
    one length), possibly in several threads; returns when every block is done and re-raises
    the first error a block raised. Device (CuPy) arrays run in one call, unblocked: their
    kernels are parallel already, and slicing would only launch more of them."""
    n = arrays[0].shape[0]
    if n <= BLOCK or type(arrays[0]) is not np.ndarray:
        fn(*arrays)
        return
    starts = range(0, n, BLOCK)

    def run(s: int) -> None:
        e = s + BLOCK
        fn(*(a[s:e] for a in arrays))

    threads = get_num_threads()
    if threads == 1 or n < PARALLEL_MIN or threading.current_thread().name.startswith(
        "zengrad-ew"
    ):
        for s in starts:
            run(s)
        return
    # one contiguous run of blocks per thread: fewer hand-offs than one task per block
    per = -(-len(starts) // threads)
    groups = [starts[i : i + per] for i in range(0, len(starts), per)]

    def run_group(group: range) -> None:
        for s in group:
            run(s)

    pool = _get_pool()
    futures = [pool.submit(run_group, grp) for grp in groups[1:]]
    run_group(groups[0])  # the calling thread takes the first share
    for f in futures:
        f.result()
