"""Training checkpoints in one safetensors file: nested state (model and optimizer
state_dicts, scheduler state, epoch, RNG states, history ...) split into flat tensors plus a
JSON description in the header's __metadata__.

Encoding of the nested state (JSON, decoded without pickle):
  array / Tensor   -> {"__tensor__": key[, "type": "Tensor"][, "device": "cuda:0"]}, the
                      bytes stored under key (a device array's copied to the host; its
                      location recorded, CPU arrays record none)
  NumPy scalar     -> {"__scalar__": key}  (0-d tensor; keeps its dtype, e.g. float32)
  tuple            -> {"__tuple__": [...]}
  dict, str keys   -> {...}; other keys -> {"__dict__": [[key, value], ...]}
  int, float, str, bool, None, list -> themselves
  a whole Module   -> {"__module__": ...}  (only in files written by zengrad.save; see
                      zengrad.io.module_record)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zengrad import backend
from zengrad import devices as _device
from zengrad.autograd.tensor import Tensor
from zengrad.io.atomic import atomic_write_bytes
from zengrad.io.locations import CPU, location_of, place, restorer
from zengrad.io.safetensors_io import SafetensorsFormatError, parse_json, read_file, to_bytes

FORMAT_KEY = "zengrad_checkpoint"
FORMAT_VERSION = "1"
_MARKERS = ("__tensor__", "__scalar__", "__tuple__", "__dict__", "__module__")


def _join(path: str, key) -> str:
    return f"{path}/{key}" if path else str(key)


def _unique(path: str, tensors: Mapping) -> str:
    """path, suffixed if taken (keys 1 and '1', or keys holding '/', can meet)."""
    key, n = path, 0
    while key in tensors:
        n += 1
        key = f"{path}#{n}"
    return key


def _encode(obj: Any, path: str, tensors: dict[str, np.ndarray],
            other: Callable | None = None) -> Any:
    """obj's JSON description; its arrays go into tensors. other(obj, path, tensors), when
    given, describes the objects this encoding doesn't know (a Module) or returns None."""
    device_array = backend.is_array(obj) and type(obj) is not np.ndarray
    if device_array or isinstance(obj, (Tensor, np.ndarray, np.generic)):
        path = _unique(path, tensors)
    if device_array:  # (an optimizer's state on a device holds raw device arrays)
        tensors[path] = backend.asnumpy(obj)
        return {"__tensor__": path, "device": str(backend.device_of(obj))}
    if isinstance(obj, Tensor):
        arr = obj.array
        if type(arr) is np.ndarray:
            tensors[path] = arr
            return {"__tensor__": path, "type": "Tensor"}
        # a device tensor: its bytes copied to the host, its location recorded (as torch)
        tensors[path] = backend.asnumpy(arr)
        return {"__tensor__": path, "type": "Tensor", "device": location_of(obj)}
    if isinstance(obj, np.ndarray):
        tensors[path] = obj
        return {"__tensor__": path}
    if isinstance(obj, np.generic):
        tensors[path] = np.asarray(obj)
        return {"__scalar__": path}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, _join(path, i), tensors, other)
                              for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, _join(path, i), tensors, other) for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
        if plain:
            return {k: _encode(v, _join(path, k), tensors, other) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"checkpoint: key {k!r} at {path} is not a JSON scalar")
            items.append([k, _encode(v, _join(path, k), tensors, other)])
        return {"__dict__": items}
    if other is not None:
        described = other(obj, path, tensors)
        if described is not None:
            return described
    raise TypeError(f"checkpoint: can't store a {type(obj).__name__} (at {path})")


class CheckpointError(SafetensorsFormatError):
    """A checkpoint file is a valid safetensors file but its training state is damaged or
    doesn't fit: the message names the file and the field."""


MAX_DEPTH = 100  # nesting of the state description; real training states use < 10


def field_error(path, field: str, problem: str) -> CheckpointError:
    """CheckpointError "path: field 'field' problem"."""
    return CheckpointError(f"{path}: field {field!r} {problem}")


def _damaged(path, msg: str) -> CheckpointError:
    return CheckpointError(f"{path}: damaged checkpoint: {msg}")


def _decode(obj: Any, tensors: Mapping[str, np.ndarray], path, field: str,
            depth: int = 0, other: Callable | None = None,
            restore: Callable | None = None) -> Any:
    """The state obj describes. other(record, tensors, path, field, restore) rebuilds a
    {"__module__": record}; without it such a record is refused. Tensors go where
    restore (locations.restorer(map_location)) puts them; None: where they were saved."""
    if depth > MAX_DEPTH:
        raise field_error(path, field, f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, list):
        return [_decode(v, tensors, path, _join(field, i), depth + 1, other, restore)
                for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    marker = next((m for m in _MARKERS if m in obj), None)
    if marker is None:
        return {k: _decode(v, tensors, path, _join(field, k), depth + 1, other, restore)
                for k, v in obj.items()}
    allowed = {marker, "type", "device"} if marker == "__tensor__" else {marker}
    if set(obj) - allowed:
        raise field_error(path, field, f"is a damaged {marker} record: unexpected keys "
                                       f"{sorted(set(obj) - allowed)}")
    if marker == "__module__":
        if other is None:
            raise field_error(path, field, "holds a whole module (saved by zengrad.save); "
                                           "load the file with zengrad.load")
        return other(obj[marker], tensors, path, field, restore)
    if marker in ("__tensor__", "__scalar__"):
        key = obj[marker]
        if not isinstance(key, str):
            raise field_error(path, field, f"must name a stored tensor ({marker}: a string), "
                                           f"got {_short(key)}")
        if key not in tensors:
            raise field_error(path, field, f"refers to tensor {key!r}, which the file "
                                           "does not hold")
        if obj.get("type", "Tensor") != "Tensor":
            raise field_error(path, field, f"has unknown tensor type {_short(obj['type'])}")
        arr = tensors[key]
        if marker == "__scalar__":
            if arr.shape != ():
                raise field_error(path, field, f"is a scalar but tensor {key!r} has shape "
                                               f"{arr.shape}")
            return arr[()]
        location = _location(obj.get("device", CPU), path, field)
        if location == CPU and restore is None:
            return Tensor._make(arr, False, None) if "type" in obj else arr
        placed = place(Tensor._make(arr, False, None), location, restore)
        return placed if "type" in obj else placed.array
    items = obj[marker]
    if not isinstance(items, list):
        raise field_error(path, field, f"is a damaged {marker} record: expected a list, got "
                                       f"{_short(items)}")
    if marker == "__tuple__":
        return tuple(_decode(v, tensors, path, _join(field, i), depth + 1, other, restore)
                     for i, v in enumerate(items))
    out = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and (
                item[0] is None or isinstance(item[0], (bool, int, float, str)))):
            raise field_error(path, field, "is a damaged __dict__ record: items must be "
                                           f"[scalar key, value] pairs, got {_short(item)}")
        out[item[0]] = _decode(item[1], tensors, path, _join(field, item[0]), depth + 1,
                               other, restore)
    return out


def _location(value: Any, path, field: str) -> str:
    """A recorded storage location ('cpu', 'cuda:0'), checked."""
    try:
        if not isinstance(value, str):
            raise ValueError(f"not a string: {_short(value)}")
        return str(_device.as_device(value))
    except (ValueError, RuntimeError, TypeError) as e:
        raise field_error(path, field, f"has a bad device {_short(value)} ({e})"[:300]) from None


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def checkpoint_bytes(state: Mapping[str, Any]) -> bytes:
    tensors: dict[str, np.ndarray] = {}
    description = _encode(dict(state), "", tensors)
    meta = {FORMAT_KEY: FORMAT_VERSION, "state": json.dumps(description)}
    return to_bytes(tensors, meta)


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a nested training state (dicts, lists, tuples, arrays, Tensors, numbers,
    strings) atomically to path."""
    atomic_write_bytes(path, checkpoint_bytes(state))


def load_checkpoint(path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
    """The nested state written by save_checkpoint (arrays come back as writable ndarrays,
    Tensors as Tensors, NumPy scalars with their dtype). Tensors saved from a device go
    back there, or where map_location says (as torch.load's: a device, a dict renaming
    saved locations, or a callable; see zengrad.io.locations). A file that is not
    safetensors raises SafetensorsFormatError; a damaged state description raises
    CheckpointError naming the file and the field."""
    restore = restorer(map_location)
    path = Path(path)
    tensors, meta = read_file(path)
    if meta.get(FORMAT_KEY) != FORMAT_VERSION:
        raise SafetensorsFormatError(
            f"{path}: not a zengrad training checkpoint (no {FORMAT_KEY!r} "
            f"= {FORMAT_VERSION!r} in its metadata; a plain weights file loads with "
            "zengrad.io.load)"
        )
    if "state" not in meta:
        raise _damaged(path, "its metadata has no 'state'")
    description = parse_json(meta["state"], path, "the state description", _damaged)
    if not isinstance(description, dict):
        raise _damaged(path, f"the state description is a {type(description).__name__}, "
                             "not an object")
    try:
        return _decode(description, tensors, path, "", restore=restore)
    except RecursionError:
        raise _damaged(path, "the state description is nested too deeply") from None


# ----- checks for code that loads a checkpoint into live objects (Trainer.load_checkpoint)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_))


def _kind(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "a bool"
    if _is_number(x):
        return "a number"
    if isinstance(x, str):
        return "a string"
    if isinstance(x, (list, tuple)):
        return "a list"
    if isinstance(x, Mapping):
        return "a dict"
    if isinstance(x, Tensor) or backend.is_array(x):
        return "an array"
    return f"a {type(x).__name__}"


def check_like(value: Any, like: Any, path, field: str, top: bool = True) -> None:
    """Raise CheckpointError unless value has the structure of like (the state_dict() of
    the object it is about to be loaded into): numbers for numbers, bools for bools,
    strings for strings, arrays for arrays, lists for lists (elements compared pairwise),
    dicts for dicts with the same keys at the top (nested dicts: the keys both have).
    None on either side matches anything (optional state, e.g. a best path not written
    yet)."""
    if value is None or like is None:
        return
    if _kind(value) != _kind(like):
        raise field_error(path, field, f"must be {_kind(like)} (like {_short(like)}), got "
                                       f"{_short(value)}")
    if isinstance(like, (list, tuple)):
        for i, (v, w) in enumerate(zip(value, like)):
            check_like(v, w, path, _join(field, i), top=False)
    elif isinstance(like, Mapping):
        if top:
            missing = [k for k in like if k not in value]
            extra = [k for k in value if k not in like]
            if missing or extra:
                raise field_error(path, field, "doesn't match the object it is loaded into "
                                               f"(missing keys {missing}, unexpected keys "
                                               f"{extra}); was it saved by another kind?")
        for k in like:
            if k in value:
                check_like(value[k], like[k], path, _join(field, k), top=False)


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return type(a) is type(b) and a == b or (_is_number(a) and _is_number(b) and a == b)


def check_rng_state(state: Any, path, field: str, bit_generator: str | None = None) -> None:
    """Raise CheckpointError unless state is a valid NumPy bit generator state (of the
    named kind, if given): it is set on a fresh generator, never on a live one, and must
    read back unchanged (NumPy would otherwise wrap out-of-range numbers silently)."""
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if name not in _BIT_GENERATORS:
        raise field_error(path, field, "must be a NumPy random generator state (a dict "
                                       f"with 'bit_generator' one of {_BIT_GENERATORS}), "
                                       f"got {_short(state)}")
    if bit_generator is not None and name != bit_generator:
        raise field_error(path, field, f"is a {name} state; this generator is a "
                                       f"{bit_generator}")
    gen = getattr(np.random, name)()
    try:
        gen.state = state
        ok = _same(gen.state, dict(state))
    except Exception as e:  # noqa: BLE001 - NumPy's own checks, on a throwaway generator
        raise field_error(path, field, f"is not a valid {name} state ({e})") from None
    if not ok:
        raise field_error(path, field, f"is not a valid {name} state (values out of range)")
