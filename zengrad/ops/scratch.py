"""Memory handed out again instead of allocated afresh: per-thread work arrays for the
inside of one op call (`scratch`), and large arrays kept between steps (`kept_empty`).

(Since zengrad.allocator keeps glibc from returning freed memory, handing batch norm's and
the shifted-view convolution's outputs out of kept buffers too gained nothing: ab_trees
BasicBlock 1.00x at 1 and 2 threads; they are plain allocations.)

A chunk's accumulator, product or tap block (0.3-2.5 MB) or a batch-norm block's temporary
(256 KB) taken afresh for every chunk comes from glibc's mmap or from a heap it trimmed, so
its pages are faulted in (and zeroed by the kernel) again each time; with two threads every
fault also takes the process's memory lock against the other thread. `scratch` hands out the
same memory again instead: one flat array per thread and slot, grown when a larger one is
asked for. NumPy only: CuPy pools device memory itself.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Hashable

import numpy as np

_local = threading.local()


def scratch(xp, shape: tuple, dtype, slot: Hashable):
    """An array of `shape` and `dtype` (contents arbitrary) kept for this thread and `slot`:
    the caller must be done with it before the same thread asks for that slot again (each
    user names its own slots: ("conv", "acc"), ("update", 0), ...). Other array modules get
    xp.empty."""
    if xp is not np:
        return xp.empty(shape, dtype)
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    buf = bufs.get((slot, dtype))
    if buf is None or buf.size < n:
        buf = bufs[(slot, dtype)] = np.empty(n, dtype)  # host: NumPy only, checked above
    return buf[:n].reshape(shape)


# A large temporary allocated afresh every step comes from newly mapped memory, and the kernel
# zeroes each page at its first touch: LeNet-5's step took ~2,100 such page faults, 1 thread
# 11.2 ms against 7.2 without them. The convolutions' column buffers and padded copies (kept
# from the forward to the backward) come from here instead: an array is handed out again once
# nothing else refers to it. NumPy only (CuPy pools its device memory itself).
KEEP_MIN_BYTES = 256 * 1024
KEEP_MAX_BYTES = 128 * 1024 * 1024  # all kept buffers together
KEEP_PER_SHAPE = 2  # a graph kept past the next forward holds one, the next step the other
_kept: dict[tuple, list] = {}
_kept_bytes = 0
_kept_lock = threading.Lock()


def _refs_when_free() -> int:
    """What sys.getrefcount says of a list's item that nothing else refers to (2 on CPython
    3.10-3.13: the list's reference and the argument's), measured, not assumed."""
    probe = [object()]
    return sys.getrefcount(probe[0])


_FREE_REFS = _refs_when_free()


def _drop_free_buffers() -> None:
    """Forget every kept buffer that nothing refers to (to make room for other shapes)."""
    global _kept_bytes
    for key in list(_kept):
        bufs = _kept[key]
        for i in range(len(bufs) - 1, -1, -1):
            if sys.getrefcount(bufs[i]) == _FREE_REFS:
                _kept_bytes -= bufs.pop(i).nbytes
        if not bufs:
            del _kept[key]


def kept_empty(xp, shape: tuple, dtype):
    """xp.empty(shape, dtype), from a kept buffer that nothing else refers to if there is one
    (its contents are arbitrary, as empty's)."""
    global _kept_bytes
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if xp is not np or nbytes < KEEP_MIN_BYTES:
        return xp.empty(shape, dtype)
    key = (tuple(shape), dtype)
    with _kept_lock:
        bufs = _kept.get(key, ())
        for i in range(len(bufs)):
            if sys.getrefcount(bufs[i]) == _FREE_REFS:
                return bufs[i]
        buf = np.empty(shape, dtype)  # host: only NumPy arrays are kept
        if len(bufs) < KEEP_PER_SHAPE:
            if _kept_bytes + nbytes > KEEP_MAX_BYTES:
                _drop_free_buffers()
            if _kept_bytes + nbytes <= KEEP_MAX_BYTES:
                _kept.setdefault(key, []).append(buf)
                _kept_bytes += nbytes
        return buf
