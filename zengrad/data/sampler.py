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
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "BatchSampler",
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

    def _indices(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError(f"RandomSampler: can't draw {k} samples from an empty dataset")
        rng = _numpy_rng(self.generator, "RandomSampler")
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        full, rest = divmod(k, n)
        perms = [rng.permutation(n) for _ in range(full + (rest > 0))]
        return np.concatenate(perms)[:k].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

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
        """The batches as int64 arrays: sliced from one array when the sampler offers it."""
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
