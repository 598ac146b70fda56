"""A fake CuPy for tests without a GPU: a device array type that NumPy can't touch.

`fake_cupy.ndarray` holds a NumPy array (the "device memory") and behaves like
cupy.ndarray where zengrad could go wrong:
  - no implicit conversion to NumPy: `np.asarray(a)` / `__array__` raise TypeError, and
    every NumPy function or ufunc called on it (`np.exp(a)`, `np.sum(a)`, through
    `__array_function__` / `__array_ufunc__`) raises TypeError naming the function, so a
    leftover `np.` call in an op fails loudly instead of computing on the host;
  - host arrays are refused as operands (`a + np.ones(3)` raises, as CuPy); a NumPy scalar
    on the left of an operator (`np.float32(2) * a`) computes, as in CuPy;
  - reductions and indexing give 0-d device arrays, not NumPy scalars (as CuPy);
  - `float(a)`, `int(a)`, `bool(a)`, `a.item()`, `a.tolist()`, `a.get()` copy to the host.
The module's functions mirror CuPy's namespace (cupy_names.py: NumPy names CuPy lacks, such
as errstate or broadcast_shapes, are missing here too) and wrap NumPy underneath:
`asarray(host)` copies to the device, `asnumpy(a)` back; `random.default_rng`, `linalg`,
`lib.stride_tricks`, `cuda.Device`, `cuda.runtime.getDeviceCount()` (1 device) as CuPy.
"""

from __future__ import annotations

import types
import weakref

import numpy as np
import scipy.special

from tests.backend import cupy_names


class HostArrayError(TypeError):
    """NumPy met a device array, or a host array met a device function."""


def _refuse_host(where: str) -> HostArrayError:
    return HostArrayError(
        f"fake_cupy: {where} got a numpy.ndarray; a device function takes device arrays "
        "(copy it to the device with xp.asarray, as CuPy)"
    )


def _unwrap(x, where: str):
    """NumPy values under fake arrays (recursively in lists/tuples); host arrays refused."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, np.ndarray):
        raise _refuse_host(where)
    if type(x) in (list, tuple):
        return type(x)(_unwrap(v, where) for v in x)
    return x


def _wrap(x):
    """Device arrays for NumPy results (NumPy scalars become 0-d arrays, as in CuPy)."""
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic) and not isinstance(x, np.dtype):
        return ndarray(np.asarray(x))
    if type(x) in (list, tuple):
        return type(x)(_wrap(v) for v in x)
    return x


def _function(fn, name: str):
    """fn on device arrays: unwrap the arguments, call NumPy, wrap the results."""

    def call(*args, **kwargs):
        where = f"fake_cupy.{name}()"
        out = fn(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()})
        return _wrap(out)

    call.__name__ = name
    return call


class _Device:
    """cupy.cuda.Device: a context selecting a device (here only device 0 exists)."""

    def __init__(self, device: int | None = None):
        device = 0 if device is None else int(getattr(device, "id", device))
        if device != 0:
            raise RuntimeError(f"fake_cupy: invalid device ordinal {device} (1 device)")
        self.id = device

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def synchronize(self) -> None:
        """Nothing runs asynchronously on the fake device."""

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class _MemoryPointer:
    """cupy.cuda.MemoryPointer: where device memory starts (`ptr`, an int address)."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int):
        self.ptr = int(ptr)

    def __repr__(self) -> str:
        return f"<fake_cupy.cuda.MemoryPointer 0x{self.ptr:x}>"


# id(NumPy array) -> its device wrapper (ndarray.__new__ hands out the same one again)
_wrappers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class ndarray:  # noqa: N801  (CuPy's name)
    """A device array: NumPy data that only fake_cupy's functions and operators compute on."""

    __slots__ = ("_a", "_root", "__weakref__")
    __array_priority__ = 1000

    def __new__(cls, a: np.ndarray):
        # one wrapper per NumPy array, and a view keeps its root's wrapper as its .base: as
        # in CuPy, `v.base is a` for a view v of a, and `asarray(a) is a`, so the engine's
        # storage records (keyed by the root array's id) see one storage
        if not isinstance(a, np.ndarray):
            raise TypeError("fake_cupy.ndarray wraps a NumPy array; use fake_cupy.asarray")
        known = _wrappers.get(id(a))
        if known is not None and known._a is a:
            return known
        self = object.__new__(cls)
        self._a = a
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        self._root = None if root is a else ndarray(root)
        _wrappers[id(a)] = self
        return self

    # ----- refusals: NumPy can't see inside -----------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise HostArrayError(
            "fake_cupy: implicit conversion of a device array to a NumPy array (use "
            "xp.asnumpy(a) or a.get() to copy it to the host explicitly)"
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs and any(isinstance(v, np.generic) for v in inputs):
            # a NumPy scalar on the left of an operator (np.float32(2) * a): CuPy computes it
            return _wrap(ufunc(*(_unwrap(v, ufunc.__name__) for v in inputs)))
        raise HostArrayError(
            f"fake_cupy: NumPy ufunc numpy.{ufunc.__name__}"
            f"{'' if method == '__call__' else '.' + method} called on a device array (use "
            "the array's module, backend.xp_of(a))"
        )

    def __array_function__(self, func, types, args, kwargs):
        raise HostArrayError(
            f"fake_cupy: NumPy function numpy.{func.__name__} called on a device array (use "
            "the array's module, backend.xp_of(a))"
        )

    # ----- attributes -----------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    mT = property(lambda self: ndarray(np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: ndarray(self._a.real))
    imag = property(lambda self: ndarray(self._a.imag))
    device = property(lambda self: _Device(0))

    @property
    def base(self):
        """The array whose memory this view shares (None for an array owning its memory)."""
        return self._root

    @property
    def data(self) -> _MemoryPointer:
        """cupy.ndarray.data: the device memory pointer (`.ptr`, the first element's
        address; CuPy arrays have no __array_interface__)."""
        return _MemoryPointer(self._a.__array_interface__["data"][0])

    @property
    def __cuda_array_interface__(self) -> dict:
        """The CUDA array interface (version 3) as CuPy gives it."""
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "descr": a.dtype.descr,
                "data": (self.data.ptr, False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides}

    def get(self) -> np.ndarray:
        """A host (NumPy) copy, as cupy.ndarray.get()."""
        return self._a.copy()

    def __getattr__(self, name: str):
        # NumPy's ndarray methods on the device data (astype, reshape, sum, ...)
        if name.startswith("_") or name in ("tofile", "dump", "dumps", "itemset", "ctypes"):
            raise AttributeError(f"fake_cupy.ndarray has no attribute {name!r}")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)
        return _function(attr, f"ndarray.{name}")

    # host copies CuPy allows (each one a device-to-host transfer)
    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __index__(self) -> int:
        return self._a.__index__()

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        return (ndarray(np.asarray(v)) for v in self._a)

    def __repr__(self) -> str:
        return "fake_cupy." + repr(self._a)

    def __reduce__(self):
        raise TypeError("fake_cupy: device arrays can't be pickled (copy to the host first)")

    # ----- indexing -------------------------------------------------------------------
    @staticmethod
    def _key(key):
        # index arrays may be device arrays or, as CuPy allows, host arrays
        if type(key) is ndarray:
            return key._a
        if type(key) is tuple:
            return tuple(k._a if type(k) is ndarray else k for k in key)
        return key

    def __getitem__(self, key):
        return _wrap(self._a[self._key(key)])

    def __setitem__(self, key, value) -> None:
        self._a[self._key(key)] = _unwrap(value, "__setitem__")


def _binary(name: str, reflected: bool = False, inplace: bool = False):
    op = getattr(np.ndarray, name)

    def method(self, other):
        if isinstance(other, np.ndarray):
            raise _refuse_host(f"operator {name}")
        if not isinstance(other, (ndarray, bool, int, float, complex, np.generic)):
            return NotImplemented
        out = op(self._a, _unwrap(other, name))
        if inplace:
            return self
        return _wrap(out)

    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
              "or", "xor", "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _binary(f"__r{_name}__"))
    setattr(ndarray, f"__i{_name}__", _binary(f"__i{_name}__", inplace=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._a)))(
        getattr(np.ndarray, f"__{_name}__")))
ndarray.__hash__ = None


class _Ufunc:
    """A device ufunc: call, at, reduce, accumulate, outer (CuPy's ufunc methods)."""

    def __init__(self, uf: np.ufunc):
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout = uf.nin, uf.nout

    def __call__(self, *args, **kwargs):
        return _function(self._uf, self.__name__)(*args, **kwargs)

    def __getattr__(self, name: str):
        if name not in ("at", "reduce", "accumulate", "outer", "reduceat"):
            raise AttributeError(f"fake_cupy.{self.__name__} has no attribute {name!r}")
        return _function(getattr(self._uf, name), f"{self.__name__}.{name}")


def _namespace(name: str, source, allowed: frozenset, extra: dict) -> types.SimpleNamespace:
    """A submodule: source's names that CuPy has too, on device arrays."""
    ns = types.SimpleNamespace(**extra)
    for n in allowed:
        if n not in extra and hasattr(source, n):
            setattr(ns, n, _function(getattr(source, n), f"{name}.{n}"))
    return ns


# ----------------------------------------------------------------------------- the module


def asarray(a, dtype=None, order=None, *, blocking=True):
    """To the device: a host array, list or scalar is copied; a device array is kept."""
    if type(a) is ndarray:
        return a if dtype is None or a.dtype == np.dtype(dtype) else ndarray(a._a.astype(dtype))
    return ndarray(np.array(_unwrap_any(a), dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    """A new device array (from host or device data)."""
    return ndarray(np.array(_unwrap_any(obj), dtype=dtype, copy=copy, order=order, ndmin=ndmin))


def _unwrap_any(x):
    # asarray/array take host data as well as device arrays (nested in lists)
    if type(x) is ndarray:
        return x._a
    if type(x) in (list, tuple):
        return type(x)(_unwrap_any(v) for v in x)
    return x


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True) -> np.ndarray:
    """To the host: a NumPy copy of a device array (host data passes through np.asarray)."""
    if type(a) is ndarray:
        return np.array(a._a, order=order, copy=True)
    return np.asarray(a, order=order)


def get_array_module(*args):
    """cupy.get_array_module: this module when any argument is a device array, else numpy."""
    return _this if any(type(a) is ndarray for a in args) else np


_PCG_BYTES = 40  # a PCG64 state: state and increment (128 bits each), has_uint32, uinteger


class _XORWOW:
    """cupy.random.XORWOW's shape: the state lives in device memory (`_state`, an int8
    array of `_size` per-thread states) and every draw advances it in place. Here thread
    0's bytes hold a NumPy PCG64 state; the other threads' bytes are unused."""

    def __init__(self, seed=None, *, size: int = -1):
        self._size = 4 if size < 0 else int(size)
        self._state = ndarray(np.zeros(self._size * _PCG_BYTES, np.int8))
        self._store(np.random.PCG64(seed))

    def _store(self, bit: np.random.PCG64) -> None:
        st = bit.state
        blob = (st["state"]["state"].to_bytes(16, "little")
                + st["state"]["inc"].to_bytes(16, "little")
                + int(st["has_uint32"]).to_bytes(4, "little")
                + int(st["uinteger"]).to_bytes(4, "little"))
        self._state._a[:_PCG_BYTES] = np.frombuffer(blob, np.int8)

    def _load(self) -> np.random.PCG64:
        blob = self._state._a[:_PCG_BYTES].tobytes()
        bit = np.random.PCG64()
        bit.state = {"bit_generator": "PCG64",
                     "state": {"state": int.from_bytes(blob[:16], "little"),
                               "inc": int.from_bytes(blob[16:32], "little")},
                     "has_uint32": int.from_bytes(blob[32:36], "little"),
                     "uinteger": int.from_bytes(blob[36:40], "little")}
        return bit

    def state(self) -> int:
        return self._state.data.ptr


class _Generator:
    """cupy.random.Generator: draws device arrays from its bit_generator's device state."""

    def __init__(self, bit_generator):
        self.bit_generator = bit_generator

    def __getattr__(self, name: str):
        if name not in ("random", "standard_normal", "integers", "uniform", "normal",
                        "permutation", "standard_exponential", "exponential", "binomial",
                        "choice", "shuffle", "poisson", "gamma", "beta"):
            raise AttributeError(f"fake_cupy.random.Generator has no method {name!r}")
        bit = self.__dict__["bit_generator"]

        def draw(*args, **kwargs):
            pcg = bit._load()
            try:
                return _function(getattr(np.random.Generator(pcg), name),
                                 f"random.Generator.{name}")(*args, **kwargs)
            finally:
                bit._store(pcg)  # the state advances in device memory, as cuRAND's

        return draw


def _default_rng(seed=None) -> _Generator:
    """cupy.random.default_rng: an XORWOW generator (a bit generator is wrapped as it is)."""
    return _Generator(seed if isinstance(seed, _XORWOW) else _XORWOW(seed))


class _RandomState:
    """cupy.random.RandomState (the legacy seeded API)."""

    def __init__(self, seed=None):
        self._r = np.random.RandomState(seed)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return _function(getattr(self._r, name), f"random.RandomState.{name}")


_global_state = [_RandomState()]


def _seed(seed=None) -> None:
    _global_state[0] = _RandomState(seed)


def _legacy(name: str):
    return lambda *a, **k: getattr(_global_state[0], name)(*a, **k)


random = types.SimpleNamespace(
    default_rng=_default_rng, Generator=_Generator, XORWOW=_XORWOW, RandomState=_RandomState,
    seed=_seed,
    **{n: _legacy(n) for n in ("rand", "randn", "randint", "random", "random_sample",
                               "standard_normal", "uniform", "normal", "permutation",
                               "shuffle", "choice")},
)
linalg = _namespace("linalg", np.linalg, cupy_names.LINALG, {"LinAlgError": np.linalg.LinAlgError})


def _as_strided(x, shape=None, strides=None):
    """cupy.lib.stride_tricks.as_strided's signature: no writeable= or subok= (a call
    passing them fails here as on CuPy)."""
    return np.lib.stride_tricks.as_strided(x, shape, strides)


lib = types.SimpleNamespace(stride_tricks=_namespace(
    "lib.stride_tricks", np.lib.stride_tricks, cupy_names.STRIDE_TRICKS,
    {"as_strided": _function(_as_strided, "lib.stride_tricks.as_strided")}))


class _MemoryPool:
    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_pool = _MemoryPool()
cuda = types.SimpleNamespace(
    Device=_Device,
    runtime=types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda i: {"name": b"fake_cupy device", "major": 9, "minor": 0,
                                       "totalGlobalMem": 0},
    ),
)
get_default_memory_pool = lambda: _pool  # noqa: E731

# cupyx.scipy.special's functions the ops use, on device arrays
scipy_special = types.SimpleNamespace(**{
    n: _function(getattr(scipy.special, n), f"scipyx.special.{n}")
    for n in ("erf", "erfc", "erfinv", "erfcinv", "gammaln", "digamma", "polygamma", "expit",
              "logit", "log_ndtr", "ndtr", "ndtri", "i0", "i0e", "i1", "i1e", "xlogy",
              "xlog1py", "zeta", "entr", "softmax", "log_softmax", "logsumexp", "gammainc",
              "gammaincc", "sinc", "multigammaln", "spherical_jn", "bessel_j0", "j0", "j1",
              "y0", "y1", "k0", "k0e", "k1", "k1e")
    if hasattr(scipy.special, n)
})

_NOT_FUNCTIONS = (type, np.dtype)


def __getattr__(name: str):
    """CuPy's top-level names: NumPy's function/ufunc of that name on device arrays, its
    dtypes and constants as they are; NumPy names CuPy lacks raise AttributeError."""
    if name not in cupy_names.TOP or not hasattr(np, name):
        raise AttributeError(
            f"module 'fake_cupy' has no attribute {name!r} (CuPy has no {name}: use a "
            "backend helper or a CuPy function)"
        )
    obj = getattr(np, name)
    if isinstance(obj, np.ufunc):
        value = _Ufunc(obj)
    elif isinstance(obj, _NOT_FUNCTIONS) or not callable(obj):
        value = obj
    else:
        value = _function(obj, name)
    globals()[name] = value  # cache: the next lookup is a plain module attribute
    return value


_this = __import__(__name__, fromlist=["_"])
