"""Every optimizer and option combination against torch.optim, step by step for 50 steps.

float64: zengrad and torch each run their own forward/backward; weights agree to 1e-8
relative at every step. float32: both get the same gradients; agreement to ~1e-5.
"""

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.optim.optim_helpers import (
    batch,
    dataset,
    init_weights,
    step_both,
    step_both_with_zg_grads,
    torch_params,
    zg_backward,
    zg_params,
)
from zengrad import optim

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.05, "nesterov": True,
             "maximize": True}),
    ("SGD", {"lr": 0.02, "maximize": True, "momentum": 0.8, "dampening": 0.5}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.05, "eps": 1e-3, "maximize": True, "lr_decay": 0.01,
                 "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True}),  # lerp weight >= 0.5
    ("RMSprop", {"lr": 0.005, "maximize": True, "eps": 1e-4, "alpha": 0.9}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "betas": (0.3, 0.8), "eps": 1e-6}),  # lerp weight >= 0.5
    ("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.5}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.0, "betas": (0.8, 0.99)}),
    ("AdamW", {"lr": 0.01, "maximize": True, "weight_decay": 0.1}),
]
STEPS = 50


def _ids(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


def _pair(name, kwargs, weights):
    zp, tp = zg_params(weights), torch_params(weights)
    zopt = getattr(optim, name)(zp, **kwargs)
    topt = getattr(torch.optim, name)(tp, **kwargs)
    return zp, tp, zopt, topt


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_float64_own_gradients_every_step(case):
    name, kwargs = case
    weights = init_weights(0, np.float64)
    data = dataset(0, np.float64)
    zp, tp, zopt, topt = _pair(name, kwargs, weights)
    moved = 0.0
    for step in range(STEPS):
        step_both(zopt, topt, zp, tp, data, step)
        for z, t in zip(zp, tp):
            np.testing.assert_allclose(
                z.array, t.detach().numpy(), rtol=1e-8, atol=1e-11,
                err_msg=f"{name} {kwargs} diverged at step {step}",
            )
    for z, k in zip(zp, weights):
        assert z.dtype == np.float64
        moved = max(moved, float(np.abs(z.array - weights[k]).max()))
    assert moved > 1e-3  # the run really trained (a no-op optimizer would fail here)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_float32_same_gradients_every_step(case):
    name, kwargs = case
    weights = init_weights(1, np.float32)
    data = dataset(1, np.float32)
    zp, tp, zopt, topt = _pair(name, kwargs, weights)
    for step in range(STEPS):
        step_both_with_zg_grads(zopt, topt, zp, tp, data, step)
        for z, t in zip(zp, tp):
            assert z.array.dtype == np.float32
            np.testing.assert_allclose(
                z.array, t.detach().numpy(), rtol=2e-5, atol=2e-6,
                err_msg=f"{name} {kwargs} diverged at step {step}",
            )
    for state in zopt.state.values():
        for v in state.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32  # no float64 state for float32 params


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_param_groups_with_different_lrs_and_unused_param(name):
    """Two groups with their own lr; a parameter with no gradient is left untouched."""
    weights = init_weights(2, np.float64)
    data = dataset(2, np.float64)
    zp, tp = zg_params(weights), torch_params(weights)
    zu = zg.ones(4, dtype=zg.float64, requires_grad=True)
    tu = torch.ones(4, dtype=torch.float64, requires_grad=True)
    extra = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}

    def groups(p, unused):
        return [{"params": p[:2], "lr": 0.03}, {"params": p[2:] + [unused], "lr": 0.007}]

    zopt = getattr(optim, name)(groups(zp, zu), lr=0.5, **extra)
    topt = getattr(torch.optim, name)(groups(tp, tu), lr=0.5, **extra)
    for step in range(20):
        step_both(zopt, topt, zp, tp, data, step)
        for z, t in zip(zp, tp):
            np.testing.assert_allclose(z.array, t.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert zu.grad is None and np.array_equal(zu.array, np.ones(4))
    if name != "Adagrad":  # Adagrad creates its state eagerly, as torch does
        assert zu not in zopt.state
    assert [g["lr"] for g in zopt.param_groups] == [0.03, 0.007]


def test_closure_runs_under_enable_grad_and_returns_loss():
    weights = init_weights(3, np.float64)
    data = dataset(3, np.float64)
    zp = zg_params(weights)
    opt = optim.SGD(zp, lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        assert zg.is_grad_enabled()
        loss = zg_backward(zp, *batch(data, 0))
        calls.append(loss)
        return loss

    with zg.no_grad():
        first = opt.step(closure)
    second = opt.step(closure)
    assert first == calls[0] and second == calls[1]
    assert second < first  # the step downhill lowered the loss


def test_zero_grad_set_to_none_false_keeps_zeroed_arrays():
    p = zg.randn(3, requires_grad=True)
    (p * p).sum().backward()
    opt = optim.Adam([p])
    grad_array = p.grad.array
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.array is grad_array and not grad_array.any()
    opt.zero_grad()
    assert p.grad is None


def test_lr_changed_through_param_groups_takes_effect():
    p = zg.tensor([1.0, 2.0], dtype=zg.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = zg.tensor([1.0, 1.0], dtype=zg.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.array, [1.0 - 0.6, 2.0 - 0.6], rtol=1e-15)


def test_step_does_not_modify_the_gradient():
    p = zg.randn(5, requires_grad=True)
    p.grad = zg.randn(5)
    before = p.grad.array.copy()
    opt = optim.Adam([p], weight_decay=0.1, maximize=True)
    opt.step()
    opt.step()
    assert np.array_equal(p.grad.array, before)
