"""x op= y acts in place as in torch, recorded in the graph where torch records it (more on
in-place ops in the graph: test_inplace_graph.py)."""

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
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w -= 1


def test_graph_tensors_keep_their_gradients():
    """h += x on a non-leaf, and z += y on a plain tensor with y in the graph: recorded, as
    torch, with the same values and gradients, and h keeps its identity."""
    xs = np.random.default_rng(0).standard_normal(3)
    grads = []
    for lib in (zg, torch):
        x = lib.tensor(xs, requires_grad=True)
        h = x * 2
        ref = h
        h += x
        h *= x
        z = lib.zeros(3, dtype=h.dtype)
        z += h
        assert ref is h and z.requires_grad
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


def test_writing_a_graph_tensor_into_a_plain_one_is_recorded_not_silently_cut():
    v = zg.tensor([1.0, 2.0], requires_grad=True)
    out = zg.zeros(3)
    out[0] = v[0]
    out[1:] = out[1:] + v
    out.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [2.0, 1.0])
    with zg.no_grad():  # under no_grad it is a plain write, as torch
        plain = zg.zeros(3)
        plain[0] = v[0]
    assert float(plain[0]) == float(v[0]) and not plain.requires_grad
