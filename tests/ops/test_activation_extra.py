"""The activations of issue 10 (relu6, hardtanh, logsigmoid, mish, hardswish, hardsigmoid,
softsign), softmax/log_softmax with dtype= and empty dims, and their nn modules: one
registry entry per op, generic parity / gradcheck / extremes / bad-input tests."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import zengrad as zg
import zengrad.nn as znn
import zengrad.nn.functional as F
from tests.helpers import assert_parity, check_grad, rand_array

# name -> (zengrad fn, torch fn, kinks: points where the derivative jumps)
ACT = {
    "relu6": (F.relu6, TF.relu6, (0.0, 6.0)),
    "hardtanh": (F.hardtanh, TF.hardtanh, (-1.0, 1.0)),
    "hardtanh_bounds": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0),
                        (-0.5, 2.0)),
    "hardtanh_kw": (lambda x: F.hardtanh(x, min_val=-2.0, max_val=0.5),
                    lambda x: TF.hardtanh(x, min_val=-2.0, max_val=0.5), (-2.0, 0.5)),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid, ()),
    "mish": (F.mish, TF.mish, ()),
    "hardswish": (F.hardswish, TF.hardswish, (-3.0, 3.0)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, (-3.0, 3.0)),
    "softsign": (F.softsign, TF.softsign, ()),
    "softmax_dtype": (lambda x: F.softmax(x, -1, dtype=zg.float64),
                      lambda x: TF.softmax(x, -1, dtype=torch.float64), ()),
    "log_softmax_dtype": (lambda x: F.log_softmax(x, dim=0, dtype=zg.float64),
                          lambda x: TF.log_softmax(x, dim=0, dtype=torch.float64), ()),
    "softmax_top_dtype_positional": (lambda x: zg.softmax(x, 0, zg.float64),
                                     lambda x: torch.softmax(x, 0, torch.float64), ()),
    "softmax_method_dtype": (lambda x: x.softmax(-1, zg.float64)
                             + x.log_softmax(-1, dtype=zg.float64),
                             lambda x: x.softmax(-1, torch.float64)
                             + x.log_softmax(-1, dtype=torch.float64), ()),
    "softmax_stacklevel": (lambda x: F.softmax(x, 0, 3, zg.float64),
                           lambda x: TF.softmax(x, 0, 3, torch.float64), ()),
}
SHAPES = [(5,), (3, 4), (2, 3, 4), (1, 1), (), (2, 0), (0,)]


def _away_from_kinks(rng, shape, kinks, dtype=np.float64):
    x = rand_array(rng, shape, np.float64, -8, 8)
    for k in kinks:
        x = np.where(np.abs(x - k) < 0.05, k + 0.5, x)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACT))
def test_parity(name, dtype, rng):
    zf, tf, kinks = ACT[name]
    for shape in SHAPES + [(8, 16, 10)]:
        assert_parity(zf, tf, [_away_from_kinks(rng, shape, kinks, dtype)])


@pytest.mark.parametrize("name", sorted(ACT))
def test_gradcheck(name, rng):
    zf, _, kinks = ACT[name]
    for shape in [(5,), (3, 4), (), (1, 1)]:
        assert check_grad(zf, _away_from_kinks(rng, shape, kinks))


def test_gradients_at_the_kinks_are_torchs():
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0, -0.5, 2.0])
    for name in ("relu6", "hardtanh", "hardtanh_bounds", "hardswish", "hardsigmoid"):
        zf, tf, _ = ACT[name]
        assert_parity(zf, tf, [x])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACT))
def test_stable_at_extremes(name, dtype):
    zf, tf, _ = ACT[name]
    x = np.array([[-1e4, -1e3, -30.0, -1.0, 0.0, 1.0, 30.0, 1e3, 1e4]] * 2, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            t = zg.tensor(x, requires_grad=True)
            y = zf(t)
            y.backward(zg.ones_like(y))
    assert np.all(np.isfinite(y.detach().numpy()))
    assert np.all(np.isfinite(t.grad.numpy()))
    assert_parity(zf, tf, [x])


def test_integer_inputs_as_torch():
    x = np.array([-4, -1, 0, 2, 7])
    for zf, tf in [(F.relu6, TF.relu6), (F.hardtanh, TF.hardtanh), (F.softsign, TF.softsign),
                   (lambda t: F.softmax(t, 0, dtype=zg.float64),
                    lambda t: TF.softmax(t, 0, dtype=torch.float64))]:
        assert_parity(zf, tf, [x])
    for fn in (F.logsigmoid, F.mish, F.hardswish, F.hardsigmoid):
        with pytest.raises(TypeError, match="floating point"):
            fn(zg.tensor(x))


def test_softmax_dtype_downcast():
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert_parity(lambda t: F.log_softmax(t, 1, dtype=zg.float32),
                  lambda t: TF.log_softmax(t, 1, dtype=torch.float32), [x], rtol=1e-5,
                  atol=1e-6)


def test_softmax_over_empty_dims():
    for shape, dim in [((2, 0), 1), ((2, 0), 0), ((0, 3), 0), ((0,), -1)]:
        x = np.zeros(shape)
        assert_parity(lambda t, d=dim: zg.softmax(t, d), lambda t, d=dim: torch.softmax(t, d), [x])
        assert_parity(lambda t, d=dim: F.log_softmax(t, d), lambda t, d=dim: TF.log_softmax(t, d),
                      [x.astype(np.float32)])


BAD = {
    "hardtanh_bounds": (lambda: F.hardtanh(zg.ones(2), 2.0, 1.0), ValueError,
                        "min_val cannot be greater than max_val"),
    "hardtanh_list": (lambda: F.hardtanh([1.0]), TypeError, "expected a Tensor"),
    "softsign_list": (lambda: F.softsign([1.0]), TypeError, "expected a Tensor"),
    "softmax_int_dtype": (lambda: F.softmax(zg.ones(2), 0, dtype=zg.int64), TypeError,
                          "floating point dtype"),
    "softmax_int": (lambda: F.softmax(zg.tensor([1, 2]), 0), TypeError, "floating point"),
    "softmax_no_dim": (lambda: F.softmax(zg.ones(2, 3)), ValueError, "dim is None"),
    "softmax_dim_range": (lambda: F.softmax(zg.ones(2, 0), 2), IndexError, "got 2"),
    "module_hardtanh": (lambda: znn.Hardtanh(1.0, 1.0), ValueError,
                        r"max_val \(1.0\) must be greater than min_val \(1.0\)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input(name):
    fn, exc, match = BAD[name]
    with pytest.raises(exc, match=match):
        fn()


# nn modules: (zengrad module, torch module, kinks)
MODULES = {
    "ReLU6": (lambda: znn.ReLU6(), lambda: tnn.ReLU6(), (0.0, 6.0)),
    "ReLU6_inplace": (lambda: znn.ReLU6(inplace=True), lambda: tnn.ReLU6(inplace=True), (0.0, 6.0)),
    "Hardtanh": (lambda: znn.Hardtanh(), lambda: tnn.Hardtanh(), (-1.0, 1.0)),
    "Hardtanh_args": (lambda: znn.Hardtanh(-2.0, 3.0, True), lambda: tnn.Hardtanh(-2.0, 3.0, True),
                      (-2.0, 3.0)),
    "LogSigmoid": (lambda: znn.LogSigmoid(), lambda: tnn.LogSigmoid(), ()),
    "Mish": (lambda: znn.Mish(), lambda: tnn.Mish(), ()),
    "Mish_inplace": (lambda: znn.Mish(inplace=True), lambda: tnn.Mish(inplace=True), ()),
    "Hardswish": (lambda: znn.Hardswish(), lambda: tnn.Hardswish(), (-3.0, 3.0)),
    "Hardsigmoid": (lambda: znn.Hardsigmoid(inplace=False), lambda: tnn.Hardsigmoid(inplace=False),
                    (-3.0, 3.0)),
    "Softsign": (lambda: znn.Softsign(), lambda: tnn.Softsign(), ()),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_parity_and_repr(name, rng):
    zm, tm, kinks = MODULES[name]
    z, t = zm(), tm()
    assert repr(z) == repr(t)
    for shape in [(4, 5), (), (2, 0)]:
        x = _away_from_kinks(rng, shape, kinks, np.float32)
        # torch's inplace=True would modify a leaf: compare on a non-leaf copy there
        assert_parity(lambda a, m=z: m(a * 1), lambda a, m=t: m(a * 1), [x])


def test_module_deprecated_hardtanh_keywords():
    with pytest.warns(FutureWarning, match="min_value"), \
            pytest.warns(FutureWarning, match="max_value"):
        m = znn.Hardtanh(min_value=-2.0, max_value=2.0)
    assert (m.min_val, m.max_val) == (-2.0, 2.0)


@pytest.mark.parametrize("fn", [F.relu6, F.hardtanh, F.mish, F.hardswish, F.hardsigmoid])
def test_inplace_outside_the_graph_writes_into_the_input(fn):
    x = zg.tensor([-4.0, -0.5, 0.5, 7.0])
    expected = fn(x).numpy()
    out = fn(x, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), expected)
    # under no_grad a tensor that requires grad is modified too (as torch)
    w = zg.tensor([-4.0, 0.5, 7.0], requires_grad=True)
    with zg.no_grad():
        assert fn(w, inplace=True) is w


@pytest.mark.parametrize("fn", [F.relu6, F.hardtanh, F.mish, F.hardswish, F.hardsigmoid])
def test_inplace_in_the_graph_writes_into_the_input(fn):
    # as torch: recorded in the graph, the result is the input (more: tests/nn/
    # test_inplace_activations.py)
    x = zg.tensor([-4.0, -0.5, 0.5, 7.0], requires_grad=True)
    h = x * 1
    y = fn(h, inplace=True)
    assert y is h
    np.testing.assert_allclose(y.detach().numpy(), fn(x).detach().numpy())
    y.sum().backward()
    assert x.grad is not None


def test_exports():
    for name in ("relu6", "hardtanh", "logsigmoid", "mish", "hardswish", "hardsigmoid",
                 "softsign", "one_hot", "normalize", "cosine_similarity"):
        assert name in F.__all__ and callable(getattr(F, name))
    for name in ("ReLU6", "Hardtanh", "LogSigmoid", "Mish", "Hardswish", "Hardsigmoid",
                 "Softsign"):
        assert issubclass(getattr(znn, name), znn.Module)
