"""Hostile and damaged files: every one is refused with the exact error type and a message
naming the file and the problem; nothing is executed, nothing large is allocated, a failed
load changes nothing, and a disk that fills up during a save keeps the old file."""

import copy
import json
import os
import resource
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zengrad as zg
from zengrad import nn, optim
from zengrad.data import DataLoader, TensorDataset
from zengrad.io import (
    CheckpointError,
    SafetensorsFormatError,
    load,
    load_checkpoint,
    load_metadata,
    save,
    save_checkpoint,
)
from zengrad.io.checkpoint import FORMAT_KEY, FORMAT_VERSION
from zengrad.io.safetensors_io import to_bytes
from zengrad.nn.loss import CrossEntropyLoss
from zengrad.train import EarlyStopping, Trainer

REPO = Path(__file__).resolve().parents[2]
DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": "<i2", "U16": "<u2",
          "F16": "<f2", "I32": "<i4", "U32": "<u4", "F32": "<f4", "I64": "<i8",
          "U64": "<u8", "F64": "<f8"}


def _file(header, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + data


def _w(**over):
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    entry.update(over)
    return entry


DEEP = 100_000
# (name, file bytes, what the message must say)
HOSTILE = [
    ("deep_header", _file(b"{\"a\":" + b"[" * DEEP + b"]" * DEEP + b"}"), "nested too deep"),
    ("deep_metadata", _file(b"{\"__metadata__\":" + b"{\"a\":" * DEEP + b"1" + b"}" * DEEP
                            + b"}"), "nested too deep"),
    ("dtype_list", _file({"w": _w(dtype=["F32"])}, bytes(8)), "unknown dtype ['F32']"),
    ("dtype_int", _file({"w": _w(dtype=4)}, bytes(8)), "unknown dtype 4"),
    ("shape_overflow", _file({"w": _w(shape=[2**40, 2**40, 2**40])}, bytes(8)),
     "overflows 64 bits"),
    ("shape_overflow_with_zero", _file({"w": _w(shape=[0, 2**62], data_offsets=[0, 0])}),
     "overflows 64 bits"),
    ("65_dims", _file({"w": _w(shape=[1] * 65, data_offsets=[0, 4])}, bytes(4)),
     "65 dimensions"),
    ("shape_float", _file({"w": _w(shape=[2.0])}, bytes(8)), "bad shape [2.0]"),
    ("shape_negative", _file({"w": _w(shape=[-2])}, bytes(8)), "bad shape [-2]"),
    ("shape_bool", _file({"w": _w(shape=[True, 2])}, bytes(8)), "bad shape"),
    ("shape_not_list", _file({"w": _w(shape="2")}, bytes(8)), "bad shape '2'"),
    ("offsets_negative", _file({"w": _w(data_offsets=[-8, 0])}, bytes(8)),
     "bad data_offsets [-8, 0]"),
    ("offsets_float", _file({"w": _w(data_offsets=[0, 8.0])}, bytes(8)), "bad data_offsets"),
    ("offsets_reversed", _file({"w": _w(data_offsets=[8, 0])}, bytes(8)), "bad data_offsets"),
    ("offsets_three", _file({"w": _w(data_offsets=[0, 4, 8])}, bytes(8)), "bad data_offsets"),
    ("offsets_past_end", _file({"w": _w(data_offsets=[0, 2**40])}, bytes(8)),
     "ends at byte 1099511627776"),
    ("overlap", _file({"a": _w(), "b": _w(data_offsets=[4, 12])}, bytes(12)), "overlaps"),
    ("same_bytes", _file({"a": _w(), "b": _w()}, bytes(8)), "overlaps"),
    ("hole", _file({"a": _w(data_offsets=[4, 12])}, bytes(12)), "hole"),
    ("size_mismatch", _file({"w": _w(shape=[3])}, bytes(8)), "needs 12 bytes"),
    ("metadata_int", _file({"__metadata__": {"a": 1}, "w": _w()}, bytes(8)),
     "__metadata__ value for 'a' must be a string, got 1"),
    ("metadata_nested", _file({"__metadata__": {"a": {"b": "c"}}, "w": _w()}, bytes(8)),
     "must be a string"),
    ("metadata_list", _file({"__metadata__": [], "w": _w()}, bytes(8)),
     "__metadata__ must be an object"),
    ("metadata_empty_string", _file({"__metadata__": "", "w": _w()}, bytes(8)),
     "__metadata__ must be an object"),
    ("duplicate_tensor", _file(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                               b'"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
     "repeats the key 'w'"),
    ("duplicate_field", _file(b'{"w":{"dtype":"U8","dtype":"F32","shape":[1],'
                              b'"data_offsets":[0,1]}}', b"\0"), "repeats the key 'dtype'"),
    ("extra_field", _file({"w": {**_w(), "offset": 0}}, bytes(8)), "exactly the keys"),
    ("entry_not_object", _file({"w": [1, 2]}, bytes(8)), "exactly the keys"),
    ("huge_int", _file(b'{"w":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],'
                       b'"data_offsets":[0,8]}}', bytes(8)), "not valid JSON"),
    ("not_utf8", _file(b'{"\xff":1}'), "not valid JSON"),
    ("bool_byte_2", _file({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}},
                          b"\x01\x02"), "other than 0 and 1"),
    ("length_too_big", (2**63).to_bytes(8, "little") + b"{}", "header claims"),
    ("seven_bytes", b"\x02\0\0\0\0\0\0", "too short"),
]


@pytest.mark.parametrize("name,data,text", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_header_is_refused_with_file_and_problem(tmp_path, name, data, text):
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(data)
    with pytest.raises(SafetensorsFormatError) as err:
        load(path)
    assert type(err.value) is SafetensorsFormatError
    msg = str(err.value)
    assert msg.startswith(f"{path}: not a valid safetensors file: "), msg
    assert text in msg, msg
    # the checkpoint loader refuses it the same way (a checkpoint is a safetensors file)
    with pytest.raises(SafetensorsFormatError, match="not a valid safetensors file"):
        load_checkpoint(path)


def test_metadata_alone_reads_only_the_header(tmp_path):
    path = tmp_path / "m.safetensors"
    save({"w": np.zeros(4, np.float32)}, path, metadata={"k": "v"})
    assert load_metadata(path) == {"k": "v"}
    path.write_bytes(_file({"__metadata__": {"k": 1}}))
    with pytest.raises(SafetensorsFormatError, match=f"{path}.*must be a string"):
        load_metadata(path)


# ----- property-based fuzzing of headers and bytes -----------------------------------------

_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False), st.text(max_size=4))
_odd_value = st.recursive(_json_scalar, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=3), kids, max_size=3)),
    max_leaves=6)
_dtype = st.one_of(st.sampled_from([*DTYPES, "BF16", "F8_E4M3"]), _odd_value)
_dim = st.one_of(st.integers(0, 4), st.integers(-3, 2**64), _odd_value)
_shape = st.one_of(st.lists(st.integers(0, 4), max_size=3), st.lists(_dim, max_size=4),
                   _odd_value)


@st.composite
def _headers(draw):
    """Mostly well-formed headers (tensors laid out one after the other), with random
    damage: odd dtypes, shapes and offsets, extra/missing keys, odd metadata, odd data."""
    header, pos, blobs = {}, 0, []
    for i in range(draw(st.integers(0, 4))):
        dtype = draw(st.sampled_from(list(DTYPES)))
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        size = int(np.prod(shape)) * np.dtype(DTYPES[dtype]).itemsize
        entry = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + size]}
        pos += size
        if dtype == "BOOL":
            blobs.append(bytes(draw(st.lists(st.integers(0, 1), min_size=size,
                                             max_size=size))))
        else:
            blobs.append(draw(st.binary(min_size=size, max_size=size)))
        damage = draw(st.sampled_from(["none"] * 4 + ["dtype", "shape", "offsets",
                                                      "extra", "drop", "whole"]))
        if damage == "dtype":
            entry["dtype"] = draw(_dtype)
        elif damage == "shape":
            entry["shape"] = draw(_shape)
        elif damage == "offsets":
            entry["data_offsets"] = draw(st.one_of(
                st.lists(st.integers(-2, pos + 8), min_size=2, max_size=2), _odd_value))
        elif damage == "extra":
            entry[draw(st.text(max_size=3))] = draw(_odd_value)
        elif damage == "drop":
            entry.pop(draw(st.sampled_from(sorted(entry))))
        elif damage == "whole":
            entry = draw(_odd_value)
        header[f"t{i}"] = entry
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.one_of(
            st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2), _odd_value))
    data = b"".join(blobs)
    tail = draw(st.sampled_from(["exact", "short", "long"]))
    if tail == "short" and data:
        data = data[:-1]
    elif tail == "long":
        data += b"\0"
    return header, data


def _reference(data: bytes) -> dict:
    """What a correct loader returns for bytes known to be valid (decoded independently)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + end], DTYPES[e["dtype"]]).reshape(
            e["shape"])
    return out


def _check_load(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        got = load(path)
    except SafetensorsFormatError as e:
        assert str(path) in str(e)
        got = None
    try:  # the safetensors library is the second opinion
        lib = safetensors.numpy.load_file(str(path))
    except Exception:  # noqa: BLE001 - any refusal by the library
        lib = None
    if got is not None:
        ref = _reference(data)
        assert got.keys() == ref.keys()
        for k in ref:
            assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape
            np.testing.assert_array_equal(got[k], ref[k])
            assert got[k].flags.writeable
    elif lib is not None:
        # we may be stricter than the library only where it lets through what would be
        # wrong or ambiguous: bool bytes other than 0/1, repeated keys, tensor entries
        # with fields beyond dtype/shape/data_offsets (the library ignores them), dtypes
        # NumPy lacks (the library decodes BF16/F8 once ml_dtypes is imported, e.g. by onnx)
        n = int.from_bytes(data[:8], "little")
        raw = data[8:8 + n]
        bools = any(v.dtype == np.bool_ and v.view(np.uint8).max(initial=0) > 1
                    for v in lib.values())
        repeats: list = []
        header = json.loads(raw, object_pairs_hook=lambda p: repeats.append(
            len(p) != len(dict(p))) or dict(p))
        extra = any(isinstance(e, dict) and set(e) - {"dtype", "shape", "data_offsets"}
                    for k, e in header.items() if k != "__metadata__")
        no_numpy = any(isinstance(e, dict) and e.get("dtype") in ("BF16", "F8_E5M2", "F8_E4M3")
                       for k, e in header.items() if k != "__metadata__")
        assert bools or any(repeats) or extra or no_numpy, \
            f"refused what the library loads: {raw!r}"


_FUZZ = settings(max_examples=300, deadline=2000, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@_FUZZ
@given(_headers())
def test_fuzzed_headers_load_correctly_or_are_refused(tmp_path, case):
    header, data = case
    _check_load(tmp_path / "f.safetensors", _file(header, data))


_GOOD = to_bytes({"a": np.arange(6, dtype=np.float32).reshape(2, 3),
                  "b": np.array([1, -2], np.int64), "c": np.array(True)}, {"k": "v"})


@_FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(0, 255)),
                min_size=1, max_size=4),
       st.integers(-8, 8))
def test_mutated_bytes_load_correctly_or_are_refused(tmp_path, flips, cut):
    data = bytearray(_GOOD)
    for i, b in flips:
        data[i] = b
    data = bytes(data[:len(data) + cut] if cut < 0 else data + bytes(cut))
    _check_load(tmp_path / "f.safetensors", data)


# ----- memory: what the header claims is checked against the file before allocating ------


def _traced_peak(fn) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    except Exception as e:  # noqa: BLE001 - returned for the caller to check
        return tracemalloc.get_traced_memory()[1], e
    finally:
        tracemalloc.stop()


def test_sparse_8gib_file_is_not_read_or_allocated(tmp_path):
    path = tmp_path / "sparse.safetensors"
    head = _file({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})
    with open(path, "wb") as f:
        f.write(head + np.arange(4, dtype=np.float32).tobytes())
        f.truncate(8 * 2**30)  # a hole: 8 GiB long, a few KiB on disk
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak, err = _traced_peak(lambda: load(path))
    assert isinstance(err, SafetensorsFormatError), err
    assert f"{path}: " in str(err) and "the tensors cover 16 data bytes" in str(err)
    assert peak < 2**20, peak
    # and a header that places one small tensor at the very end (a hole before it)
    total, end = 8 * 2**30, 0
    for _ in range(3):  # the header's length depends on the digits of the offsets
        head = _file({"w": {"dtype": "F32", "shape": [4], "data_offsets": [end, end + 16]}})
        end, previous = total - len(head) - 16, end
    assert end == previous
    with open(path, "r+b") as f:
        f.write(head)
    peak, err = _traced_peak(lambda: load(path))
    assert isinstance(err, SafetensorsFormatError), err
    assert f"tensor 'w' starts at data byte {end}, expected 0" in str(err), err
    assert peak < 2**20, peak
    # ru_maxrss is in KiB on Linux: nothing near 8 GiB was touched
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 2**20


def test_header_claiming_more_than_the_file_is_refused_before_allocating(tmp_path):
    path = tmp_path / "liar.safetensors"
    path.write_bytes(_file({"w": {"dtype": "F32", "shape": [2**31],
                                  "data_offsets": [0, 2**33]}}, bytes(1024)))
    peak, err = _traced_peak(lambda: load(path))
    assert isinstance(err, SafetensorsFormatError), err
    assert "ends at byte 8589934592" in str(err) and "holds only 1024" in str(err)
    assert peak < 2**20, peak
    path.write_bytes((2**40).to_bytes(8, "little") + b"{}")  # the header length lies
    peak, err = _traced_peak(lambda: load(path))
    assert isinstance(err, SafetensorsFormatError) and "header claims" in str(err), err
    assert peak < 2**20, peak


@pytest.mark.slow
def test_loading_256mib_peaks_near_one_times_the_file(tmp_path):
    path = tmp_path / "big.safetensors"
    n = 16 * 2**20  # float32 elements per tensor: 64 MiB each, four tensors
    header = {f"t{i}": {"dtype": "F32", "shape": [n // 1024, 1024],
                        "data_offsets": [i * 4 * n, (i + 1) * 4 * n]} for i in range(4)}
    with open(path, "wb") as f:
        f.write(_file(header))
        for i in range(4):
            np.full(n, i, np.float32).tofile(f)
    size = path.stat().st_size
    peak, out = _traced_peak(lambda: load(path))
    assert not isinstance(out, Exception), out
    print(f"metric: load peak {peak / size:.3f}x of a {size / 2**20:.0f} MiB file")
    assert peak <= 1.3 * size, (peak, size)
    assert [float(out[f"t{i}"][-1, -1]) for i in range(4)] == [0, 1, 2, 3]


# ----- disk full during save ----------------------------------------------------------------


def test_disk_full_during_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save({"w": np.arange(10, dtype=np.float32)}, path)
    good = path.read_bytes()
    child = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np
        from zengrad.io import save
        # without this the kernel kills the process (SIGXFSZ) instead of failing the write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            save({{"w": np.ones(2**20, np.float32)}}, {str(path)!r})
        except OSError as e:
            print("OSError", e.errno)
            sys.exit(3)
        sys.exit(0)
    """)
    res = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 3, (res.returncode, res.stdout, res.stderr)
    assert res.stdout.startswith("OSError 27"), res.stdout  # EFBIG
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temp file left behind
    np.testing.assert_array_equal(load(path)["w"], np.arange(10, dtype=np.float32))


# ----- checkpoints ---------------------------------------------------------------------------


def _setup(seed=0):
    zg.manual_seed(seed)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((48, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, 2, 0.5)
    trainer = Trainer(model, CrossEntropyLoss(), opt, sched, verbose=0,
                      callbacks=[EarlyStopping("val_loss", patience=50)])
    train = DataLoader(TensorDataset(x[:32], y[:32]), 8, shuffle=True)
    val = DataLoader(TensorDataset(x[32:], y[32:]), 16)
    return trainer, train, val


def _snapshot(trainer) -> dict:
    return copy.deepcopy({
        "weights": {k: v.array for k, v in trainer.model.state_dict().items()},
        "opt": trainer.optimizer.state_dict(), "sched": trainer.scheduler.state_dict(),
        "rng": zg.get_rng_state(), "history": trainer.history.state_dict(),
        "epoch": trainer.epoch, "loaders": {k: v.state_dict() for k, v in
                                            trainer._loaders.items() if v is not None},
        "callbacks": {k: cb.state_dict() for k, cb in trainer._stateful_callbacks().items()},
    })


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k])
                                                                    for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b or (a != a and b != b)


@pytest.fixture(scope="module")
def saved_state(tmp_path_factory):
    trainer, train, val = _setup()
    trainer.fit(train, val, epochs=2)
    path = tmp_path_factory.mktemp("ckpt") / "good.safetensors"
    trainer.save_checkpoint(path)
    return load_checkpoint(path)


def _set(path_in_state, value):
    def edit(state):
        *head, last = path_in_state
        node = state
        for k in head:
            node = node[k]
        node[last] = value
    return edit


def _drop(key):
    return lambda state: state.pop(key)


_MT = np.random.MT19937(0).state
CKPT_CASES = [
    # (id, edit of the saved state, field named in the message, what it says)
    ("epoch_str", _set(["epoch"], "abc"), "epoch",
     "field 'epoch' must be a non-negative integer, got 'abc'"),
    ("epoch_negative", _set(["epoch"], -1), "epoch", "non-negative integer, got -1"),
    ("epoch_float", _set(["epoch"], 1.5), "epoch", "non-negative integer, got 1.5"),
    ("epoch_bool", _set(["epoch"], True), "epoch", "non-negative integer, got True"),
    ("rng_foreign", _set(["rng"], _MT), "rng", "is a MT19937 state; this generator is a PCG64"),
    ("rng_malformed", _set(["rng", "state"], {"state": "x", "inc": 1}), "rng",
     "is not a valid PCG64 state"),
    ("rng_out_of_range", _set(["rng", "state", "state"], -1), "rng", "not a valid PCG64"),
    ("rng_int", _set(["rng"], 5), "rng", "must be a NumPy random generator state"),
    ("history_int", _set(["history"], 5), "history", "must be a dict with keys"),
    ("history_short", _set(["history", "history", "loss"], [0.5]), "history/history/loss",
     "must be a list of 2 numbers"),
    ("history_epoch", _set(["history", "epoch"], ["a", 1]), "history/epoch",
     "list of epoch numbers"),
    ("lr_str", _set(["optimizer", "param_groups", 0, "lr"], "fast"), "optimizer",
     "param_groups[0]['lr'] must be a number (like 0.01), got 'fast'"),
    ("betas_short", _set(["optimizer", "param_groups", 0, "betas"], [0.9]), "optimizer",
     "'betas'] must be a sequence of 2 numbers"),
    ("opt_state_shape", _set(["optimizer", "state", 0, "exp_avg"], np.zeros(3, np.float32)),
     "optimizer", "has shape (3,) but its parameter has shape (8, 3)"),
    ("opt_state_str", _set(["optimizer", "state", 1, "exp_avg_sq"], "big"), "optimizer",
     "state[1]['exp_avg_sq']"),
    ("opt_step_str", _set(["optimizer", "state", 0, "step"], "abc"), "optimizer",
     "'step']: must be a non-negative number"),
    ("opt_no_groups", lambda s: s["optimizer"].pop("param_groups"), "optimizer",
     "lacks ['param_groups']"),
    ("opt_int", _set(["optimizer"], 3), "optimizer", "must be a dict"),
    ("model_missing", _drop("model"), None, "checkpoint lacks the field(s) ['model']"),
    ("model_str_bias", _set(["model", "2.bias"], "1.5"), "model",
     "wrong type for 2.bias"),
    ("model_shape", _set(["model", "0.weight"], np.zeros((2, 2), np.float32)), "model",
     "size mismatch for 0.weight"),
    ("scheduler_int", _set(["scheduler"], 5), "scheduler", "must be a dict"),
    ("scheduler_missing", _set(["scheduler"], None), "scheduler",
     "is missing, but the Trainer has a scheduler"),
    ("scheduler_other_kind", _set(["scheduler"], {"T_max": 3, "eta_min": 0.0}), "scheduler",
     "missing keys"),
    ("scheduler_gamma", _set(["scheduler", "gamma"], "half"), "scheduler/gamma",
     "must be a number"),
    ("loader_generator", _set(["loaders", "train", "generator"], {"bit_generator": "Evil"}),
     "loaders/train/generator", "must be a NumPy random generator state"),
    ("callback_best", _set(["callbacks", "1:EarlyStopping", "best"], "x"),
     "callbacks/1:EarlyStopping/best", "must be a number"),  # 0 is the LR schedule
]


def _write_state(path, state) -> None:
    save_checkpoint(state, path)


@pytest.mark.parametrize("name,edit,field,text", CKPT_CASES, ids=[c[0] for c in CKPT_CASES])
def test_bad_checkpoint_field_is_named_and_changes_nothing(tmp_path, saved_state, name, edit,
                                                           field, text):
    state = copy.deepcopy(saved_state)
    if name == "loader_generator":  # the shuffling loader carries a generator state
        state["loaders"]["train"] = {"generator": {}}
    edit(state)
    path = tmp_path / f"{name}.safetensors"
    _write_state(path, state)
    trainer, train, val = _setup(seed=5)
    trainer.fit(train, val, epochs=1)
    before = _snapshot(trainer)
    history = trainer.history
    for load_it in (lambda: trainer.load_checkpoint(path),
                    lambda: trainer.fit(train, val, epochs=4, resume_from=path)):
        with pytest.raises(CheckpointError) as err:
            load_it()
        msg = str(err.value)
        assert isinstance(err.value, ValueError)
        assert msg.startswith(f"{path}: "), msg
        if field is not None:
            assert f"field {field!r}" in msg, msg
        assert text in msg, msg
        assert _same(_snapshot(trainer), before), "a failed load changed the trainer"
        assert trainer.history is history
    # and the trainer still trains
    trainer.fit(train, val, epochs=2)
    assert len(trainer.history) == 2


def test_late_failure_rolls_back_what_was_already_restored(tmp_path, saved_state):
    """The model is restored last; when it refuses, the optimizer, scheduler, loaders and
    callbacks restored before it get their old state back."""
    state = copy.deepcopy(saved_state)
    state["model"]["2.bias"] = ["1", "2"]
    state["optimizer"]["param_groups"][0]["lr"] = 0.123
    path = tmp_path / "late.safetensors"
    _write_state(path, state)
    trainer, train, val = _setup(seed=5)
    trainer.fit(train, val, epochs=1)
    before = _snapshot(trainer)
    with pytest.raises(CheckpointError, match="field 'model'"):
        trainer.load_checkpoint(path)
    assert trainer.optimizer.param_groups[0]["lr"] != 0.123
    assert _same(_snapshot(trainer), before)


def test_good_checkpoint_still_resumes(tmp_path, saved_state):
    path = tmp_path / "ok.safetensors"
    _write_state(path, saved_state)
    trainer, train, val = _setup(seed=9)
    trainer.load_checkpoint(path)
    assert trainer.epoch == 2 and len(trainer.history) == 2
    hist = trainer.fit(train, val, epochs=3, resume_from=path)
    assert len(hist) == 3


def _raw_checkpoint(path, description: str, tensors=None) -> None:
    meta = {FORMAT_KEY: FORMAT_VERSION, "state": description}
    path.write_bytes(to_bytes(tensors or {"t": np.zeros(2, np.float32)}, meta))


RAW_CASES = [
    ("deep", '{"a":' + "[" * DEEP + "]" * DEEP + "}", "nested too deeply"),
    ("deep_101", '{"a":' + "[" * 150 + "]" * 150 + "}", "nested more than 100 levels"),
    ("tensor_list", '{"epoch": {"__tensor__": [1]}}',
     "field 'epoch' must name a stored tensor (__tensor__: a string), got [1]"),
    ("tensor_missing", '{"w": {"__tensor__": "nope"}}',
     "field 'w' refers to tensor 'nope', which the file does not hold"),
    ("tensor_type", '{"w": {"__tensor__": "t", "type": "Evil"}}', "unknown tensor type"),
    ("tensor_extra", '{"w": {"__tensor__": "t", "x": 1}}', "unexpected keys ['x']"),
    ("scalar_shape", '{"w": {"__scalar__": "t"}}', "is a scalar but tensor 't' has shape"),
    ("tuple_int", '{"w": {"__tuple__": 5}}', "expected a list"),
    ("dict_pairs", '{"w": {"__dict__": [[1]]}}', "[scalar key, value] pairs"),
    ("dict_key", '{"w": {"__dict__": [[[1], 2]]}}', "[scalar key, value] pairs"),
    ("not_json", "{'a': 1}", "not valid JSON"),
    ("duplicate", '{"epoch": 1, "epoch": 2}', "repeats the key 'epoch'"),
    ("list", "[1, 2]", "is a list, not an object"),
]


@pytest.mark.parametrize("name,description,text", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_damaged_state_description_is_named(tmp_path, name, description, text):
    path = tmp_path / f"{name}.safetensors"
    _raw_checkpoint(path, description)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: "), msg
    assert text in msg, msg


def test_missing_state_description(tmp_path):
    path = tmp_path / "c.safetensors"
    path.write_bytes(to_bytes({}, {FORMAT_KEY: FORMAT_VERSION}))
    with pytest.raises(CheckpointError, match=f"{path}: damaged checkpoint: .*no 'state'"):
        load_checkpoint(path)


# ----- load_state_dict is all or nothing -------------------------------------------------


def test_optimizer_load_state_dict_is_all_or_nothing():
    zg.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(zg.randn(4, 3)).sum().backward()
    opt.step()
    good = opt.state_dict()
    bad = copy.deepcopy(good)
    bad["param_groups"][0]["lr"] = 0.5  # fine on its own...
    bad["state"][1]["exp_avg"] = np.array(["1", "2"])  # ...but this is not
    bad["state"][0]["step"] = -3
    state_obj, groups_obj = opt.state, opt.param_groups
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(bad)
    msg = str(err.value)
    assert "state[1]['exp_avg']" in msg and "state[0]['step']" in msg  # all problems
    assert opt.state is state_obj and opt.param_groups is groups_obj
    assert opt.param_groups[0]["lr"] == 0.01
    assert _same(opt.state_dict(), good)
    # a string key from a JSON round trip still names its parameter
    ok = copy.deepcopy(good)
    ok["state"] = {str(k): v for k, v in ok["state"].items()}
    opt.load_state_dict(ok)
    assert _same(opt.state_dict(), good)


def test_module_load_state_dict_is_all_or_nothing():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = {k: v.array.copy() for k, v in model.state_dict().items()}
    bad = {k: np.ones_like(v) for k, v in before.items()}
    bad["1.bias"] = np.array(["1.5", "2"])  # must not be parsed as numbers
    bad["0.bias"] = np.array([object()] * 4)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(bad)
    msg = str(err.value)
    assert "wrong type for 1.bias" in msg and "<U3" in msg
    assert "wrong type for 0.bias" in msg and "object" in msg
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k], err_msg=k)
