"""save / load in the safetensors format: interop with the safetensors library and torch,
atomic writes, and refusal of damaged or hostile files (no pickle, nothing executed)."""

import json
import os
import pickle

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import zengrad as zg
from zengrad import nn
from zengrad.io import (
    SafetensorsFormatError,
    atomic_write_bytes,
    load,
    load_into,
    load_metadata,
    save,
)
from zengrad.io import atomic as atomic_mod


def _mlp(hidden=16):
    return nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 3))


def test_module_round_trip_and_library_interop(tmp_path):
    model = _mlp()
    path = tmp_path / "m.safetensors"
    save(model, path, metadata={"note": "hi"})
    ref = {k: v.data for k, v in model.state_dict().items()}
    for loaded in (load(path), safetensors.numpy.load_file(str(path))):
        assert set(loaded) == set(ref)
        for k in ref:
            assert loaded[k].dtype == ref[k].dtype
            np.testing.assert_array_equal(loaded[k], ref[k])
    assert load_metadata(path) == {"note": "hi"}
    twin = _mlp()
    load_into(twin, path)
    x = zg.randn(4, 8)
    np.testing.assert_array_equal(twin(x).data, model(x).data)
    # loaded arrays are writable copies (optimizer state is updated in place)
    assert all(a.flags.writeable for a in load(path).values())


def test_zero_dim_and_mixed_dtypes(tmp_path):
    state = {"s": np.array(2.5, np.float64), "i": np.arange(3, dtype=np.int64),
             "b": np.array([True, False]), "t": zg.ones(2, 2, dtype=np.float16)}
    save(state, tmp_path / "x.safetensors")
    back = load(tmp_path / "x.safetensors")
    assert back["s"].shape == () and back["s"] == 2.5
    assert back["b"].dtype == np.bool_ and back["t"].dtype == np.float16


def test_torch_export_loads_into_the_zengrad_twin(tmp_path):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(tm.state_dict(), str(path))
    zm = _mlp()
    load_into(zm, path)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    with torch.no_grad():
        expected = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(zm(zg.from_numpy(x)).data, expected, rtol=1e-5, atol=1e-6)
    # and the other way: a zengrad file loads into torch
    save(zm, tmp_path / "zg.safetensors")
    tm2 = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    tm2.load_state_dict(safetensors.torch.load_file(str(tmp_path / "zg.safetensors")))
    with torch.no_grad():
        np.testing.assert_allclose(tm2(torch.from_numpy(x)).numpy(), expected, rtol=1e-6)


def test_wrong_architecture_names_file_and_mismatch(tmp_path):
    path = tmp_path / "m.safetensors"
    save(_mlp(16), path)
    with pytest.raises(RuntimeError) as err:
        load_into(_mlp(32), path)
    msg = str(err.value)
    assert str(path) in msg and "size mismatch for 0.weight" in msg
    save({"other.weight": np.zeros(2, np.float32)}, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_into(_mlp(16), path)


def test_crash_mid_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save(_mlp(), path)
    good = path.read_bytes()

    def half_then_die(fd, data):
        os.write(fd, bytes(data)[: len(data) // 2])
        raise OSError("disk on fire")

    monkeypatch.setattr(atomic_mod, "_write_all", half_then_die)
    with pytest.raises(OSError, match="disk on fire"):
        save(_mlp(64), path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temp file left behind
    monkeypatch.undo()

    def no_rename(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_mod.os, "replace", no_rename)
    with pytest.raises(KeyboardInterrupt):
        save(_mlp(64), path)
    monkeypatch.undo()
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["m.safetensors"]
    load_into(_mlp(), path)


def test_atomic_write_keeps_permissions(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_bytes(p, b"a")
    assert p.stat().st_mode & 0o777 == 0o666 & ~atomic_mod._UMASK
    os.chmod(p, 0o640)
    atomic_write_bytes(p, b"b")
    assert p.read_bytes() == b"b" and p.stat().st_mode & 0o777 == 0o640


class _Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _hostile_files(tmp_path):
    marker = tmp_path / "PWNED"
    good = safetensors.numpy.save({"w": np.ones((2, 2), np.float32)})
    n = int.from_bytes(good[:8], "little")
    header = json.loads(good[8:8 + n])

    def with_header(h):
        raw = json.dumps(h).encode()
        return len(raw).to_bytes(8, "little") + raw + good[8 + n:]

    files = {
        "pickle": pickle.dumps(_Payload(str(marker))),
        "torch_pickle": None,
        "random": np.random.default_rng(0).bytes(4096),
        "empty": b"",
        "huge_header": (2**62).to_bytes(8, "little") + b"{}",
        "header_past_end": (10**6).to_bytes(8, "little") + good[8:],
        "truncated": good[:-3],
        "trailing": good + b"\x00" * 8,
        "bad_json": n.to_bytes(8, "little") + b"{" * n + good[8 + n:],
        "not_object": (2).to_bytes(8, "little") + b"[]",
        "offsets_past_end": with_header({"w": {**header["w"], "data_offsets": [0, 10**9]}}),
        "shape_mismatch": with_header({"w": {**header["w"], "shape": [3, 3]}}),
        "huge_shape": with_header({"w": {**header["w"], "shape": [2**40, 2**40]}}),
        "bad_dtype": with_header({"w": {**header["w"], "dtype": "OBJ"}}),
        "bf16": with_header({"w": {"dtype": "BF16", "shape": [2, 4],
                                   "data_offsets": [0, 16]}}),
    }
    buf = tmp_path / "t.pt"
    torch.save({"x": _Payload(str(marker))}, buf)
    files["torch_pickle"] = buf.read_bytes()
    paths = {}
    for name, data in files.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        paths[name] = p
    return paths, marker


def test_hostile_and_damaged_files_are_refused_and_run_nothing(tmp_path):
    from zengrad.io import load_checkpoint

    paths, marker = _hostile_files(tmp_path)
    for name, path in paths.items():
        for loader in (load, load_checkpoint, lambda p: load_into(_mlp(), p)):
            with pytest.raises((SafetensorsFormatError, RuntimeError)) as err:
                loader(path)
            assert str(path) in str(err.value), (name, str(err.value))
    assert not marker.exists()


def test_error_messages_say_what_is_wrong(tmp_path):
    paths, _ = _hostile_files(tmp_path)
    expect = {"huge_header": "header claims", "truncated": "truncated",
              "shape_mismatch": "needs 36 bytes", "bad_dtype": "unknown dtype",
              "bf16": "NumPy has no dtype", "bad_json": "not valid JSON",
              "trailing": "cover", "empty": "too short"}
    for name, text in expect.items():
        with pytest.raises(SafetensorsFormatError, match=text):
            load(paths[name])


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="not a Tensor or ndarray"):
        save({"a": [1, 2]}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="metadata"):
        save({"a": np.zeros(1)}, tmp_path / "a.safetensors", metadata={"n": 1})
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "missing.safetensors")


_ALL_DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.float16, np.int32,
               np.uint32, np.float32, np.int64, np.uint64, np.float64]


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (2, 3)])
def test_every_dtype_and_shape_round_trips_both_ways(tmp_path, shape):
    rng = np.random.default_rng(0)
    state = {np.dtype(d).name: (rng.integers(0, 2, shape) if d is np.bool_
                                else rng.integers(0, 100, shape)).astype(d)
             for d in _ALL_DTYPES}
    ours, theirs = tmp_path / "zg.safetensors", tmp_path / "lib.safetensors"
    save(state, ours, metadata={"a": "b"})
    safetensors.numpy.save_file(state, str(theirs), metadata={"a": "b"})
    for back in (load(theirs), safetensors.numpy.load_file(str(ours)), load(ours)):
        assert back.keys() == state.keys()
        for k, v in state.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
            np.testing.assert_array_equal(back[k], v)
    assert load_metadata(theirs) == {"a": "b"}


def test_loaded_arrays_are_independent_and_writable(tmp_path):
    path = tmp_path / "m.safetensors"
    save({"a": np.arange(4.0), "b": np.ones(3, np.float32)}, path)
    out = load(path)
    out["a"][0] = 99.0
    assert out["b"].base is None or not np.shares_memory(out["a"], out["b"])
    assert load(path)["a"][0] == 0.0


def test_null_metadata_and_header_padding_are_accepted(tmp_path):
    path = tmp_path / "m.safetensors"
    raw = b'{"__metadata__": null, "w": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}'
    raw += b" " * (-len(raw) % 8)  # the library pads the header to 8 bytes with spaces
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\x01\x02")
    np.testing.assert_array_equal(load(path)["w"], [1, 2])
    assert load_metadata(path) == {}
    assert safetensors.numpy.load_file(str(path))["w"].tolist() == [1, 2]


def test_parse_header_on_bytes_refuses_like_load(tmp_path):
    from zengrad.io import parse_header
    from zengrad.io.safetensors_io import from_bytes

    raw = b'{"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}'
    data = len(raw).to_bytes(8, "little") + raw + bytes(4)
    for fn in (parse_header, from_bytes):
        with pytest.raises(SafetensorsFormatError, match="<mem>: .*unknown dtype"):
            fn(data, "<mem>")
    good = safetensors.numpy.save({"w": np.arange(3, dtype=np.int32)})
    np.testing.assert_array_equal(from_bytes(good)[0]["w"], [0, 1, 2])
