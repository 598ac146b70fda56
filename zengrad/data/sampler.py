"""Samplers: the order in which a DataLoader reads a map-style dataset (torch.utils.data).

A sampler is an iterable of dataset indices (a batch sampler: of lists of indices). The
samplers here also offer `_indices()`, the whole epoch's indices as one int64 array, so the
DataLoader's array fast path slices batches out of it instead of iterating Python ints.

Random draws come from `generator=` (a zengrad.Generator, as torch, or a np.random.Generator)
or, when it is None, from zengrad's default generator. The numbers differ from torch's for the
same seed (NumPy's PCG64, not torch's Mersenne Twister); the distributions are the same.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "BatchSampler",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


def _numpy_rng(generator, name: str) -> np.random.Generator:
    """The NumPy generator behind generator= (None: zengrad's default generator)."""
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None or isinstance(generator, backend.Generator):
        # fetched at each use: manual_seed on a zengrad.Generator replaces its NumPy one
        return backend.rng_of(generator, name)
    raise TypeError(
        f"{name}: generator must be a zengrad.Generator (or a np.random.Generator), got "
        f"{type(generator).__name__}"
    )


class Sampler(Generic[T_co]):
    """Base class: subclasses define __iter__ (indices, or lists of indices) and usually
    __len__. `Sampler[int]` subscripts as in torch."""

    def __init__(self, data_source: Sized | None = None) -> None:
        # torch's base class takes (and ignores) an optional data_source
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1, every epoch."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


CHUNK = 1 << 16  # indices a RandomSampler draws at a time


class RandomSampler(Sampler[int]):
    """Random indices of data_source: a fresh permutation each epoch (num_samples larger than
    the dataset chains whole permutations, then part of one), or with replacement=True
    num_samples uniform draws. num_samples defaults to len(data_source)."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        n = self.num_samples
        if not isinstance(n, int) or n <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={n}")
        _numpy_rng(generator, "RandomSampler")  # a bad generator fails here, not mid-epoch

    @property
    def num_samples(self) -> int:
        # read at each use: the dataset may grow or shrink between epochs, as in torch
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_chunks(self) -> Iterator[np.ndarray]:
        """The epoch's indices as int64 arrays of at most CHUNK draws (or one permutation),
        drawn as they are consumed: num_samples may be far larger than memory (an "infinite"
        loader's RandomSampler(replacement=True, num_samples=10**10)), as in torch."""
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError(f"RandomSampler: can't draw {k} samples from an empty dataset")
        rng = _numpy_rng(self.generator, "RandomSampler")
        left = k
        while left > 0:
            if self.replacement:  # chunked draws are the same stream as one big draw
                chunk = rng.integers(0, n, size=min(CHUNK, left), dtype=np.int64)
            else:
                chunk = rng.permutation(n)[:left].astype(np.int64, copy=False)
            left -= len(chunk)
            yield chunk

    def _indices(self) -> np.ndarray:
        return np.concatenate(list(self._index_chunks()))

    def __iter__(self) -> Iterator[int]:
        for chunk in self._index_chunks():
            yield from chunk.tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order (a fresh permutation each epoch)."""

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator
        _numpy_rng(generator, "SubsetRandomSampler")

    def _order(self) -> np.ndarray:
        return _numpy_rng(self.generator, "SubsetRandomSampler").permutation(len(self.indices))

    def _indices(self) -> np.ndarray:
        idx = self.indices
        idx = idx.array if isinstance(idx, Tensor) else idx
        return np.asarray(idx, dtype=np.int64).reshape(-1)[self._order()]

    def __iter__(self) -> Iterator[int]:
        # the elements themselves, as torch (a Tensor of indices yields 0-d Tensors)
        for i in self._order().tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """num_samples indices of range(len(weights)), index i drawn with probability
    weights[i] / sum(weights); without replacement an index is drawn at most once."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = weights.array if isinstance(weights, Tensor) else weights
        try:
            w = np.asarray(w, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"WeightedRandomSampler: weights must be a sequence of numbers "
                            f"({e})") from None
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        # a double Tensor, as torch's attribute
        self.weights = Tensor._make(w, False, None)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator
        _numpy_rng(generator, "WeightedRandomSampler")

    def _indices(self) -> np.ndarray:
        from zengrad.random import multinomial

        gen = self.generator
        if isinstance(gen, np.random.Generator):  # multinomial takes a zengrad.Generator
            wrapped = backend.Generator()
            wrapped._np = gen
            gen = wrapped
        # torch's checks and messages (negative/nan weights, too few categories ...)
        return multinomial(self.weights, self.num_samples, self.replacement,
                           generator=gen).array.astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Lists of batch_size consecutive indices from sampler (any iterable of indices); the
    last, shorter one is dropped when drop_last."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def _index_batches(self) -> Iterator[np.ndarray]:
        """The batches as int64 arrays: sliced from the sampler's index arrays when it
        offers them (in chunks, or the whole epoch as one array)."""
        chunks = getattr(self.sampler, "_index_chunks", None)
        if chunks is not None:
            bs, carry = self.batch_size, np.empty(0, np.int64)
            for chunk in chunks():
                if carry.size:
                    chunk = np.concatenate([carry, chunk])
                full = len(chunk) - len(chunk) % bs
                for start in range(0, full, bs):
                    yield chunk[start:start + bs]
                carry = chunk[full:]
            if carry.size and not self.drop_last:
                yield carry
            return
        indices = getattr(self.sampler, "_indices", None)
        if indices is None:
            for batch in self:
                yield np.asarray(batch, dtype=np.int64)
            return
        order = indices()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield order[start:start + self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def torch_randperm(n: int, seed: int) -> np.ndarray:
    """torch.randperm(n) from a torch.Generator seeded with `seed`, bit for bit (n < 2**32 / 20).

    torch seeds a Mersenne Twister (MT19937) with the low 32 bits of the seed, as NumPy's
    RandomState does with a 32-bit int, and shuffles 0..n-1 by Fisher-Yates: for i < n - 1,
    swap r[i] with r[i + u_i % (n - i)], u_i the i-th raw 32-bit draw. The draws and the targets
    are computed as arrays; the swaps stay a loop over Python ints (each reads the result of
    the ones before it), about 10 ms per 100,000 indices, once per epoch.
    """
    if n >= 2**32 // 20:
        raise ValueError(f"torch_randperm: n = {n} is too large (torch draws 64-bit numbers "
                         "there; not reproduced)")
    state = np.random.RandomState(seed & 0xFFFFFFFF).get_state()
    twister = np.random.MT19937()
    twister.state = {"bit_generator": "MT19937", "state": {"key": state[1], "pos": state[2]}}
    steps = np.arange(max(n - 1, 0), dtype=np.int64)
    targets = (twister.random_raw(steps.size).astype(np.int64) % (n - steps) + steps).tolist()
    r = list(range(n))
    for i, j in enumerate(targets):
        r[i], r[j] = r[j], r[i]
    return np.array(r, dtype=np.int64)


class DistributedSampler(Sampler[int]):
    """The shard of dataset's indices that one of num_replicas ranks reads, as torch's.

    Each epoch: a permutation of range(len(dataset)) (shuffle: torch's randperm from seed +
    epoch, so the same indices as torch's sampler; set_epoch(e) before each epoch for a new
    order), padded by repeating its start until it divides evenly (drop_last: cut to a
    multiple of num_replicas instead); rank r takes every num_replicas-th index from r.
    num_replicas and rank default to the process group's.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from zengrad import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: the process group is not initialized: call "
                    "zengrad.distributed.init_process_group() first, or pass num_replicas and "
                    "rank"
                )
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {v!r}")
        if num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas must be positive, got "
                             f"{num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.epoch = 0
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = int(seed)
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def _indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = torch_randperm(n, self.seed + self.epoch)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.total_size and not n:
            raise ValueError("DistributedSampler: can't pad an empty dataset to "
                             f"{self.total_size} indices")
        # padding repeats the order from its start (np.resize cycles), as torch's
        order = np.resize(order, self.total_size) if self.total_size else order[:0]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose permutation the next iteration draws (seed + epoch)."""
        self.epoch = epoch
