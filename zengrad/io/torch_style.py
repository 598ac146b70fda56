"""zengrad.save / zengrad.load, as torch.save / torch.load, without pickle.

What torch programs save (a state_dict; a training checkpoint {'epoch': 3, 'model': sd,
'optimizer': opt.state_dict()}; a whole module) is written to one safetensors file: the
tensors as safetensors tensors, everything else as the JSON state description of
zengrad.io.checkpoint in the header's metadata. A whole module is stored as its state_dict
plus a JSON record of its tree (zengrad.io.module_record); loading rebuilds it by calling the
recorded constructors, only for zengrad's own layers and the classes the allow-list names
(zengrad.serialization.safe_globals). Nothing in a file is ever executed or unpickled.

A state_dict saved this way is a plain safetensors file whose tensor names are the
state_dict's keys (safetensors.torch.load_file reads it); zengrad.load reads any
safetensors file, returning {name: Tensor} for one zengrad didn't write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.io.atomic import atomic_write_bytes
from zengrad.io.checkpoint import (
    FORMAT_KEY,
    FORMAT_VERSION,
    CheckpointError,
    _damaged,
    _decode,
    _encode,
)
from zengrad.io.locations import CPU, place, restorer
from zengrad.io.module_record import module_record, rebuild_module
from zengrad.io.safetensors_io import (
    SafetensorsFormatError,
    parse_json,
    read_file,
    read_stream,
    to_bytes,
)

_MODULE_KEYS = {"tree", "state_dict", "frozen", "tied"}


def _encode_module(obj: Any, path: str, tensors: dict[str, np.ndarray]) -> dict | None:
    from zengrad.nn.module import Module

    if not isinstance(obj, Module):
        return None
    tree = module_record(obj)
    # the weights sit under the module's own path, so that two modules don't collide
    state = _encode(dict(obj.state_dict()), path, tensors)
    frozen, tied, first = [], [], {}
    for name, p in obj.named_parameters(remove_duplicate=False):
        if not p.requires_grad:
            frozen.append(name)
        if id(p) in first:  # weight tying (decoder.weight = encoder.weight)
            tied.append([name, first[id(p)]])
        else:
            first[id(p)] = name
    return {"__module__": {"tree": tree, "state_dict": state, "frozen": frozen,
                           "tied": tied}}


def _decode_module(record: Any, tensors: Mapping[str, np.ndarray], path, field: str,
                   restore=None):
    if not isinstance(record, dict) or set(record) != _MODULE_KEYS:
        raise _damaged(path, f"the module record at {field or '<root>'!r} must have the keys "
                             f"{sorted(_MODULE_KEYS)}")
    state = _decode(record["state_dict"], tensors, path, f"{field}/state_dict",
                    restore=restore)
    frozen = record["frozen"]
    if not isinstance(state, dict) or not isinstance(frozen, list) or not all(
            isinstance(n, str) for n in frozen):
        raise _damaged(path, f"the module record at {field or '<root>'!r} has a bad "
                             "state_dict or frozen list")
    module = rebuild_module(record["tree"], path, sum(a.size for a in tensors.values()))
    devices = {v.device for v in state.values() if isinstance(v, Tensor)}
    if len(devices) == 1:  # the rebuilt module where its weights were loaded (as torch's)
        module.to(devices.pop())
    _tie(module, record["tied"], path, field)
    targets = dict(module.state_dict(keep_vars=True))
    for key, value in state.items():
        target = targets.get(key)
        arr = value.array if isinstance(value, Tensor) else value
        # keep the saved dtype (a model cast with .double() after it was built)
        if (target is not None and backend.is_array(arr) and arr.shape == target.shape
                and arr.dtype != target.array.dtype and arr.dtype.kind == "f"
                and target.array.dtype.kind == "f"):
            target.array = target.array.astype(arr.dtype)
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: the saved weights don't fit the rebuilt "
                              f"{type(module).__name__}: {e}") from None
    params = dict(module.named_parameters(remove_duplicate=False))
    for name in frozen:
        if name not in params:
            raise _damaged(path, f"the frozen parameter {name!r:.100} is not in the module")
        params[name].requires_grad_(False)
    return module


def _tie(module, tied: Any, path, field: str) -> None:
    """Share the parameters the saved module shared (where its constructor didn't)."""
    params = dict(module.named_parameters(remove_duplicate=False))
    if not isinstance(tied, list):
        raise _damaged(path, f"the module record at {field or '<root>'!r} has a bad tied list")
    for pair in tied:
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(n, str) and n in params for n in pair)):
            raise _damaged(path, f"the tied pair {pair!r:.100} doesn't name two parameters of "
                                 "the module")
        name, first = pair
        if params[name] is not params[first]:
            owner, _, leaf = name.rpartition(".")
            setattr(module.get_submodule(owner), leaf, params[first])
            params[name] = params[first]


def _file_bytes(obj: Any, metadata: Mapping[str, str] | None) -> bytes:
    tensors: dict[str, np.ndarray] = {}
    description = _encode(obj, "", tensors, _encode_module)
    if "" in tensors:  # a bare tensor: give it a name safetensors readers can show
        tensors["tensor"] = tensors.pop("")
        description["__tensor__" if "__tensor__" in description else "__scalar__"] = "tensor"
    meta = {FORMAT_KEY: FORMAT_VERSION, "state": json.dumps(description)}
    for k, v in (metadata or {}).items():
        if k in meta:
            raise ValueError(f"save: metadata key {k!r} is reserved")
        meta[k] = v
    return to_bytes(tensors, meta)


def save(obj: Any, f: str | os.PathLike | BinaryIO, pickle_module: Any = None,
         pickle_protocol: int | None = None, _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False, *,
         metadata: Mapping[str, str] | None = None) -> None:
    """Save obj to f (a path, written atomically, or a binary file object such as io.BytesIO),
    as torch.save. obj is a state_dict, a nested state of dicts, lists, tuples, Tensors,
    arrays, numbers, strings, bools and None (an optimizer's state_dict, a checkpoint), or a
    whole Module (anywhere in it), which is stored as its weights plus a JSON record of its
    module tree and constructor arguments. The pickle arguments are accepted and ignored (no
    pickle is written); metadata adds string entries to the safetensors header. Something
    else (an arbitrary object, a module built with an argument that isn't a number, string,
    bool, None, dtype or submodule) raises TypeError naming it."""
    data = _file_bytes(obj, metadata)
    if isinstance(f, (str, os.PathLike)):
        atomic_write_bytes(f, data)
        return
    write = getattr(f, "write", None)
    if not callable(write):
        raise TypeError(f"save: f must be a path or a binary file object with write(), got "
                        f"{type(f).__name__}")
    write(data)


def _peek(f: Any) -> bytes:
    """The first 4 bytes load will read (b"" where they can't be read back)."""
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                return fh.read(4)
        if f.seekable():
            pos = f.tell()
            head = f.read(4)
            f.seek(pos)
            return head if isinstance(head, bytes) else b""
    except (OSError, AttributeError, ValueError):
        pass  # the reader reports a missing file or a bad stream itself
    return b""


def load(f: str | os.PathLike | BinaryIO, map_location: Any = None, pickle_module: Any = None,
         *, weights_only: bool = True, mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """What save wrote to f (a path or a binary file object, read from its current
    position), as torch.load: state_dicts come back as {name: Tensor}, whole modules
    rebuilt. Any safetensors file loads ({name: Tensor} for one zengrad didn't write).

    Loading never executes code from the file: weights_only=False is accepted and behaves
    exactly as True (nothing is ever unpickled). A whole module is rebuilt only from
    zengrad's own layers and the classes allowed by zengrad.serialization.safe_globals /
    add_safe_globals; another class raises an UnsafeGlobalError that names the class to allow.
    map_location is torch's (zengrad.io.locations): None puts tensors back on the device
    they were saved from ('cpu' for files zengrad didn't write), a device name or device
    puts every tensor there, a dict renames saved locations ({'cuda:0': 'cpu'}), a callable
    f(tensor, location) returns the tensor to use; pickle_module, mmap and
    pickle_load_args are ignored. A damaged file raises SafetensorsFormatError or
    CheckpointError (both ValueErrors) naming the file and the problem."""
    restore = restorer(map_location)
    if isinstance(f, (str, os.PathLike)):
        path: Any = os.fspath(f)
    else:
        if not callable(getattr(f, "read", None)):
            raise TypeError(f"load: f must be a path or a binary file object with read(), "
                            f"got {type(f).__name__}")
        path = getattr(f, "name", None)
        path = path if isinstance(path, str) else f"<{type(f).__name__}>"
    start = _peek(f)
    try:
        tensors, meta = (read_file(f) if isinstance(f, (str, os.PathLike))
                         else read_stream(f, path))
    except SafetensorsFormatError as e:
        if start.startswith((b"PK\x03\x04", b"\x80")):
            raise SafetensorsFormatError(
                f"{path}: this looks like a file written by torch.save (a zip archive or a "
                "pickle), which zengrad never reads because unpickling runs code from the "
                "file; in torch, save the state_dict with "
                "safetensors.torch.save_file(model.state_dict(), path) and load that") from e
        raise
    if FORMAT_KEY not in meta:
        return {name: place(Tensor._make(arr, False, None), CPU, restore)
                for name, arr in tensors.items()}
    if meta[FORMAT_KEY] != FORMAT_VERSION:
        raise SafetensorsFormatError(f"{path}: written by another zengrad format version "
                                     f"({meta[FORMAT_KEY]!r:.40}; this one reads "
                                     f"{FORMAT_VERSION!r})")
    if "state" not in meta:
        raise _damaged(path, "its metadata has no 'state'")
    description = parse_json(meta["state"], path, "the state description", _damaged)
    try:
        return _decode(description, tensors, path, "", 0, _decode_module, restore)
    except RecursionError:
        raise _damaged(path, "the state description is nested too deeply") from None

