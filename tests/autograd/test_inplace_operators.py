"""x op= y acts in place as in torch; where torch would record an in-place op in the graph,
zengrad computes out of place (same values and gradients) or raises, never drops the graph."""

import operator

import numpy as np
import pytest
import torch

import zengrad as zg


@pytest.mark.parametrize("op", [operator.iadd, operator.isub, operator.imul, operator.itruediv])
def test_manual_sgd_step_updates_the_parameters_in_place(op):
    m = zg.nn.Linear(3, 2)
    before = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    m(zg.randn(4, 3)).pow(2).sum().backward()
    with zg.no_grad():
        for p in m.parameters():
            g = 0.1 * p.grad + 1.0 if op is operator.itruediv else 0.1 * p.grad
            assert op(p, g) is p  # `p -= g` keeps the name on the same tensor
    for name, p in m.named_parameters():
        assert p is getattr(m, name.split(".")[-1]) and p.requires_grad
        assert not np.allclose(before[name], p.detach().numpy()), name


def test_aliases_see_the_update_as_in_torch():
    for lib in (zg, torch):
        a = lib.ones(3)
        b = a
        b += 2
        assert a is b and float(a.sum()) == 9.0


def test_leaf_that_requires_grad_refuses_under_grad_mode_as_torch():
    with pytest.raises(RuntimeError):
        t = torch.ones(2, requires_grad=True)
        t -= 1
    w = zg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        w -= 1


def test_graph_tensors_keep_their_gradients():
    """h += x on a non-leaf, and z += y on a plain tensor with y in the graph: torch records
    both; zengrad gives the same values and gradients."""
    xs = np.random.default_rng(0).standard_normal(3)
    grads = []
    for lib in (zg, torch):
        x = lib.tensor(xs, requires_grad=True)
        h = x * 2
        h += x
        h *= x
        z = lib.zeros(3, dtype=h.dtype)
        z += h
        z.sum().backward()
        grads.append(np.asarray(x.grad.detach().numpy()))
    np.testing.assert_allclose(grads[0], grads[1])


def test_dtype_that_does_not_fit_is_refused_as_torch():
    with pytest.raises(RuntimeError):
        t = torch.ones(3, dtype=torch.int64)
        t -= 1.5
    a = zg.ones(3, dtype=zg.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        a -= 1.5


def test_writing_a_graph_tensor_into_a_plain_one_is_refused_not_silently_cut():
    v = zg.randn(2, requires_grad=True)
    out = zg.zeros(3)
    with pytest.raises(RuntimeError, match="not recorded"):
        out[0] = v[0]
    with pytest.raises(RuntimeError, match="not recorded"):
        out[:2].add_(v)
    with pytest.raises(RuntimeError, match="not recorded"):
        out[:2].copy_(v)
    with zg.no_grad():  # under no_grad it is a plain write, as torch
        out[0] = v[0]
    assert float(out[0]) == float(v[0])
