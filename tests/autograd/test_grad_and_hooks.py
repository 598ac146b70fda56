"""zengrad.autograd.grad and Tensor.register_hook, against torch."""

import numpy as np
import pytest
import torch

import zengrad as zg


def _pair(rng, shape=(3, 4)):
    a = rng.standard_normal(shape)
    return zg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def test_grad_matches_torch_for_leaf_and_non_leaf_inputs(rng):
    x, tx = _pair(rng)
    w, tw = _pair(rng, (4, 2))
    h, th = (x @ w).tanh(), torch.tanh(tx @ tw)
    out, tout = (h * h).sum(), (th * th).sum()
    gx, gh = zg.autograd.grad(out, [x, h], retain_graph=True)
    tgx, tgh = torch.autograd.grad(tout, [tx, th], retain_graph=True)
    np.testing.assert_allclose(gx.array, tgx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gh.array, tgh.numpy(), rtol=1e-12)
    assert x.grad is None and w.grad is None  # grad() leaves .grad alone
    (gw,) = zg.autograd.grad(out, w)
    np.testing.assert_allclose(gw.array, torch.autograd.grad(tout, tw)[0].numpy(), rtol=1e-12)


def test_grad_with_several_outputs_and_grad_outputs(rng):
    x, tx = _pair(rng)
    v = rng.standard_normal((3, 4))
    outs = [x.exp(), (x * 2).sum()]
    touts = [tx.exp(), (tx * 2).sum()]
    (g,) = zg.autograd.grad(outs, x, grad_outputs=[zg.tensor(v), None])
    (tg,) = torch.autograd.grad(touts, tx, grad_outputs=[torch.tensor(v), None])
    np.testing.assert_allclose(g.array, tg.numpy(), rtol=1e-12)


def test_grad_unused_input_and_errors(rng):
    x, _ = _pair(rng)
    y, _ = _pair(rng)
    out = (x * 3).sum()
    with pytest.raises(RuntimeError, match="not used"):
        zg.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = zg.autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gy is None and np.allclose(gx.array, 3)
    with pytest.raises(NotImplementedError, match="create_graph"):
        zg.autograd.grad(out, x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        zg.autograd.grad(out, zg.ones(2))


def test_hooks_change_gradients_like_torch(rng):
    x, tx = _pair(rng)
    seen, tseen = [], []
    x.register_hook(lambda g: g * 2)
    tx.register_hook(lambda g: g * 2)
    y, ty = x.sin(), tx.sin()
    y.register_hook(lambda g: seen.append(g.array.copy()))
    ty.register_hook(lambda g: tseen.append(g.detach().numpy().copy()))
    y.retain_grad()
    ty.retain_grad()
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(seen[0], tseen[0], rtol=1e-12)
    np.testing.assert_allclose(y.grad.array, ty.grad.numpy(), rtol=1e-12)


def test_hook_handle_removes_and_requires_grad():
    x = zg.ones(3, requires_grad=True)
    handle = x.register_hook(lambda g: g * 10)
    (x * 1).sum().backward()
    assert np.allclose(x.grad.array, 10)
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert np.allclose(x.grad.array, 1)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        zg.ones(3).register_hook(print)
    y = x * 2
    y.register_hook(lambda g: zg.ones(5))
    with pytest.raises(ValueError, match="hook"):
        y.sum().backward()
