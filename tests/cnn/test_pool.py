"""max/avg/adaptive pooling: gradcheck, parity with torch (incl. ties), layers, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from zengrad.nn.pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from zengrad.ops.pool import (
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

# kernel_size, stride, padding, dilation, ceil_mode
MAX_CASES = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 2, 0, 1, True),
    (3, 2, 1, 1, True),
    ((2, 3), (1, 2), (1, 1), (2, 1), False),
    (2, 1, 0, 1, False),  # overlapping windows
    (1, 2, 0, 1, False),
]
# kernel_size, stride, padding, ceil_mode, count_include_pad
AVG_CASES = [
    (2, None, 0, False, True),
    (3, 2, 1, False, True),
    (3, 2, 1, False, False),
    (3, 2, 1, True, True),
    (3, 2, 1, True, False),
    (3, 2, 0, True, True),
    ((2, 3), (1, 2), (1, 1), False, False),
]


def _distinct(rng, shape):
    """Values with no ties (finite differences are undefined at a tie)."""
    return rng.permutation(np.prod(shape)).reshape(shape) / 7.0 + rng.uniform(0, 0.01, shape)


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_gradcheck(rng, case):
    k, s, p, d, c = case
    x = _distinct(rng, (2, 2, 7, 6))
    assert check_grad(lambda x: max_pool2d(x, k, s, p, d, c), x)


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_gradcheck(rng, case):
    k, s, p, c, cip = case
    x = rng.standard_normal((2, 2, 7, 6))
    assert check_grad(lambda x: avg_pool2d(x, k, s, p, c, cip), x)


def test_pool1d_and_adaptive_gradcheck(rng):
    x = _distinct(rng, (2, 3, 9))
    assert check_grad(lambda x: max_pool1d(x, 3, 2, 1, 1, True), x)
    assert check_grad(lambda x: avg_pool1d(x, 3, 2, 1, True, False), x)
    x = rng.standard_normal((2, 2, 7, 6))
    for size in (1, (3, 4), (2, 2), (5, None)):
        assert check_grad(lambda x, size=size: adaptive_avg_pool2d(x, size), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_parity(rng, case, dtype):
    k, s, p, d, c = case
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    assert_parity(
        lambda x: max_pool2d(x, k, s, p, d, c), lambda x: TF.max_pool2d(x, k, s, p, d, c), [x]
    )


@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_ties_go_to_first_max(rng, case):
    """Rounded values (and all-zero windows after a ReLU) tie: the gradient goes to one
    element per window, the first maximum in row-major order, exactly as torch."""
    k, s, p, d, c = case
    x = np.maximum(np.round(rng.standard_normal((2, 3, 9, 8))), 0)
    assert_parity(
        lambda x: max_pool2d(x, k, s, p, d, c), lambda x: TF.max_pool2d(x, k, s, p, d, c), [x]
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_parity(rng, case, dtype):
    k, s, p, c, cip = case
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    assert_parity(
        lambda x: avg_pool2d(x, k, s, p, c, cip),
        lambda x: TF.avg_pool2d(x, k, s, p, c, cip),
        [x],
    )


def test_avg_pool2d_divisor_override(rng):
    x = rng.standard_normal((2, 3, 7, 7))
    assert_parity(
        lambda x: avg_pool2d(x, 3, 2, 1, divisor_override=4),
        lambda x: TF.avg_pool2d(x, 3, 2, 1, divisor_override=4),
        [x],
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pool1d_parity(rng, dtype):
    x = np.round(rng.standard_normal((2, 3, 11)), 1).astype(dtype)
    for k, s, p, c in [(2, None, 0, False), (3, 2, 1, True), (3, 1, 1, False)]:
        args = (k, s, p, 1, c)
        assert_parity(
            lambda x, a=args: max_pool1d(x, *a), lambda x, a=args: TF.max_pool1d(x, *a), [x]
        )
        for cip in (True, False):
            args = (k, s, p, c, cip)
            assert_parity(
                lambda x, a=args: avg_pool1d(x, *a), lambda x, a=args: TF.avg_pool1d(x, *a), [x]
            )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [1, 2, (3, 4), (5, 3), (None, 2), (9, 8)])
def test_adaptive_avg_pool2d_parity(rng, size, dtype):
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    assert_parity(
        lambda x: adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), [x]
    )


def test_unbatched_and_channel_major_inputs(rng):
    x = rng.standard_normal((3, 8, 8))
    assert_parity(lambda x: max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x])
    assert_parity(lambda x: avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1), [x])
    # a conv output is a (C, N, H, W)-ordered array seen as NCHW; pooling must not care
    cm = np.ascontiguousarray(rng.standard_normal((4, 2, 6, 6)).transpose(1, 0, 2, 3))
    cm = cm.transpose(1, 0, 2, 3)
    assert not cm.flags.c_contiguous
    xz = zg.tensor(cm, requires_grad=True)
    xt = torch.tensor(cm, requires_grad=True)
    for zf, tf in [(max_pool2d, TF.max_pool2d), (avg_pool2d, TF.avg_pool2d)]:
        y, yt = zf(xz, 3, 2, 1), tf(xt, 3, 2, 1)
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
        y.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(xz.grad.data, xt.grad.numpy(), rtol=1e-12)
        xz.grad, xt.grad = None, None


def test_pool_layers_match_torch(rng):
    x = rng.standard_normal((2, 3, 9, 9))
    pairs = [
        (MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (
            AvgPool2d(3, 2, 1, count_include_pad=False),
            torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        ),
        (AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3))),
    ]
    for zm, tm in pairs:
        assert_parity(lambda x, zm=zm: zm(x), lambda x, tm=tm: tm(x), [x])
    x1 = rng.standard_normal((2, 3, 9))
    assert_parity(lambda x: MaxPool1d(2)(x), lambda x: torch.nn.MaxPool1d(2)(x), [x1])
    assert_parity(lambda x: AvgPool1d(3, 2)(x), lambda x: torch.nn.AvgPool1d(3, 2)(x), [x1])
    assert repr(MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))


def test_max_pool_float32_output(rng):
    x = zg.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    y = max_pool2d(x, 2)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert x.grad.data.sum() == 2 * 3 * 4 * 4  # exactly one 1 per window


def test_pool_errors():
    with pytest.raises(ValueError, match=r"max_pool2d\(kernel_size=\(2, 2\)\).*4-D.*\(8, 8\)"):
        max_pool2d(zg.zeros(8, 8), 2)
    with pytest.raises(ValueError, match="at most half"):
        max_pool2d(zg.zeros(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(ValueError, match="stride must be positive"):
        avg_pool2d(zg.zeros(1, 1, 8, 8), 2, stride=0)
    with pytest.raises(ValueError, match=r"\(1, 1, 2, 2\) is too small"):
        max_pool2d(zg.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d.*\(2, 3\)"):
        adaptive_avg_pool2d(zg.zeros(2, 3), 1)
