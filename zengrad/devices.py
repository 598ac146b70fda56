"""zengrad.device (this module is zengrad.devices): where a tensor lives, as torch.device.

A device is a type ('cpu', 'cuda', 'mps', ...) and an optional index: device('cuda:0'),
device('cuda', 0), device(other_device). Devices compare equal to devices only (never to
strings, as torch: device('cuda') == 'cuda' is False) and hash by (type, index).

zengrad computes with NumPy on 'cpu' and with CuPy on 'cuda' (zengrad.backend maps a device
to its array module). Naming any device is allowed (programs build device('cuda' if
cuda.is_available() else 'cpu')); putting data on one without its backend raises the error
torch raises on a CPU-only build (`check_available`).
"""

from __future__ import annotations

import builtins

# the device types torch's parser knows, in torch's order (its error message lists them)
_DEVICE_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
    "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)


class DeviceUnavailableError(AssertionError, RuntimeError):
    """Data sent to a device this build cannot use. torch raises AssertionError for CUDA on a
    CPU-only build; the class is also a RuntimeError so either `except` catches it."""


def _no_accelerator() -> RuntimeError:
    return RuntimeError(
        "Cannot access accelerator device when none is available (a bare integer device "
        "means an accelerator's index; this build of zengrad has only 'cpu')"
    )


def _index(value, text) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"device(): index must be an int or None, got {type(value).__name__} ({text!r})"
        )
    if value < 0:
        raise RuntimeError(f"Device index must not be negative, got {value}")
    return value


class device:  # noqa: N801  (torch's name)
    """A device type and index: device('cpu'), device('cuda:1'), device('cuda', 1)."""

    __slots__ = ("_type", "_index")

    def __init__(self, type, index: int | None = None) -> None:  # noqa: A002  (torch's name)
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): an index can't be given with a device object")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise _no_accelerator()
        if not isinstance(type, str):
            raise TypeError(
                f"device() expected a string, a device or an int, but got "
                f"{builtins.type(type).__name__}"
            )
        name, sep, idx = type.partition(":")
        if name not in _DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                f"string: {type}"
            )
        if sep:
            if index is not None:
                raise RuntimeError(
                    f"device(): type (string) must not include an index because index was "
                    f"passed explicitly: {type}"
                )
            if not idx.isdigit() or (len(idx) > 1 and idx[0] == "0"):
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        self._type = name
        self._index = None if index is None else _index(index, type)

    @property
    def type(self) -> str:  # noqa: A003
        """The device type: 'cpu', 'cuda', 'mps', ..."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device index, or None when the device names none ('cuda' rather than 'cuda:0')."""
        return self._index

    def __eq__(self, other) -> bool:
        if not isinstance(other, device):
            return False  # as torch: device('cpu') == 'cpu' is False
        return self._type == other._type and self._index == other._index

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __reduce__(self):
        return (device, (self._type, self._index))

    def __enter__(self) -> device:
        """`with device('cpu'):` makes it the default device of factories inside the block
        (torch's device context); the previous default comes back on exit."""
        _saved_defaults.append(_state["default"])
        _state["default"] = self
        return self

    def __exit__(self, *exc) -> None:
        _state["default"] = _saved_defaults.pop()


CPU = device("cpu")

# the default device of factories (torch.set_default_device); None means 'cpu'. A dict, so
# the functions below change it without a `global` statement
_state: dict = {"default": None}
_saved_defaults: list = []


def set_default_device(value) -> None:
    """Make factories (zeros, randn, tensor, ...) create on this device when they name none,
    as torch.set_default_device; None restores 'cpu'. Naming 'cuda' is allowed, as in
    torch, but every factory then raises torch's CPU-only-build error."""
    _state["default"] = None if value is None else as_device(value)


def get_default_device() -> device:
    """The device factories create on when they name none (device(type='cpu') by default)."""
    return _state["default"] or CPU


def as_device(value) -> device:
    """A device from what torch accepts as one: a device, a string or an int (an index)."""
    return value if isinstance(value, device) else device(value)


def check_available(value, what: str = "") -> device:
    """The device, when data can be put there: 'cpu' always; 'cuda' when CuPy and a GPU are
    there (or a module is registered for it, see backend.register_array_module). Else
    torch's error on a CPU-only build: AssertionError for CUDA (saying what to install),
    RuntimeError for MPS and other types."""
    dev = as_device(value)
    if dev._type == "cpu":
        return dev
    from zengrad import backend  # the backend sits above this module (it imports it)

    backend.module_for(dev, what)
    return dev


def unavailable(dev: device, what: str = ""):
    """Raise the error of a device type no backend computes on (not 'cpu', not 'cuda')."""
    where = f"{what}: " if what else ""
    if dev._type == "mps":
        raise DeviceUnavailableError(
            f"{where}PyTorch is not linked with support for mps devices: device '{dev}' is not "
            "available (zengrad runs on NumPy ('cpu') and CuPy ('cuda'))"
        )
    raise DeviceUnavailableError(
        f"{where}device '{dev}' is not available: zengrad runs on NumPy ('cpu') and CuPy "
        "('cuda')"
    )
