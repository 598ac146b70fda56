"""l1_penalty / l2_penalty: values, which parameters count, gradcheck, use in a loss."""

import numpy as np
import pytest

import zengrad as zg
import zengrad.nn as nn
from zengrad.nn.utils import l1_penalty, l2_penalty


def _model():
    return nn.Sequential(nn.Linear(3, 4, dtype=zg.float64), nn.Linear(4, 2, dtype=zg.float64))


def test_values_and_selection():
    m = _model()
    w0, b0, w1, b1 = (p.array for p in m.parameters())
    assert l1_penalty(m).item() == pytest.approx(np.abs(w0).sum() + np.abs(w1).sum())
    assert l2_penalty(m).item() == pytest.approx((w0**2).sum() + (w1**2).sum())
    everything = sum((a**2).sum() for a in (w0, b0, w1, b1))
    assert l2_penalty(m, weight_only=False).item() == pytest.approx(everything)
    assert l1_penalty(list(m.parameters()), weight_only=False).item() == pytest.approx(
        sum(np.abs(a).sum() for a in (w0, b0, w1, b1))
    )
    assert l1_penalty([m[0].bias]).item() == 0.0  # no weights selected
    assert l2_penalty(m).dtype == np.float64
    assert l2_penalty(nn.Linear(2, 2)).dtype == np.float32


@pytest.mark.parametrize("penalty", [l1_penalty, l2_penalty])
def test_gradcheck(penalty, rng):
    a = zg.tensor(rng.uniform(-1, 1, (3, 4)), requires_grad=True)
    b = zg.tensor(rng.uniform(-1, 1, (2, 2, 2)), requires_grad=True)
    c = zg.tensor(rng.uniform(-1, 1, (5,)), requires_grad=True)
    assert zg.gradcheck(lambda x, y, z: penalty([x, y, z], weight_only=False), [a, b, c])
    assert zg.gradcheck(lambda x, y, z: penalty([x, y, z]), [a, b, c])


def test_gradients_in_a_loss():
    m = _model()
    x = zg.randn(5, 3, dtype=zg.float64)
    loss = m(x).pow(2).mean() + 0.1 * l1_penalty(m) + 0.5 * 0.01 * l2_penalty(m)
    loss.backward()
    grads = {n: p.grad.array.copy() for n, p in m.named_parameters()}
    m.zero_grad()
    m(x).pow(2).mean().backward()
    for n, p in m.named_parameters():
        extra = 0.1 * np.sign(p.array) + 0.01 * p.array if p.ndim >= 2 else 0.0
        np.testing.assert_allclose(grads[n], p.grad.array + extra, rtol=1e-12, atol=1e-14)


def test_bad_input():
    with pytest.raises(TypeError, match="Module"):
        l1_penalty(3)
