"""nn.init: statistics of each initializer (not torch's RNG stream), fans, gains."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import zengrad as zg
import zengrad.nn as nn
from zengrad.nn import init


def _z(*shape, dtype=zg.float32):
    return zg.empty(*shape, dtype=dtype)


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (2, 6, 7), (4, 4, 2, 2, 2)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(_z(*shape)) == (
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    )


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_z(5))


@pytest.mark.parametrize(
    "args",
    [("linear",), ("conv2d",), ("conv_transpose3d",), ("sigmoid",), ("tanh",), ("relu",),
     ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu",)],
)
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def _check_uniform(data, bound):
    assert np.abs(data).max() <= bound and np.abs(data).max() > 0.99 * bound
    np.testing.assert_allclose(data.mean(), 0, atol=0.01 * bound)
    np.testing.assert_allclose(data.std(), bound / math.sqrt(3), rtol=0.01)


def _check_normal(data, std, mean=0.0):
    np.testing.assert_allclose(data.mean(), mean, atol=0.01 * std)
    np.testing.assert_allclose(data.std(), std, rtol=0.01)


def test_uniform_normal_constant():
    t = _z(300, 300)
    assert init.uniform_(t, -2.0, 3.0) is t
    assert t.array.min() >= -2 and t.array.max() < 3
    np.testing.assert_allclose(t.array.mean(), 0.5, atol=0.02)
    init.normal_(t, 1.0, 2.0)
    _check_normal(t.array, 2.0, mean=1.0)
    assert t.dtype == np.float32
    init.constant_(t, 0.25)
    assert (t.array == 0.25).all()
    init.zeros_(t)
    assert not t.array.any()
    init.ones_(t)
    assert (t.array == 1).all()
    e = init.eye_(_z(3, 5))
    np.testing.assert_array_equal(e.array, np.eye(3, 5))


def test_init_works_on_parameters_without_no_grad():
    p = nn.Parameter(zg.empty(400, 500))
    init.xavier_uniform_(p)
    assert p.requires_grad and p.grad_fn is None
    _check_uniform(p.array, math.sqrt(6 / 900))


def test_xavier():
    t = _z(200, 100, 3, 3)  # fan_in 900, fan_out 1800
    init.xavier_uniform_(t, gain=2.0)
    _check_uniform(t.array, 2.0 * math.sqrt(6 / 2700))
    init.xavier_normal_(t, gain=0.5)
    _check_normal(t.array, 0.5 * math.sqrt(2 / 2700))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(mode):
    t = _z(300, 200, 3)  # fan_in 600, fan_out 900
    fan = 600 if mode == "fan_in" else 900
    init.kaiming_uniform_(t, mode=mode, nonlinearity="relu")
    _check_uniform(t.array, math.sqrt(2) * math.sqrt(3 / fan))
    init.kaiming_normal_(t, a=0.1, mode=mode)  # leaky_relu by default
    _check_normal(t.array, math.sqrt(2 / (1 + 0.01)) / math.sqrt(fan))
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_uniform_(t, mode="fan_avg")


def test_kaiming_uniform_sqrt5_gives_linear_default_bound():
    t = _z(300, 400)
    init.kaiming_uniform_(t, a=math.sqrt(5))
    _check_uniform(t.array, 1 / math.sqrt(400))


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 3, 2, 2), (5, 5)])
def test_orthogonal(shape):
    t = _z(*shape, dtype=zg.float64)
    init.orthogonal_(t, gain=1.5)
    m = t.array.reshape(shape[0], -1)
    rows, cols = m.shape
    if rows <= cols:
        np.testing.assert_allclose(m @ m.T, 2.25 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(m.T @ m, 2.25 * np.eye(cols), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more"):
        init.orthogonal_(_z(4))


def test_orthogonal_is_haar_distributed():
    # without the sign fix QR of a Gaussian gives diag(R) > 0 and a biased Q: with it, each
    # entry of a random 2x2 orthogonal matrix is symmetric about 0
    firsts = np.array([init.orthogonal_(_z(2, 2, dtype=zg.float64)).array[0, 0]
                       for _ in range(2000)])
    assert abs((firsts > 0).mean() - 0.5) < 0.05


def test_trunc_normal():
    t = _z(400, 500)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=-1.0, b=2.0)
    assert t.array.min() >= -1 and t.array.max() <= 2
    dist = stats.truncnorm((-1 - 1) / 2, (2 - 1) / 2, loc=1.0, scale=2.0)
    np.testing.assert_allclose(t.array.mean(), dist.mean(), atol=0.01)
    np.testing.assert_allclose(t.array.std(), dist.std(), rtol=0.01)


def test_dirac_and_sparse():
    w = init.dirac_(_z(4, 2, 3, 3))
    x = torch.randn(1, 2, 5, 5)
    y = torch.nn.functional.conv2d(x, torch.from_numpy(w.array.copy()), padding=1)
    np.testing.assert_allclose(y[0, :2].numpy(), x[0].numpy(), atol=1e-6)  # identity
    assert not y[0, 2:].numpy().any()
    s = init.sparse_(_z(10, 30), sparsity=0.3)
    assert ((s.array == 0).sum(axis=0) == 3).all()


def test_init_is_seeded():
    zg.manual_seed(5)
    a = init.kaiming_normal_(_z(10, 10)).array.copy()
    zg.manual_seed(5)
    b = init.kaiming_normal_(_z(10, 10)).array
    np.testing.assert_array_equal(a, b)
