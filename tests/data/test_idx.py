"""IDX (MNIST format) reader on files the tests write, plain and gzip, and broken ones."""

import gzip

import numpy as np
import pytest

from zengrad.data import IDXFormatError, read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
def test_round_trip(tmp_path, rng, dtype, suffix):
    arr = (rng.uniform(-100, 100, size=(5, 4, 3)) if np.dtype(dtype).kind == "f"
           else rng.integers(0, 100, size=(5, 4, 3))).astype(dtype)
    path = tmp_path / f"a{suffix}"
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)


def test_hand_written_mnist_labels_file(tmp_path):
    # the documented layout: magic 0x00000801, count, then bytes
    raw = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([7, 2, 1])
    (tmp_path / "labels").write_bytes(raw)
    (tmp_path / "labels.gz").write_bytes(gzip.compress(raw))
    for name in ("labels", "labels.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), [7, 2, 1])


def _images(tmp_path):
    raw = bytes([0, 0, 8, 3]) + np.array([2, 2, 2], ">u4").tobytes() + bytes(range(8))
    return raw


@pytest.mark.parametrize("damage,match", [
    (lambda r: b"\x01\x00" + r[2:], "bad magic"),
    (lambda r: r[:2] + b"\x07" + r[3:], "bad magic"),
    (lambda r: r[:-1], "truncated data"),
    (lambda r: r + b"\x00", "wrong dimensions"),
    (lambda r: r[:9], "truncated header"),
    (lambda r: r[:3], "too short"),
    (lambda r: r[:3] + b"\x00", "0 dimensions"),
    (lambda r: r[:4] + np.array([2**31, 2**31, 2**31], ">u4").tobytes() + r[16:],
     "truncated data"),
])
def test_malformed_files_name_path_and_problem(tmp_path, damage, match):
    path = tmp_path / "bad.idx"
    path.write_bytes(damage(_images(tmp_path)))
    with pytest.raises(IDXFormatError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_missing_file_and_broken_gzip(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(_images(tmp_path))[:-12])
    with pytest.raises(IDXFormatError, match="bad.gz"):
        read_idx(path)
