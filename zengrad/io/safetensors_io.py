"""save / load of tensors in the safetensors format (no pickle anywhere).

File layout: an 8-byte little-endian header length N, N bytes of JSON
({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}),
then the raw little-endian tensor bytes. The header is checked against the file's real
size before anything is parsed or allocated, so a hostile or damaged file is refused with
an error naming the file and the problem. Writes are atomic (see zengrad.io.atomic).
Files load with `safetensors.numpy.load_file` and `safetensors.torch.load_file` too.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from zengrad.autograd.tensor import Tensor
from zengrad.io.atomic import atomic_write_bytes

MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit

_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}
_NUMPY_UNSUPPORTED = {"BF16", "F8_E5M2", "F8_E4M3"}


class SafetensorsFormatError(ValueError):
    """A file is not a valid safetensors file (or not what the caller expected)."""


def _as_state(obj) -> Mapping:
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        return obj.state_dict()
    if isinstance(obj, Mapping):
        return obj
    raise TypeError(f"save expects a state_dict (mapping of name -> Tensor/ndarray) or a "
                    f"Module, got {type(obj).__name__}")


def _to_numpy(name, value) -> np.ndarray:
    if not isinstance(name, str):
        raise TypeError(f"save: tensor names must be strings, got {name!r}")
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, (np.ndarray, np.generic)):
        raise TypeError(f"save: the value for {name!r} is a {type(value).__name__}, not a "
                        "Tensor or ndarray")
    arr = np.asarray(value, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"save: {name!r} has dtype {arr.dtype}, which safetensors can't store")
    return arr


def to_bytes(tensors: Mapping, metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialize name -> Tensor/ndarray (and string metadata) to safetensors bytes."""
    arrays = {k: _to_numpy(k, v) for k, v in tensors.items()}
    if metadata is not None:
        bad = {k: type(v).__name__ for k, v in metadata.items()
               if not isinstance(k, str) or not isinstance(v, str)}
        if bad:
            raise TypeError(f"save: metadata keys and values must be strings; not: {bad}")
        metadata = dict(metadata)
    return _st_save(arrays, metadata=metadata)


def save(state_dict_or_module, path: str | os.PathLike,
         metadata: Mapping[str, str] | None = None) -> None:
    """Write a state_dict (or a Module's) to path in the safetensors format, atomically."""
    atomic_write_bytes(path, to_bytes(_as_state(state_dict_or_module), metadata))


def _fail(path, msg: str) -> SafetensorsFormatError:
    return SafetensorsFormatError(f"{path}: not a valid safetensors file: {msg}")


def parse_header(data: bytes, path="<bytes>") -> tuple[dict, dict, int]:
    """(tensor entries, metadata, data start) of safetensors bytes, validated: the header
    length fits the file, the JSON is well formed, every tensor's dtype, shape and offsets
    agree, and the tensors tile the data region exactly."""
    if len(data) < 8:
        raise _fail(path, f"only {len(data)} bytes, too short for the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES or n > len(data) - 8:
        raise _fail(path, f"the header claims {n} bytes but the file has {len(data) - 8} "
                          f"after the length field (limit {MAX_HEADER_BYTES}); the file is "
                          "truncated or is not safetensors")
    raw = data[8:8 + n]
    if not raw.lstrip().startswith(b"{"):
        raise _fail(path, "the header is not a JSON object")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "__metadata__ must map strings to strings")
    data_len = len(data) - 8 - n
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _fail(path, f"bad entry for tensor {name!r}: {info!r}"[:300])
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _ITEMSIZE:
            raise _fail(path, f"tensor {name!r} has unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            raise _fail(path, f"tensor {name!r} has a bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            raise _fail(path, f"tensor {name!r} has bad data_offsets {offsets!r}")
        if offsets[1] > data_len:
            raise _fail(path, f"tensor {name!r} ends at byte {offsets[1]} of the data but the "
                              f"file holds only {data_len} data bytes (truncated?)")
        need = math.prod(shape) * _ITEMSIZE[dtype]
        if offsets[1] - offsets[0] != need:
            raise _fail(path, f"tensor {name!r} of shape {shape} and dtype {dtype} needs "
                              f"{need} bytes, its offsets span {offsets[1] - offsets[0]}")
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise _fail(path, f"tensor {name!r} starts at byte {begin}, expected {pos} "
                              "(overlapping tensors or a hole in the data)")
        pos = end
    if pos != data_len:
        raise _fail(path, f"the tensors cover {pos} data bytes but the file holds {data_len}")
    return header, metadata, 8 + n


def _read(path: str | os.PathLike) -> tuple[bytes, Path]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path.read_bytes(), path


def from_bytes(data: bytes, path="<bytes>") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(name -> writable ndarray, metadata) from validated safetensors bytes."""
    header, metadata, _ = parse_header(data, path)
    unsupported = {k: v["dtype"] for k, v in header.items()
                   if v["dtype"] in _NUMPY_UNSUPPORTED}
    if unsupported:
        raise SafetensorsFormatError(
            f"{path}: NumPy has no dtype for {unsupported}; convert these tensors to "
            "float32 before saving"
        )
    try:
        tensors = _st_load(data)
    except SafetensorError as e:
        raise _fail(path, str(e)) from None
    # the arrays must be writable and independent of the file buffer
    return {k: np.array(v, copy=True) for k, v in tensors.items()}, metadata


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """name -> ndarray from a safetensors file (written by zengrad, torch, ...)."""
    data, path = _read(path)
    return from_bytes(data, path)[0]


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file (its header's __metadata__)."""
    data, path = _read(path)
    return parse_header(data, path)[1]


def load_into(module, path: str | os.PathLike, strict: bool = True):
    """Load the weights in path into module (via load_state_dict); a file that doesn't fit
    the architecture raises RuntimeError naming the file and every mismatch."""
    state = load(path)
    try:
        return module.load_state_dict(state, strict=strict)
    except (RuntimeError, TypeError, ValueError) as e:
        raise RuntimeError(
            f"{path}: the weights don't fit {type(module).__name__}: {e}"
        ) from None
