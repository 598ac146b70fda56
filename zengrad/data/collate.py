"""Collation: a list of samples into one batch, as torch.utils.data's default_collate, and
default_convert (what a DataLoader with batch_size=None applies to each sample)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor

# NumPy dtypes that can't become a Tensor: strings, bytes, objects (torch's pattern)
_STR_OBJ_DTYPE = re.compile(r"[SaUO]")

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _tensor(arr: np.ndarray) -> Tensor:
    return Tensor._make(arr, False, None)


def _check_shapes(arrays: list[np.ndarray]) -> None:
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )


def _stack_arrays(arrays: list) -> Tensor:
    """One Tensor of the samples' arrays stacked, on their device (samples on two devices
    raise torch's same-device error)."""
    _check_shapes(arrays)
    xp = backend.xp_of(arrays[0])
    if xp is np:  # the usual case, without a per-sample device lookup
        try:
            return _tensor(np.stack(arrays))
        except TypeError:  # a device array among them: say so (torch's error) if so
            backend.xp_of_all("default_collate", *arrays)
            raise
    return _tensor(backend.xp_of_all("default_collate", *arrays).stack(arrays))


def _rebuild_mapping(elem: Mapping, values: dict) -> Mapping:
    """values in a mapping of elem's type (a copy of elem, if mutable), else a dict."""
    try:
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem: Sequence, values: list) -> Sequence:
    """values in a sequence of elem's type (tuples give lists, as torch), else a list."""
    if isinstance(elem, tuple):
        return values
    try:
        if isinstance(elem, MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch with a leading batch dimension, as torch:
    Tensors and NumPy arrays are stacked into one Tensor; Python floats become a float64
    Tensor, ints an int64 one, bools a bool one; NumPy scalars keep their dtype; str/bytes
    stay a list; mappings, namedtuples and sequences are collated field by field (a tuple
    sample gives a list, as torch)."""
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)):
        raise TypeError(f"default_collate: batch must be a list of samples, got "
                        f"{type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError("default_collate: empty batch (no samples to collate)")
    elem = batch[0]
    if isinstance(elem, Tensor):
        arrays = [_as_array(b, Tensor) for b in batch]
        if any(b.requires_grad for b in batch):
            from zengrad.ops.shape import stack  # (the graph-recording stack, as torch's)

            _check_shapes(arrays)
            return stack(list(batch), 0)
        return _stack_arrays(arrays)
    if isinstance(elem, np.ndarray):
        if _STR_OBJ_DTYPE.search(elem.dtype.str):
            raise TypeError(_ERR.format(elem.dtype))
        return _stack_arrays([_as_array(b, np.ndarray) for b in batch])
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return _tensor(np.asarray(batch))
    if isinstance(elem, float):
        return _tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool is an int: a batch of bools stays bool, as torch
        return _tensor(np.asarray(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        return _rebuild_mapping(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return _rebuild_sequence(elem, [default_collate(s) for s in zip(*batch)])
    raise TypeError(_ERR.format(type(elem)))


def _as_array(item, kind: type) -> np.ndarray:
    if isinstance(item, Tensor):
        return item.array
    if isinstance(item, np.ndarray):
        return item
    raise TypeError(f"default_collate: a batch mixes {kind.__name__} and "
                    f"{type(item).__name__} samples")


def default_convert(data: Any) -> Any:
    """One sample's NumPy arrays and scalars as Tensors, recursing into mappings, namedtuples
    and sequences (tuples give lists); anything else unchanged (torch's default_convert)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _STR_OBJ_DTYPE.search(data.dtype.str) else _tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return _tensor(np.asarray(data))
    if isinstance(data, Mapping):
        return _rebuild_mapping(data, {k: default_convert(data[k]) for k in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data
