"""Summing flat buffers over the ranks of one machine through MPI shared memory.

When every rank of the group runs on one machine, an all-reduce needs no messages: each rank
writes its buffer into its own slot of a shared segment (MPI-3 `Win.Allocate_shared`), and
after a barrier rank r sums chunk r of every bucket over all W slots,

    result[lo_r:hi_r] = slot_0[lo_r:hi_r] + slot_1[lo_r:hi_r] + ... + slot_{W-1}[lo_r:hi_r],

(the same order of terms on every run), writing it into one shared result segment; after a
second barrier every rank reads the whole sum from there. Each rank reads its W slots' chunk
and writes 1/W of the result: for W = 2 about a third of the memory traffic of MPI's
reduce-scatter/all-gather through its message cells, and no per-message handshakes. The next
step may write the slots as soon as it likes (nobody reads them after the second barrier) and
the result only after its own first barrier (by then everyone has read the last one), so two
barriers per step suffice.

DistributedDataParallel places its gradient buckets in the slots when `create` finds one
machine; across machines it keeps MPI's non-blocking all-reduce. The barriers wait through
process_group.wait, so a rank that dies or hangs makes the others raise after the timeout.
"""

from __future__ import annotations

import os

import numpy as np

from zengrad.distributed import process_group as pgm

_ALIGN = 64  # bytes: each bucket region starts on a cache line
ENV_SWITCH = "ZENGRAD_DDP_SHARED_MEMORY"  # "0": use MPI's all-reduce even on one machine


def _layout(regions: list[tuple[np.dtype, int]]) -> tuple[list[int], int]:
    """Byte offsets of regions (dtype, count), each aligned; the total bytes."""
    offsets, at = [], 0
    for dtype, count in regions:
        at = -(-at // _ALIGN) * _ALIGN
        offsets.append(at)
        at += np.dtype(dtype).itemsize * count
    return offsets, at


class NodeReducer:
    """Slots and a result segment in shared memory for buffers of fixed dtypes and sizes.

    `slot(k)` is this rank's array for region k (write the local values there), `result(k)`
    the shared sum after `reduce()`. Build it collectively with `create`.
    """

    def __init__(self, pg, node, regions: list[tuple[np.dtype, int]]) -> None:
        mpi = pgm._mpi()
        self._pg, self._node = pg, node
        self._world, self._rank = node.Get_size(), node.Get_rank()
        offsets, nbytes = _layout(regions)
        size = max(nbytes, 1)
        self._slots_win = mpi.Win.Allocate_shared(size, 1, comm=node)
        self._result_win = mpi.Win.Allocate_shared(size if self._rank == 0 else 0, 1,
                                                   comm=node)
        raw_slots = [np.frombuffer(self._slots_win.Shared_query(q)[0], np.uint8, size)
                     for q in range(self._world)]
        raw_result = np.frombuffer(self._result_win.Shared_query(0)[0], np.uint8, size)

        def region(raw: np.ndarray, k: int) -> np.ndarray:
            dtype, count = regions[k]
            start = offsets[k]
            return raw[start:start + np.dtype(dtype).itemsize * count].view(dtype)

        self._slot_regions = [[region(raw, k) for k in range(len(regions))] for raw in raw_slots]
        self._results = [region(raw_result, k) for k in range(len(regions))]
        self._chunks = [(count * self._rank // self._world, count * (self._rank + 1)
                         // self._world) for _, count in regions]
        for win in (self._slots_win, self._result_win):
            win.Lock_all()  # passive access for the whole run: Sync() orders the accesses

    @classmethod
    def create(cls, pg, regions: list[tuple[np.dtype, int]]) -> NodeReducer | None:
        """Collective over pg: a reducer when every rank of pg shares this machine and
        ZENGRAD_DDP_SHARED_MEMORY is not "0"; else None (use MPI's all-reduce)."""
        if pg.size() == 1:
            return None
        mpi = pgm._mpi()
        node = pg.comm.Split_type(mpi.COMM_TYPE_SHARED)
        agree = np.empty(1, np.int32)
        # every rank must take the same path: one machine for all, and nobody opted out
        ok = np.array([node.Get_size() == pg.size()
                       and os.environ.get(ENV_SWITCH, "1") != "0"], np.int32)
        req = pg.comm.Iallreduce(ok, agree, op=mpi.MIN)
        pgm.wait(pg, [req], "DistributedDataParallel shared-memory setup")
        if not agree[0]:
            node.Free()
            return None
        return cls(pg, node, regions)

    def slot(self, k: int) -> np.ndarray:
        return self._slot_regions[self._rank][k]

    def result(self, k: int) -> np.ndarray:
        return self._results[k]

    def _barrier(self, what: str) -> None:
        for win in (self._slots_win, self._result_win):
            win.Sync()
        pgm.wait(self._pg, [self._node.Ibarrier()], what)
        for win in (self._slots_win, self._result_win):
            win.Sync()

    def reduce(self) -> None:
        """result(k) <- the sum over the ranks of their slot(k), for every region k."""
        self._barrier("DistributedDataParallel gradient all-reduce (writing)")
        for k, (lo, hi) in enumerate(self._chunks):
            if hi == lo:
                continue
            out = self._results[k][lo:hi]
            np.add(self._slot_regions[0][k][lo:hi], self._slot_regions[1][k][lo:hi], out=out)
            for q in range(2, self._world):
                out += self._slot_regions[q][k][lo:hi]
        self._barrier("DistributedDataParallel gradient all-reduce (summing)")
