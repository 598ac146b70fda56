"""The array backend: which array module ops use, the default dtype and the seeded RNG.

NumPy on the CPU. A CuPy backend (device "cuda") plugs in here later: ops call
`get_array_module(x)` instead of naming numpy, so they are written once.

Random numbers come from `Generator` objects (torch.Generator), each wrapping a NumPy
`np.random.Generator` (PCG64). `default_generator` serves every draw that names no
generator (creation ops, init, dropout, shuffling); `rng()` hands ops its NumPy generator.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np

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


def get_array_module(_array: object = None):
    """The array module (numpy) for an array; cupy arrays will map to cupy."""
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
    def device(self) -> str:
        return "cpu"

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
        if new_state.data.dtype != np.uint8:
            raise TypeError(
                f"RNG state must be a torch.ByteTensor (uint8), got {new_state.data.dtype}"
            )
        try:
            state = json.loads(new_state.data.tobytes().decode())
            if state.get("format") != _STATE_FORMAT:
                raise ValueError("no format tag")
            gen = _numpy_generator(state["bit_generator"])
            seed = int(state["initial_seed"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise RuntimeError(
                f"set_state: this is not a state made by zengrad's Generator.get_state() "
                f"({new_state.data.size} bytes; {e})"
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
    return default_generator.manual_seed(seed)


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


def parse_to_args(args: tuple, kwargs: dict) -> tuple[str | None, np.dtype | None]:
    """(device, dtype) from the arguments of Tensor.to / Module.to, as PyTorch accepts them:
    to(dtype), to(device), to(device, dtype), to(other_tensor), dtype=/device= keywords."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if not isinstance(a, type) and isinstance(getattr(a, "dtype", None), np.dtype):  # tensor
            dtype = a.dtype
        elif isinstance(a, str):
            device = a
        elif a is not None:
            dtype = a
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(
            f"device {device!r} is not available: this build of zengrad runs on the "
            "NumPy (cpu) backend"
        )
    return device, (None if dtype is None else np.dtype(dtype))
