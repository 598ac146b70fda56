"""DistributedDataParallel: data-parallel training over zengrad.distributed (MPI).

Every rank holds the whole model and a shard of the batch. At construction rank 0's parameters
and buffers are broadcast, so all replicas start equal; after each backward every gradient is
replaced by its mean over the ranks,

    p.grad <- sum_r (p.grad_r / W)   (each rank scales before the all-reduce sums),

so the optimizers step identically everywhere and the replicas stay equal. With a loss that
is the mean over a local batch of B, that is the gradient of the mean over the global batch
of W * B: W ranks on B each train as one process on W * B.

How the averaging overlaps backward (as torch's reducer): the gradients are packed into
buckets of about bucket_cap_mb (the first 1 MB, so communication starts early), in reverse
order of parameters() — roughly the order backward produces them. A hook on each parameter
(Tensor.register_hook) sees each gradient contribution as backward delivers it; forward
counted how many contributions each parameter will receive (its uses in the graph), so the
hook knows when a parameter's gradient is complete, copies it into its bucket's flat buffer,
and when a bucket is full starts a non-blocking MPI all-reduce (Iallreduce) on it while
backward goes on. Buckets are started in index order on every rank (MPI matches collectives by
order). When the last gradient is in, the hook waits for all buckets and writes the means back
into .grad.

Each bucket also carries one "used" flag per parameter: a parameter that no rank used keeps
its .grad as it was (as torch with find_unused_parameters=True); one used on some ranks gets
the mean, with zeros from the others.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from zengrad import distributed as dist
from zengrad.autograd.engine import grad_mode
from zengrad.autograd.tensor import Tensor
from zengrad.distributed.shared_memory import NodeReducer
from zengrad.nn.module import Module

_MB = 1024 * 1024
_FIRST_BUCKET_BYTES = 1 * _MB  # torch's first-bucket size


class _Bucket:
    """A flat buffer of some parameters' gradients (one dtype) plus their "used" flags, and
    where the sum over the ranks lands (the same buffer for MPI's in-place all-reduce, the
    shared result segment on one machine)."""

    def __init__(self, params: list, dtype: np.dtype) -> None:
        self.params = params
        self.dtype = dtype
        sizes = [p.array.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.size = self.offsets[-1] + len(params)
        self.place(np.empty(self.size, dtype), None)  # place() zeroes it
        self.request = None

    def _split(self, flat: np.ndarray) -> tuple[list, np.ndarray]:
        views = [flat[a:b].reshape(p.array.shape)
                 for a, b, p in zip(self.offsets, self.offsets[1:], self.params)]
        return views, flat[self.offsets[-1]:]

    def place(self, flat: np.ndarray, result: np.ndarray | None) -> None:
        """Use `flat` for the local values and `result` (None: flat itself) for the sum."""
        flat[...] = 0
        self.flat = flat
        self.views, self.used = self._split(flat)
        self.result = flat if result is None else result
        self.result_views, self.result_used = self._split(self.result)


class _Step:
    """One backward's bookkeeping: contributions still expected per parameter, buckets not
    full yet, the next bucket to start."""

    def __init__(self, remaining: list, pending: list) -> None:
        self.remaining = remaining
        self.pending = pending
        self.next_bucket = 0
        self.started = False


def _flatten_tensors(obj: Any) -> Iterator[Tensor]:
    """The tensors inside forward's output (nested tuples, lists, dicts)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            yield o
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())


def _leaf_uses(outputs: Any, index: dict[int, int], counts: list[int]) -> None:
    """counts[index[id(p)]] += the number of graph edges from outputs' nodes into leaf p: how
    many gradient contributions backward will deliver to it."""
    seen: set[int] = set()
    stack = [t.grad_fn for t in _flatten_tensors(outputs) if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for parent, needed in zip(node.parents, node.needs_input_grad):
            if not needed:
                continue
            fn = parent.grad_fn
            if fn is None:
                i = index.get(id(parent))
                if i is not None:
                    counts[i] += 1
            elif id(fn) not in seen:
                stack.append(fn)


class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel on CPU ranks of zengrad.distributed.

    forward(*inputs) = module(*inputs); gradients are averaged over the ranks during backward
    (see the module docstring). `module` is the wrapped model; state_dict keys carry torch's
    'module.' prefix (save `ddp.module.state_dict()` for keys without it).
    broadcast_buffers=True sends rank 0's buffers (BatchNorm running statistics) to all ranks
    before each forward, as torch. Under no_sync() gradients accumulate locally; the first
    backward outside it averages the accumulated sum.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a zengrad.nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids not in (None, []) and [str(d) for d in device_ids] != ["cpu"]:
            raise ValueError(
                f"DistributedDataParallel: device_ids={device_ids!r}, but zengrad has only the "
                "CPU: leave device_ids (and output_device) None, as torch for CPU modules"
            )
        if gradient_as_bucket_view:
            raise NotImplementedError("DistributedDataParallel: gradient_as_bucket_view=True "
                                      "is not supported (gradients are copied out of buckets)")
        self._pg = dist.process_group.default_group(process_group, "DistributedDataParallel")
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if cap <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        self.module = module
        self.device_ids = None
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.bucket_bytes_cap = int(cap * _MB)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True

        params = [p for p in dict.fromkeys(module.parameters()) if p.requires_grad]
        self._check_same_model(params)
        self._sync_from_rank0([t for t in dict.fromkeys(module.parameters())]
                              + list(module.buffers()))
        self._params = params
        self._index = {id(p): i for i, p in enumerate(params)}
        self._buckets = self._make_buckets(params)
        # one machine: the buckets live in shared memory and are summed there (see
        # zengrad.distributed.shared_memory); across machines: MPI's non-blocking all-reduce
        self._node = NodeReducer.create(self._pg, [(b.dtype, b.size) for b in self._buckets])
        if self._node is not None:
            for k, b in enumerate(self._buckets):
                b.place(self._node.slot(k), self._node.result(k))
        self._where = [None] * len(params)  # (bucket, slot) of each parameter
        for b, bucket in enumerate(self._buckets):
            for s, p in enumerate(bucket.params):
                self._where[self._index[id(p)]] = (b, s)
        self._step: _Step | None = None
        self._scale = 1.0 / self._pg.size()
        for i, p in enumerate(params):
            p.register_hook(self._make_hook(i))

    # ----- construction ----------------------------------------------------------------
    def _check_same_model(self, params: list) -> None:
        """All ranks must wrap the same architecture (torch checks the shapes too)."""
        shapes = repr([(p.array.shape, p.array.dtype.str) for p in params]).encode()
        # crc32, not hash(): Python salts str hashes per process
        sig = np.array([len(params), sum(p.array.size for p in params), zlib.crc32(shapes)],
                       np.int64)
        every = np.empty((self._pg.size(), 3), np.int64)
        req = self._pg.comm.Iallgather(sig, every)
        dist.process_group.wait(self._pg, [req], "DistributedDataParallel construction")
        if (every != sig).any():
            raise RuntimeError(
                f"DistributedDataParallel: rank {self._pg.rank()} wraps a model with "
                f"{sig[0]} parameters ({sig[1]} values) but the ranks' models differ "
                f"(parameters and values per rank: {every[:, :2].tolist()}); every rank must "
                "build the same model"
            )

    def _sync_from_rank0(self, tensors: list) -> None:
        """Every tensor <- rank 0's, in one broadcast of their bytes."""
        arrays = [t.array for t in tensors if t is not None and t.array.size]
        if not arrays or self._pg.size() == 1:
            return
        raw = np.concatenate([np.ascontiguousarray(a).reshape(-1).view(np.uint8)
                              for a in arrays])
        req = self._pg.comm.Ibcast(raw, root=0)
        dist.process_group.wait(self._pg, [req], "DistributedDataParallel broadcast")
        start = 0
        for a in arrays:
            stop = start + a.nbytes
            a[...] = raw[start:stop].view(a.dtype).reshape(a.shape)
            start = stop

    def _make_buckets(self, params: list) -> list[_Bucket]:
        """Consecutive parameters in reverse order, one dtype per bucket, up to the cap."""
        buckets, current, size, cap = [], [], 0, _FIRST_BUCKET_BYTES
        for p in reversed(params):
            nbytes = p.array.nbytes
            if current and (size + nbytes > cap or p.array.dtype != current[0].array.dtype):
                buckets.append(_Bucket(current, current[0].array.dtype))
                current, size, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            size += nbytes
        if current:
            buckets.append(_Bucket(current, current[0].array.dtype))
        return buckets

    # ----- forward -----------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        step = self._step
        if step is not None and step.started:
            self._step = None
            raise RuntimeError(
                "DistributedDataParallel: Expected to have finished reduction in the prior "
                "iteration before starting a new one: the last backward did not deliver a "
                "gradient to every parameter that forward used (was only part of the output "
                "used in the loss, or backward called on an intermediate tensor?)"
            )
        self._step = None
        if self.require_forward_param_sync and self.broadcast_buffers:
            self._sync_from_rank0(list(self.module.buffers()))
        outputs = self.module(*inputs, **kwargs)
        if grad_mode.enabled and self.require_backward_grad_sync and self._params:
            self._arm(outputs)
        return outputs

    def _arm(self, outputs: Any) -> None:
        counts = [0] * len(self._params)
        _leaf_uses(outputs, self._index, counts)
        pending = [len(b.params) for b in self._buckets]
        step = _Step(counts, pending)
        self._step = step
        for b in self._buckets:
            b.used[...] = 0
        for i, c in enumerate(counts):
            if c == 0:  # not in the graph: ready now, contributing its gradient as it is
                self._ready(step, i, None)
        if not any(counts):  # nothing to wait for
            self._step = None

    # ----- backward ------------------------------------------------------------------------
    def _make_hook(self, i: int):
        def hook(grad: Tensor) -> Tensor | None:
            step = self._step
            if step is None:  # outside a synced step (no_sync, a plain module call)
                return None
            step.started = True
            step.remaining[i] -= 1
            if step.remaining[i] > 0:
                return None
            return self._ready(step, i, grad.array)

        return hook

    def _ready(self, step: _Step, i: int, last: np.ndarray | None) -> Tensor | None:
        """Parameter i's local gradient is complete: .grad plus `last`, the contribution that
        is about to be added to it. Put it in its bucket; start full buckets."""
        p = self._params[i]
        b, s = self._where[i]
        bucket = self._buckets[b]
        view = bucket.views[s]
        # scaled by 1/W on the way in (as torch's reducer), so the summed bucket is the mean
        # with no extra pass over it; for W a power of two the scaling is exact
        scale = self._scale
        if last is None:
            if p.grad is None:
                view[...] = 0
            else:
                np.multiply(p.grad.array, scale, out=view)
        else:
            if p.grad is not None:  # the same sum (old + last) the engine would form
                np.add(last, p.grad.array, out=view)
                view *= scale
            else:
                np.multiply(last, scale, out=view)
            bucket.used[s] = 1
        step.pending[b] -= 1
        while step.next_bucket < len(self._buckets) and step.pending[step.next_bucket] == 0:
            self._start(self._buckets[step.next_bucket])
            step.next_bucket += 1
        if step.next_bucket < len(self._buckets):
            return None
        return self._finish(step, i if last is not None else None)

    def _start(self, bucket: _Bucket) -> None:
        if self._node is not None:  # summed all at once in _finish
            return
        mpi = dist.process_group._mpi()
        bucket.request = self._pg.comm.Iallreduce(mpi.IN_PLACE, bucket.flat, op=mpi.SUM)

    def _finish(self, step: _Step, current: int | None) -> Tensor | None:
        """Wait for every bucket, write the means into .grad; the parameter whose hook is
        running (current) gets its mean as the hook's result."""
        self._step = None
        if self._node is not None:
            self._node.reduce()
        else:
            dist.process_group.wait(self._pg, [b.request for b in self._buckets],
                                    "DistributedDataParallel gradient all-reduce")
        result = None
        for bucket in self._buckets:
            bucket.request = None
            for s, p in enumerate(bucket.params):
                if bucket.result_used[s] == 0:  # no rank used it: its .grad stays as it was
                    continue
                mean = bucket.result_views[s]
                if self._index[id(p)] == current:
                    # the engine adds the hook's result to .grad: clear it so .grad = mean
                    p.grad = None
                    result = Tensor._make(mean, False, None)
                elif p.grad is None:
                    p.grad = Tensor._make(mean.copy(), False, None)
                else:
                    p.grad.array[...] = mean
        return result

    # ----- gradient accumulation ------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward accumulates gradients locally without communication; the first
        synced backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


__all__ = ["DistributedDataParallel"]
