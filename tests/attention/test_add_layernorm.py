"""The post-LN residual block's fused add and norm (ops.layernorm.add_layer_norm): torch
parity for every subset of inputs needing a gradient, float64 gradcheck, and the encoder
layer's parameters all getting gradients through it."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import check_grad, rand_array
from zengrad.ops.layernorm import add_layer_norm


@pytest.mark.parametrize("needs", [(True, True), (False, True), (True, False)], ids=str)
@pytest.mark.parametrize("shape", [(6, 8), (2, 600, 128)], ids=str)  # one block, row blocks
def test_add_layer_norm_matches_torch(needs, shape, rng):
    x, r = rand_array(rng, shape), rand_array(rng, shape)
    w, b = rand_array(rng, shape[-1:]), rand_array(rng, shape[-1:])
    g = rand_array(rng, shape)
    zs = [zg.tensor(a, requires_grad=n) for a, n in zip((x, r, w, b), (*needs, True, True))]
    ts = [torch.tensor(a, requires_grad=n) for a, n in zip((x, r, w, b), (*needs, True, True))]
    y = add_layer_norm(zs[0], zs[1], shape[-1:], zs[2], zs[3])
    yt = TF.layer_norm(ts[0] + ts[1], shape[-1:], ts[2], ts[3])
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert y.grad_fn.name() == "NativeLayerNormBackward0"
    y.backward(zg.tensor(g))
    yt.backward(torch.tensor(g))
    for z, t in zip(zs, ts):
        assert (z.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_add_layer_norm_gradcheck(rng):
    x, r = rand_array(rng, (3, 5)), rand_array(rng, (3, 5))
    w, b = rand_array(rng, (5,)), rand_array(rng, (5,))
    assert check_grad(lambda a, c, u, v: add_layer_norm(a, c, (5,), u, v), x, r, w, b)


def test_encoder_layer_parameters_get_gradients_with_a_constant_input(rng):
    """The input needs no gradient (as in bench's encoder): the attention's parameters still
    get theirs through the first fused add-and-norm, equal to torch's."""
    zg.manual_seed(0)
    layer = zg.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    ref = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True,
                                           dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(v.numpy()).double()
                         for k, v in layer.state_dict().items()})
    layer = layer.double()
    x = rand_array(rng, (2, 8, 16))
    (layer(zg.tensor(x)) ** 2).sum().backward()
    (ref(torch.tensor(x)) ** 2).sum().backward()
    theirs = dict(ref.named_parameters())
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=name)
