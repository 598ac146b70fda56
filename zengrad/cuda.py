"""zengrad.cuda: torch.cuda's questions, answered by CuPy when it is installed and sees a GPU.

Device 'cuda' computes with CuPy (`pip install 'zengrad[cuda]'`, cupy-cuda12x). Without
CuPy, or without a GPU, the answers are torch's on a CPU-only build: is_available() is False
and device_count() 0, so `device = 'cuda' if zengrad.cuda.is_available() else 'cpu'` picks
the CPU; seeding functions are harmless no-ops; anything that needs a device (synchronize,
current_device, get_device_name, ...) raises torch's "not compiled with CUDA enabled" error.
CuPy is imported only when one of these functions is asked about a GPU, never at import.
"""

from __future__ import annotations

import importlib.util

from zengrad import backend
from zengrad import devices as _device
from zengrad.amp import cuda_amp as amp  # noqa: F401  (torch.cuda.amp.GradScaler / autocast)
from zengrad.autograd.tensor import Tensor


def _module():
    """CuPy (or the module registered for 'cuda'), or None when there is no usable GPU."""
    module = backend.registered_module("cuda")
    if module is not None:
        return module
    if importlib.util.find_spec("cupy") is None:  # not installed: don't import anything
        return None
    try:
        return backend.module_for("cuda")
    except (_device.DeviceUnavailableError, RuntimeError):
        return None


def _need(what: str):
    module = _module()
    if module is None:
        raise _device.DeviceUnavailableError(
            f"zengrad.cuda.{what}(): Torch not compiled with CUDA enabled: no CUDA device is "
            "available (device 'cuda' needs CuPy and an NVIDIA GPU: pip install "
            "'zengrad[cuda]')"
        )
    return module


def _index(device) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    dev = _device.as_device(device)
    if dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {dev}")
    return 0 if dev.index is None else dev.index


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return _module() is not None


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy)."""
    return 0 if _module() is None else backend.device_count("cuda")


def is_initialized() -> bool:
    """True once device 'cuda' has been used (CuPy loaded)."""
    return backend.registered_module("cuda") is not None


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False  # zengrad has no bfloat16 dtype (NumPy has none)


def manual_seed(seed: int) -> None:
    """Seed the generator of the GPUs: zengrad's device generators follow the default
    generator's seed, so this reseeds them from `seed` (a no-op without a GPU)."""
    manual_seed_all(seed)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator (a no-op without a GPU, as torch)."""
    seed = int(seed)  # the same TypeError as torch for a seed that is not a number
    if backend.registered_module("cuda") is not None:
        backend.seed_device_generators(seed)


def seed() -> None:
    """A no-op: device generators are reseeded by zengrad.manual_seed."""


def seed_all() -> None:
    """A no-op: device generators are reseeded by zengrad.manual_seed."""


def empty_cache() -> None:
    """Free CuPy's cached, unused device memory (a no-op without a GPU)."""
    module = backend.registered_module("cuda")
    if module is not None:
        module.get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes of device memory in use by arrays (CuPy's memory pool; 0 without a GPU)."""
    module = backend.registered_module("cuda")
    return 0 if module is None else int(module.get_default_memory_pool().used_bytes())


def max_memory_allocated(device=None) -> int:
    return memory_allocated(device)


def memory_reserved(device=None) -> int:
    """Bytes CuPy's memory pool holds (0 without a GPU)."""
    module = backend.registered_module("cuda")
    return 0 if module is None else int(module.get_default_memory_pool().total_bytes())


def synchronize(device=None) -> None:
    """Wait until the GPU has finished its queued work (timing needs it)."""
    module = _need("synchronize")
    module.cuda.Device(_index(device) if device is not None else 0).synchronize()


def current_device() -> int:
    module = _need("current_device")
    return int(module.cuda.Device().id)


def set_device(device) -> None:
    module = _need("set_device")
    module.cuda.Device(_index(device)).use()


def get_device_name(device=None) -> str:
    name = get_device_properties(device)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_properties(device=None) -> dict:
    """CuPy's property dict of the GPU (name, totalGlobalMem, major, minor, ...)."""
    module = _need("get_device_properties")
    return module.cuda.runtime.getDeviceProperties(0 if device is None else _index(device))


def get_device_capability(device=None) -> tuple[int, int]:
    props = get_device_properties(device)
    return int(props["major"]), int(props["minor"])


def _checked_index(device, what: str) -> int:
    index = _index(device)
    count = device_count()
    if not 0 <= index < count:
        raise RuntimeError(f"zengrad.cuda.{what}(): invalid device ordinal {index} "
                           f"({count} GPU{'s' if count != 1 else ''} here)")
    return index


def get_rng_state(device="cuda") -> Tensor:
    """The state of the GPU's random generator (dropout masks, device draws) as a 1-D uint8
    CPU tensor, for set_rng_state. Its bytes are zengrad's own (a header and CuPy's cuRAND
    state), not torch's. One generator serves every GPU here: each index gives its state."""
    _need("get_rng_state")
    _checked_index(device, "get_rng_state")
    return Tensor._make(backend.device_rng_state("cuda"), False, None)


def set_rng_state(new_state: Tensor, device="cuda") -> None:
    """Restore the GPU's random generator from get_rng_state(): the draws that followed it
    come again. As torch, a no-op without a GPU (torch defers it until CUDA starts)."""
    if not isinstance(new_state, Tensor):
        raise TypeError(f"set_rng_state: expected a torch.ByteTensor, but got "
                        f"{type(new_state).__name__}")
    if _module() is None:
        return
    _checked_index(device, "set_rng_state")
    try:
        backend.set_device_rng_state(backend.asnumpy(new_state.array), "cuda")
    except ValueError as e:
        raise RuntimeError(f"zengrad.cuda.set_rng_state: {e}") from None


def get_rng_state_all() -> list[Tensor]:
    """get_rng_state() of every GPU ([] without one, as torch)."""
    if _module() is None:
        return []
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    """Restore from get_rng_state_all()'s list. The GPUs share one generator here, so its
    first entry is the state restored (the others, saved from the same generator, are
    the same); a no-op without a GPU, as torch."""
    states = list(new_states)
    for state in states:
        if not isinstance(state, Tensor):
            raise TypeError(f"set_rng_state_all: expected torch.ByteTensors, but got "
                            f"{type(state).__name__}")
    if states:
        set_rng_state(states[0], 0)
