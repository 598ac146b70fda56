"""Where a layer's parameters live: the one check of every layer's `device=` argument, and
the move of a module's tensors (parameters, buffers and their gradients) to a device.

A layer makes its parameters on the host (init draws from the default CPU generator) and,
given device='cuda', moves them there once: the same seed gives the same initial values on
every device (torch draws them with the device's generator instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zengrad import backend
from zengrad import devices as _devices

if TYPE_CHECKING:
    from zengrad.nn.module import Module

__all__ = ["layer_device", "move_tensors", "place"]


def layer_device(device, who: str) -> _devices.device:
    """A layer's device= argument as a device: None is the default device ('cpu' unless
    zengrad.set_default_device named another); an unavailable one raises torch's error
    naming the layer (who)."""
    return backend.check_device(device, who)


def move_tensors(module: Module, device: _devices.device) -> None:
    """Every parameter and buffer of module (and the .grad of each) onto device, in place:
    the Parameter objects stay the same, so an optimizer made before the move keeps them."""
    for t in (*module.parameters(), *module.buffers()):
        t.array = backend.to_device(t.array, device)
        if t.grad is not None:
            t.grad.array = backend.to_device(t.grad.array, device)


def place(module: Module, device: _devices.device) -> None:
    """A new layer's tensors (made on the host) moved to its device= (nothing for 'cpu')."""
    if device.type != "cpu":
        move_tensors(module, device)
