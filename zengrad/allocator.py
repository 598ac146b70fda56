"""glibc's malloc kept from handing a training step's memory back to the OS between steps.

A step allocates and frees the same arrays every time. glibc returns freed memory at the top
of a heap to the OS once it passes a trim threshold, and serves arrays over a size threshold
with fresh mmaps; the next step then faults every page in again (the kernel zeroes each one).
Threads make it worse: arrays that zengrad's pool threads allocate live in their own arenas,
whose heaps shrink on free. Measured on the 2-core machine of bench/ (a50199d, Transformer
encoder layer step at 2 threads): 5,000 page faults a step and 37 ms, against 23 ms with the
settings below; one thread, and steps without pool temporaries, hardly change.

`tune_malloc()` (run when this module is imported: by `import zengrad`) sets, via `mallopt`:
    M_MMAP_THRESHOLD = 32 MiB   arrays below it come from the heaps (glibc's own upper bound
                                for its adaptive threshold, fixed from the start)
    M_TRIM_THRESHOLD = 256 MiB  freed memory stays mapped up to this much per heap
process-wide: the process keeps up to its high-water mark of such memory mapped, as a caching
allocator does (torch does not do this on the CPU). ZENGRAD_MALLOC_TUNING=0 in the environment
leaves malloc as it is; other C libraries (musl, macOS, Windows) are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20
ENV = "ZENGRAD_MALLOC_TUNING"

_tuned: bool | None = None


def tune_malloc() -> bool:
    """Set the thresholds above once (glibc only, unless ZENGRAD_MALLOC_TUNING=0); True if set."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get(ENV, "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        if not hasattr(libc, "gnu_get_libc_version"):  # glibc's own symbol: not musl
            return False
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned


def malloc_tuned() -> bool:
    """Whether tune_malloc() set the thresholds in this process."""
    return bool(_tuned)


tune_malloc()
