"""The fused feed-forward block (ops.linalg.feed_forward_relu = linear, relu, linear): torch
parity for values and every gradient, float64 gradcheck, and the Transformer layer's use of it
only where the composed modules would give the same (no hooks, no active dropout)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import check_grad, rand_array
from zengrad.ops.linalg import feed_forward_relu


@pytest.mark.parametrize("rows,d,hidden", [(6, 4, 5), (300, 8, 32)], ids=str)  # 2nd: folded
@pytest.mark.parametrize("need_x", [True, False])
def test_feed_forward_relu_matches_torch(rows, d, hidden, need_x, rng):
    arrays = [rand_array(rng, s) for s in ((rows, d), (hidden, d), (hidden,), (d, hidden), (d,))]
    needs = (need_x, True, True, True, True)
    zs = [zg.tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
    ts = [torch.tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
    y = feed_forward_relu(*zs)
    yt = TF.linear(TF.relu(TF.linear(ts[0], ts[1], ts[2])), ts[3], ts[4])
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rand_array(rng, (rows, d))
    y.backward(zg.tensor(g))
    yt.backward(torch.tensor(g))
    for z, t in zip(zs, ts):
        assert (z.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_feed_forward_relu_gradcheck(rng):
    arrays = [rand_array(rng, s) for s in ((3, 4), (5, 4), (5,), (2, 5), (2,))]
    assert check_grad(feed_forward_relu, *arrays)


def test_feed_forward_relu_checks_shapes():
    with pytest.raises(ValueError, match="does not take"):
        feed_forward_relu(zg.ones(2, 3), zg.ones(4, 3), None, zg.ones(2, 5), None)


def test_encoder_layer_takes_the_fused_block_only_without_hooks(rng):
    """A forward hook on linear1 still sees its output (the composed path), and the result
    is the fused one's."""
    zg.manual_seed(0)
    layer = zg.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double()
    x = zg.tensor(rand_array(rng, (2, 3, 8)))
    fused = layer(x).detach().numpy()
    seen = []
    layer.linear1.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    hooked = layer(x).detach().numpy()
    assert seen == [(6, 16)]
    np.testing.assert_allclose(hooked, fused, rtol=1e-12, atol=1e-12)
