"""Training checkpoints in one safetensors file: nested state (model and optimizer
state_dicts, scheduler state, epoch, RNG states, history ...) split into flat tensors plus a
JSON description in the header's __metadata__.

Encoding of the nested state (JSON, decoded without pickle):
  array / Tensor   -> {"__tensor__": key[, "type": "Tensor"]}, bytes stored under key
  NumPy scalar     -> {"__scalar__": key}  (0-d tensor; keeps its dtype, e.g. float32)
  tuple            -> {"__tuple__": [...]}
  dict, str keys   -> {...}; other keys -> {"__dict__": [[key, value], ...]}
  int, float, str, bool, None, list -> themselves
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.io.atomic import atomic_write_bytes
from zengrad.io.safetensors_io import SafetensorsFormatError, _read, from_bytes, to_bytes

FORMAT_KEY = "zengrad_checkpoint"
FORMAT_VERSION = "1"
_MARKERS = ("__tensor__", "__scalar__", "__tuple__", "__dict__")


def _join(path: str, key) -> str:
    return f"{path}/{key}" if path else str(key)


def _unique(path: str, tensors: Mapping) -> str:
    """path, suffixed if taken (keys 1 and '1', or keys holding '/', can meet)."""
    key, n = path, 0
    while key in tensors:
        n += 1
        key = f"{path}#{n}"
    return key


def _encode(obj: Any, path: str, tensors: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        path = _unique(path, tensors)
    if isinstance(obj, Tensor):
        tensors[path] = obj.data
        return {"__tensor__": path, "type": "Tensor"}
    if isinstance(obj, np.ndarray):
        tensors[path] = obj
        return {"__tensor__": path}
    if isinstance(obj, np.generic):
        tensors[path] = np.asarray(obj)
        return {"__scalar__": path}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, _join(path, i), tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, _join(path, i), tensors) for i, v in enumerate(obj)]
    if isinstance(obj, Mapping):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
        if plain:
            return {k: _encode(v, _join(path, k), tensors) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"checkpoint: key {k!r} at {path} is not a JSON scalar")
            items.append([k, _encode(v, _join(path, k), tensors)])
        return {"__dict__": items}
    raise TypeError(f"checkpoint: can't store a {type(obj).__name__} (at {path})")


def _decode(obj: Any, tensors: Mapping[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    marker = next((m for m in _MARKERS if m in obj), None)
    if marker is None:
        return {k: _decode(v, tensors, where) for k, v in obj.items()}
    if marker in ("__tensor__", "__scalar__"):
        key = obj[marker]
        if key not in tensors:
            raise SafetensorsFormatError(f"{where}: checkpoint refers to tensor {key!r}, "
                                         "which the file does not hold")
        arr = tensors[key]
        if marker == "__scalar__":
            return arr[()]
        return Tensor._make(arr, False, None) if obj.get("type") == "Tensor" else arr
    if marker == "__tuple__":
        return tuple(_decode(v, tensors, where) for v in obj["__tuple__"])
    return {k: _decode(v, tensors, where) for k, v in obj["__dict__"]}


def checkpoint_bytes(state: Mapping[str, Any]) -> bytes:
    tensors: dict[str, np.ndarray] = {}
    description = _encode(dict(state), "", tensors)
    meta = {FORMAT_KEY: FORMAT_VERSION, "state": json.dumps(description)}
    return to_bytes(tensors, meta)


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a nested training state (dicts, lists, tuples, arrays, Tensors, numbers,
    strings) atomically to path."""
    atomic_write_bytes(path, checkpoint_bytes(state))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The nested state written by save_checkpoint (arrays come back as writable ndarrays,
    Tensors as Tensors, NumPy scalars with their dtype)."""
    data, path = _read(path)
    tensors, meta = from_bytes(data, path)
    if meta.get(FORMAT_KEY) != FORMAT_VERSION:
        raise SafetensorsFormatError(
            f"{path}: not a zengrad training checkpoint (no {FORMAT_KEY!r} "
            f"= {FORMAT_VERSION!r} in its metadata; a plain weights file loads with "
            "zengrad.io.load)"
        )
    try:
        description = json.loads(meta["state"])
    except (KeyError, json.JSONDecodeError) as e:
        raise SafetensorsFormatError(f"{path}: damaged checkpoint description ({e})") from None
    return _decode(description, tensors, str(Path(path)))
