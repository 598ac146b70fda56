"""Where loaded tensors go: the device a tensor was saved from, and torch.load's map_location.

A file holds host bytes only (a device tensor is copied to the host to be written, with
backend.asnumpy); the state description records a device tensor's location ("cuda:0", as
torch names storage locations; CPU tensors record none). Loading puts each tensor where
map_location says, as torch.load does:

    None           back where it was saved (a 'cuda' tensor needs CUDA, or torch's error
                   telling to pass map_location='cpu')
    'cpu', device  every tensor on that device ('cuda', 'cuda:0', zengrad.device(...))
    {'cuda:0': 'cpu'}  saved locations renamed; others stay where they were saved
    f(t, loc)      called with the tensor on the CPU and its saved location; returns the
                   tensor to use (t.cuda(), t, ...) or None for the default above
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from zengrad import backend
from zengrad import devices as _device
from zengrad.autograd.tensor import Tensor

CPU = "cpu"


def location_of(tensor: Tensor) -> str:
    """The storage location torch would record for tensor: 'cpu' or 'cuda:<index>'."""
    return str(backend.device_of(tensor.array))


def _device_name(value: Any, what: str) -> str:
    """A device argument (str or zengrad.device) as its name; others raise TypeError."""
    if isinstance(value, (str, _device.device)):
        return str(_device.as_device(value))
    raise TypeError(f"load: {what} must be a device name or a zengrad.device, got "
                    f"{type(value).__name__} ({value!r:.60})")


def to_location(tensor: Tensor, location: str, saved: bool = True) -> Tensor:
    """tensor (on the CPU) moved to location (saved: the file's, else map_location's); a
    device that isn't available raises torch's error (for a saved location, naming
    map_location as the way out)."""
    if location == CPU:
        return tensor
    try:
        return tensor.to(location)
    except _device.DeviceUnavailableError as e:
        if saved:
            raise _device.DeviceUnavailableError(
                f"Attempting to deserialize object on device '{location}' but it is not "
                f"available ({e}). If you are running on a CPU-only machine, please use "
                "zengrad.load with map_location='cpu' to map your storages to the CPU."
            ) from None
        raise _device.DeviceUnavailableError(f"load: map_location '{location}': {e}") from None


def restorer(map_location: Any) -> Callable[[Tensor, str], Tensor] | None:
    """The function placing each loaded tensor (on the CPU, with its saved location) where
    map_location says; None when every tensor goes back where it was saved. A map_location
    of another kind raises TypeError, an unknown device name RuntimeError."""
    if map_location is None:
        return None
    if isinstance(map_location, (str, _device.device)):
        target = _device_name(map_location, "map_location")
        return lambda t, location: to_location(t, target, saved=False)
    if isinstance(map_location, Mapping):
        renames = {_device_name(k, "a map_location key"): _device_name(v, "a map_location value")
                   for k, v in map_location.items()}
        return lambda t, location: (to_location(t, renames[location], saved=False)
                                    if location in renames else to_location(t, location))
    if callable(map_location):
        def call(t: Tensor, location: str) -> Tensor:
            out = map_location(t, location)
            if out is None:
                return to_location(t, location)
            if not isinstance(out, Tensor):
                raise TypeError(f"load: map_location returned a {type(out).__name__}; it "
                                "must return a Tensor (or None for the saved location)")
            return out
        return call
    raise TypeError(f"load: map_location must be None, a device name, a zengrad.device, a "
                    f"dict or a callable, got {type(map_location).__name__}")


def place(tensor: Tensor, location: str, restore: Callable | None) -> Tensor:
    """A loaded tensor where it goes (restore from restorer(), None: its saved location)."""
    if restore is None:
        return to_location(tensor, location)
    return restore(tensor, location)
