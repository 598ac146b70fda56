"""Losses: parity with torch (outputs and input/target gradients) and float64 gradchecks.

Loss weights are passed through closures (they are constants, not differentiated); every
NumPy float array given to assert_parity requires grad in both frameworks.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, rand_array
from zengrad.ops import loss as L

REDUCTIONS = ("mean", "sum", "none")
DTYPES = (np.float64, np.float32)


def _zw(w):
    return None if w is None else zg.from_numpy(w.copy())


def _tw(w):
    return None if w is None else torch.from_numpy(w.copy())


def _index_target(rng, shape, c, ignore_index=None, frac=0.3):
    y = rng.integers(0, c, size=shape)
    if ignore_index is not None:
        y = np.where(rng.random(shape) < frac, ignore_index, y)
    return y.astype(np.int64)


# ------------------------------------------------------------------ cross entropy


CE_SHAPES = [(7, 5), (3, 4, 2, 3), (6,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_index_targets_match_torch(rng, dtype, shape):
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    for reduction, weighted, ignore, eps in itertools.product(
        REDUCTIONS, (False, True), (None, -100, 1), (0.0, 0.15)
    ):
        x = rand_array(rng, shape, dtype, -3, 3)
        w = rand_array(rng, (c,), dtype, 0.2, 2.0) if weighted else None
        y = _index_target(rng, tshape, c, ignore, frac=0.3)
        ii = -100 if ignore is None else ignore
        kw = dict(ignore_index=ii, reduction=reduction, label_smoothing=eps)
        assert_parity(
            lambda a, w=w, y=y, kw=kw: L.cross_entropy(a, zg.from_numpy(y), _zw(w), **kw),
            lambda a, w=w, y=y, kw=kw: TF.cross_entropy(a, torch.from_numpy(y), _tw(w), **kw),
            [x],
        )


@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_all_ignored_batch_matches_torch(rng, reduction, eps):
    x = rand_array(rng, (4, 5))
    w = rand_array(rng, (5,), low=0.5, high=1.5)
    y = np.full(4, -100)
    for weight in (None, w):
        kw = dict(reduction=reduction, label_smoothing=eps)
        assert_parity(
            lambda a, kw=kw, weight=weight: L.cross_entropy(
                a, zg.from_numpy(y), _zw(weight), **kw
            ),
            lambda a, kw=kw, weight=weight: TF.cross_entropy(
                a, torch.from_numpy(y), _tw(weight), **kw
            ),
            [x],
        )
    # mean over nothing is nan (as torch); the gradient is zero, not nan
    xt = zg.tensor(x, requires_grad=True)
    out = L.cross_entropy(xt, zg.from_numpy(y), reduction=reduction, label_smoothing=eps)
    out.sum().backward()
    assert np.all(xt.grad.array == 0)
    if reduction == "mean":
        assert np.isnan(out.item())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_probability_targets_match_torch(rng, dtype, shape):
    c = shape[1] if len(shape) > 1 else shape[0]
    cdim = 1 if len(shape) > 1 else 0
    for reduction, weighted, eps in itertools.product(REDUCTIONS, (False, True), (0.0, 0.2)):
        x = rand_array(rng, shape, dtype, -3, 3)
        logits = rand_array(rng, shape, np.float64, -2, 2)
        p = np.exp(logits) / np.exp(logits).sum(axis=cdim, keepdims=True)
        p = p.astype(dtype)
        w = rand_array(rng, (c,), dtype, 0.2, 2.0) if weighted else None
        kw = dict(reduction=reduction, label_smoothing=eps)
        # the target requires grad too: torch differentiates soft targets
        assert_parity(
            lambda a, t, w=w, kw=kw: L.cross_entropy(a, t, _zw(w), **kw),
            lambda a, t, w=w, kw=kw: TF.cross_entropy(a, t, _tw(w), **kw),
            [x, p],
        )


def test_cross_entropy_empty_batch_matches_torch():
    x = np.zeros((0, 4))
    y = np.zeros(0, np.int64)
    for reduction in REDUCTIONS:
        z = L.cross_entropy(zg.from_numpy(x), zg.from_numpy(y), reduction=reduction)
        t = TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(y), reduction=reduction)
        np.testing.assert_array_equal(z.numpy(), t.numpy())


def test_cross_entropy_plain_gradient_is_softmax_minus_onehot_over_n(rng):
    x = rand_array(rng, (32, 10), np.float32)
    y = rng.integers(0, 10, 32)
    xt = zg.from_numpy(x.copy()).requires_grad_()
    loss = L.cross_entropy(xt, zg.from_numpy(y))
    loss.backward()
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = (p - np.eye(10)[y]) / 32
    assert loss.dtype == np.float32 and xt.grad.dtype == np.float32
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(loss.item(), -np.log(p[np.arange(32), y]).mean(), rtol=1e-5)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropy_is_stable_at_huge_logits(rng, scale):
    x = rand_array(rng, (6, 4), np.float32) * scale
    y = _index_target(rng, (6,), 4)
    for eps in (0.0, 0.1):
        xz = zg.from_numpy(x.copy()).requires_grad_()
        xt = torch.from_numpy(x.copy()).requires_grad_()
        lz = L.cross_entropy(xz, zg.from_numpy(y), label_smoothing=eps)
        lt = TF.cross_entropy(xt, torch.from_numpy(y), label_smoothing=eps)
        lz.backward()
        lt.backward()
        assert np.isfinite(lz.item()) and np.all(np.isfinite(xz.grad.numpy()))
        np.testing.assert_allclose(lz.item(), lt.item(), rtol=1e-5)
        np.testing.assert_allclose(xz.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_nll_loss_matches_torch(rng, dtype, shape):
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    for reduction, weighted, ignore in itertools.product(
        REDUCTIONS, (False, True), (None, -100, 0)
    ):
        x = rand_array(rng, shape, dtype, -3, 0)
        w = rand_array(rng, (c,), dtype, 0.2, 2.0) if weighted else None
        y = _index_target(rng, tshape, c, ignore)
        kw = dict(ignore_index=-100 if ignore is None else ignore, reduction=reduction)
        assert_parity(
            lambda a, w=w, y=y, kw=kw: L.nll_loss(a, zg.from_numpy(y), _zw(w), **kw),
            lambda a, w=w, y=y, kw=kw: TF.nll_loss(a, torch.from_numpy(y), _tw(w), **kw),
            [x],
        )


def test_cross_entropy_gradchecks(rng):
    for shape, eps, weighted, ignore in [
        ((5, 4), 0.0, False, None),
        ((5, 4), 0.2, True, -100),
        ((2, 3, 2, 2), 0.1, True, 1),
        ((4,), 0.3, True, None),
    ]:
        c = shape[1] if len(shape) > 1 else shape[0]
        tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        y = zg.from_numpy(_index_target(rng, tshape, c, ignore, 0.3))
        w = _zw(rand_array(rng, (c,), low=0.2, high=2.0)) if weighted else None
        ii = -100 if ignore is None else ignore
        for reduction in REDUCTIONS:
            x = zg.tensor(rand_array(rng, shape), requires_grad=True)
            assert zg.gradcheck(
                lambda a, y=y, w=w, r=reduction, e=eps, ii=ii: L.cross_entropy(
                    a, y, w, ignore_index=ii, reduction=r, label_smoothing=e
                ),
                [x],
            )
            assert zg.gradcheck(
                lambda a, y=y, w=w, r=reduction, ii=ii: L.nll_loss(
                    a, y, w, ignore_index=ii, reduction=r
                ),
                [x],
            )


def test_cross_entropy_probability_target_gradcheck(rng):
    x = zg.tensor(rand_array(rng, (3, 4, 2)), requires_grad=True)
    t = zg.tensor(rand_array(rng, (3, 4, 2), low=0.0, high=1.0), requires_grad=True)
    w = _zw(rand_array(rng, (4,), low=0.2, high=2.0))
    for reduction in REDUCTIONS:
        assert zg.gradcheck(
            lambda a, b, r=reduction: L.cross_entropy(a, b, w, reduction=r, label_smoothing=0.1),
            [x, t],
        )


# ------------------------------------------------------------------ binary cross entropy


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_matches_torch(rng, dtype):
    for shape, wshape, reduction in itertools.product(
        [(8,), (4, 3)], [None, "same", "last"], REDUCTIONS
    ):
        x = rand_array(rng, shape, dtype, 0.02, 0.98)
        y = rand_array(rng, shape, dtype, 0.0, 1.0)
        w = None
        if wshape is not None:
            w = rand_array(rng, shape if wshape == "same" else shape[-1:], dtype, 0.2, 2.0)
        assert_parity(
            lambda a, b, w=w, r=reduction: L.binary_cross_entropy(a, b, _zw(w), r),
            lambda a, b, w=w, r=reduction: TF.binary_cross_entropy(a, b, _tw(w), reduction=r),
            [x, y],
        )


def test_binary_cross_entropy_clamps_log_at_minus_100():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    for reduction in REDUCTIONS:
        z = L.binary_cross_entropy(zg.from_numpy(x), zg.from_numpy(y), reduction=reduction)
        t = TF.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(y), reduction=reduction)
        np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-12)
    assert L.binary_cross_entropy(zg.from_numpy(x[:1]), zg.from_numpy(y[:1])).item() == 100.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_matches_torch(rng, dtype):
    for shape, weighted, pos, reduction in itertools.product(
        [(8,), (5, 3), (2, 3, 4)], (False, True), (None, "class", "full"), REDUCTIONS
    ):
        x = rand_array(rng, shape, dtype, -5, 5)
        y = rand_array(rng, shape, dtype, 0.0, 1.0)
        w = rand_array(rng, shape[-1:], dtype, 0.2, 2.0) if weighted else None
        pw = None
        if pos is not None:
            pw = rand_array(rng, shape[-1:] if pos == "class" else shape, dtype, 0.2, 3.0)
        assert_parity(
            lambda a, b, w=w, pw=pw, r=reduction: L.binary_cross_entropy_with_logits(
                a, b, _zw(w), r, _zw(pw)
            ),
            lambda a, b, w=w, pw=pw, r=reduction: TF.binary_cross_entropy_with_logits(
                a, b, _tw(w), reduction=r, pos_weight=_tw(pw)
            ),
            [x, y],
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable_at_huge_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype)
    pw = np.array([2.0, 0.5, 3.0, 1.5, 1.0], dtype)
    for pos in (None, pw):
        xz = zg.from_numpy(x.copy()).requires_grad_()
        xt = torch.from_numpy(x.copy()).requires_grad_()
        lz = L.binary_cross_entropy_with_logits(xz, zg.from_numpy(y), reduction="sum",
                                                pos_weight=_zw(pos))
        lt = TF.binary_cross_entropy_with_logits(xt, torch.from_numpy(y), reduction="sum",
                                                 pos_weight=_tw(pos))
        lz.backward()
        lt.backward()
        assert np.isfinite(lz.item()) and np.all(np.isfinite(xz.grad.numpy()))
        np.testing.assert_allclose(lz.item(), lt.item(), rtol=1e-6)
        np.testing.assert_allclose(xz.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_binary_losses_gradcheck(rng):
    x = zg.tensor(rand_array(rng, (3, 4), low=0.05, high=0.95), requires_grad=True)
    t = zg.tensor(rand_array(rng, (3, 4), low=0.0, high=1.0), requires_grad=True)
    w = _zw(rand_array(rng, (4,), low=0.2, high=2.0))
    pw = _zw(rand_array(rng, (4,), low=0.2, high=3.0))
    for reduction in REDUCTIONS:
        assert zg.gradcheck(lambda a, b, r=reduction: L.binary_cross_entropy(a, b, w, r), [x, t])
        assert zg.gradcheck(
            lambda a, b, r=reduction: L.binary_cross_entropy_with_logits(a, b, w, r, pw),
            [x, t],
        )


# ------------------------------------------------------------------ regression losses


def _regression_cases():
    return [
        (
            "mse",
            lambda a, b, r: L.mse_loss(a, b, r),
            lambda a, b, r: TF.mse_loss(a, b, reduction=r),
        ),
        ("l1", lambda a, b, r: L.l1_loss(a, b, r), lambda a, b, r: TF.l1_loss(a, b, reduction=r)),
    ] + [
        (
            f"huber{d}",
            lambda a, b, r, d=d: L.huber_loss(a, b, r, delta=d),
            lambda a, b, r, d=d: TF.huber_loss(a, b, reduction=r, delta=d),
        )
        for d in (1.0, 0.3, 2.5)
    ] + [
        (
            f"smooth_l1{beta}",
            lambda a, b, r, beta=beta: L.smooth_l1_loss(a, b, r, beta=beta),
            lambda a, b, r, beta=beta: TF.smooth_l1_loss(a, b, reduction=r, beta=beta),
        )
        for beta in (1.0, 0.3, 0.0)
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_losses_match_torch(rng, dtype):
    for (_, zfn, tfn), shape, reduction in itertools.product(
        _regression_cases(), [(9,), (3, 4, 2)], REDUCTIONS
    ):
        x = rand_array(rng, shape, dtype, -3, 3)
        y = rand_array(rng, shape, dtype, -3, 3)
        assert_parity(
            lambda a, b, zfn=zfn, r=reduction: zfn(a, b, r),
            lambda a, b, tfn=tfn, r=reduction: tfn(a, b, r),
            [x, y],
        )


def test_huber_and_smooth_l1_at_the_kink():
    """|d| = delta exactly and d = 0 take PyTorch's branches."""
    x = np.array([1.0, -1.0, 0.0, 0.5, 2.0, -0.5, 0.3, -0.3, 2.5, -2.5])
    y = np.zeros(10)
    for _, zfn, tfn in _regression_cases():
        assert_parity(
            lambda a, b, zfn=zfn: zfn(a, b, "none"),
            lambda a, b, tfn=tfn: tfn(a, b, "none"),
            [x, y],
        )


def test_regression_losses_gradcheck(rng):
    # keep |x - y| away from the kinks (0, delta, beta) where finite differences straddle them
    d = rng.uniform(0.1, 0.25, (3, 4)) * np.where(rng.random((3, 4)) < 0.5, -1, 1)
    d[0] *= 10
    x = rand_array(rng, (3, 4))
    xs = zg.tensor(x, requires_grad=True)
    ys = zg.tensor(x - d, requires_grad=True)
    for (_, zfn, _), reduction in itertools.product(_regression_cases(), REDUCTIONS):
        assert zg.gradcheck(lambda a, b, zfn=zfn, r=reduction: zfn(a, b, r), [xs, ys])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_div_matches_torch(rng, dtype):
    for reduction, log_target in itertools.product(REDUCTIONS + ("batchmean",), (False, True)):
        x = np.log(rand_array(rng, (4, 5), dtype, 0.05, 1.0))
        y = rand_array(rng, (4, 5), dtype, 0.05, 1.0)
        if log_target:
            y = np.log(y)
        kw = dict(reduction=reduction, log_target=log_target)
        with pytest.warns(UserWarning) if reduction == "mean" else _nothing():
            assert_parity(
                lambda a, b, kw=kw: L.kl_div(a, b, **kw),
                lambda a, b, kw=kw: TF.kl_div(a, b, **kw),
                [x, y],
            )


def test_kl_div_zero_target_contributes_zero(rng):
    x = np.log(rand_array(rng, (2, 3), low=0.1, high=1.0))
    y = np.array([[0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])
    assert_parity(
        lambda a: L.kl_div(a, zg.from_numpy(y), reduction="batchmean"),
        lambda a: TF.kl_div(a, torch.from_numpy(y), reduction="batchmean"),
        [x],
    )


def test_kl_div_gradcheck(rng):
    x = zg.tensor(np.log(rand_array(rng, (3, 4), low=0.1, high=1.0)), requires_grad=True)
    y = zg.tensor(rand_array(rng, (3, 4), low=0.1, high=1.0), requires_grad=True)
    for reduction, log_target in itertools.product(("sum", "none", "batchmean"), (False, True)):
        assert zg.gradcheck(
            lambda a, b, r=reduction, lt=log_target: L.kl_div(a, b, r, log_target=lt), [x, y]
        )


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
