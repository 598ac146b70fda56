"""The GPU generators' state in a training checkpoint (field 'cuda_rng').

On a device, dropout masks are drawn by the device's generator, not the CPU one, so a run
resumes bit for bit only if the checkpoint holds both. The field is
zengrad.cuda.get_rng_state_all(): a list of uint8 tensors, written once device 'cuda' has
been used. A checkpoint without it (a CPU run) leaves the device generators as they are;
resumed where there is no GPU, the saved device state is not needed and is ignored.
"""

from __future__ import annotations

from typing import Any

from zengrad import backend, cuda
from zengrad.autograd.tensor import Tensor

FIELD = "cuda_rng"


def in_use() -> bool:
    """True once device 'cuda' computes here (its generator may have drawn)."""
    return cuda.is_initialized()


def checked(value: Any, path) -> list[Tensor]:
    """The field's value, checked (a CheckpointError naming the field otherwise)."""
    from zengrad.io.checkpoint import field_error

    if not isinstance(value, list):
        raise field_error(path, FIELD, f"must be a list of device RNG states, got "
                                       f"{type(value).__name__}")
    for i, state in enumerate(value):
        if not isinstance(state, Tensor):
            raise field_error(path, f"{FIELD}/{i}", f"must be a uint8 tensor, got "
                                                    f"{type(state).__name__}")
        try:
            backend.parse_device_rng_state(backend.asnumpy(state.array))
        except ValueError as e:
            raise field_error(path, f"{FIELD}/{i}", str(e)) from None
    return value


class DeviceGenerators:
    """The GPU generators as a checkpoint component (state_dict / load_state_dict), so the
    Trainer restores them with its other components, all or nothing."""

    def state_dict(self) -> list[Tensor]:
        return cuda.get_rng_state_all()

    def load_state_dict(self, states: list[Tensor]) -> None:
        cuda.set_rng_state_all(states)
