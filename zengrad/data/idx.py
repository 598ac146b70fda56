"""Read (and write) MNIST-format IDX files, plain or gzip-compressed, from a local path.

Layout (big-endian): two zero bytes, a dtype code, the number of dimensions d, then d
uint32 sizes, then the values in C order. Codes: 0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

_CODES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXFormatError(ValueError):
    """The file is not a well-formed IDX file."""


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == _GZIP_MAGIC else open(path, "rb")


def _read_upto(f, limit: int, chunk: int = 1 << 24) -> bytes:
    parts, got = [], 0
    while got < limit:
        part = f.read(min(chunk, limit - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (native byte order; uint8 stays uint8)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4:
                raise IDXFormatError(f"{path}: file too short for an IDX header "
                                     f"({len(head)} bytes)")
            if head[0] != 0 or head[1] != 0 or head[2] not in _CODES:
                raise IDXFormatError(
                    f"{path}: bad magic number 0x{head.hex()} (expected 0x0000 then a dtype "
                    f"code in {sorted(hex(c) for c in _CODES)} and the number of dimensions)"
                )
            dtype, ndim = _CODES[head[2]], head[3]
            if ndim == 0:
                raise IDXFormatError(f"{path}: header declares 0 dimensions")
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise IDXFormatError(f"{path}: truncated header: {ndim} dimensions declared, "
                                     f"only {len(dims_raw) // 4} sizes present")
            shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
            nbytes = math.prod(shape) * dtype.itemsize
            # read at most one byte more than declared, in chunks: a header claiming
            # terabytes costs only the bytes really there
            data = _read_upto(f, nbytes + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise IDXFormatError(f"{path}: can't read the file ({e})") from None
    if len(data) < nbytes:
        raise IDXFormatError(
            f"{path}: truncated data: shape {shape} of {dtype.name} needs {nbytes} bytes, "
            f"the file has {len(data)}"
        )
    if len(data) > nbytes:
        raise IDXFormatError(
            f"{path}: wrong dimensions: shape {shape} of {dtype.name} needs {nbytes} bytes, "
            "but the file has more data"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write array as an IDX file (gzip-compressed if compress, default: path ends in .gz)."""
    arr = np.ascontiguousarray(array)
    code = next((c for c, d in _CODES.items() if d.newbyteorder("=") == arr.dtype
                 or d == arr.dtype), None)
    if code is None:
        raise TypeError(f"write_idx: dtype {arr.dtype} has no IDX code "
                        f"(use one of {[d.name for d in _CODES.values()]})")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx: can't store a {arr.ndim}-d array")
    payload = (bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
               + arr.astype(_CODES[code]).tobytes())
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload)
    path.write_bytes(payload)
