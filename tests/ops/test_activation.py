"""Activations: gradcheck, torch parity, and stability at +-1e4 with warnings as errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array

DTYPES = [np.float64, np.float32]

ACTIVATIONS = {
    "sigmoid": (zg.sigmoid, torch.sigmoid),
    "tanh": (zg.tanh, torch.tanh),
    "relu": (zg.relu, torch.relu),
    "leaky_relu": (zg.leaky_relu, TF.leaky_relu),
    "leaky_relu_0.2": (
        lambda x: zg.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)
    ),
    "elu": (zg.elu, TF.elu),
    "elu_alpha": (lambda x: zg.elu(x, alpha=0.5), lambda x: TF.elu(x, alpha=0.5)),
    "gelu": (zg.gelu, TF.gelu),
    "gelu_tanh": (
        lambda x: zg.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")
    ),
    "silu": (zg.silu, TF.silu),
    "softplus": (zg.softplus, TF.softplus),
    "softplus_beta": (
        lambda x: zg.softplus(x, beta=2.0, threshold=3.0),
        lambda x: TF.softplus(x, beta=2.0, threshold=3.0),
    ),
    "softmax_last": (lambda x: zg.softmax(x, -1), lambda x: TF.softmax(x, -1)),
    "softmax_0": (lambda x: zg.softmax(x, 0), lambda x: TF.softmax(x, 0)),
    "log_softmax_last": (lambda x: zg.log_softmax(x, -1), lambda x: TF.log_softmax(x, -1)),
    "log_softmax_0": (lambda x: x.log_softmax(0), lambda x: x.log_softmax(0)),
    "method_softmax": (lambda x: x.softmax(-1), lambda x: x.softmax(-1)),
    "method_sigmoid_tanh_relu": (
        lambda x: x.sigmoid() + x.tanh() * x.relu(), lambda x: x.sigmoid() + x.tanh() * x.relu()
    ),
}
SHAPES = [(5,), (3, 4), (2, 3, 4), (1, 1)]


def _away_from_kinks(rng, shape, dtype):
    """Values in (-4, 4) avoiding |x| < 0.05 (relu's kink) and softplus_beta's threshold."""
    x = rand_array(rng, shape, np.float64, -4, 4)
    x = np.where(np.abs(x) < 0.05, 0.5, x)
    x = np.where(np.abs(2 * x - 3.0) < 0.05, 1.0, x)
    return x.astype(dtype)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradcheck(name, rng):
    zfn, _ = ACTIVATIONS[name]
    for shape in SHAPES:
        assert check_grad(zfn, _away_from_kinks(rng, shape, np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_parity(name, dtype, rng):
    zfn, tfn = ACTIVATIONS[name]
    for shape in SHAPES + [(8, 16, 10)]:
        assert_parity(zfn, tfn, [_away_from_kinks(rng, shape, dtype)])


def test_0d_softmax_and_activations():
    x = np.array(0.7)
    for name in ("softmax_last", "log_softmax_last", "sigmoid", "gelu", "softplus"):
        zfn, tfn = ACTIVATIONS[name]
        assert_parity(zfn, tfn, [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_stable_at_extremes(name, dtype):
    """No overflow/invalid/divide warnings and no NaN forward or backward at +-1e4.

    Underflow to 0 (e.g. e^(-1e4) inside softmax) is the correct result, so only it is
    allowed.
    """
    zfn, tfn = ACTIVATIONS[name]
    x = np.array([[-1e4, -1e3, -30.0, -1.0, 0.0, 1.0, 30.0, 1e3, 1e4]] * 2, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            t = zg.tensor(x, requires_grad=True)
            y = zfn(t)
            y.backward(zg.ones_like(y))
    assert np.all(np.isfinite(y.detach().numpy())), y
    assert np.all(np.isfinite(t.grad.numpy())), t.grad
    # and the values are torch's (torch at +-1e4 is exact up to float rounding)
    assert_parity(zfn, tfn, [x])


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = zg.zeros(3, requires_grad=True)
    zg.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0])


def test_activation_input_errors():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        zg.gelu(zg.ones(2), approximate="fast")
    with pytest.raises(TypeError, match="floating point"):
        zg.softmax(zg.tensor([1, 2]), 0)
    with pytest.raises(IndexError, match="got 2"):
        zg.softmax(zg.ones(2, 2), 2)
