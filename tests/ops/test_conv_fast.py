"""The shifted-view convolution path (ops.conv_implicit): float64 gradcheck and torch parity
(outputs, input, weight and bias gradients) on the cases it takes, with the size threshold
lowered so that small cases reach it and the chunk made small so that several chunks (and a
ragged last one) run; and the real threshold: sizes just below take the im2col path, just
above the shifted one, both equal to torch. Then the input gradient alone on that path (fewer
channels: the forward and dW on im2col)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from tests.ops.conv_cases import (
    CallSpy,
    assert_same_at_one_and_two_threads,
    case_fns,
    case_inputs,
    gradcheck_case,
    parity_case,
)
from zengrad.ops import conv as conv_ops
from zengrad.ops import conv_direct, conv_direct_input_grad, conv_implicit, scratch
from zengrad.ops.conv import conv1d, conv2d

# torch warns that even kernels with padding='same' need a padded copy
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.fixture
def calls(monkeypatch):
    """Counts (as n) the calls of ops.conv's correlate (forward and input gradient) and
    input_and_weight_grad (the input gradient with dW). The direct input gradient that
    convolutions with few input channels take where Numba runs (test_conv_direct_input_grad)
    is turned off: these tests are of the shifted-view path, which is taken without Numba."""
    monkeypatch.setattr(conv_direct_input_grad, "input_grad_ok", lambda *args: False)
    spy = CallSpy(monkeypatch)
    spy.count(conv_ops, "correlate", "n", conv_implicit.correlate)
    spy.count(conv_ops, "input_and_weight_grad", "n", conv_implicit.input_and_weight_grad)
    return spy


@pytest.fixture
def small(monkeypatch):
    """Every stride-1 float conv takes the path (none the direct one), and a chunk is about
    one small image."""
    monkeypatch.setattr(conv_direct, "DIRECT_MAX_CHANNELS", 0)
    monkeypatch.setattr(conv_implicit, "MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_implicit, "MIN_WORK", 1)
    monkeypatch.setattr(conv_implicit, "MIN_POSITIONS", 1)
    monkeypatch.setattr(conv_implicit, "CHUNK_FLOATS", 64)


# (N, C, H, W, OC, kernel, padding, dilation, bias)
CASES = [
    (2, 3, 5, 6, 4, 3, 1, 1, True),
    (3, 2, 7, 5, 3, 3, 0, 1, False),
    (1, 1, 4, 4, 1, 3, 1, 1, True),  # size-1 batch and channels
    (3, 2, 5, 7, 2, 3, (0, 1), 1, True),
    (2, 2, 3, 3, 3, 3, 2, 1, True),  # padding 2: a full correlation; dx pads by 0
    (2, 2, 6, 6, 3, (2, 3), "same", 1, False),  # asymmetric padding
    (2, 2, 7, 8, 2, 3, 2, 2, True),  # dilation 2
    (1, 3, 1, 9, 2, (1, 3), (0, 1), 1, True),  # a height-1 image
]


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(rng, small, calls, case):
    assert gradcheck_case(rng, case)
    assert calls.n > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_parity_with_torch(rng, small, calls, case, dtype):
    parity_case(rng, case, dtype)
    assert calls.n == 2  # the forward and the input gradient


def test_conv1d(rng, small, calls):
    x = rng.standard_normal((3, 4, 11))
    w = rng.standard_normal((5, 4, 3))
    b = rng.standard_normal(5)
    assert check_grad(lambda x, w, b: conv1d(x, w, b, padding=1), x, w, b)
    assert_parity(
        lambda x, w, b: conv1d(x, w, b, padding=1),
        lambda x, w, b: TF.conv1d(x, w, b, padding=1),
        [x, w, b],
    )


def test_weight_only_and_input_only(rng, small, calls):
    """A frozen weight (no dW, no saved input) or an input that needs no gradient."""
    x, w, b = case_inputs(rng, CASES[0])
    assert_parity(lambda x: conv2d(x, zg.from_numpy(w.copy()), None, padding=1),
                  lambda x: TF.conv2d(x, torch.from_numpy(w.copy()), None, padding=1), [x])
    assert_parity(lambda w: conv2d(zg.from_numpy(x.copy()), w, None, padding=1),
                  lambda w: TF.conv2d(torch.from_numpy(x.copy()), w, None, padding=1), [w])
    assert calls.n == 3  # two forwards, one input gradient


@pytest.mark.parametrize("case, taken", [
    ((1, 16, 16, 16, 16), False),  # 0.6 M multiply-adds: below MIN_WORK
    ((1, 8, 32, 32, 64), False),  # too few input channels
    ((1, 64, 8, 8, 64), False),  # 2.4 M, but 64 output positions
    ((2, 16, 32, 32, 16), True),  # 4.7 M
    ((3, 16, 9, 11, 64), True),  # odd sizes, several images per chunk (Winograd: >= 32 in)
])
def test_real_threshold(rng, calls, case, taken):
    n, c, h, w, oc = case
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((oc, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    assert_parity(lambda x, w, b: conv2d(x, w, b, padding=1),
                  lambda x, w, b: TF.conv2d(x, w, b, padding=1), [x, wt, b])
    assert (calls.n == 2) == taken


@pytest.mark.parametrize("kwargs", [
    {"stride": 2, "padding": 1}, {"padding": 3}, {"groups": 2, "padding": 1},
])
def test_other_cases_keep_the_im2col_path(rng, small, calls, kwargs):
    x = rng.standard_normal((2, 4, 7, 7))
    wt = rng.standard_normal((4, 4 // kwargs.get("groups", 1), 3, 3))
    assert_parity(lambda x, w: conv2d(x, w, **kwargs), lambda x, w: TF.conv2d(x, w, **kwargs),
                  [x, wt])
    assert calls.n == 0


def test_empty_batch(rng, small, calls):
    x = np.zeros((0, 3, 5, 5))
    wt = rng.standard_normal((2, 3, 3, 3))
    assert_parity(lambda x, w: conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
                  [x, wt])
    assert calls.n == 0


@pytest.mark.parametrize("n", [8, 1])  # 8 chunks over the threads; one (BLAS splits it)
def test_two_threads_give_the_one_thread_result_bit_for_bit(rng, small, calls, n):
    """Chunks spread over threads: every output, dx and dW bit the same (dW's chunk partial
    sums are added in chunk order whichever thread made them)."""
    x = rng.standard_normal((n, 24, 16, 16)).astype(np.float32)  # (< 32: not Winograd)
    w = rng.standard_normal((24, 24, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    gy = rng.standard_normal((n, 24, 16, 16)).astype(np.float32)
    assert_same_at_one_and_two_threads(x, w, b, gy)
    assert calls.n == 4


# ----- the input gradient alone on the shifted path (MIN_DX_CHANNELS <= C < MIN_CHANNELS) -----
# (N, C, H, W, OC, kernel, padding, dilation, bias), at the real thresholds
DX_CASES = [
    (3, 6, 14, 14, 16, 5, 0, 1, True),  # LeNet's conv2, a smaller batch (300 >= 256 positions)
    (4, 3, 9, 8, 5, 3, 1, 1, False),  # the fewest channels that take it, padded
    (3, 4, 10, 9, 2, (3, 2), "same", 1, True),  # asymmetric padding
    (3, 5, 11, 11, 3, 3, 2, 2, True),  # dilation 2, the largest padding that fits
]


@pytest.mark.parametrize("case", DX_CASES)
def test_input_gradient_alone_gradcheck(rng, calls, case):
    x, w, b = case_inputs(rng, case)
    fn, _ = case_fns(case)
    assert check_grad(fn, *((x, w) if b is None else (x, w, b)))
    assert calls.n > 0  # only backward passes call it: the forward stays on im2col


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", DX_CASES)
def test_input_gradient_alone_parity(rng, calls, case, dtype):
    x, w, b = case_inputs(rng, case, dtype)
    fn, tfn = case_fns(case)
    assert_parity(fn, tfn, [x, w] if b is None else [x, w, b])
    assert calls.n == 1  # the input gradient only


@pytest.mark.parametrize("c, taken", [(2, False), (3, True)])
def test_input_gradient_channel_threshold(rng, calls, c, taken):
    x = rng.standard_normal((2, c, 12, 12)).astype(np.float32)
    wt = rng.standard_normal((8, c, 3, 3)).astype(np.float32)
    assert_parity(lambda x, w: conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
                  [x, wt])
    assert calls.n == int(taken)


def test_input_gradient_alone_conv1d(rng, calls):
    x = rng.standard_normal((3, 4, 90))
    w = rng.standard_normal((5, 4, 3))
    assert check_grad(lambda x, w: conv1d(x, w, padding=1), x, w)
    assert_parity(lambda x, w: conv1d(x, w, padding=1),
                  lambda x, w: TF.conv1d(x, w, padding=1), [x, w])
    assert calls.n > 0


def test_input_gradient_alone_two_threads_bit_for_bit(rng, calls):
    x = rng.standard_normal((16, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    gy = rng.standard_normal((16, 16, 14, 14)).astype(np.float32)
    assert_same_at_one_and_two_threads(x, w, b, gy)
    assert calls.n == 2


# ----- buffers kept between steps (scratch.kept_empty) -----------------------------------
def test_kept_buffer_is_handed_out_again_only_when_free():
    shape = (64, 1024)  # 256 KiB of float32: kept
    a = scratch.kept_empty(np, shape, np.float32)
    b = scratch.kept_empty(np, shape, np.float32)
    assert not np.shares_memory(a, b)  # a is still held
    view = a[1:]
    del a
    c = scratch.kept_empty(np, shape, np.float32)
    assert not np.shares_memory(c, view)  # a view keeps its base busy
    del view, b, c
    small = scratch.kept_empty(np, (4, 4), np.float32)
    assert small.shape == (4, 4)  # small ones are plain allocations


def test_graphs_alive_at_once_keep_their_own_columns(rng):
    """Two forwards of the same shapes before either backward (LeNet's conv2 sizes: the
    im2col columns are kept buffers): each backward reads its own input's columns."""
    xs = [rng.standard_normal((64, 6, 14, 14)).astype(np.float32) for _ in range(3)]
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    wz = zg.from_numpy(w).requires_grad_()
    outs = [conv2d(zg.from_numpy(x), wz) for x in xs]
    grads = []
    for y in outs[::-1]:
        wz.grad = None
        y.sum().backward()
        grads.append(wz.grad.numpy().copy())
    wt = torch.from_numpy(w).requires_grad_()
    for x, g in zip(xs[::-1], grads):
        wt.grad = None
        TF.conv2d(torch.from_numpy(x), wt).sum().backward()
        np.testing.assert_allclose(g, wt.grad.numpy(), rtol=1e-4, atol=1e-3)
