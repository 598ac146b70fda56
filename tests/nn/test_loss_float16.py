"""float16 losses at extreme inputs: no RuntimeWarning, and torch's values.

zengrad computes a float16 loss in float32 and rounds once. The oracle is therefore torch
in float32 on the same (float16-rounded) inputs, its results rounded to float16: torch's
own half path rounds every op of its composite losses to half and can lose everything to
cancellation (bce_with_logits(-65504, 0.0101) is 672 there, 662.5 here and 662.68 exact),
and its half BCE backward gives nan at x = y = 0 or 1 (its 1e-12 clamp underflows) where
the float32 value is 0.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import zengrad as zg
import zengrad.nn.functional as F

F16 = np.float16
HALF_MAX = float(np.finfo(F16).max)

logits = st.lists(
    st.one_of(
        st.sampled_from([0.0, HALF_MAX, -HALF_MAX, 1e4, -1e4, 17.0, -17.0]),
        st.floats(-HALF_MAX, HALF_MAX, width=16),
    ),
    min_size=1,
    max_size=8,
)
probs = st.lists(
    st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0, width=16)), min_size=1, max_size=8
)


def _half(a) -> np.ndarray:
    """float32 results as float16 would hold them (beyond 65504: inf), then as float64."""
    with np.errstate(over="ignore"):
        return np.asarray(a).astype(F16).astype(np.float64)


def _run(fn, arrays, needs, lib):
    """fn on float16 zengrad tensors, or (the oracle) on float32 torch tensors holding the
    same float16 values; returns (output, input grads) as float16 values in float64."""
    if lib == "zg":
        ts = [zg.tensor(a.astype(F16), requires_grad=r) for a, r in zip(arrays, needs)]
    else:
        ts = [torch.tensor(a.astype(F16).astype(np.float32), requires_grad=r)
              for a, r in zip(arrays, needs)]
    out = fn(*ts)
    # a seed of ones instead of .sum(): the sum of huge float16 losses would overflow there
    seed = zg.ones_like(out) if lib == "zg" else torch.ones_like(out)
    out.backward(seed)
    if lib == "zg":
        assert out.dtype == zg.float16 and all(t.grad.dtype == zg.float16 for t in ts
                                               if t.requires_grad)
        grads = [np.asarray(t.grad.data, np.float64) for t in ts if t.requires_grad]
        return np.asarray(out.data, np.float64), grads
    return _half(out.detach().numpy()), [_half(t.grad.numpy()) for t in ts if t.requires_grad]


def _strict(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return fn(*args)


def _close(ours, theirs, what):
    """Equal to float16 precision; infinities must match exactly."""
    both_finite = np.isfinite(ours) & np.isfinite(theirs)
    np.testing.assert_allclose(ours[both_finite], theirs[both_finite], rtol=3e-3, atol=1e-3,
                               err_msg=what)
    np.testing.assert_array_equal(ours[~both_finite], theirs[~both_finite], err_msg=what)


REDUCTIONS = ("none", "mean", "sum")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_bce_float16_at_0_and_1(reduction, data):
    x = np.array(data.draw(probs), np.float64)
    y = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 0.5]), min_size=len(x),
                                    max_size=len(x))), np.float64)

    def zfn(a, b):
        return F.binary_cross_entropy(a, b, reduction=reduction)

    def tfn(a, b):
        return TF.binary_cross_entropy(a, b, reduction=reduction)

    out, (gx,) = _strict(_run, zfn, [x, y], [True, False], "zg")
    tout, (tgx,) = _run(tfn, [x, y], [True, False], "torch")
    _close(out, tout, "loss")
    _close(gx, tgx, "grad")
    assert not np.isnan(gx).any(), gx


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, 3.0])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_bce_with_logits_float16_huge_logits(reduction, pos_weight, data):
    x = np.array(data.draw(logits), np.float64)
    y = np.array(data.draw(st.lists(st.floats(0.0, 1.0, width=16), min_size=len(x),
                                    max_size=len(x))), np.float64)
    pw = None if pos_weight is None else np.full(len(x), pos_weight, F16)

    def zfn(a, b):
        p = None if pw is None else zg.tensor(pw)
        return F.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=p)

    def tfn(a, b):
        p = None if pw is None else torch.tensor(pw.astype(np.float32))
        return TF.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=p)

    out, grads = _strict(_run, zfn, [x, y], [True, True], "zg")
    tout, tgrads = _run(tfn, [x, y], [True, True], "torch")
    _close(out, tout, "loss")
    for g, tg, name in zip(grads, tgrads, ("input grad", "target grad")):
        assert not np.isnan(g).any(), (name, g)
        _close(g, tg, name)


def test_bce_float16_values_exactly_0_and_1():
    x = zg.tensor(np.array([0.0, 1.0, 0.0, 1.0], F16), requires_grad=True)
    y = zg.tensor(np.array([0.0, 1.0, 1.0, 0.0], F16))
    loss = _strict(lambda: F.binary_cross_entropy(x, y, reduction="none"))
    _strict(lambda: loss.backward(zg.ones_like(loss)))
    # log clamped at -100, as torch: the wrong-side extremes cost exactly 100
    np.testing.assert_array_equal(loss.data, [0, 0, 100, 100])
    np.testing.assert_array_equal(x.grad.data, [0, 0, -np.inf, np.inf])  # -1e12, 1e12 in f32
    assert loss.dtype == zg.float16 and x.grad.dtype == zg.float16


extreme = st.lists(
    st.one_of(st.sampled_from([0.0, HALF_MAX, -HALF_MAX, 300.0, -300.0]),
              st.floats(-HALF_MAX, HALF_MAX, width=16)),
    min_size=2, max_size=8,
)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_regression_losses_float16_extremes(name, reduction, data):
    x = np.array(data.draw(extreme), np.float64)
    y = np.array(data.draw(st.lists(st.floats(-HALF_MAX, HALF_MAX, width=16),
                                    min_size=len(x), max_size=len(x))), np.float64)

    def zfn(a, b):
        return getattr(F, name)(a, b, reduction=reduction)

    def tfn(a, b):
        return getattr(TF, name)(a, b, reduction=reduction)

    out, grads = _strict(_run, zfn, [x, y], [True, True], "zg")
    tout, tgrads = _run(tfn, [x, y], [True, True], "torch")
    _close(out, tout, "loss")
    for g, tg in zip(grads, tgrads):
        _close(g, tg, "grad")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_cross_entropy_float16_extremes(reduction, data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 5))
    x = np.array(data.draw(st.lists(st.floats(-HALF_MAX, HALF_MAX, width=16),
                                    min_size=n * c, max_size=n * c)), np.float64).reshape(n, c)
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    out, (gx,) = _strict(
        _run, lambda a: F.cross_entropy(a, zg.tensor(y), reduction=reduction), [x], [True], "zg"
    )
    tout, (tgx,) = _run(
        lambda a: TF.cross_entropy(a, torch.tensor(y), reduction=reduction), [x], [True], "torch"
    )
    _close(out, tout, "loss")
    _close(gx, tgx, "grad")


def test_kl_div_float16_zero_and_tiny_targets():
    x = np.array([-1.0, -HALF_MAX, 0.0, -5.0])
    y = np.array([0.0, 1e-7, 1.0, 6e-5])
    out, (gx,) = _strict(_run, lambda a, b: F.kl_div(a, b, reduction="sum"), [x, y],
                         [True, False], "zg")
    tout, (tgx,) = _run(lambda a, b: TF.kl_div(a, b, reduction="sum"), [x, y], [True, False],
                        "torch")
    _close(out, tout, "loss")
    _close(gx, tgx, "grad")


def test_torch_half_bce_backward_is_nan_where_zengrad_gives_the_float32_value():
    """Documents the one deliberate difference from torch's own float16 path."""
    x = torch.tensor([0.0, 1.0], dtype=torch.float16, requires_grad=True)
    TF.binary_cross_entropy(x, torch.tensor([0.0, 1.0], dtype=torch.float16)).backward()
    assert torch.isnan(x.grad).all()
    z = zg.tensor(np.array([0.0, 1.0], F16), requires_grad=True)
    _strict(lambda: F.binary_cross_entropy(z, zg.tensor(np.array([0.0, 1.0], F16))).backward())
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0])
