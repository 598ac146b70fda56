"""Collectives on tensors, in place, as torch.distributed's: all_reduce, broadcast, all_gather,
reduce_scatter, barrier (and the *_tensor / *_into_tensor forms).

Each one hands the tensor's NumPy buffer to mpi4py's buffer (uppercase) methods, never pickles
it, and waits through process_group.wait (the group's timeout). async_op=True returns a Work
whose wait() finishes the call. Where MPI needs a contiguous buffer and the tensor is a
strided view, the values go through a contiguous copy and are written back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.distributed.process_group import ProcessGroup, _mpi, default_group, wait

# dtypes MPI reduces natively (mpi4py maps them by their buffer format)
_REDUCIBLE = {np.dtype(t) for t in ("float32", "float64", "int8", "int16", "int32", "int64",
                                    "uint8", "uint16", "uint32", "uint64")}


class ReduceOp:
    """How all_reduce / reduce_scatter combine the ranks' values (torch's names)."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"
    BAND = "BAND"
    BOR = "BOR"
    BXOR = "BXOR"


def _mpi_op(op: Any, who: str):
    MPI = _mpi()
    table = {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN,
             "MAX": MPI.MAX, "BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}
    key = op if isinstance(op, str) else getattr(op, "name", None)
    if key not in table:
        raise ValueError(f"{who}: op must be a zengrad.distributed.ReduceOp (SUM, AVG, PRODUCT, "
                         f"MIN, MAX, BAND, BOR, BXOR), got {op!r}")
    return table[key]


def _array(t: Any, who: str, what: str = "tensor") -> np.ndarray:
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: {what} must be a zengrad.Tensor, got {type(t).__name__}")
    return t.array


def _check_reducible(a: np.ndarray, op: Any, who: str) -> None:
    if a.dtype not in _REDUCIBLE and not (a.dtype == np.bool_ and op in ("MIN", "MAX")):
        raise TypeError(f"{who}: can't reduce a {a.dtype} tensor over MPI (supported: float32, "
                        "float64 and integer dtypes)")
    if op in ("BAND", "BOR", "BXOR") and a.dtype.kind == "f":
        raise TypeError(f"{who}: ReduceOp.{op} needs an integer tensor, got {a.dtype}")
    if op == "AVG" and a.dtype.kind != "f":
        raise TypeError(f"{who}: ReduceOp.AVG needs a floating-point tensor, got {a.dtype}")


class Work:
    """A collective in flight (torch's Work): wait() completes it, then `finish` runs (the
    copy back into a strided tensor, the division of AVG)."""

    def __init__(self, pg: ProcessGroup, requests: list, what: str, finish=None) -> None:
        self._pg, self._requests, self._what, self._finish = pg, requests, what, finish
        self._done = False

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            wait(self._pg, self._requests, self._what)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self) -> bool:
        if not self._done and _mpi().Request.Testall(self._requests):
            self.wait()
        return self._done

    def is_success(self) -> bool:
        return self._done


def _run(pg: ProcessGroup, requests: list, what: str, finish, async_op: bool) -> Work | None:
    work = Work(pg, requests, what, finish)
    if async_op:
        return work
    work.wait()
    return None


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """tensor <- op over ranks of every rank's tensor, elementwise, on every rank."""
    pg = default_group(group, "all_reduce")
    a = _array(tensor, "all_reduce")
    mop = _mpi_op(op, "all_reduce")
    opname = op if isinstance(op, str) else op.name
    _check_reducible(a, opname, "all_reduce")
    buf = _contiguous(a)
    req = pg.comm.Iallreduce(_mpi().IN_PLACE, buf, op=mop)

    def finish() -> None:
        if opname == "AVG":
            buf[...] /= pg.size()
        if buf is not a:
            a[...] = buf

    return _run(pg, [req], "all_reduce", finish, async_op)


def broadcast(tensor: Tensor, src: int = 0, group: Any = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """tensor <- rank src's tensor, on every rank."""
    pg = default_group(group, "broadcast")
    src = src if group_src is None else group_src
    _check_rank(src, pg, "broadcast", "src")
    a = _array(tensor, "broadcast")
    buf = _contiguous(a)
    req = pg.comm.Ibcast(buf, root=src)

    def finish() -> None:
        if buf is not a:
            a[...] = buf

    return _run(pg, [req], "broadcast", finish, async_op)


def _check_rank(r: Any, pg: ProcessGroup, who: str, what: str) -> None:
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < pg.size():
        raise ValueError(f"{who}: {what} must be a rank in [0, {pg.size()}), got {r!r}")


def _check_like(t: Tensor, a: np.ndarray, who: str, what: str) -> np.ndarray:
    b = _array(t, who, what)
    if b.shape != a.shape or b.dtype != a.dtype:
        raise ValueError(f"{who}: {what} has shape {tuple(b.shape)} and dtype {b.dtype}; every "
                         f"tensor must have the input's shape {tuple(a.shape)} and dtype {a.dtype}")
    return b


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """tensor_list[r] <- rank r's tensor, on every rank (world_size tensors of its shape)."""
    pg = default_group(group, "all_gather")
    a = _array(tensor, "all_gather")
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != pg.size():
        n = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list)
        raise ValueError(f"all_gather: tensor_list must be a list of world_size = {pg.size()} "
                         f"tensors, got {n}")
    outs = [_check_like(t, a, "all_gather", f"tensor_list[{i}]")
            for i, t in enumerate(tensor_list)]
    recv = np.empty((pg.size(),) + a.shape, a.dtype)
    req = pg.comm.Iallgather(_contiguous(a), recv)

    def finish() -> None:
        for r, out in enumerate(outs):
            out[...] = recv[r]

    return _run(pg, [req], "all_gather", finish, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: Any = None,
                           async_op: bool = False) -> Work | None:
    """output (world_size * N, ...) or (world_size, N, ...) <- the ranks' inputs, in rank
    order."""
    pg = default_group(group, "all_gather_into_tensor")
    a = _array(input_tensor, "all_gather_into_tensor", "input_tensor")
    out = _array(output_tensor, "all_gather_into_tensor", "output_tensor")
    if out.size != a.size * pg.size() or out.dtype != a.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor must hold world_size x input "
                         f"({pg.size()} x {tuple(a.shape)} {a.dtype}), got {tuple(out.shape)} "
                         f"{out.dtype}")
    buf = _contiguous(out)
    req = pg.comm.Iallgather(_contiguous(a), buf)

    def finish() -> None:
        if buf is not out:
            out[...] = buf

    return _run(pg, [req], "all_gather_into_tensor", finish, async_op)


def reduce_scatter(output: Tensor, input_list: Sequence[Tensor], op: Any = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Work | None:
    """output <- op over ranks of every rank's input_list[this rank]."""
    pg = default_group(group, "reduce_scatter")
    out = _array(output, "reduce_scatter", "output")
    if not isinstance(input_list, (list, tuple)) or len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list must be a list of world_size = "
                         f"{pg.size()} tensors")
    ins = [_check_like(t, out, "reduce_scatter", f"input_list[{i}]")
           for i, t in enumerate(input_list)]
    return _reduce_scatter(pg, np.stack(ins), out, op, "reduce_scatter", async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: Any = ReduceOp.SUM,
                          group: Any = None, async_op: bool = False) -> Work | None:
    """output <- op over ranks of every rank's chunk [rank] of input (world_size chunks)."""
    pg = default_group(group, "reduce_scatter_tensor")
    out = _array(output, "reduce_scatter_tensor", "output")
    a = _array(input, "reduce_scatter_tensor", "input")
    if a.size != out.size * pg.size() or a.dtype != out.dtype:
        raise ValueError(f"reduce_scatter_tensor: input must hold world_size x output "
                         f"({pg.size()} x {tuple(out.shape)} {out.dtype}), got "
                         f"{tuple(a.shape)} {a.dtype}")
    return _reduce_scatter(pg, _contiguous(a), out, op, "reduce_scatter_tensor", async_op)


def _reduce_scatter(pg: ProcessGroup, send: np.ndarray, out: np.ndarray, op: Any, who: str,
                    async_op: bool) -> Work | None:
    mop = _mpi_op(op, who)
    opname = op if isinstance(op, str) else op.name
    _check_reducible(out, opname, who)
    buf = _contiguous(out)
    req = pg.comm.Ireduce_scatter_block(send, buf, op=mop)

    def finish() -> None:
        if opname == "AVG":
            buf[...] /= pg.size()
        if buf is not out:
            out[...] = buf

    return _run(pg, [req], who, finish, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Return when every rank has called barrier."""
    pg = default_group(group, "barrier")
    return _run(pg, [pg.comm.Ibarrier()], "barrier", None, async_op)
