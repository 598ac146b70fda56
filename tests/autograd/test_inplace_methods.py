"""The x_ methods of the rounding, sign, special and fused families (floor_, round_, sign_,
frac_, lerp_, addcmul_, ...): in the graph (values and gradients against torch in float64),
on plain tensors, and the random fills (exponential_, cauchy_, ...)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg

RNG = np.random.default_rng(11)

METHODS = {
    "floor_": lambda lib, h, y: h.floor_(),
    "ceil_": lambda lib, h, y: h.ceil_(),
    "round_": lambda lib, h, y: h.round_(),
    "round_decimals": lambda lib, h, y: h.round_(decimals=1),
    "trunc_": lambda lib, h, y: h.trunc_(),
    "fix_": lambda lib, h, y: h.fix_(),
    "frac_": lambda lib, h, y: h.frac_(),
    "sign_": lambda lib, h, y: h.sign_(),
    "sgn_": lambda lib, h, y: h.sgn_(),
    "sin_": lambda lib, h, y: h.sin_(),
    "cos_": lambda lib, h, y: h.cos_(),
    "tan_": lambda lib, h, y: h.mul_(0.3).tan_(),
    "reciprocal_": lambda lib, h, y: h.reciprocal_(),
    "square_": lambda lib, h, y: h.square_(),
    "clip_": lambda lib, h, y: h.clip_(-0.5, 0.5),
    "clamp_min_": lambda lib, h, y: h.clamp_min_(0.1),
    "log2_": lambda lib, h, y: h.abs_().log2_(),
    "log10_": lambda lib, h, y: h.abs_().log10_(),
    "erf_": lambda lib, h, y: h.erf_(),
    "erfc_": lambda lib, h, y: h.erfc_(),
    "atan2_": lambda lib, h, y: h.atan2_(y),
    "lerp_": lambda lib, h, y: h.lerp_(y, 0.3),
    "lerp_tensor_weight": lambda lib, h, y: h.lerp_(y, y.sigmoid()),
    "fmod_": lambda lib, h, y: h.fmod_(0.7),
    "remainder_": lambda lib, h, y: h.remainder_(0.7),
    "addcmul_": lambda lib, h, y: h.addcmul_(y, y.exp(), value=0.5),
    "addcdiv_": lambda lib, h, y: h.addcdiv_(y, y.exp(), value=-2),
    "subtract_": lambda lib, h, y: h.subtract_(y, alpha=2),
    "multiply_": lambda lib, h, y: h.multiply_(y),
    "divide_": lambda lib, h, y: h.divide_(y.exp()),
    "true_divide_": lambda lib, h, y: h.true_divide_(2.0),
    "swapdims_": lambda lib, h, y: h.swapdims_(0, 1),
    "swapaxes_": lambda lib, h, y: h.swapaxes_(1, 0),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_in_the_graph_matches_torch(name):
    xs, ys = RNG.standard_normal((3, 4)) * 2, RNG.standard_normal((3, 4))
    results = []
    for lib in (zg, torch):
        x = lib.tensor(xs, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(ys, dtype=lib.float64, requires_grad=True)
        h = x * 1.5
        out = METHODS[name](lib, h, y)
        assert out is h
        cot = lib.tensor(np.random.default_rng(0).standard_normal(tuple(h.shape)),
                         dtype=lib.float64)
        (h * 2).backward(cot)
        # (torch's sign/sgn gradients are ZeroTensors: numpy() needs force=True)
        grads = [None if t.grad is None else np.array(
            t.grad.numpy(force=True) if lib is torch else t.grad.numpy()) for t in (x, y)]
        results.append((h.detach().numpy().copy(), grads))
    (zo, zgr), (to, tgr) = results
    np.testing.assert_allclose(zo, to, rtol=1e-12, atol=1e-12)
    for a, b in zip(zgr, tgr):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_on_a_plain_tensor_matches_torch(name):
    xs, ys = RNG.standard_normal((3, 4)) * 2, RNG.standard_normal((3, 4))
    results = []
    for lib in (zg, torch):
        h = lib.tensor(xs, dtype=lib.float64)
        version = h._version
        out = METHODS[name](lib, h, lib.tensor(ys, dtype=lib.float64))
        assert out is h and h._version > version
        results.append(h.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12)


def test_zero_size_and_zero_dim_tensors():
    for lib in (zg, torch):
        e = lib.zeros(0, 3, dtype=lib.float64)
        assert e.floor_() is e and e.addcmul_(e, e) is e
        s = lib.tensor(2.5, dtype=lib.float64)
        s.round_()
        s.addcdiv_(lib.tensor(1.0, dtype=lib.float64), lib.tensor(4.0, dtype=lib.float64))
        assert float(s) == 2.25


def test_bad_input_is_a_clear_error():
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        zg.ones(3).addcmul_(zg.ones(2, 3), zg.ones(2, 3))
    with pytest.raises(RuntimeError):
        torch.ones(3).addcmul_(torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(TypeError, match="floating point"):  # torch: NotImplementedError
        zg.ones(3, dtype=zg.int64).frac_()


@pytest.mark.parametrize("name,args,check", [
    ("exponential_", (2.0,), lambda a: (a >= 0).all() and abs(a.mean() - 0.5) < 0.05),
    ("geometric_", (0.25,), lambda a: (a >= 1).all() and abs(a.mean() - 4.0) < 0.3),
    ("cauchy_", (1.0, 0.5), lambda a: abs(np.median(a) - 1.0) < 0.05),
    ("log_normal_", (0.0, 0.25), lambda a: (a > 0).all() and abs(np.log(a).std() - 0.25) < 0.02),
])
def test_random_fills(name, args, check):
    zg.manual_seed(0)
    t = zg.zeros(4000, dtype=zg.float64)
    assert getattr(t, name)(*args) is t and t._version == 1
    assert check(t.numpy())
    torch_t = getattr(torch.zeros(4000, dtype=torch.float64), name)(*args)
    assert check(torch_t.numpy())
