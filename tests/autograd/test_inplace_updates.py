"""In-place parameter updates outside the graph (optimizer steps, nn.init) count as writes:
a backward through a graph that saved the old weights raises torch's version error instead
of differentiating at the new weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg

OPTIMIZERS = {
    "SGD": lambda lib, ps: lib.optim.SGD(ps, lr=0.1),
    "SGD-momentum": lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam": lambda lib, ps: lib.optim.Adam(ps, lr=0.1),
    "AdamW": lambda lib, ps: lib.optim.AdamW(ps, lr=0.1),
    "RMSprop": lambda lib, ps: lib.optim.RMSprop(ps, lr=0.1),
    "Adagrad": lambda lib, ps: lib.optim.Adagrad(ps, lr=0.1),
}


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 1))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_step_between_forward_and_backward_raises_as_torch(name):
    for lib in (torch, zg):
        model = _model(lib)
        opt = OPTIMIZERS[name](lib, model.parameters())
        x = lib.randn(5, 3)
        model(x).pow(2).sum().backward()
        loss = model(x).pow(2).sum()  # saves the weights
        opt.step()  # ... which the step changes
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_usual_loop_runs_and_each_updated_parameter_counts_a_write(name):
    model = _model(zg)
    opt = OPTIMIZERS[name](zg, model.parameters())
    frozen = model[2].bias
    x = zg.randn(5, 3)
    for _ in range(3):
        opt.zero_grad()
        before = [p._version for p in model.parameters()]
        loss = model(x).pow(2).sum() + 0 * frozen.detach().sum()
        frozen.grad = None
        loss.backward()
        frozen.grad = None  # no gradient: the step leaves it alone (and its version)
        opt.step()
        after = [p._version for p in model.parameters()]
        for p, b, a in zip(model.parameters(), before, after):
            assert a == b + (0 if p is frozen else 1)


def test_a_write_through_data_is_still_not_counted():
    w = zg.nn.Parameter(zg.ones(3))
    v = w._version
    w.data.mul_(2)
    assert w._version == v


@pytest.mark.parametrize("init", [
    lambda t: zg.nn.init.normal_(t), lambda t: zg.nn.init.zeros_(t),
    lambda t: zg.nn.init.kaiming_uniform_(t), lambda t: zg.nn.init.orthogonal_(t),
    lambda t: zg.nn.init.constant_(t, 0.3),
])
def test_nn_init_between_forward_and_backward_raises(init):
    w = zg.nn.Parameter(zg.randn(3, 3))
    loss = (w * w).sum()
    v = w._version
    init(w)
    assert w._version == v + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    tw = torch.nn.Parameter(torch.randn(3, 3))
    tloss = (tw * tw).sum()
    torch.nn.init.normal_(tw)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()


def test_gradients_after_a_step_are_those_of_the_new_weights():
    """step, then forward and backward: the gradient is taken at the updated weights."""
    grads = []
    for lib in (zg, torch):
        w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.25)
        (w * w).sum().backward()
        opt.step()
        opt.zero_grad()
        (w * w * w).sum().backward()
        grads.append(w.grad.detach().numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
