"""The array backend: which array module computes on an array, the default dtype and the
seeded RNG.

The seam (Chainer's `xp`): an op asks `xp_of(array)` for the module of its input's array
type, NumPy for np.ndarray, CuPy for cupy.ndarray (device "cuda"), and calls `xp.exp`,
`xp.matmul`, ... so it is written once. The lookup is one dict read on `type(array)`. A
device maps to a module with `module_for(device)`; CuPy is imported only when a "cuda"
device is first asked for. Tests register a fake CuPy with `register_array_module`.
Dtype constants stay NumPy dtypes on every device (CuPy uses NumPy's dtypes too).

Random numbers come from `Generator` objects (torch.Generator), each wrapping a NumPy
`np.random.Generator` (PCG64). `default_generator` serves every draw that names no
generator (creation ops, init, dropout, shuffling); `rng()` hands ops its NumPy generator;
`rng_for(xp)` a generator drawing on another module's device, seeded by `manual_seed` too.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import TYPE_CHECKING

import numpy as np

from zengrad import devices as _device

if TYPE_CHECKING:
    from zengrad.autograd.tensor import Tensor

# dtypes, as PyTorch names them (NumPy dtypes underneath)
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_default_dtype = float32


def get_array_module(*arrays: object):
    """The array module of the first array among the arguments (numpy when there is none):
    Chainer's and CuPy's name for `xp_of`."""
    for a in arrays:
        if not isinstance(a, _SCALARS):
            return xp_of(a)
    return np


def get_default_dtype() -> np.dtype:
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype of floating tensors created from Python floats (float32 or float64)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"default dtype must be a floating dtype, got {dtype}")
    _default_dtype = dtype


# torch's seed of a new Generator: Generator() draws the same numbers in every run
_NEW_GENERATOR_SEED = 67280421310721
_STATE_FORMAT = "zengrad.Generator/1"


def _check_seed(seed, what: str) -> int:
    """A seed as torch takes it: an integer in [-2**63, 2**64); negative seeds wrap to
    2**64 + seed (as torch's unsigned 64-bit seed), so initial_seed() reports that."""
    if not isinstance(seed, (int, np.integer)):
        raise RuntimeError(f"{what} expected a long, but got {type(seed).__name__}")
    seed = int(seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"{what}: seed must be in [-2**63, 2**64), got {seed}")
    return seed % 2**64


class Generator:
    """A source of random numbers, as torch.Generator(device='cpu').

    `manual_seed(s)` (returns self), `seed()`, `initial_seed()`, `get_state()` /
    `set_state()`; pass it as `generator=` to rand, randn, randint, randperm, normal,
    multinomial, bernoulli, DataLoader and random_split. A new Generator is seeded with
    torch's default seed 67280421310721. The draws are NumPy's PCG64 seeded with the seed,
    so they differ from torch's (Mersenne Twister) numbers for the same seed.
    """

    __slots__ = ("_np", "_initial_seed")

    def __init__(self, device="cpu") -> None:
        if str(device).split(":")[0] != "cpu":
            raise RuntimeError(
                f"Generator(device={device!r}): only 'cpu' generators exist in this build of "
                "zengrad (NumPy backend)"
            )
        self._set_seed(_NEW_GENERATOR_SEED)

    @property
    def device(self) -> _device.device:
        return _device.CPU

    def _set_seed(self, seed: int) -> None:
        self._np = np.random.default_rng(seed)
        self._initial_seed = seed

    def manual_seed(self, seed: int) -> Generator:
        """Reseed: the same seed gives the same draws. Returns self."""
        self._set_seed(_check_seed(seed, "manual_seed"))
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; returns the new (64-bit) seed."""
        seed = int.from_bytes(os.urandom(8), "little")
        self._set_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._initial_seed

    def get_state(self) -> Tensor:
        """The state as a 1-D uint8 Tensor: the UTF-8 JSON of {"format", "initial_seed",
        "bit_generator": NumPy's bit-generator state}. It is zengrad's own format (torch's
        5056-byte Mersenne Twister state can't be loaded here, nor this one in torch)."""
        from zengrad.autograd.tensor import Tensor  # the tensor layer sits above this one

        blob = json.dumps({
            "format": _STATE_FORMAT, "initial_seed": self._initial_seed,
            "bit_generator": self._np.bit_generator.state,
        }).encode()
        return Tensor._make(np.frombuffer(blob, dtype=np.uint8).copy(), False, None)

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from get_state() (draws continue from there). Returns self."""
        from zengrad.autograd.tensor import Tensor

        if not isinstance(new_state, Tensor):
            raise TypeError(
                f"expected a torch.ByteTensor, but got {type(new_state).__name__}"
            )
        if new_state.array.dtype != np.uint8:
            raise TypeError(
                f"RNG state must be a torch.ByteTensor (uint8), got {new_state.array.dtype}"
            )
        try:
            state = json.loads(new_state.array.tobytes().decode())
            if state.get("format") != _STATE_FORMAT:
                raise ValueError("no format tag")
            gen = _numpy_generator(state["bit_generator"])
            seed = int(state["initial_seed"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise RuntimeError(
                f"set_state: this is not a state made by zengrad's Generator.get_state() "
                f"({new_state.array.size} bytes; {e})"
            ) from None
        self._np, self._initial_seed = gen, seed
        return self

    def __repr__(self) -> str:
        return f"<zengrad.Generator object (initial_seed={self._initial_seed})>"


_BIT_GENERATORS = {
    "PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
    "Philox": np.random.Philox, "SFC64": np.random.SFC64,
}


def _numpy_generator(state: dict) -> np.random.Generator:
    """A NumPy generator restored from its bit generator's state dict."""
    bit = _BIT_GENERATORS.get(state.get("bit_generator"))
    if bit is None:
        raise ValueError(f"unknown bit generator {state.get('bit_generator')!r}")
    gen = np.random.Generator(bit())
    gen.bit_generator.state = state
    return gen


# unseeded, as torch's default generator: a different stream in every process
default_generator = Generator()
default_generator.seed()


def manual_seed(seed: int) -> Generator:
    """Seed every random draw in zengrad that names no generator (creation ops, init,
    dropout, shuffling); returns zengrad.default_generator, as torch. As torch, the seed is
    converted with int() first (manual_seed(1.5) seeds with 1)."""
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise TypeError(
            f"manual_seed: seed must be an integer, got {type(seed).__name__}"
        ) from None
    generator = default_generator.manual_seed(seed)
    reseed_devices()  # the device generators follow (torch seeds every CUDA device too)
    return generator


def seed() -> int:
    """Seed the default generator from OS entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def rng() -> np.random.Generator:
    """The default generator's NumPy generator; fetch it at call time (reseeding replaces it)."""
    return default_generator._np


def rng_of(generator: Generator | None, name: str) -> np.random.Generator:
    """The NumPy generator behind a `generator=` argument (None: the default generator)."""
    if generator is None:
        return default_generator._np
    if isinstance(generator, Generator):
        return generator._np
    raise TypeError(
        f"{name}(): argument 'generator' must be zengrad.Generator, not "
        f"{type(generator).__name__}"
    )


def get_rng_state() -> dict:
    """The default generator's NumPy state as plain JSON-able data (for checkpoints). torch
    returns a uint8 tensor here; `default_generator.get_state()` gives one."""
    return default_generator._np.bit_generator.state


def set_rng_state(state) -> None:
    """Restore the default generator from get_rng_state()'s dict or get_state()'s tensor."""
    if isinstance(state, dict):
        gen = np.random.default_rng()
        gen.bit_generator.state = state
        default_generator._np = gen
        return
    default_generator.set_state(state)


def _is_dtype(value) -> bool:
    """A dtype as zengrad names them (zengrad.float32 is an np.dtype), a NumPy scalar type
    (np.float32) or a Python type torch takes as one (float, int, bool, complex)."""
    if isinstance(value, np.dtype):
        return True
    if isinstance(value, type):
        return issubclass(value, np.generic) or value in (float, int, bool, complex)
    return False


def _is_device(value) -> bool:
    return isinstance(value, (str, _device.device)) or (
        isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    )


def _to_signature_error(name: str, args: tuple) -> TypeError:
    got = ", ".join(type(a).__name__ for a in args)
    return TypeError(
        f"{name}() received an invalid combination of arguments - got ({got}), but expected "
        "one of: (device=None, dtype=None, non_blocking=False, copy=False), "
        "(dtype, non_blocking=False, copy=False), (tensor, non_blocking=False, copy=False)"
    )


def parse_to(args: tuple, kwargs: dict, name: str = "to"):
    """(device, dtype, non_blocking, copy) from Tensor.to's arguments, in torch's three forms:
    to(dtype, non_blocking=False, copy=False), to(device=None, dtype=None, non_blocking=False,
    copy=False) and to(tensor, non_blocking=False, copy=False) (the tensor's device and dtype).
    The device is a zengrad.device (None when not given) and must be available ('cpu');
    the dtype an np.dtype (None when not given)."""
    kwargs = dict(kwargs)
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    non_blocking, copy = kwargs.pop("non_blocking", False), kwargs.pop("copy", False)
    if kwargs.pop("memory_format", None) is not None:
        raise TypeError(f"{name}(): memory_format is not supported (NumPy arrays are strided)")
    if kwargs:
        raise TypeError(f"{name}() got unexpected keyword arguments {sorted(kwargs)}")
    from zengrad.autograd.tensor import Tensor  # the tensor layer sits above this one

    rest = list(args)
    if rest and isinstance(rest[0], Tensor):  # to(other_tensor)
        other = rest.pop(0)
        device, dtype = other.device, other.dtype
    elif rest and _is_dtype(rest[0]):  # to(dtype, ...)
        dtype = rest.pop(0)
    elif rest and (rest[0] is None or _is_device(rest[0])):  # to(device, dtype=None, ...)
        device = rest.pop(0)
        if rest and (rest[0] is None or _is_dtype(rest[0])):
            dtype = rest.pop(0)
    flags = [non_blocking, copy]
    if len(rest) > 2 or not all(isinstance(a, (bool, np.bool_)) for a in rest):
        raise _to_signature_error(name, args)
    flags[: len(rest)] = rest
    if dtype is not None and not _is_dtype(dtype):
        raise TypeError(
            f"{name}(): argument 'dtype' must be a dtype such as zengrad.float32, not "
            f"{type(dtype).__name__} ({dtype!r})"
        )
    if device is not None:
        device = _device.check_available(device, name)
    return device, (None if dtype is None else np.dtype(dtype)), bool(flags[0]), bool(flags[1])


def parse_to_args(args: tuple, kwargs: dict) -> tuple[_device.device | None, np.dtype | None]:
    """(device, dtype) from the arguments of Tensor.to / Module.to (see parse_to)."""
    device, dtype, _, _ = parse_to(args, kwargs)
    return device, dtype


def check_device(device, name: str) -> _device.device:
    """A factory's or layer's device= argument as a device: None is the default device
    ('cpu' unless set_default_device named another); an unavailable device raises torch's
    error (the one device check of every factory and layer)."""
    if device is None:
        device = _device._state["default"]
        if device is None:
            return _device.CPU
    return _device.check_available(device, name)


# ----------------------------------------------------------------------------- the seam
# type(array) -> the module computing on it, and the device type it lives on. np.ndarray
# is the fast path; NumPy scalars and Python numbers (0-d results, scalar operands) compute
# with NumPy. Filled by register_array_module (CuPy on first use of "cuda", a fake in tests).
_XP: dict[type, object] = {np.ndarray: np}
_DEVICE_TYPE: dict[type, str] = {np.ndarray: "cpu"}
_BY_DEVICE: dict[str, object] = {"cpu": np}
_SCALARS = (bool, int, float, complex, np.generic)
_CUPY_HINT = "install CuPy for CUDA 12: pip install 'zengrad[cuda]' (cupy-cuda12x)"


def xp_of(array: object):
    """The array module computing on `array`: numpy for NumPy arrays and scalars, cupy for
    CuPy arrays. Other array types are refused (TypeError naming the type): zengrad never
    converts a foreign array silently."""
    try:
        return _XP[type(array)]
    except KeyError:
        return _xp_lookup(array)


def _xp_lookup(array: object):
    """The slow path of xp_of: subclasses and scalars, cached by type once resolved."""
    kind = type(array)
    if isinstance(array, _SCALARS) or isinstance(array, np.ndarray):
        module, device_type = np, "cpu"
    else:
        for base, dev in list(_DEVICE_TYPE.items()):
            if isinstance(array, base):
                module, device_type = _XP[base], dev
                break
        else:
            raise TypeError(
                f"zengrad: an array of type {kind.__module__}.{kind.__qualname__} is not "
                "an array of a zengrad backend (numpy.ndarray on 'cpu', cupy.ndarray on "
                "'cuda'); convert it explicitly first"
            )
    _XP[kind], _DEVICE_TYPE[kind] = module, device_type
    return module


def xp_of_all(op: str, *values: object):
    """The one module of every array among values (scalars and None are skipped; numpy when
    there is no array); arrays of two devices raise torch's error naming both devices."""
    module = found = None
    for v in values:
        if v is None or isinstance(v, _SCALARS):
            continue
        m = xp_of(v)
        if module is None:
            module, found = m, v
        elif m is not module:
            raise RuntimeError(
                f"{op}: Expected all tensors to be on the same device, but found at least "
                f"two devices, {device_of(found)} and {device_of(v)}!"
            )
    return np if module is None else module


def xp_pair(op: str, a: object, b: object):
    """xp_of_all for two operands (a binary op's fast path): the module of a and b, a
    scalar taking the other's; two devices raise torch's error naming both."""
    xa = _XP.get(type(a)) or xp_of(a)  # (modules are truthy) one dict read each, usually
    xb = _XP.get(type(b)) or xp_of(b)
    if xa is xb or isinstance(b, _SCALARS):
        return xa
    if isinstance(a, _SCALARS):
        return xb
    return xp_of_all(op, a, b)


def is_array(x: object) -> bool:
    """True for an array of a backend (np.ndarray or a registered device array type)."""
    return isinstance(x, np.ndarray) or _DEVICE_TYPE.get(type(x), "cpu") != "cpu"


def as_result(data):
    """An op's result as an array of its backend: device arrays as they are, NumPy scalars
    (from 0-d arithmetic and full reductions) as 0-d NumPy arrays."""
    if _DEVICE_TYPE.get(type(data), "cpu") != "cpu":
        return data
    return np.asarray(data)


def device_of(array: object) -> _device.device:
    """The zengrad device an array lives on: cpu for NumPy, cuda:<id> for CuPy."""
    xp_of(array)  # resolves (and checks) the type
    device_type = _DEVICE_TYPE[type(array)]
    if device_type == "cpu":
        return _device.CPU
    return _device.device(device_type, int(array.device.id))


def register_array_module(array_type: type, module, device_type: str, *,
                          special=None) -> None:
    """Make `module` the backend of arrays of `array_type` on devices of `device_type`
    (the hook CuPy and the tests' fake CuPy plug in through).

    The module must look like CuPy where zengrad uses it: NumPy's functions under NumPy's
    names on its own arrays, `asarray(ndarray)` (to the device) and `asnumpy(array)`,
    `random.default_rng(seed)`, `cuda.Device(i)` (a context; `.synchronize()`, `.id`),
    `cuda.runtime.getDeviceCount()`; and its arrays an `array.device.id`. `special` is its
    scipy.special (cupyx.scipy.special for CuPy, imported on first use when not given).
    """
    if device_type == "cpu":
        raise ValueError("register_array_module: 'cpu' is NumPy's device")
    _device.as_device(device_type)  # a device type torch knows
    _XP[array_type], _DEVICE_TYPE[array_type] = module, device_type
    _BY_DEVICE[device_type] = module
    if special is not None:
        _SPECIAL[module] = special
    _device_rngs.pop(module, None)


def unregister_array_module(device_type: str) -> None:
    """Forget the backend of a device type (and every array type cached for it)."""
    module = _BY_DEVICE.pop(device_type, None)
    for kind in [k for k, d in _DEVICE_TYPE.items() if d == device_type]:
        del _DEVICE_TYPE[kind], _XP[kind]
    _device_rngs.pop(module, None)
    _SPECIAL.pop(module, None)


def registered_module(device_type: str):
    """The module registered for a device type, or None (never imports anything)."""
    return _BY_DEVICE.get(device_type)


def _load_cupy():
    """Register CuPy for 'cuda' on first use; without CuPy, or without a GPU, the CPU-only
    build's error, saying what to install."""
    try:
        import cupy
    except ImportError:
        raise _device.DeviceUnavailableError(
            f"it needs CuPy, which is not installed; {_CUPY_HINT}"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy's CUDARuntimeError: no driver or no device
        raise _device.DeviceUnavailableError(
            f"CuPy is installed but found no CUDA device ({type(e).__name__}: {e})"
        ) from None
    if count == 0:
        raise _device.DeviceUnavailableError(
            "CuPy is installed but found no CUDA device"
        )
    register_array_module(cupy.ndarray, cupy, "cuda")
    return cupy


def device_count(device_type: str) -> int:
    """How many devices of this type the registered module has (0 when none is)."""
    module = _BY_DEVICE.get(device_type)
    if module is None:
        return 0
    if module is np:
        return 1
    return int(module.cuda.runtime.getDeviceCount())


def module_for(value, what: str = ""):
    """The array module of a device ('cpu' -> numpy, 'cuda' -> cupy, importing CuPy on first
    use); an unavailable device raises torch's error (see devices.check_available)."""
    dev = _device.as_device(value)
    if dev.type == "cpu":
        return np
    where = f"{what}: " if what else ""
    module = _BY_DEVICE.get(dev.type)
    if module is None:
        if dev.type != "cuda":
            _device.unavailable(dev, what)
        try:
            module = _load_cupy()
        except _device.DeviceUnavailableError as e:
            raise _device.DeviceUnavailableError(
                f"{where}Torch not compiled with CUDA enabled: device '{dev}' is not "
                f"available ({e})"
            ) from None
    count = device_count(dev.type)
    if dev.index is not None and dev.index >= count:
        raise RuntimeError(
            f"{where}CUDA error: invalid device ordinal (device '{dev}'; {count} "
            f"{dev.type} device(s) here)"
        )
    return module


def to_device(array, value):
    """array on a device (itself when it is there already): NumPy <-> the device's module
    through host memory, as CuPy's asarray/asnumpy copy."""
    dev = _device.as_device(value)
    src = xp_of(array)
    if dev.type == "cpu":
        return array if src is np else src.asnumpy(array)
    dst = module_for(dev)
    index = 0 if dev.index is None else dev.index
    if src is dst and int(array.device.id) == index:
        return array
    host = array if src is np else src.asnumpy(array)
    with dst.cuda.Device(index):
        return dst.asarray(host)


def asnumpy(array) -> np.ndarray:
    """A NumPy copy of a device array (the array itself when it is a NumPy array)."""
    xp = xp_of(array)
    return array if xp is np else xp.asnumpy(array)


def address_of(array) -> int:
    """The memory address of array's first element, as an int: NumPy's
    `__array_interface__["data"][0]`; a device array's `data.ptr` (CuPy's MemoryPointer:
    CuPy arrays have no __array_interface__). Views and in-place writes compare these to
    place a view in its base (autograd/views.py, engine.graft)."""
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    xp_of(array)  # refuses foreign array types
    return int(array.data.ptr)


def errstate(xp, **kwargs):
    """np.errstate(**kwargs) for NumPy; a no-op context for modules without floating-point
    error states (CuPy never warns on overflow or division by zero)."""
    if xp is np:
        return np.errstate(**kwargs)
    return contextlib.nullcontext()


# module -> its scipy.special (scipy's for numpy, imported on first use)
_SPECIAL: dict = {}


def special(xp):
    """The special functions (erf, gammaln, digamma, ...) on xp's arrays: scipy.special for
    numpy, cupyx.scipy.special for cupy."""
    module = _SPECIAL.get(xp)
    if module is None:
        import importlib

        name = "scipy.special" if xp is np else "cupyx.scipy.special"
        module = _SPECIAL[xp] = importlib.import_module(name)
    return module


# module -> the generator drawing on its device, made on first use from the default
# generator's seed, and dropped by manual_seed so the next draw starts from the new seed
_device_rngs: dict = {}


def rng_for(xp):
    """A generator with NumPy's Generator methods (random, standard_normal, integers, ...)
    drawing on xp's device: the default generator's for numpy; for another module, its
    `random.default_rng` seeded with the default generator's seed (so manual_seed seeds
    it). The device draws differ from the CPU draws of the same seed (as in torch)."""
    if xp is np:
        return default_generator._np
    gen = _device_rngs.get(xp)
    if gen is None:
        gen = _device_rngs[xp] = xp.random.default_rng(default_generator.initial_seed())
    return gen


def reseed_devices() -> None:
    """Let every device generator restart from the default generator's (new) seed."""
    _device_rngs.clear()


def seed_device_generators(seed: int) -> None:
    """Seed every registered device's generator with seed (zengrad.cuda.manual_seed_all);
    the CPU generator is left alone."""
    for device_type, module in _BY_DEVICE.items():
        if device_type != "cpu":
            _device_rngs[module] = module.random.default_rng(seed % 2**64)


# A device generator's state, as the bytes of a 1-D uint8 array: a JSON header, a NUL, then
# the bit generator's state memory copied from the device. CuPy keeps a cuRAND state per GPU
# thread in a device byte array (`bit_generator._state`, advanced in place by every draw);
# it has no public way to copy it, so zengrad reads and writes that buffer.
_DEVICE_RNG_FORMAT = "zengrad-device-rng-1"


def _bit_generator(gen, where: str):
    bit = getattr(gen, "bit_generator", None)
    if bit is None or not is_array(getattr(bit, "_state", None)):
        raise RuntimeError(f"{where}: this version of {type(gen).__module__} keeps its "
                           "generator state where zengrad can't reach it")
    return bit


def device_rng_state(device_type: str = "cuda") -> np.ndarray:
    """The state of the generator drawing on `device_type` (see rng_for) as host bytes."""
    module = _BY_DEVICE[device_type]
    bit = _bit_generator(rng_for(module), "get_rng_state")
    raw = np.ascontiguousarray(asnumpy(bit._state)).view(np.uint8).ravel()
    header = json.dumps({"format": _DEVICE_RNG_FORMAT, "bit_generator": type(bit).__name__,
                         "size": int(getattr(bit, "_size", -1)), "nbytes": int(raw.size)})
    return np.concatenate([np.frombuffer(header.encode() + b"\0", np.uint8), raw])


def parse_device_rng_state(state: np.ndarray) -> tuple[dict, np.ndarray]:
    """(header, state bytes) of device_rng_state()'s array; ValueError saying what is wrong
    with anything else."""
    if not (isinstance(state, np.ndarray) and state.dtype == np.uint8 and state.ndim == 1):
        what = (f"a {state.dtype} array of shape {state.shape}"
                if isinstance(state, np.ndarray) else type(state).__name__)
        raise ValueError(f"a device RNG state is a 1-D uint8 array, got {what}")
    blob = state.tobytes()
    end = blob.find(b"\0")
    try:
        header = json.loads(blob[:end].decode()) if end > 0 else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not (isinstance(header, dict) and header.get("format") == _DEVICE_RNG_FORMAT
            and isinstance(header.get("bit_generator"), str)
            and isinstance(header.get("size"), int) and isinstance(header.get("nbytes"), int)):
        raise ValueError(f"not a device RNG state made by zengrad.cuda.get_rng_state() "
                         f"({state.size} bytes)")
    raw = state[end + 1:]
    if raw.size != header["nbytes"]:
        raise ValueError(f"a device RNG state of {header['nbytes']} bytes is cut short or "
                         f"padded: it holds {raw.size}")
    return header, raw


def set_device_rng_state(state: np.ndarray, device_type: str = "cuda") -> None:
    """Restore the generator drawing on `device_type` from device_rng_state()'s bytes (its
    next draws are those that followed the saved state). A state saved on a GPU with
    another thread count makes a generator of the saved size."""
    header, raw = parse_device_rng_state(state)
    module = _BY_DEVICE[device_type]
    gen = rng_for(module)
    bit = _bit_generator(gen, "set_rng_state")
    if type(bit).__name__ != header["bit_generator"]:
        raise ValueError(f"set_rng_state: the state is of a {header['bit_generator']} "
                         f"generator, this device draws with {type(bit).__name__}")
    if bit._state.nbytes != raw.size and header["size"] > 0:
        gen = type(gen)(type(bit)(0, size=header["size"]))
        bit = _bit_generator(gen, "set_rng_state")
    if bit._state.nbytes != raw.size:
        raise ValueError(f"set_rng_state: the state holds {raw.size} bytes, this device's "
                         f"generator {bit._state.nbytes}")
    bit._state[...] = module.asarray(raw.view(bit._state.dtype).reshape(bit._state.shape))
    _device_rngs[module] = gen
