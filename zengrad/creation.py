"""Tensor creation: from data, filled, ranges, and random draws from zengrad's seeded RNG.

Random draws take `generator=` (a zengrad.Generator) as torch does; without one they come
from the default generator that zengrad.manual_seed seeds."""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor, as_array, check_array_dtype


def _is_int(v) -> bool:
    """An integer as torch takes it for a size or count: int, NumPy integer, or a
    one-element integer tensor. Never a bool (True is not a size) nor a float (2.0 isn't)."""
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, Tensor) and v.array.dtype.kind in "iu" and v.array.size == 1


def _shown(v) -> str:
    """A bad argument for an error message: its type, and its value when that is short."""
    text = repr(v)
    return type(v).__name__ + (f" ({text})" if len(text) <= 40 else "")


def _shape(size: tuple, name: str, sequence_only: bool = False) -> tuple[int, ...]:
    """A size given as ints, f(2, 3), or as one tuple/list, f((2, 3)), as a tuple of ints.

    TypeError as torch for anything else (floats, bools, strings, arrays, nested tuples):
    np.zeros(2.7) would truncate to 2 and ones(True) give shape (1,) silently. With
    sequence_only (full, randint, normal: `size` is one argument) only a tuple/list is taken.
    """
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    elif len(size) == 1 and (sequence_only or not _is_int(size[0])):
        raise TypeError(
            f"{name}(): argument 'size' must be a tuple of ints, not {_shown(size[0])}"
        )
    for i, s in enumerate(size):  # one check per dimension, not per element
        if not _is_int(s):
            raise TypeError(
                f"{name}(): argument 'size' must be a tuple of ints, but found element of "
                f"type {_shown(s)} at pos {i}"
            )
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}(): negative dimension in size {shape}")
    return shape


def _count(v, name: str, arg: str) -> int:
    """A non-negative integer argument (randperm's n, eye's n and m, linspace's steps)."""
    if not _is_int(v):
        raise TypeError(f"{name}(): argument '{arg}' must be an int, not {_shown(v)}")
    n = int(v)
    if n < 0:
        raise ValueError(f"{name}(): argument '{arg}' must be non-negative, got {n}")
    return n


def _float_dtype(dtype) -> np.dtype:
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def _random_dtype(dtype, name: str) -> np.dtype:
    """The dtype of a continuous random draw: floating point only (as torch), since casting
    uniform [0, 1) draws to an integer dtype would give all zeros."""
    dt = _float_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{name}(): dtype must be a floating point dtype, got {dt}")
    return dt


def _new(arr: np.ndarray, requires_grad: bool, device=None) -> Tensor:
    """A new leaf from a host array, moved to device (None: the cpu). Factories compute on
    the host: random draws come from the seeded CPU generator, so a seed gives the same
    numbers on every device."""
    if device is not None and device.type != "cpu":
        arr = backend.to_device(arr, device)
    t = Tensor._make(arr, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad: bool = False, *, device=None,
           pin_memory: bool = False) -> Tensor:
    """A new tensor that copies data: Python floats -> the default dtype (float32), Python
    ints and integer NumPy arrays -> int64, float arrays keep their dtype."""
    dev = backend.check_device(device, "tensor")
    arr = as_array(data, dtype)
    xp = backend.xp_of(arr)
    copy = xp.array(arr, copy=True)  # a device array (or a tensor's) is copied where it is
    if device is None:
        return _new(copy, requires_grad)
    if dev.type == "cpu":
        copy = backend.asnumpy(copy)
    return _new(copy, requires_grad, dev)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor() but shares memory with a NumPy array when no conversion is needed;
    an array keeps its dtype (as torch.as_tensor) where tensor() makes integers int64."""
    dev = backend.check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        same = dtype is None or data.dtype == np.dtype(dtype)
        out = data if same else data.to(dtype)
        return out if device is None else out.to(dev)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)) and (
        dev.type == "cpu"
    ):
        check_array_dtype(data.dtype, "as_tensor")
        return Tensor._make(data, False, None)
    return _new(as_array(data, dtype), False, dev)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with array, keeping its dtype (numbers and bool only)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    check_array_dtype(array.dtype, "from_numpy")
    return Tensor._make(array, False, None)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.check_device(device, "zeros")
    return _new(np.zeros(_shape(size, "zeros"), _float_dtype(dtype)), requires_grad, dev)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.check_device(device, "ones")
    return _new(np.ones(_shape(size, "ones"), _float_dtype(dtype)), requires_grad, dev)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.check_device(device, "empty")
    return _new(np.empty(_shape(size, "empty"), _float_dtype(dtype)), requires_grad, dev)


def full(size, fill_value, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """A tensor of the given size (a tuple or list of ints) filled with fill_value."""
    dev = backend.check_device(device, "full")
    shape = _shape((size,), "full", sequence_only=True)
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return _new(np.full(shape, fill_value, np.dtype(dtype)), requires_grad, dev)


def _like(t: Tensor, dtype):
    return t.array.shape, (t.array.dtype if dtype is None else np.dtype(dtype))


def zeros_like(input: Tensor, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    dev = input.device if device is None else backend.check_device(device, "zeros_like")
    shape, dt = _like(input, dtype)
    return _new(np.zeros(shape, dt), requires_grad, dev)


def ones_like(input: Tensor, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    dev = input.device if device is None else backend.check_device(device, "ones_like")
    shape, dt = _like(input, dtype)
    return _new(np.ones(shape, dt), requires_grad, dev)


def empty_like(input: Tensor, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    dev = input.device if device is None else backend.check_device(device, "empty_like")
    shape, dt = _like(input, dtype)
    return _new(np.empty(shape, dt), requires_grad, dev)


def full_like(input: Tensor, fill_value, dtype=None, requires_grad: bool = False, *,
              device=None) -> Tensor:
    dev = input.device if device is None else backend.check_device(device, "full_like")
    shape, dt = _like(input, dtype)
    return _new(np.full(shape, fill_value, dt), requires_grad, dev)


def rand_like(input: Tensor, *, generator=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    dev = input.device if device is None else backend.check_device(device, "rand_like")
    shape, dt = _like(input, dtype)
    return rand(shape, generator=generator, dtype=dt, device=dev, requires_grad=requires_grad)


def randn_like(input: Tensor, *, generator=None, dtype=None, device=None,
               requires_grad: bool = False) -> Tensor:
    dev = input.device if device is None else backend.check_device(device, "randn_like")
    shape, dt = _like(input, dtype)
    return randn(shape, generator=generator, dtype=dt, device=dev, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, *,
           device=None) -> Tensor:
    """[start, end) in steps; integer arguments give int64, any float gives float32."""
    dev = backend.check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else backend.get_default_dtype()
    return _new(np.arange(start, end, step).astype(dtype), requires_grad, dev)


def linspace(
    start, end, steps: int, dtype=None, requires_grad: bool = False, *, device=None
) -> Tensor:
    n = _count(steps, "linspace", "steps")
    dev = backend.check_device(device, "linspace")
    # 0-d tensor bounds as Python numbers: a float32 tensor must not make NumPy compute the
    # points in float32 when dtype=float64 is asked for
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    dt = _float_dtype(dtype)
    if dt.kind in "iub" and n > 1:
        # torch's integer linspace: bounds cast to the dtype first, points from the nearer
        # end in float64, then truncated toward zero
        lo, hi, i = float(int(start)), float(int(end)), np.arange(n)
        step = (hi - lo) / (n - 1)
        pts = np.where(i < n // 2, lo + step * i, hi - step * (n - 1 - i))
        return _new(pts.astype(dt), requires_grad, dev)
    return _new(np.linspace(start, end, n).astype(dt), requires_grad, dev)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False, *,
        device=None) -> Tensor:
    dev = backend.check_device(device, "eye")
    rows = _count(n, "eye", "n")
    cols = None if m is None else _count(m, "eye", "m")
    return _new(np.eye(rows, cols, dtype=_float_dtype(dtype)), requires_grad, dev)


def rand(*size, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    dev = backend.check_device(device, "rand")
    shape, dt = _shape(size, "rand"), _random_dtype(dtype, "rand")
    gen = backend.rng_of(generator, "rand")
    return _new(gen.random(shape, dtype=np.float64).astype(dt), requires_grad, dev)


def randn(*size, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    dev = backend.check_device(device, "randn")
    shape, dt = _shape(size, "randn"), _random_dtype(dtype, "randn")
    gen = backend.rng_of(generator, "randn")
    return _new(gen.standard_normal(shape).astype(dt), requires_grad, dev)


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); randint(high, size) draws from [0, high), as torch."""
    dev = backend.check_device(device, "randint")
    if isinstance(high, (tuple, list)) and size == ():  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    for arg, v in (("low", low), ("high", high)):
        if not _is_int(v):
            raise TypeError(f"randint(): argument '{arg}' must be an int, not {_shown(v)}")
    low, high = int(low), int(high)
    if low >= high:
        raise ValueError(f"randint: low ({low}) must be less than high ({high})")
    shape = _shape((size,), "randint", sequence_only=True)
    dt = np.int64 if dtype is None else np.dtype(dtype)
    gen = backend.rng_of(generator, "randint")
    return _new(gen.integers(low, high, size=shape).astype(dt), requires_grad, dev)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1."""
    dev = backend.check_device(device, "randperm")
    dt = np.int64 if dtype is None else np.dtype(dtype)
    gen = backend.rng_of(generator, "randperm")
    return _new(gen.permutation(_count(n, "randperm", "n")).astype(dt), requires_grad, dev)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Draws from N(mean, std^2); mean/std may be tensors (broadcast) or numbers with size."""
    dev = backend.check_device(device, "normal")
    if device is None:  # tensor arguments give their device
        dev = next((t.device for t in (mean, std) if isinstance(t, Tensor)), dev)
    # drawn on the host (the seeded CPU generator), moved to the device at the end
    m = backend.asnumpy(mean.array) if isinstance(mean, Tensor) else mean
    s = backend.asnumpy(std.array) if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise ValueError("normal: std must be >= 0")
    if size is not None:
        shape = _shape((size,), "normal", sequence_only=True)
    else:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    if dtype is None:
        dtype = m.dtype if isinstance(m, np.ndarray) else backend.get_default_dtype()
    dtype = _random_dtype(dtype, "normal")
    arr = backend.rng_of(generator, "normal").normal(m, s, size=shape).astype(dtype)
    return _new(arr, requires_grad, dev)
