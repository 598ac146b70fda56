"""DataLoader: batches from a Dataset, as torch.utils.data.DataLoader.

The indices come from a sampler (SequentialSampler, or RandomSampler when shuffle=True, or the
one given), grouped by a BatchSampler (or the batch_sampler given); each batch of samples is
merged by collate_fn (default_collate). An IterableDataset is read in its own order.

Array-backed datasets (TensorDataset, a Subset of one, or any dataset with an `arrays`
attribute of equal-length arrays) take a fast path when collate_fn is the default: each batch
is one fancy index per array, no Python loop over samples.

Shuffling without generator= uses a generator of the loader's own, seeded with `seed=` (a
zengrad extension) or else once, at construction, from zengrad's default generator (so
`zengrad.manual_seed` makes it reproducible; torch instead draws a fresh seed from it every
epoch). `state_dict()` / `load_state_dict()` save and restore the shuffling generator.

num_workers > 0 loads in worker processes, as torch: each worker (multiprocessing, the
platform's default start method or multiprocessing_context=) is seeded with base_seed +
worker id, runs worker_init_fn(worker_id), sees get_worker_info(), and fetches whole batches
of indices; the main process hands out prefetch_factor batches per worker and yields them in
order.

Batches are built on the device of the dataset's arrays (the CPU, unless a TensorDataset
holds device tensors); move them as in torch, `x, y = x.to(device), y.to(device)` (or
`{k: v.to(device) for k, v in batch.items()}`). pin_memory is accepted and has no effect:
without an accelerator torch warns and doesn't pin either (and so does zengrad); with CUDA
(CuPy) the batches are not page-locked here, so `.to("cuda", non_blocking=True)` is an
ordinary synchronous copy.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import pickle  # batches from this loader's own workers, as multiprocessing sends them; no file
import queue
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.data.collate import default_collate, default_convert
from zengrad.data.dataset import Dataset, IterableDataset, Subset
from zengrad.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "WorkerInfo", "array_source", "default_collate", "default_convert",
           "get_worker_info"]

_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


def array_source(dataset) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """(arrays, index map or None) when dataset is array-backed (fast path), else None.
    The arrays may live on a device (a TensorDataset of CUDA tensors): batches stay there."""
    arrays = getattr(dataset, "arrays", None)
    if isinstance(arrays, (tuple, list)) and arrays and all(
        backend.is_array(a) for a in arrays
    ):
        return tuple(arrays), None
    if isinstance(dataset, Subset):
        inner = array_source(dataset.dataset)
        if inner is not None:
            arrays, idx = inner
            return arrays, (dataset.indices if idx is None else idx[dataset.indices])
    return None


def _accelerator_available() -> bool:
    """Whether a CUDA device is usable (zengrad.cuda.is_available(); imports CuPy only when
    it is installed)."""
    from zengrad import cuda  # (above the data layer's imports: only asked for pin_memory)

    return cuda.is_available()


# ---------------------------------------------------------------- worker side


@dataclass(frozen=True)
class WorkerInfo:
    """What get_worker_info() returns inside a worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: its WorkerInfo (id, num_workers, seed, dataset); in
    the main process: None."""
    return _worker_info


class _Fetcher:
    """Turns one task (a batch of indices; None for an IterableDataset) into one batch."""

    def __init__(self, loader: DataLoader) -> None:
        self.dataset = loader.dataset
        self.iterable = loader._iterable
        self.auto_collation = loader._auto_collation
        self.collate_fn = loader.collate_fn
        self.batch_size = loader.batch_size
        self.drop_last = loader.drop_last
        self.source = loader._source
        self._it: Iterator | None = None

    def restart(self) -> None:
        self._it = None

    def fetch(self, indices) -> Any:
        """The batch; StopIteration when an IterableDataset is exhausted."""
        if self.iterable:
            if self._it is None:
                self._it = iter(self.dataset)
            if not self.auto_collation:
                return self.collate_fn(next(self._it))
            chunk = list(itertools.islice(self._it, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                raise StopIteration
            return self.collate_fn(chunk)
        if self.source is not None:
            return self._fetch_arrays(indices)
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(indices) if getitems is not None else [
            self.dataset[i] for i in indices]
        return self.collate_fn(samples)

    def _fetch_arrays(self, idx: np.ndarray) -> list[Tensor]:
        arrays, index_map = self.source
        n = arrays[0].shape[0] if index_map is None else index_map.shape[0]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise IndexError(f"DataLoader: sampler gave index {bad}, out of range for a "
                             f"dataset of length {n}")
        if index_map is not None:
            idx = index_map[idx]
        # a list of Tensors, as torch's default_collate gives for (x, y) tuple samples; a
        # device array is indexed with the indices copied to its device
        return [Tensor._make(a[idx if type(a) is np.ndarray else backend.xp_of(a).asarray(idx)],
                             False, None) for a in arrays]


def _exception_record(exc: BaseException, worker_id: int) -> tuple[str, str, str]:
    kind = type(exc)
    text = "".join(traceback.format_exception(kind, exc, exc.__traceback__))
    msg = f"Caught {kind.__name__} in DataLoader worker process {worker_id}.\nOriginal {text}"
    return kind.__module__, kind.__qualname__, msg


class _KeyErrorMessage(str):
    """A KeyError shows repr(message); this keeps the worker's traceback readable."""

    def __repr__(self) -> str:
        return str(self)


def _raise_record(record: tuple[str, str, str]):
    """Re-raise a worker's exception in the main process, with its type when that type is
    already loaded here (a lookup only: nothing is imported)."""
    module, qualname, msg = record
    kind: Any = sys.modules.get(module)
    for part in qualname.split("."):
        kind = getattr(kind, part, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            err = kind(_KeyErrorMessage(msg) if issubclass(kind, KeyError) else msg)
        except Exception:  # noqa: BLE001 - a constructor with other arguments
            err = None
        if err is not None:
            raise err
    raise RuntimeError(msg)


def _worker_loop(fetcher: _Fetcher, tasks, results, worker_id: int, num_workers: int,
                 seed: int, init_fn: Callable | None) -> None:
    global _worker_info
    # each worker draws its own random numbers, from base_seed + id (torch's rule)
    random.seed(seed)
    backend.manual_seed(seed)
    # NumPy's global RNG (which many datasets use for augmentation) from a SeedSequence
    # of (base seed, id), as torch does: distinct, well-mixed streams per worker
    np.random.seed(np.random.SeedSequence([seed - worker_id, worker_id]).generate_state(4))
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                              dataset=fetcher.dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as e:  # noqa: BLE001 - reported to the main process
            init_error = _exception_record(e, worker_id)
    # at shutdown the main process may not read what is still in flight: exit regardless
    results.cancel_join_thread()
    epoch = None
    while True:
        try:
            task = tasks.get()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        task_epoch, task_id, indices = task
        if task_epoch != epoch:  # persistent workers: a new epoch reads a fresh iterator
            epoch = task_epoch
            fetcher.restart()
        if init_error is not None:
            results.put((task_epoch, task_id, worker_id, None, False, init_error))
            continue
        try:
            payload = pickle.dumps(fetcher.fetch(indices), protocol=pickle.HIGHEST_PROTOCOL)
        except StopIteration:
            results.put((task_epoch, task_id, worker_id, None, True, None))
        except Exception as e:  # noqa: BLE001 - reported to the main process
            results.put((task_epoch, task_id, worker_id, None, False,
                         _exception_record(e, worker_id)))
        else:
            results.put((task_epoch, task_id, worker_id, payload, False, None))


# ---------------------------------------------------------------- main side


_ABANDONED_QUEUES: list = []


class _MultiProcessIter:
    """Hands batches of indices to worker processes and yields their batches in order."""

    _POLL_S = 1.0

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._base_seed = int(loader._base_rng().integers(2**63))
        self._results = ctx.Queue()
        self._task_queues = []
        self._workers = []
        self._shut = False
        fetcher = _Fetcher(loader)
        for wid in range(loader.num_workers):
            tq = ctx.Queue()
            w = ctx.Process(target=_worker_loop, daemon=True, args=(
                fetcher, tq, self._results, wid, loader.num_workers, self._base_seed + wid,
                loader.worker_init_fn))
            try:
                w.start()
            except (pickle.PicklingError, TypeError, AttributeError) as e:
                # spawn/forkserver send the dataset, collate_fn and worker_init_fn by pickle
                self._shutdown(force=True)
                raise TypeError(
                    f"DataLoader: can't start worker processes with the "
                    f"{ctx.get_start_method()!r} start method: the dataset, collate_fn and "
                    f"worker_init_fn must be picklable (defined at module level), but {e}"
                ) from None
            self._task_queues.append(tq)
            self._workers.append(w)
        self._epoch = -1
        self._reset()

    def _reset(self) -> None:
        """Start an epoch: a fresh pass of the sampler, the first prefetch of tasks."""
        try:
            self._start_epoch()
        except BaseException:  # a sampler that fails must not leave workers behind
            self._shutdown(force=True)
            raise

    def _start_epoch(self) -> None:
        self._epoch += 1
        self._tasks = self._loader._task_source()
        self._active = [True] * len(self._workers)
        self._next_worker = 0
        self._sent = 0
        self._received = 0
        self._buffer: dict[int, tuple] = {}
        for _ in range(self._loader.prefetch_factor * len(self._workers)):
            if not self._send():
                break

    def _send(self) -> bool:
        if not any(self._active):
            return False
        try:
            indices = next(self._tasks)
        except StopIteration:
            return False
        while not self._active[self._next_worker]:
            self._next_worker = (self._next_worker + 1) % len(self._workers)
        wid = self._next_worker
        self._next_worker = (wid + 1) % len(self._workers)
        self._task_queues[wid].put((self._epoch, self._sent, indices))
        self._sent += 1
        return True

    def __iter__(self) -> _MultiProcessIter:
        return self

    def _get(self) -> tuple:
        timeout = self._loader.timeout
        start = time.monotonic()
        while self._received not in self._buffer:
            wait = self._POLL_S if timeout <= 0 else min(
                self._POLL_S, max(timeout - (time.monotonic() - start), 0.001))
            try:
                epoch, tid, wid, payload, done, err = self._results.get(timeout=wait)
            except queue.Empty:
                dead = [w.pid for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown(force=True)
                    raise RuntimeError(f"DataLoader worker (pid(s) "
                                       f"{', '.join(map(str, dead))}) exited unexpectedly"
                                       ) from None
                if timeout > 0 and time.monotonic() - start >= timeout:
                    self._shutdown(force=True)
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds"
                                       ) from None
                continue
            if epoch == self._epoch:  # (late results of an abandoned epoch are dropped)
                self._buffer[tid] = (wid, payload, done, err)
        return self._buffer.pop(self._received)

    def __next__(self) -> Any:
        while True:
            if self._received >= self._sent:
                if not self._loader.persistent_workers:
                    self._shutdown()
                raise StopIteration
            wid, payload, done, err = self._get()
            self._received += 1
            if done:  # this worker's share of an IterableDataset is used up
                self._active[wid] = False
            if err is not None:
                self._shutdown(force=True)
                _raise_record(err)
            try:
                self._send()
            except BaseException:
                self._shutdown(force=True)
                raise
            if not done:
                return pickle.loads(payload)

    def __len__(self) -> int:
        return len(self._loader)

    def _shutdown(self, force: bool = False) -> None:
        """Stop the workers: asked to finish (force: killed, after an error or timeout)."""
        if self._shut:
            return
        self._shut = True
        for tq in self._task_queues:
            try:
                tq.put(None)
            except (OSError, ValueError):
                pass
        for w in self._workers:
            if force:
                w.terminate()
            w.join(timeout=5)
            if w.is_alive():
                w.kill()
                w.join(timeout=1)
        for q in self._task_queues:
            # a queue's feeder thread must finish before the queue is collected (else it
            # closes a pipe the collector already closed); after a kill it may never finish,
            # so that queue is kept alive instead (a small leak, on errors only)
            q.close()
            if force:
                q.cancel_join_thread()
                _ABANDONED_QUEUES.append(q)
            else:
                q.join_thread()
        self._results.close()

    def __del__(self) -> None:
        try:
            self._shutdown()
        except Exception:  # noqa: BLE001, S110 - interpreter teardown
            pass


# ---------------------------------------------------------------- the loader


class _SingleProcessIter:
    """One in-process pass over a loader; len() is the loader's, as torch's iterator."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._batches = loader._single_process()

    def __iter__(self) -> _SingleProcessIter:
        return self

    def __next__(self) -> Any:
        return next(self._batches)

    def __len__(self) -> int:
        return len(self._loader)


_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class DataLoader:
    """Iterate over dataset in batches (torch.utils.data.DataLoader's arguments and checks);
    len(loader) is the number of batches. `seed=` (keyword, a zengrad extension) seeds the
    shuffling generator when no generator= is given."""

    def __init__(
        self,
        dataset: Dataset | Iterable,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        generator: backend.Generator | np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
            raise TypeError(f"DataLoader: num_workers should be an integer, got {num_workers!r}")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 "
                             "to disable multiprocessing.")
        if not isinstance(timeout, (int, float, np.integer, np.floating)):
            raise TypeError(f"DataLoader: timeout should be a number, got {timeout!r}")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None.")
        if prefetch_factor is not None and (
                isinstance(prefetch_factor, bool)
                or not isinstance(prefetch_factor, (int, np.integer))):
            raise TypeError(f"DataLoader: prefetch_factor should be an integer, got "
                            f"{prefetch_factor!r}")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if num_workers > 0 and prefetch_factor == 0:
            # (torch asserts prefetch_factor > 0 when its workers start)
            raise ValueError("prefetch_factor option should be positive with num_workers > 0, "
                             "got prefetch_factor=0")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        # (pin_memory, persistent_workers, in_order: any truthy value, as torch; drop_last is
        # checked by the BatchSampler, with torch's message)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn should be callable, got {collate_fn!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn should be callable, got "
                            f"{worker_init_fn!r}")
        if generator is not None and not isinstance(
                generator, (backend.Generator, np.random.Generator)):
            raise TypeError(
                f"DataLoader: generator must be a zengrad.Generator (or a "
                f"np.random.Generator), got {type(generator).__name__}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass seed= or generator=, not both")

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            if not hasattr(dataset, "__getitem__"):
                raise TypeError(
                    f"DataLoader needs a map-style dataset (with __getitem__) or an "
                    f"IterableDataset, got {type(dataset).__name__}")
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is "
                                 "mutually exclusive with drop_last")
        elif iterable:  # (a map-style batch_size is checked by its BatchSampler)
            BatchSampler([], batch_size, drop_last)

        if isinstance(batch_size, np.integer):  # (torch takes only int; NumPy's do no harm)
            batch_size = int(batch_size)
        shuffle_rng = None
        if not iterable and sampler is None:
            if shuffle:
                shuffle_rng = generator
                if shuffle_rng is None:
                    shuffle_rng = np.random.default_rng(
                        int(backend.rng().integers(2**63)) if seed is None else seed)
                sampler = RandomSampler(dataset, generator=shuffle_rng)
            else:
                sampler = SequentialSampler(dataset)
        if not iterable and batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        object.__setattr__(self, "_initialized", False)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.in_order = bool(in_order)
        self.persistent_workers = bool(persistent_workers)
        self.multiprocessing_context = self._check_context(multiprocessing_context)
        self._iterable = iterable
        self._auto_collation = batch_sampler is not None or (iterable and batch_size is not None)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self._shuffle_rng = shuffle_rng
        # the fast path is used only with the default collation of whole batches
        self._source = (array_source(dataset) if collate_fn is None and not iterable
                        and self._auto_collation else None)
        self._iterator: _MultiProcessIter | None = None
        self._initialized = True

    def _check_context(self, ctx):
        if ctx is None:
            return None
        if self.num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process "
                             f"loading (num_workers > 0), but got num_workers={self.num_workers}")
        if isinstance(ctx, str):
            methods = multiprocessing.get_all_start_methods()
            if ctx not in methods:
                raise ValueError(f"multiprocessing_context option should specify a valid start "
                                 f"method in {methods!r}, but got multiprocessing_context="
                                 f"{ctx!r}")
            return multiprocessing.get_context(ctx)
        if not isinstance(ctx, multiprocessing.context.BaseContext):
            raise TypeError("multiprocessing_context option should be a valid context object "
                            "or a string specifying the start method, but got "
                            f"multiprocessing_context={ctx}")
        return ctx

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        object.__setattr__(self, name, value)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self._index_sampler)

    def _base_rng(self) -> np.random.Generator:
        gen = self.generator
        if isinstance(gen, np.random.Generator):
            return gen
        return backend.rng_of(gen, "DataLoader")

    def _task_source(self) -> Iterator:
        """One epoch's tasks: batches of indices (int64 arrays on the fast path), single
        indices without auto-collation, or None forever for an IterableDataset."""
        if self._iterable:
            return itertools.repeat(None)
        if self._source is not None:
            if isinstance(self.batch_sampler, BatchSampler):
                return self.batch_sampler._index_batches()
            return (np.asarray(b, dtype=np.int64).reshape(-1) for b in self.batch_sampler)
        return iter(self._index_sampler)

    def _single_process(self) -> Iterator:
        fetcher = _Fetcher(self)
        for task in self._task_source():
            try:
                batch = fetcher.fetch(task)
            except StopIteration:
                return
            yield batch


    def __iter__(self) -> Iterator:
        if self.pin_memory and not _accelerator_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        self._check_worker_number()
        if self.persistent_workers:
            if self._iterator is None or self._iterator._shut:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset()
            return self._iterator
        return _MultiProcessIter(self)

    def _check_worker_number(self) -> None:
        """torch's warning when there are more workers than CPUs this process may use."""
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker processes in total. "
                f"Our suggested max number of worker in current system is {cpus}, which is "
                "smaller than what this DataLoader is going to create. Please be aware that "
                "excessive worker creation might get DataLoader running slow or even freeze, "
                "lower the worker number to avoid potential slowness/freeze if necessary.",
                stacklevel=3)

    def _generator_holder(self):
        """(object, attribute) holding the shuffling generator, or None."""
        if self.sampler is not None and hasattr(self.sampler, "generator"):
            return self.sampler
        return None

    def state_dict(self) -> dict:
        """The shuffling generator's state (plain JSON-able data)."""
        holder = self._generator_holder()
        gen = None if holder is None else holder.generator
        if gen is None:
            return {}
        gen = gen._np if isinstance(gen, backend.Generator) else gen
        return {"generator": gen.bit_generator.state}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore the shuffling generator saved by state_dict()."""
        gen_state = state.get("generator")
        if gen_state is None:
            return
        holder = self._generator_holder()
        if holder is None:  # (a sampler that draws nothing has nothing to restore)
            return
        name = gen_state.get("bit_generator") if isinstance(gen_state, Mapping) else None
        if name not in _BIT_GENERATORS:
            raise ValueError(f"DataLoader.load_state_dict: unknown bit generator {name!r}")
        current = holder.generator
        np_gen = current._np if isinstance(current, backend.Generator) else current
        if np_gen is None or type(np_gen.bit_generator).__name__ != name:
            np_gen = np.random.Generator(_BIT_GENERATORS[name]())
        np_gen.bit_generator.state = gen_state
        if isinstance(current, backend.Generator):
            current._np = np_gen
        else:
            holder.generator = np_gen

    def __repr__(self) -> str:
        size = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={size}), "
                f"batch_size={self.batch_size}, sampler={type(self.sampler).__name__}, "
                f"drop_last={self.drop_last}, num_workers={self.num_workers})")
