"""Dropout: statistics, gradient, train/eval, edge probabilities, dtype."""

import numpy as np
import pytest

import zengrad as zg
import zengrad.nn as nn
import zengrad.nn.functional as F


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = zg.ones(200_000)
    y = F.dropout(x, p).array
    n = y.size
    zero_frac = (y == 0).mean()
    # zero count ~ Binomial(n, p): allow 5 standard deviations
    assert abs(zero_frac - p) < 5 * np.sqrt(p * (1 - p) / n)
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1 / (1 - p), rtol=1e-6)  # survivors scaled exactly
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)  # mean preserved


def test_dropout_gradient_is_the_scaled_mask():
    x = zg.randn(50, 40, dtype=zg.float64, requires_grad=True)
    y = F.dropout(x, 0.3)
    g = np.random.default_rng(0).standard_normal(x.shape)
    y.backward(zg.tensor(g))
    mask = y.array / x.array  # the scaled mask used in forward: 0 or 1/0.7
    assert set(np.round(np.unique(mask), 10)) <= {0.0, round(1 / 0.7, 10)}
    np.testing.assert_allclose(x.grad.array, g * mask, rtol=1e-12)


def test_dropout_gradcheck_with_fixed_mask():
    x = zg.randn(4, 5, dtype=zg.float64, requires_grad=True)

    def f(t):
        zg.manual_seed(3)  # the same mask on every evaluation
        return F.dropout(t, 0.4)

    assert zg.gradcheck(f, [x])


def test_train_eval_toggles_dropout():
    m = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    x = zg.randn(64, 10)
    y_train = m(x)
    assert (y_train.array == 0).mean() > 0.3
    m.eval()
    with zg.no_grad():
        ref = m[0](x)
        y_eval = m(x)
    np.testing.assert_array_equal(y_eval.array, ref.array)
    m.train()
    assert (m(x).array == 0).mean() > 0.3


def test_dropout_edges_and_dtype():
    x = zg.randn(100, 3, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert not y.array.any()
    y.sum().backward()
    assert not x.grad.array.any()
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.7, training=False) is x
    assert F.dropout(x, 0.5).dtype == np.float32
    assert F.dropout(x.double(), 0.5).dtype == np.float64
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_dropout_is_seeded():
    x = zg.ones(1000)
    zg.manual_seed(7)
    a = F.dropout(x, 0.5).array
    zg.manual_seed(7)
    b = F.dropout(x, 0.5).array
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5).array)
