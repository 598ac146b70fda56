"""A small persistent thread pool for elementwise work over large arrays.

NumPy's BLAS calls use every core, but its ufuncs run on one: an Adam step or a ReLU
backward over a few million floats leaves the second core idle where torch splits the pass.
NumPy releases the GIL inside a ufunc's inner loop, so Python threads that each run the same
ufuncs on their own slice of a flat array do run in parallel.

`for_blocks(fn, arrays)` cuts arrays along axis 0 into blocks of BLOCK rows (1-D: elements)
and calls fn(*slices) on each: in this thread when the arrays are short or one thread is set,
else spread over the pool. The blocks depend on the shape only, never on the thread count, so
whichever thread runs a block computes the same bits: elementwise work, and per-row partial
sums that the caller folds in a fixed order (batch norm's statistics), give one thread's
result. Blocks also keep a multi-pass update's working set in cache: all its passes run over
one block before the next (an Adam step is 12 passes).

For ops: `elementwise(fn, arrays)` splits same-shape arrays along their common memory order
(`flat_views`: C order, channel-major, any dense permutation) or else axis 0;
`split_rows(fn, arrays)` splits arrays that share only axis 0 (a pool's input and output);
`ufunc(op, a, b)` is a binary ufunc split so. Only arrays of OP_PARALLEL_MIN elements or more
go to the pool; `block=` asks for cache-sized pieces at one thread too. Device (CuPy) arrays
and 0-d or empty ones always run in one call.

What a split costs beyond the post: every ufunc call gives the GIL up and takes it back, and
a thread that finds it taken sleeps; on the 2-core VM measured its wake-up took longer than a
short ufunc, so the other thread, cycling the GIL, kept it, and the sleeper starved (CPython
only forces a switch after a 5 ms interval without any). Two threads looping over one
multiply each on their own array, time per thread against one thread alone: 32K elements
(~7 us a call) 1.0 and 2.2-4.8 (one thread starves until the other is done), 128K (~27 us)
1.1-1.4 both, 256K and more (>= 55 us) 0.9-1.1. So a split pays for passes of long calls
only: large blocks, few passes of work per GIL hand-off.

Blocks are handed out from one ticket counter: the caller works too, and a worker the OS has
not started by the time the caller runs out of blocks is cancelled, so on a busy machine a
split costs a post, not a wait for a time slice. The workers are plain daemon threads, each
waiting on its own queue (WorkerPool): posting a job costs one queue put (~7 us on the 2-core
VM measured, a worker running ~20 us later), where ThreadPoolExecutor.submit cost ~22 us
and its worker started ~35 us later (Future, locks and semaphores in Python); every split
of an op or an optimizer step pays it once.

The thread count: `set_num_threads(n)`, else OMP_NUM_THREADS, else the cores this process may
run on (as torch reads it).
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable, Sequence

import numpy as np

# elements per block: 16K float32 = 64 KB per array, so the 4-6 arrays of an optimizer step
# stay in a core's L2 cache through all passes
BLOCK = 16384
# below this many elements a pass is too short to pay for handing blocks to other threads
PARALLEL_MIN = 4 * BLOCK
# an op's pass (elementwise, split_rows, batch norm's row blocks) goes to the pool from this
# many elements. Waking a pool thread and passing the GIL back and forth costs 15-60 us on the
# 2-core machine this was measured on (shared: its second core was never idle). ReLU forward
# / backward / add, 2 threads against 1, best of 9 at load ~4: 1.9x / 1.3x / 1.6x slower at
# 256K elements, 0.92x / 0.88x / 0.77x at 1M, 0.78x / 0.76x / 0.66x at 2M; at load 1.4 with
# one foreign process holding the other core, 1.1-1.8x slower at every size (a split can only
# lose when the second core is busy). Re-measure on a quiet machine before lowering it.
OP_PARALLEL_MIN = 1 << 20
# the smallest piece of a one-pass op cut for threads
PIECE_MIN = 32768
# elements per piece of a multi-pass elementwise op (a mask and its product, a batch-norm
# row block): 256 KB of float32, so its 3-4 arrays stay in L2 through all its passes
CACHE_BLOCK = 65536

_NAME = "zengrad-ew"  # the workers' thread names (a worker's own split runs in one thread)


class Job:
    """fn() for one worker, claimed once: by the worker that starts it, or by the caller
    that cancels it (a worker that finds its job claimed skips it)."""

    __slots__ = ("fn", "claim", "done")

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.claim = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()  # released when fn has run

    def cancel(self) -> bool:
        """True when the job had not started (now it never will)."""
        return self.claim.acquire(blocking=False)

    def wait(self) -> None:
        """Return once a started job has finished."""
        self.done.acquire()


class WorkerPool:
    """n daemon threads, each taking jobs from its own queue; post(i, job) hands job to
    worker i. Jobs catch their own errors (the caller collects them)."""

    def __init__(self, n: int) -> None:
        self.queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(n)]
        for i, q in enumerate(self.queues):
            threading.Thread(target=_serve, args=(q,), name=f"{_NAME}-{i}", daemon=True).start()

    def post(self, i: int, job: Job) -> None:
        self.queues[i].put(job)

    def shutdown(self) -> None:
        """The workers exit once their queued jobs are done."""
        for q in self.queues:
            q.put(None)


def _serve(jobs: queue.SimpleQueue) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        if job.claim.acquire(blocking=False):
            try:
                job.fn()
            finally:
                job.done.release()


_lock = threading.Lock()
_pool: WorkerPool | None = None
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
            _pool.shutdown()
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


def _get_pool() -> WorkerPool:
    """get_num_threads() - 1 workers: the calling thread is the other one."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = WorkerPool(max(1, get_num_threads() - 1))
        return _pool


def _in_worker() -> bool:
    """True in one of the pool's own threads: a nested split would wait on itself."""
    return threading.current_thread().name.startswith(_NAME)


def _run_blocks(fn: Callable[..., None], arrays: Sequence, n: int, per: int, threads: int) -> None:
    """fn over consecutive blocks of `per` rows of axis 0 (the last one shorter), shared
    among `threads` threads (_share)."""
    starts = range(0, n, per)
    if threads == 1 or len(starts) == 1:
        for s in starts:
            fn(*(a[s : s + per] for a in arrays))
        return
    _share(lambda i: fn(*(a[starts[i] : starts[i] + per] for a in arrays)), len(starts), threads)


def _share(run: Callable[[int], None], count: int, threads: int) -> None:
    """run(i) for i in range(count), by the caller and threads - 1 pool workers that take
    the indices one at a time from one shared ticket counter: a worker that the OS does not
    run soon (a busy machine) is cancelled unstarted and the caller does its share, so a
    split never waits on a thread that is not running (a fixed share per thread would wait
    up to a time slice). Re-raises the first error a run raised."""
    ticket = itertools.count()  # next() on it is atomic under the GIL
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            i = next(ticket)
            if i >= count:
                return
            try:
                run(i)
            except BaseException as e:  # handed to the caller, raised there
                errors.append(e)
                return

    pool = _get_pool()
    jobs = [Job(work) for _ in range(min(threads, count) - 1)]
    for i, job in enumerate(jobs):
        pool.post(i, job)
    work()
    for job in jobs:
        if not job.cancel():  # started: it is running its last block, wait for it
            job.wait()
    if errors:
        raise errors[0]


def for_blocks(
    fn: Callable[..., None],
    arrays: Sequence[np.ndarray],
    block: int = BLOCK,
    least: int | None = None,
) -> None:
    """fn(*(a[s:e] for a in arrays)) over consecutive blocks [s, e) of `block` rows of axis 0
    (1-D arrays: elements) covering the arrays (one length along axis 0), possibly in several
    threads; returns when every block is done and re-raises the first error a block raised.
    The blocks depend on the shape only, never on the thread count, so a block's partial
    result (a per-row sum) is the same whichever thread computes it. Device (CuPy) arrays run
    in one call, unblocked: their kernels are parallel already, and slicing would only launch
    more of them. Threads are used from `least` elements (default PARALLEL_MIN)."""
    n = arrays[0].shape[0]
    if n <= block or type(arrays[0]) is not np.ndarray:
        fn(*arrays)
        return
    least = PARALLEL_MIN if least is None else least
    _run_blocks(fn, arrays, n, block, _threads_for(arrays[0].size, least))


def flat_views(arrays: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """1-D views of same-shape NumPy arrays that all lie densely in memory in one axis order
    (C order, channel-major, any permutation), element i of each view being the same index
    of every array; None when they do not (a strided view, two layouts)."""
    a0 = arrays[0]
    if a0.ndim <= 1:
        return list(arrays) if all(a.ndim == 1 and a.flags.c_contiguous for a in arrays) else None
    order = sorted(range(a0.ndim), key=lambda k: -abs(a0.strides[k]))  # outermost first
    out = []
    for a in arrays:
        t = a.transpose(order)
        if not t.flags.c_contiguous:
            return None
        out.append(t.reshape(-1))
    return out


def elementwise(fn: Callable[..., None], arrays: Sequence, block: int | None = None) -> None:
    """fn(*pieces) over matching pieces of arrays of one shape (inputs and the outputs fn
    writes with out=), for work that is elementwise: each element goes through the same
    ufuncs whichever piece holds it, so any cut gives the result of fn(*arrays) bit for bit.
    The pieces are runs of the arrays' common memory order (flat_views), else of axis 0.
    block=None: one piece per thread (a one-pass fn; one call at one thread); block=k: pieces
    of about k elements, also at one thread (a fn of several passes keeps its temporaries in
    cache). Small, 0-d or device arrays run in one call."""
    if _one_call(arrays[0], block):
        fn(*arrays)
        return
    views = flat_views(arrays)
    _split(fn, arrays if views is None else views, arrays[0], block)


def split_rows(fn: Callable[..., None], arrays: Sequence, block: int | None = None) -> None:
    """As elementwise, for arrays that share only axis 0 (a pool's input and output): fn
    gets matching ranges of axis 0 and must treat each index of that axis on its own. The
    first array sets the size (put the largest first)."""
    if _one_call(arrays[0], block):
        fn(*arrays)
        return
    _split(fn, arrays, arrays[0], block)


def _threads_for(size: int, least: int = PARALLEL_MIN) -> int:
    """How many threads a pass over `size` elements is split over (1 inside a worker)."""
    if size < least or _in_worker():
        return 1
    return get_num_threads()


def _one_call(a0, block: int | None) -> bool:
    """True where splitting cannot pay or cannot be done: device, 0-d or empty arrays, or one
    thread and no cache blocks asked for (or an array within one block)."""
    if type(a0) is not np.ndarray or a0.ndim == 0 or a0.size == 0:
        return True
    return _threads_for(a0.size, OP_PARALLEL_MIN) == 1 and (block is None or a0.size <= block)


def _split(fn: Callable[..., None], views: Sequence, a0, block: int | None) -> None:
    threads = _threads_for(a0.size, OP_PARALLEL_MIN)
    n = views[0].shape[0]
    row = max(1, a0.size // n)
    if block is None:
        # a few pieces per thread (so one that starts late still gets a share), none under
        # PIECE_MIN elements (each piece costs a Python call)
        pieces = max(threads, min(4 * threads, a0.size // PIECE_MIN))
        per = -(-n // pieces)
        if row == 1:  # cut at 64-byte lines: no cache line shared by two threads' writes
            step = max(1, 64 // a0.itemsize)
            per = -(-per // step) * step
    else:
        per = max(1, block // row)
    _run_blocks(fn, views, n, per, threads)


def ufunc(op: Callable, a, b):
    """op(a, b) for a binary ufunc; two large NumPy arrays of one shape and dtype are split
    over the threads (the result in a's memory order), anything else is one call."""
    if (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and a.size >= OP_PARALLEL_MIN
        and a.shape == b.shape
        and a.dtype == b.dtype
        and get_num_threads() > 1
    ):
        out = np.empty_like(a)  # host (NumPy arrays only, checked above)
        elementwise(lambda x, y, o: op(x, y, out=o), (a, b, out))
        return out
    return op(a, b)
