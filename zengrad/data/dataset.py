"""Datasets: indexable collections of samples, as in torch.utils.data.

A `Dataset` answers `len(ds)` and `ds[i]`. Array-backed datasets (`TensorDataset`, or any
object with an `arrays` attribute holding equal-length arrays) let the DataLoader build a
whole batch with one fancy index per array instead of a Python loop over samples.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """Base class: subclasses define __getitem__(index) and __len__(). `Dataset[T]`
    subscripts as in torch."""

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset read as a stream: subclasses define __iter__ (and may define __len__). With
    num_workers > 0 every worker iterates its own copy; shard it with get_worker_info()."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it "
                        "can't be indexed")

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """IterableDatasets one after another."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def _to_array(x, what: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.array
    if isinstance(x, np.ndarray):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "O":
        raise TypeError(f"{what}: can't make an array from a {type(x).__name__}")
    return arr


class TensorDataset(Dataset):
    """Samples are the i-th rows of equal-length arrays/Tensors: ds[i] = (a[i], b[i], ...).

    `arrays` holds the NumPy arrays (no copies); `tensors` the same as zengrad Tensors.
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one array or Tensor")
        arrays = tuple(_to_array(t, f"TensorDataset argument {i}") for i, t in enumerate(tensors))
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset argument {i} is 0-d; every array needs a "
                                 "first (sample) dimension")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions are {sizes}")
        self.arrays = arrays

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(Tensor._make(a, False, None) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(Tensor._make(backend.as_result(a[index]), False, None) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]


class Subset(Dataset):
    """The samples of dataset at the given indices, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset indices out of range for a dataset of length {n}")
        self.indices = np.where(idx < 0, idx + n, idx)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self.indices[np.asarray(index)]]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return int(self.indices.shape[0])


class ConcatDataset(Dataset):
    """The datasets one after another: index i falls in the dataset whose range holds it."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"index {index} out of range for a dataset of length {n}")
            index += n
        if index >= n:
            raise IndexError(f"index {index} out of range for a dataset of length {n}")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if k == 0 else self.cumulative_sizes[k - 1]
        return self.datasets[k][index - start]


def _resolve_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(
                f"random_split: sum of input lengths ({sum(lengths)}) does not equal the "
                f"length of the input dataset ({n})"
            )
        return [int(x) for x in lengths]
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions must sum to 1, got {lengths} "
                         f"(sum {sum(lengths)})")
    # floor each share, then hand the remainder out round-robin (PyTorch's rule)
    counts = [int(math.floor(n * f)) for f in lengths]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset: Dataset, lengths: Sequence[float], generator=None,
                 seed: int | None = None) -> list[Subset]:
    """Split dataset into non-overlapping random Subsets of the given lengths (counts, or
    fractions summing to 1). The permutation comes from generator (a zengrad.Generator, as
    torch, or a np.random.Generator), else a generator seeded with seed, else zengrad's
    default generator."""
    n = len(dataset)
    counts = _resolve_lengths(n, lengths)
    if isinstance(generator, np.random.Generator):
        gen = generator
    elif generator is None and seed is not None:
        gen = np.random.default_rng(seed)
    else:
        gen = backend.rng_of(generator, "random_split")
    perm = gen.permutation(n)
    bounds = np.cumsum([0] + counts)
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
