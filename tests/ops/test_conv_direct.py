"""The direct convolution path (ops.conv_direct, one or two input channels): float64 gradcheck
and torch parity (output, input, weight and bias gradients) on the cases it takes, with the
blocks made small so that several blocks (a ragged last one too) run on both threads; the
same bits at one and two threads; which convolutions take it; and without Numba the im2col
path."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity
from tests.ops.conv_cases import (
    CallSpy,
    assert_same_at_one_and_two_threads,
    case_inputs,
    gradcheck_case,
    parity_case,
)
from zengrad.ops import conv as conv_ops
from zengrad.ops import conv_direct, kernels
from zengrad.ops.conv import conv1d, conv2d

pytestmark = [
    pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba"),
    pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning"),
]


@pytest.fixture
def calls(monkeypatch):
    """Counts the direct path's forwards (fwd) and weight gradients (dw)."""
    spy = CallSpy(monkeypatch)
    spy.count(conv_direct, "forward", "fwd")
    spy.count(conv_direct, "weight_grad", "dw")
    return spy


@pytest.fixture
def small(monkeypatch):
    """Small images take the path, in blocks of two images, split over the threads whatever
    the work."""
    monkeypatch.setattr(conv_direct, "MIN_LENGTH", 1)
    monkeypatch.setattr(conv_direct, "IMAGES_PER_BLOCK", 2)
    monkeypatch.setattr(conv_direct, "SPLIT_MIN_WORK", 0)


# (N, C, H, W, OC, kernel, padding, dilation, bias)
CASES = [
    (5, 1, 8, 7, 6, 5, 2, 1, True),  # LeNet's conv1 shape, small: 6 channels = 2 blocks of 3
    (3, 2, 6, 5, 4, 3, 1, 1, False),  # two input channels; 4 = one block of 3 and one
    (1, 1, 1, 1, 1, 1, 0, 1, True),  # size-1 everything
    (2, 1, 4, 9, 2, (2, 8), (1, 3), 1, True),  # the widest kernel row taken, asymmetric
    (3, 2, 5, 5, 5, (3, 2), "same", 1, True),  # 'same' with an even kernel: pads 0 / 1
    (2, 1, 3, 4, 7, 3, 0, 1, False),  # a 1x2 output
]


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(rng, small, calls, case):
    assert gradcheck_case(rng, case)
    assert calls.fwd > 0 and calls.dw > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_parity_with_torch(rng, small, calls, case, dtype):
    parity_case(rng, case, dtype)
    assert calls.fwd == 1 and calls.dw == 1


def test_conv1d(rng, small, calls):
    x = rng.standard_normal((4, 2, 13))
    w = rng.standard_normal((5, 2, 4))
    b = rng.standard_normal(5)
    assert_parity(lambda x, w, b: conv1d(x, w, b, padding=2),
                  lambda x, w, b: TF.conv1d(x, w, b, padding=2), [x, w, b])
    assert calls.fwd == 1 and calls.dw == 1


def test_weight_only_and_input_only(rng, small, calls):
    """A frozen weight (no dW, no grid kept) or an input that needs no gradient (LeNet's
    first layer)."""
    x, w, b = case_inputs(rng, CASES[0])
    assert_parity(lambda x: conv2d(x, zg.from_numpy(w.copy()), None, padding=2),
                  lambda x: TF.conv2d(x, _t(w), None, padding=2), [x])
    assert calls.dw == 0
    assert_parity(lambda w, b: conv2d(zg.from_numpy(x.copy()), w, b, padding=2),
                  lambda w, b: TF.conv2d(_t(x), w, b, padding=2), [w, b])
    assert calls.fwd == 2 and calls.dw == 1


def _t(a):
    return torch.from_numpy(a.copy())


@pytest.mark.parametrize("n", [1, 7, 33])  # one block, ragged blocks
def test_same_bits_at_one_and_two_threads(rng, monkeypatch, n):
    monkeypatch.setattr(conv_direct, "SPLIT_MIN_WORK", 0)
    x = rng.standard_normal((n, 1, 22, 22)).astype(np.float32)  # (padding 1: L 476)
    w = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    gy = rng.standard_normal((n, 6, 20, 20)).astype(np.float32)
    assert_same_at_one_and_two_threads(x, w, b, gy)


@pytest.mark.parametrize("shape, wshape, kw, taken", [
    ((2, 1, 24, 24), (4, 1, 3, 3), {}, True),  # passes of 21 x 24 + 22 = 526 positions
    ((2, 2, 20, 20), (4, 2, 5, 5), {"padding": 2}, True),  # 19 x 24 + 20 = 476
    ((2, 1, 16, 16), (4, 1, 5, 5), {"padding": 2}, False),  # 15 x 20 + 16 = 316: too short
    ((2, 1, 1, 500), (4, 1, 1, 3), {}, True),  # a long 1-row image
    ((2, 3, 20, 20), (4, 3, 3, 3), {}, False),  # three input channels: im2col / shifted views
    ((2, 1, 24, 24), (4, 1, 3, 9), {}, False),  # kernel rows wider than MAX_KW
    ((2, 1, 20, 20), (4, 1, 3, 3), {"stride": 2}, False),
    ((2, 1, 20, 20), (4, 1, 3, 3), {"dilation": 2}, False),
    ((2, 2, 20, 20), (4, 1, 3, 3), {"groups": 2}, False),
])
def test_which_convolutions_take_it(rng, calls, shape, wshape, kw, taken):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32)
    assert_parity(lambda x, w: conv2d(x, w, None, **kw), lambda x, w: TF.conv2d(x, w, None, **kw),
                  [x, w])
    assert calls.fwd == int(taken)


def test_without_numba_the_im2col_path(rng, small, monkeypatch, calls):
    monkeypatch.setattr(kernels, "numba_enabled", lambda: False)
    spy = CallSpy(monkeypatch)
    spy.count(conv_ops.Conv2dFn, "_chunked_forward", "n")
    x, w, b = case_inputs(rng, CASES[0], np.float32)
    assert_parity(lambda x, w, b: conv2d(x, w, b, padding=2),
                  lambda x, w, b: TF.conv2d(x, w, b, padding=2), [x, w, b])
    assert calls.fwd == 0 and spy.n == 1


def test_only_float_dtypes():
    args = ((1, 1, 24, 24), (1, 1, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    assert conv_direct.direct_ok(*args, np.float32) and conv_direct.direct_ok(*args, np.float64)
    assert not conv_direct.direct_ok(*args, np.int64)
    assert not conv_direct.direct_ok(*args, np.float16)
