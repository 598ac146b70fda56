"""`Tensor.data` is torch's: a detached Tensor sharing storage; `x.data = t` swaps storage."""

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad import nn


def test_data_is_a_detached_tensor_sharing_storage():
    p = nn.Parameter(zg.ones(3))
    d = p.data
    assert isinstance(d, zg.Tensor) and not isinstance(d, nn.Parameter)
    assert not d.requires_grad and d.grad_fn is None
    d.add_(2.0)  # the torch idiom for an untracked update
    np.testing.assert_array_equal(p.detach().numpy(), [3.0, 3.0, 3.0])
    p.data.fill_(0.5)
    assert float(p.data.norm()) == pytest.approx(np.sqrt(0.75))
    assert p.data.size() == (3,) and p.requires_grad


def test_data_matches_torch_in_common_idioms():
    rng = np.random.default_rng(0)
    out = rng.standard_normal((4, 5)).astype(np.float32)
    z = zg.tensor(out, requires_grad=True) * 2
    t = torch.tensor(out, requires_grad=True) * 2
    zv, zi = zg.max(z.data, 1)
    tv, ti = torch.max(t.data, 1)
    np.testing.assert_allclose(zv.numpy(), tv.numpy())
    np.testing.assert_array_equal(zi.numpy(), ti.numpy())
    assert (zi == zg.tensor(ti.numpy())).sum().item() == 4


def test_assigning_data_replaces_the_storage():
    p = nn.Parameter(zg.zeros(2, 2))
    new = zg.arange(6.0).reshape(2, 3)
    p.data = new
    assert p.shape == (2, 3) and p.requires_grad
    new.mul_(2)  # shared, as in torch
    np.testing.assert_array_equal(p.detach().numpy(), np.arange(6.0).reshape(2, 3) * 2)


def test_assigning_data_refuses_what_torch_refuses():
    p = nn.Parameter(zg.zeros(2))
    with pytest.raises(TypeError, match="needs a Tensor"):
        p.data = np.ones(2)
    with pytest.raises(RuntimeError, match="floating-point"):
        p.data = zg.tensor([1, 2])
