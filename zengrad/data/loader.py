"""DataLoader: batches from a Dataset, optionally shuffled, reproducible from a seed.

Array-backed datasets (TensorDataset, a Subset of one, or any dataset with an `arrays`
attribute of equal-length arrays) take a fast path: each batch is one fancy index per
array. Other datasets are read sample by sample and stacked by `collate_fn`.

Shuffling draws a new permutation every epoch from the loader's generator
(`loader.generator`): `generator=` if given (a zengrad.Generator, as torch, which each epoch
advances; or a np.random.Generator), else one seeded with `seed=`, else one seeded once, at
construction, from zengrad's default generator (so `zengrad.manual_seed` makes it
reproducible; torch instead draws a fresh seed from it every epoch). `state_dict()` /
`load_state_dict()` save and restore that generator for resuming a run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.data.dataset import Dataset, Subset

_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


def _stack(items: list, first) -> Tensor:
    if isinstance(first, Tensor):
        arr = np.stack([t.data for t in items])
    elif isinstance(first, np.ndarray):
        arr = np.stack(items)
    elif isinstance(first, (bool, np.bool_)):
        arr = np.asarray(items, dtype=np.bool_)
    elif isinstance(first, (int, np.integer)) and not isinstance(first, np.generic):
        arr = np.asarray(items, dtype=np.int64)
    elif isinstance(first, float):
        arr = np.asarray(items, dtype=backend.get_default_dtype())
    else:  # NumPy scalars keep their dtype
        arr = np.asarray(items)
    return Tensor._make(arr, False, None)


def default_collate(samples: list):
    """Stack a list of samples into a batch, field by field: arrays/Tensors/numbers become
    one Tensor with a leading batch dimension (Python ints -> int64, floats -> the default
    float dtype); tuples, lists and dicts are collated per element/key; strings stay a list."""
    if not samples:
        raise ValueError("default_collate: empty batch")
    first = samples[0]
    if isinstance(first, (Tensor, np.ndarray, np.generic, int, float, bool)):
        return _stack(samples, first)
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        n = len(first)
        if any(len(s) != n for s in samples):
            raise ValueError("default_collate: samples in a batch have different lengths")
        return tuple(default_collate([s[i] for s in samples]) for i in range(n))
    raise TypeError(
        f"default_collate: don't know how to batch samples of type {type(first).__name__} "
        "(pass collate_fn=...)"
    )


def array_source(dataset) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """(arrays, index map or None) when dataset is array-backed (fast path), else None."""
    arrays = getattr(dataset, "arrays", None)
    if isinstance(arrays, (tuple, list)) and arrays and all(
        isinstance(a, np.ndarray) for a in arrays
    ):
        return tuple(arrays), None
    if isinstance(dataset, Subset):
        inner = array_source(dataset.dataset)
        if inner is not None:
            arrays, idx = inner
            return arrays, (dataset.indices if idx is None else idx[dataset.indices])
    return None


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"DataLoader: {name} should be an integer >= {low}, got {value!r}")
    return int(value)


class DataLoader:
    """Iterate over dataset in batches of batch_size; len(loader) is the number of batches."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable | None = None,
        seed: int | None = None,
        generator: backend.Generator | np.random.Generator | None = None,
    ) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader needs a dataset with __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        self.dataset = dataset
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        if generator is not None and not isinstance(
            generator, (backend.Generator, np.random.Generator)
        ):
            raise TypeError(
                f"DataLoader: generator must be a zengrad.Generator (or a "
                f"np.random.Generator), got {type(generator).__name__}"
            )
        if generator is None and seed is not None:
            generator = np.random.default_rng(seed)
        if generator is None and self.shuffle:
            generator = np.random.default_rng(int(backend.rng().integers(2**63)))
        self.generator = generator
        # the fast path is used only with the default collation
        self._source = array_source(dataset) if collate_fn is None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray | None:
        """The sample order of one epoch (None: 0..n-1 in order)."""
        if not self.shuffle:
            return None
        return self._numpy_generator().permutation(len(self.dataset))

    def _numpy_generator(self) -> np.random.Generator:
        # a zengrad.Generator's NumPy generator is fetched at each use: manual_seed on it
        # replaces it
        gen = self.generator
        return gen._np if isinstance(gen, backend.Generator) else gen

    def __iter__(self) -> Iterator:
        n = len(self.dataset)
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else n
        if self._source is not None:
            arrays, index_map = self._source
            if order is not None and index_map is not None:
                order = index_map[order]
            elif order is None:
                order = index_map
            for start in range(0, stop, self.batch_size):
                end = min(start + self.batch_size, stop)
                idx = slice(start, end) if order is None else order[start:end]
                # a slice gives a view; copy so a batch never aliases the dataset
                yield tuple(
                    Tensor._make(a[idx].copy() if order is None else a[idx], False, None)
                    for a in arrays
                )
            return
        collate = self.collate_fn or default_collate
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, stop)
            idx = range(start, end) if order is None else order[start:end]
            yield collate([self.dataset[int(i)] for i in idx])

    def state_dict(self) -> dict:
        """The shuffling generator's state (plain JSON-able data)."""
        if self.generator is None:
            return {}
        return {"generator": self._numpy_generator().bit_generator.state}

    def load_state_dict(self, state: Mapping) -> None:
        gen_state = state.get("generator")
        if gen_state is None:
            return
        if self.generator is None:
            self.generator = np.random.default_rng()
        name = gen_state.get("bit_generator")
        if name not in _BIT_GENERATORS:
            raise ValueError(f"DataLoader.load_state_dict: unknown bit generator {name!r}")
        gen = self._numpy_generator()
        if type(gen.bit_generator).__name__ != name:
            gen = np.random.Generator(_BIT_GENERATORS[name]())
        gen.bit_generator.state = gen_state
        if isinstance(self.generator, backend.Generator):
            self.generator._np = gen
        else:
            self.generator = gen

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
