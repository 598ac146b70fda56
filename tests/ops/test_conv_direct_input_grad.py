"""The direct input gradient (ops.conv_direct_input_grad: stride-1 convolutions with fewer than
16 input channels, where Numba runs): float64 gradcheck and torch parity of dx (with the
forward on its own path, im2col or direct), blocks made small so that several blocks (a ragged
last one too) run on both threads; the same bits at one and two threads; which convolutions
take it; without Numba the other paths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity
from tests.ops.conv_cases import (
    CallSpy,
    assert_same_at_one_and_two_threads,
    gradcheck_case,
    parity_case,
)
from zengrad.ops import conv_direct, conv_direct_input_grad, kernels
from zengrad.ops.conv import conv1d, conv2d

pytestmark = [
    pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba"),
    pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning"),
]


@pytest.fixture
def calls(monkeypatch):
    """Counts the direct input gradients (n)."""
    spy = CallSpy(monkeypatch)
    spy.count(conv_direct_input_grad, "input_grad", "n")
    return spy


@pytest.fixture
def small(monkeypatch):
    """Blocks of two images, split over the threads whatever the work."""
    monkeypatch.setattr(conv_direct, "IMAGES_PER_BLOCK", 2)
    monkeypatch.setattr(conv_direct, "SPLIT_MIN_WORK", 0)


# (N, C, H, W, OC, kernel, padding, dilation, bias)
CASES = [
    (5, 6, 9, 9, 4, 5, 0, 1, True),  # LeNet's conv2 shape, small: 6 channels = 2 blocks of 3
    (3, 4, 6, 5, 3, 3, 1, 1, False),  # 4 = one block of 3 and one
    (1, 1, 1, 1, 1, 1, 0, 1, True),  # size-1 everything
    (2, 1, 4, 9, 2, (2, 8), (1, 3), 1, True),  # the widest kernel row taken, asymmetric
    (3, 2, 5, 5, 5, (3, 2), "same", 1, True),  # 'same' with an even kernel: pads 0 / 1
    (2, 3, 3, 4, 7, 3, 2, 1, False),  # padding k - 1: every tap of every position
    (2, 15, 4, 4, 2, (1, 3), 0, 1, True),  # the most input channels taken; 1-row kernel
    (3, 2, 2, 3, 2, 3, 1, 1, True),  # kernel rows that reach only part of dx
]


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(rng, small, calls, case):
    assert gradcheck_case(rng, case)
    assert calls.n > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_parity_with_torch(rng, small, calls, case, dtype):
    parity_case(rng, case, dtype)
    assert calls.n == 1


def test_conv1d(rng, small, calls):
    x = rng.standard_normal((4, 3, 13))
    w = rng.standard_normal((5, 3, 4))
    b = rng.standard_normal(5)
    assert_parity(lambda x, w, b: conv1d(x, w, b, padding=2),
                  lambda x, w, b: TF.conv1d(x, w, b, padding=2), [x, w, b])
    assert calls.n == 1


def test_input_only(rng, small, calls):
    """A frozen weight: dx alone."""
    x = rng.standard_normal((3, 6, 8, 8))
    w = rng.standard_normal((4, 6, 3, 3))
    assert_parity(lambda x: conv2d(x, zg.from_numpy(w.copy()), None, padding=1),
                  lambda x: TF.conv2d(x, torch.from_numpy(w.copy()), None, padding=1), [x])
    assert calls.n == 1


@pytest.mark.parametrize("n", [1, 7, 33])  # one block, ragged blocks
def test_same_bits_at_one_and_two_threads(rng, monkeypatch, calls, n):
    monkeypatch.setattr(conv_direct, "SPLIT_MIN_WORK", 0)
    x = rng.standard_normal((n, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    gy = rng.standard_normal((n, 16, 14, 14)).astype(np.float32)
    assert_same_at_one_and_two_threads(x, w, b, gy)
    assert calls.n == 2


@pytest.mark.parametrize("shape, wshape, kw, taken", [
    ((2, 6, 14, 14), (16, 6, 5, 5), {}, True),  # LeNet-5's conv2
    ((2, 1, 8, 8), (4, 1, 3, 3), {"padding": 1}, True),  # one input channel
    ((2, 15, 8, 8), (4, 15, 3, 3), {"padding": 1}, True),
    ((2, 16, 8, 8), (4, 16, 3, 3), {"padding": 1}, False),  # 16 channels: shifted views
    ((2, 3, 8, 8), (4, 3, 3, 9), {"padding": (1, 4)}, False),  # rows wider than MAX_KW
    ((2, 3, 10, 10), (4, 3, 3, 3), {"stride": 2}, False),
    ((2, 3, 10, 10), (4, 3, 3, 3), {"dilation": 2}, False),
    ((2, 4, 10, 10), (4, 2, 3, 3), {"groups": 2}, False),
    ((2, 3, 6, 6), (4, 3, 3, 3), {"padding": 3}, False),  # pads past k - 1
    ((0, 3, 6, 6), (4, 3, 3, 3), {}, False),  # an empty batch
])
def test_which_convolutions_take_it(rng, calls, shape, wshape, kw, taken):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32)
    assert_parity(lambda x, w: conv2d(x, w, None, **kw), lambda x, w: TF.conv2d(x, w, None, **kw),
                  [x, w])
    assert calls.n == int(taken)


def test_without_numba_the_other_paths(rng, monkeypatch, calls):
    monkeypatch.setattr(kernels, "numba_enabled", lambda: False)
    parity_case(rng, CASES[0], np.float32)
    assert calls.n == 0


def test_only_float_dtypes():
    args = ((1, 3, 8, 8), (2, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    ok = conv_direct_input_grad.input_grad_ok
    assert ok(*args, np.float32, 16) and ok(*args, np.float64, 16)
    assert not ok(*args, np.int64, 16)
