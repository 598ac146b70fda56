"""3x3 stride-1 convolutions by Winograd F(2x2, 3x3) (ops.conv_winograd): the correlation
itself against torch on random shapes and pads (odd sizes, size-1 dims, several chunks), the
weight gradient likewise; through conv2d with the thresholds lowered, float64 gradcheck and
torch parity (output, input, weight and bias gradients); the real thresholds; the same bits at
one and two threads; and the shifted-view path where Numba is off."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from tests.helpers import assert_parity
from tests.ops.conv_cases import (
    CallSpy,
    assert_same_at_one_and_two_threads,
    gradcheck_case,
    parity_case,
)
from zengrad.ops import conv_direct, conv_winograd, kernels
from zengrad.ops.conv import conv2d

pytestmark = pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba")


@pytest.fixture
def calls(monkeypatch):
    """Counts conv_winograd.correlate calls (n: the forward and the input gradient) and
    conv_winograd.weight_grad calls (dw)."""
    spy = CallSpy(monkeypatch)
    spy.count(conv_winograd, "correlate", "n")
    spy.count(conv_winograd, "weight_grad", "dw")
    return spy


@pytest.fixture
def small(monkeypatch):
    """Every 3x3 stride-1 float conv takes the path (none the direct one), a chunk about one
    small image."""
    monkeypatch.setattr(conv_winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_direct, "DIRECT_MAX_CHANNELS", 0)
    monkeypatch.setattr(conv_winograd, "MIN_SIDE", 1)
    monkeypatch.setattr(conv_winograd, "MIN_POSITIONS", 1)
    monkeypatch.setattr(conv_winograd, "CHUNK_FLOATS", 64)
    monkeypatch.setattr(conv_winograd, "DW_CHUNK_FLOATS", 64)


def _random_geometries(rng, count: int):
    """count random ((C, OC, N, H, W), pads, (OH, OW)) with outputs of at least 1x1: sizes
    1-9, channels and images 1-5, each pad 0-2."""
    done = 0
    while done < count:
        c, oc, n = (int(v) for v in rng.integers(1, 6, 3))
        h, w = (int(v) for v in rng.integers(1, 10, 2))
        pads = tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2))
        oh, ow = h + sum(pads[0]) - 2, w + sum(pads[1]) - 2
        if oh > 0 and ow > 0:
            done += 1
            yield (c, oc, n, h, w), pads, (oh, ow)


def _torch_correlate(x, w, pads):
    (pt, pb), (pl, pr) = pads
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2, 3)))
    y = TF.conv2d(TF.pad(xt, (pl, pr, pt, pb)), torch.from_numpy(w))
    return y.numpy().transpose(1, 0, 2, 3)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-14), (np.float32, 3e-6)])
@pytest.mark.parametrize("chunk", [64, conv_winograd.CHUNK_FLOATS])
def test_correlate_matches_torch(rng, monkeypatch, dtype, tol, chunk):
    monkeypatch.setattr(conv_winograd, "CHUNK_FLOATS", chunk)
    for (c, oc, n, h, w), pads, (oh, ow) in _random_geometries(rng, 25):
        x = rng.standard_normal((c, n, h, w)).astype(dtype)
        wt = rng.standard_normal((oc, c, 3, 3)).astype(dtype)
        y = conv_winograd.correlate(x, conv_winograd.filter_transform(wt), pads, (oh, ow))
        ref = _torch_correlate(x, wt, pads)
        assert y.shape == ref.shape and y.dtype == dtype
        err = np.abs(y - ref).max() / max(1.0, np.abs(ref).max())
        assert err < tol, (x.shape, wt.shape, pads, err)


def _torch_weight_grad(x, gy, pads):
    (pt, pb), (pl, pr) = pads
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2, 3)))
    gt = torch.from_numpy(np.ascontiguousarray(gy.transpose(1, 0, 2, 3)))
    wshape = (gy.shape[0], x.shape[0], 3, 3)
    return torch.nn.grad.conv2d_weight(TF.pad(xt, (pl, pr, pt, pb)), wshape, gt).numpy()


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-14), (np.float32, 3e-6)])
@pytest.mark.parametrize("chunk", [64, conv_winograd.DW_CHUNK_FLOATS])
def test_weight_grad_matches_torch(rng, monkeypatch, dtype, tol, chunk):
    """dW = G^T (sum over tiles of dM V^T) G against torch's, odd sizes and uneven pads: the
    tiles past the outputs and the column that is not a tile must add nothing."""
    monkeypatch.setattr(conv_winograd, "DW_CHUNK_FLOATS", chunk)
    for (c, oc, n, h, w), pads, (oh, ow) in _random_geometries(rng, 25):
        x = rng.standard_normal((c, n, h, w)).astype(dtype)
        gy = rng.standard_normal((oc, n, oh, ow)).astype(dtype)
        dw = conv_winograd.weight_grad(x, gy, pads)
        ref = _torch_weight_grad(x, gy, pads)
        assert dw.shape == ref.shape and dw.dtype == dtype
        err = np.abs(dw - ref).max() / max(1.0, np.abs(ref).max())
        assert err < tol, (x.shape, gy.shape, pads, err)


# (N, C, H, W, OC, kernel, padding, dilation, bias)
CASES = [
    (2, 3, 5, 6, 4, 3, 1, 1, True),
    (3, 2, 7, 5, 3, 3, 0, 1, False),
    (1, 1, 4, 4, 1, 3, 1, 1, True),  # size-1 batch and channels
    (2, 2, 3, 3, 3, 3, 2, 1, True),  # padding 2: the input gradient pads by 0
    (3, 2, 5, 7, 2, 3, (0, 1), 1, True),
    (2, 3, 1, 6, 2, 3, (1, 2), 1, False),  # a height-1 image
]


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(rng, small, calls, case):
    assert gradcheck_case(rng, case)
    assert calls.n > 0 and calls.dw > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_parity_with_torch(rng, small, calls, case, dtype):
    parity_case(rng, case, dtype)
    assert (calls.n, calls.dw) == (2, 1)  # the forward, the input and weight gradients


def test_two_layers_channel_major_input(rng, small, calls):
    """The second conv reads the first one's channel-major output."""
    x = rng.standard_normal((2, 3, 6, 5))
    w1 = rng.standard_normal((4, 3, 3, 3))
    w2 = rng.standard_normal((2, 4, 3, 3))
    assert_parity(lambda x, a, b: conv2d(conv2d(x, a, None, 1, 1).relu(), b, None, 1, 1),
                  lambda x, a, b: TF.conv2d(TF.conv2d(x, a, None, 1, 1).relu(), b, None, 1, 1),
                  [x, w1, w2])
    assert (calls.n, calls.dw) == (4, 2)


@pytest.mark.parametrize("case, taken", [
    ((4, 32, 32, 32, 32), True),  # 4096 positions, 32 channels
    ((4, 16, 32, 32, 32), False),  # 16 input channels: the shifted path
    ((4, 32, 32, 32, 256), False),  # 256 output channels
    ((64, 32, 8, 8, 32), False),  # 8x8 outputs
    ((3, 32, 32, 32, 32), False),  # 3072 positions
    ((16, 48, 17, 19, 40), True),  # odd sizes
])
def test_real_threshold(rng, calls, case, taken):
    n, c, h, w, oc = case
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((oc, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    assert_parity(lambda x, w, b: conv2d(x, w, b, padding=1),
                  lambda x, w, b: TF.conv2d(x, w, b, padding=1), [x, wt, b])
    assert (calls.n, calls.dw) == ((2, 1) if taken else (0, 0))


@pytest.mark.parametrize("kwargs", [
    {"stride": 2, "padding": 1}, {"padding": 3}, {"dilation": 2, "padding": 2},
    {"groups": 2, "padding": 1},
])
def test_other_convs_keep_their_path(rng, small, calls, kwargs):
    x = rng.standard_normal((2, 4, 9, 9))
    wt = rng.standard_normal((4, 4 // kwargs.get("groups", 1), 3, 3))
    assert_parity(lambda x, w: conv2d(x, w, **kwargs), lambda x, w: TF.conv2d(x, w, **kwargs),
                  [x, wt])
    assert (calls.n, calls.dw) == (0, 0)


@pytest.mark.parametrize("n", [8, 1])
def test_two_threads_give_the_one_thread_result_bit_for_bit(rng, monkeypatch, calls, n):
    monkeypatch.setattr(conv_winograd, "MIN_POSITIONS", 256)
    monkeypatch.setattr(conv_winograd, "CHUNK_FLOATS", 16 * 64 * 72)  # one image a chunk
    monkeypatch.setattr(conv_winograd, "DW_CHUNK_FLOATS", 16 * 64 * 72)
    x = rng.standard_normal((n, 32, 16, 16)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    gy = rng.standard_normal((n, 32, 16, 16)).astype(np.float32)
    assert_same_at_one_and_two_threads(x, w, b, gy)
    assert (calls.n, calls.dw) == (4, 2)


def test_numba_off_takes_the_shifted_path(rng, monkeypatch, calls):
    monkeypatch.setattr(kernels, "numba_enabled", lambda: False)
    x = rng.standard_normal((4, 32, 32, 32)).astype(np.float32)
    wt = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    assert_parity(lambda x, w: conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
                  [x, wt])
    assert (calls.n, calls.dw) == (0, 0)
