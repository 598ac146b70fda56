"""Tensor creation: from data, filled, ranges, and random draws from zengrad's seeded RNG."""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor, as_array


def _shape(size) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in size {shape}")
    return shape


def _float_dtype(dtype) -> np.dtype:
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def _new(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(arr, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor that copies data: Python floats -> the default dtype (float32), Python
    ints and integer NumPy arrays -> int64, float arrays keep their dtype."""
    arr = np.array(as_array(data, dtype), copy=True)
    return _new(arr, requires_grad)


def as_tensor(data, dtype=None) -> Tensor:
    """Like tensor() but shares memory with a NumPy array when no conversion is needed;
    an array keeps its dtype (as torch.as_tensor) where tensor() makes integers int64."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        return Tensor._make(data, False, None)
    return Tensor._make(as_array(data, dtype), False, None)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with array, keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    return Tensor._make(array, False, None)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(_shape(size), _float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape(size), _float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.empty(_shape(size), _float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return _new(np.full(_shape((size,)), fill_value, np.dtype(dtype)), requires_grad)


def _like(t: Tensor, dtype):
    return t.data.shape, (t.data.dtype if dtype is None else np.dtype(dtype))


def zeros_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(np.zeros(shape, dt), requires_grad)


def ones_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(np.ones(shape, dt), requires_grad)


def empty_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(np.empty(shape, dt), requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return _new(np.full(shape, fill_value, dt), requires_grad)


def rand_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return rand(shape, dtype=dt, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(input, dtype)
    return randn(shape, dtype=dt, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """[start, end) in steps; integer arguments give int64, any float gives float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else backend.get_default_dtype()
    return _new(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    dt = _float_dtype(dtype)
    return _new(backend.rng().random(_shape(size), dtype=np.float64).astype(dt), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    dt = _float_dtype(dtype)
    return _new(backend.rng().standard_normal(_shape(size)).astype(dt), requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    """Integers in [low, high) (randint(high, size) draws from [0, high))."""
    if high is None:
        low, high = 0, low
    if low >= high:
        raise ValueError(f"randint: low ({low}) must be less than high ({high})")
    dt = np.int64 if dtype is None else np.dtype(dtype)
    return _new(backend.rng().integers(low, high, size=_shape((size,))).astype(dt), False)


def randperm(n: int, dtype=None) -> Tensor:
    dt = np.int64 if dtype is None else np.dtype(dtype)
    return _new(backend.rng().permutation(int(n)).astype(dt), False)


def normal(mean=0.0, std=1.0, size=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Draws from N(mean, std^2); mean/std may be tensors (broadcast) or numbers with size."""
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise ValueError("normal: std must be >= 0")
    shape = _shape((size,)) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    if dtype is None:
        dtype = m.dtype if isinstance(m, np.ndarray) else backend.get_default_dtype()
    arr = backend.rng().normal(m, s, size=shape).astype(dtype)
    return _new(arr, requires_grad)
