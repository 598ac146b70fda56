"""save / load of tensors in the safetensors format (no pickle anywhere).

File layout: an 8-byte little-endian header length N, N bytes of JSON
({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}),
then the raw little-endian tensor bytes. Loading reads the 8-byte length and the header
first and checks them against the file's real size (dtype names, at most 64 non-negative
dims, offsets inside the data, tensors tiling the data exactly, no repeated JSON keys,
string metadata) before any tensor is allocated; then each tensor's bytes are read
straight into its own array, so a load peaks at about 1x the file. A hostile or damaged
file is refused with a SafetensorsFormatError naming the file and the problem.
Writes are atomic (see zengrad.io.atomic).
Files load with `safetensors.numpy.load_file` and `safetensors.torch.load_file` too.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors.numpy import save as _st_save

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.io.atomic import atomic_write_bytes

MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit

_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}
_NUMPY_UNSUPPORTED = {"BF16", "F8_E5M2", "F8_E4M3"}
_NUMPY_DTYPE = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"), "U16": np.dtype("<u2"), "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"), "U32": np.dtype("<u4"), "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"), "U64": np.dtype("<u8"), "F64": np.dtype("<f8"),
}
MAX_DIMS = 64  # NumPy's limit


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
        value = value.array
    if backend.is_array(value) and type(value) is not np.ndarray:
        value = backend.asnumpy(value)  # a device tensor is written from a host copy
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


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    """json object_pairs_hook: a repeated key would silently keep only the last value."""
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def parse_json(raw: bytes | str, path, what: str, fail: Callable = _fail) -> Any:
    """raw (UTF-8 JSON text) parsed; duplicate object keys, nesting too deep for Python's
    parser and invalid text each raise fail(path, message) (a SafetensorsFormatError)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        raise fail(path, f"{what} repeats the key {e.key!r}"[:300]) from None
    except RecursionError:
        raise fail(path, f"{what} is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, or an int too long
        raise fail(path, f"{what} is not valid JSON ({str(e)[:200]})") from None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_entry(name: str, info: Any, data_len: int, path) -> tuple[int, int]:
    """(begin, end) of one tensor entry, after checking its dtype, shape and offsets."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        keys = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise _fail(path, f"tensor {name!r} must be an object with exactly the keys dtype, "
                          f"shape and data_offsets, got {_short(keys)}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
        raise _fail(path, f"tensor {name!r} has unknown dtype {_short(dtype)} "
                          f"(known: {', '.join(_ITEMSIZE)})")
    if not (isinstance(shape, list) and all(_is_int(s) and s >= 0 for s in shape)):
        raise _fail(path, f"tensor {name!r} has a bad shape {_short(shape)} (must be a "
                          "list of non-negative integers)")
    if len(shape) > MAX_DIMS:
        raise _fail(path, f"tensor {name!r} has {len(shape)} dimensions; at most "
                          f"{MAX_DIMS} are supported")
    # NumPy refuses shapes whose non-zero dimensions multiply past 2**63 bytes, even
    # when another dimension is 0; Python ints don't overflow, so check it here
    extent = math.prod(s for s in shape if s) * _ITEMSIZE[dtype]
    if extent >= 2**63:
        raise _fail(path, f"tensor {name!r} has shape {_short(shape)}, whose size "
                          "overflows 64 bits")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))
            and 0 <= offsets[0] <= offsets[1]):
        raise _fail(path, f"tensor {name!r} has bad data_offsets {_short(offsets)} (must be "
                          "[begin, end] with 0 <= begin <= end)")
    begin, end = offsets
    if end > data_len:
        raise _fail(path, f"tensor {name!r} ends at byte {end} of the data but the file "
                          f"holds only {data_len} data bytes (truncated?)")
    need = math.prod(shape) * _ITEMSIZE[dtype]
    if end - begin != need:
        raise _fail(path, f"tensor {name!r} of shape {shape} and dtype {dtype} needs "
                          f"{need} bytes, its data_offsets span {end - begin}")
    return begin, end


def _check_header(raw: bytes, data_len: int, path) -> tuple[dict, dict[str, str]]:
    """(tensor entries, metadata) of a header's JSON bytes, checked against the data size."""
    if not raw.lstrip().startswith(b"{"):
        raise _fail(path, "the header is not a JSON object")
    header = parse_json(raw, path, "the header")
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise _fail(path, f"__metadata__ must be an object of strings, got a "
                          f"{type(metadata).__name__}")
    for k, v in metadata.items():
        if not isinstance(v, str):
            raise _fail(path, f"__metadata__ value for {k!r} must be a string, got "
                              f"{_short(v)}"[:300])
    spans = sorted((*_check_entry(name, info, data_len, path), name)
                   for name, info in header.items())
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            what = "overlaps the tensor before it" if begin < pos else "leaves a hole before it"
            raise _fail(path, f"tensor {name!r} starts at data byte {begin}, expected {pos} "
                              f"(it {what}; the tensors must tile the data exactly)")
        pos = end
    if pos != data_len:
        raise _fail(path, f"the tensors cover {pos} data bytes but the file holds {data_len}")
    return header, metadata


def _header_length(prefix: bytes, total: int, path) -> int:
    if total < 8 or len(prefix) < 8:
        raise _fail(path, f"only {total} bytes, too short for the 8-byte header length")
    n = int.from_bytes(prefix[:8], "little")
    if n > MAX_HEADER_BYTES or n > total - 8:
        raise _fail(path, f"the header claims {n} bytes but the file has {total - 8} "
                          f"after the length field (limit {MAX_HEADER_BYTES}); the file is "
                          "truncated or is not safetensors")
    return n


def parse_header(data: bytes, path="<bytes>") -> tuple[dict, dict, int]:
    """(tensor entries, metadata, data start) of safetensors bytes, validated: the header
    length fits the file, the JSON is well formed (no repeated keys), every tensor's dtype
    (a known name), shape (at most 64 non-negative integers) and data_offsets ([begin,
    end] within the data, spanning prod(shape) * itemsize bytes) agree, the tensors tile
    the data region exactly, and the metadata maps strings to strings."""
    n = _header_length(data[:8], len(data), path)
    header, metadata = _check_header(bytes(data[8:8 + n]), len(data) - 8 - n, path)
    return header, metadata, 8 + n


def _numpy_dtype(header: dict, path) -> dict[str, np.dtype]:
    unsupported = {k: v["dtype"] for k, v in header.items()
                   if v["dtype"] in _NUMPY_UNSUPPORTED}
    if unsupported:
        raise SafetensorsFormatError(
            f"{path}: NumPy has no dtype for {unsupported}; convert these tensors to "
            "float32 before saving"
        )
    return {k: _NUMPY_DTYPE[v["dtype"]] for k, v in header.items()}


def _check_bools(name: str, arr: np.ndarray, path) -> None:
    # a byte other than 0/1 would make a NumPy bool that is neither True nor False
    if arr.dtype == np.bool_ and arr.size and arr.view(np.uint8).max() > 1:
        raise _fail(path, f"BOOL tensor {name!r} holds bytes other than 0 and 1")


def from_bytes(data: bytes, path="<bytes>") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(name -> writable ndarray, metadata) from validated safetensors bytes."""
    header, metadata, start = parse_header(data, path)
    dtypes = _numpy_dtype(header, path)
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data, dtypes[name], count=(end - begin) // dtypes[name].itemsize,
                            offset=start + begin).reshape(info["shape"]).copy()
        _check_bools(name, arr, path)
        out[name] = arr
    return out, metadata


def _open(path: str | os.PathLike) -> tuple[BinaryIO, Path]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return open(path, "rb"), path  # noqa: SIM115 - the callers close it


def _read_header(f: BinaryIO, path, total: int | None = None) -> tuple[dict, dict[str, str], int]:
    """Read and check only the header of an open file (nothing else is read); total is the
    number of bytes from the current position on (by default the file's size)."""
    if total is None:
        total = os.fstat(f.fileno()).st_size
    n = _header_length(f.read(8), total, path)
    raw = f.read(n)
    if len(raw) != n:
        raise _fail(path, "the file shrank while it was read")
    header, metadata = _check_header(raw, total - 8 - n, path)
    return header, metadata, 8 + n


def _read_into(f: BinaryIO, buf: memoryview, path, name: str) -> None:
    """Fill buf from the file's current position (read may return fewer bytes)."""
    got = 0
    while got < len(buf):
        k = f.readinto(buf[got:])
        if not k:
            raise _fail(path, f"the file ended inside tensor {name!r} (it shrank while it "
                              "was read)")
        got += k


def read_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(name -> writable ndarray, metadata) of a safetensors file.

    The header is read and checked against the file's size first; then each tensor's bytes
    are read straight into its own freshly allocated array, so loading holds about 1x the
    file in memory and never allocates more than the file really contains."""
    f, path = _open(path)
    with f:
        return _read_tensors(f, path, 0, None)


def _read_tensors(f: BinaryIO, path, origin: int,
                  total: int | None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    header, metadata, start = _read_header(f, path, total)
    dtypes = _numpy_dtype(header, path)
    out = {}
    for name, info in header.items():
        arr = np.empty(info["shape"], dtypes[name])
        begin = info["data_offsets"][0]
        f.seek(origin + start + begin)
        _read_into(f, memoryview(arr.reshape(-1).view(np.uint8)), path, name)
        _check_bools(name, arr, path)
        out[name] = arr
    return out, metadata


def read_stream(f: BinaryIO, path="<file object>") -> tuple[dict[str, np.ndarray],
                                                             dict[str, str]]:
    """(name -> writable ndarray, metadata) of safetensors bytes read from an open binary
    file object (a file, io.BytesIO ...) from its current position to its end, which is where
    the object is left. A seekable stream is read as a file is (header checked against the
    bytes that follow, then each tensor straight into its array); one that can't seek is read
    whole first (about 2x its size at the peak)."""
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{path}: the file object must be opened in binary mode ('rb'), "
                        "not text mode")
    seekable = getattr(f, "seekable", None)
    if not (callable(seekable) and seekable()):
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{path}: the file object must be opened in binary mode ('rb'); "
                            f"read() returned a {type(data).__name__}")
        return from_bytes(bytes(data), path)
    origin = f.tell()
    end = f.seek(0, os.SEEK_END)
    f.seek(origin)
    out = _read_tensors(f, path, origin, end - origin)
    f.seek(end)
    return out


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """name -> ndarray from a safetensors file (written by zengrad, torch, ...)."""
    return read_file(path)[0]


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file (its header's __metadata__); only the
    header is read."""
    f, path = _open(path)
    with f:
        return _read_header(f, path)[1]


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
