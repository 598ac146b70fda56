"""Writes through views rebased onto their base (torch's CopySlices), views taken before a
write reading the new base, and plain aliases of a storage that a write put into the graph:
values and gradients against torch in float64 (1e-12), or a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad.autograd import gradcheck

RNG = np.random.default_rng(5)


def r(*shape):
    return RNG.standard_normal(shape)


def both(fn, *arrays):
    results = []
    for lib in (zg, torch):
        leaves = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=True) for a in arrays]
        out = fn(lib, *leaves)
        cot = np.random.default_rng(0).standard_normal(tuple(out.shape))
        out.backward(lib.tensor(cot, dtype=lib.float64))
        results.append((out.detach().numpy().copy(),
                        [None if t.grad is None else t.grad.numpy().copy() for t in leaves]))
    (zo, zgr), (to, tgr) = results
    np.testing.assert_allclose(zo, to, rtol=1e-12, atol=1e-12)
    for k, (a, b) in enumerate(zip(zgr, tgr)):
        assert (a is None) == (b is None), k
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"leaf {k}")


CASES = {
    "row and column slices": lambda lib, x, y: _rows(lib, x, y),
    "out[t] += v into a plain buffer": lambda lib, x, y: _accumulate(lib, x, y),
    "view taken before the write": lambda lib, x, y: _stale(lib, x, y),
    "plain alias taken before buf[0] = v": lambda lib, x, y: _alias(lib, x, y),
    "a plain temporary view written": lambda lib, x, y: _temporary(lib, x, y),
    "transpose, view(-1) slice, setitem on a view": lambda lib, x, y: _shapes(lib, x, y),
    "reshape, squeeze, permute chains": lambda lib, x, y: _chains(lib, x, y),
    "self as operand through a view": lambda lib, x, y: _self_operand(lib, x, y),
}


def _rows(lib, x, y):
    h = x * 2
    h[0].mul_(3)
    h[:, 1:].add_(y[:, 1:])
    return h * h


def _accumulate(lib, x, y):
    out = lib.zeros(3, 4, dtype=lib.float64)
    for t in range(3):
        out[t] += y[t] * x[t]
    return out * 2


def _stale(lib, x, y):
    h = x * 1
    v = h[1]
    h.mul_(y)
    return v * 3


def _alias(lib, x, y):
    buf = lib.zeros(3, 4, dtype=lib.float64)
    a = buf[0]
    whole = buf.view(12)
    buf[0] = y[0] * x[0]
    return (a * x[1]).sum() + whole.sum() * 2 + buf


def _temporary(lib, x, y):
    buf = lib.zeros(3, 4, dtype=lib.float64)
    buf[1].copy_(y[1])
    buf[2, 1:].mul_(x[2, 1:])
    return buf * x


def _shapes(lib, x, y):
    h = x * 1
    h.t().mul_(y.t())
    h.view(-1)[1:3] = 0.0
    tt = h.transpose(0, 1)
    tt[0] += 1
    return h.exp()


def _chains(lib, x, y):
    h = x * 1
    h.unsqueeze(0).squeeze(0).reshape(12)[::2].mul_(2)
    p = h.permute(1, 0)
    p[1:].clamp_(-0.3, 0.3)
    return h * y


def _self_operand(lib, x, y):
    h = x + 1
    v = h[1:]
    v.add_(v)  # reads v's old values
    return h


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    both(CASES[name], r(3, 4), r(3, 4))


def test_gradcheck_through_rebased_views():
    x = zg.tensor(r(3, 4), requires_grad=True)
    y = zg.tensor(r(3, 4), requires_grad=True)

    def fn(a, b):
        h = a * 1.5
        h[1].mul_(b[0])
        h.t()[2:].tanh_()
        v = h[0]
        h.add_(b)
        return v * h[2]

    assert gradcheck(fn, (x, y))


def test_the_view_reads_the_new_base_and_its_grad_fn():
    x = zg.tensor(r(3, 2), requires_grad=True)
    h = x * 2
    v = h[0]
    v.mul_(3)
    assert v.requires_grad and h.grad_fn.name() == "CopySlices"
    assert v.grad_fn.name() == "AsStridedBackward0"
    assert h._version == v._version == 1


def test_a_leaf_view_is_still_refused():
    for lib in (torch, zg):
        w = lib.tensor(r(3, 2), requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
            w[0].mul_(2)


def test_writes_through_two_temporary_views_of_a_plain_buffer_as_torch():
    def fn(lib, x, y):
        buf = lib.zeros(3, 4, dtype=lib.float64)
        buf[0].add_(x[0])
        buf[1].add_(y[1] * x[1])
        return buf * 2

    both(fn, r(3, 4), r(3, 4))


def test_detached_aliases_stay_out_of_the_graph_as_torch():
    for lib in (zg, torch):
        v = lib.tensor([1.0, 2.0], requires_grad=True)
        buf = lib.zeros(2, 2)
        d = buf.detach()
        buf[0] = v
        y = d * 2  # detach is not a view for autograd
        assert not y.requires_grad


def test_an_optimizer_loop_with_views_is_unaffected():
    model = zg.nn.Linear(3, 2)
    opt = zg.optim.SGD(model.parameters(), lr=0.1)
    x = zg.randn(4, 3)
    for _ in range(2):
        opt.zero_grad()
        out = zg.zeros(4, 2)
        out[:2] = model(x[:2])
        out[2:] = model(x[2:])
        out.pow(2).sum().backward()
        opt.step()
    assert model.weight.grad is not None
