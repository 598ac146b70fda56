"""Loss modules (parity with torch.nn, weights as buffers) and argument errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as tnn

import zengrad as zg
from tests.helpers import assert_parity, rand_array
from zengrad.nn import loss as nnl
from zengrad.ops import loss as L

# ------------------------------------------------------------------ modules


def _module_cases(rng):
    w5 = rand_array(rng, (5,), low=0.2, high=2.0)
    pw5 = rand_array(rng, (5,), low=0.5, high=3.0)
    logits = rand_array(rng, (6, 5), low=-3, high=3)
    probs = rand_array(rng, (6, 5), low=0.05, high=0.95)
    real = rand_array(rng, (6, 5), low=-3, high=3)
    idx = rng.integers(0, 5, 6)
    idx[1] = 3
    return [
        ("CrossEntropyLoss", dict(weight=w5, ignore_index=3, label_smoothing=0.1), logits, idx),
        ("CrossEntropyLoss", dict(reduction="sum"), logits, probs),
        ("NLLLoss", dict(weight=w5, reduction="none"), -np.abs(logits), idx),
        ("MSELoss", dict(reduction="sum"), real, rand_array(rng, (6, 5))),
        ("L1Loss", dict(), real, rand_array(rng, (6, 5))),
        ("BCELoss", dict(weight=w5), probs, rand_array(rng, (6, 5), low=0, high=1)),
        ("BCEWithLogitsLoss", dict(weight=w5, pos_weight=pw5), real, probs),
        ("HuberLoss", dict(delta=0.7), real, rand_array(rng, (6, 5))),
        ("SmoothL1Loss", dict(beta=0.4, reduction="none"), real, rand_array(rng, (6, 5))),
        ("KLDivLoss", dict(reduction="batchmean", log_target=True), np.log(probs), real),
    ]


def _kwargs(kw, to):
    return {k: to(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


def test_loss_modules_match_torch_and_keep_weights_as_buffers(rng):
    for name, kw, x, y in _module_cases(rng):
        zm = getattr(nnl, name)(**_kwargs(kw, zg.from_numpy))
        tm = getattr(tnn, name)(**_kwargs(kw, torch.from_numpy))
        yz, yt = (zg.from_numpy(y), torch.from_numpy(y)) if y.dtype.kind == "i" else (None, None)
        if yz is None:  # float targets take part in the gradient check too
            assert_parity(zm, tm, [x, y])
        else:
            assert_parity(lambda a, zm=zm, yz=yz: zm(a, yz), lambda a, tm=tm, yt=yt: tm(a, yt), [x])
        zsd, tsd = zm.state_dict(), tm.state_dict()
        assert list(zsd) == list(tsd), name
        for key in tsd:
            np.testing.assert_array_equal(zsd[key].numpy(), tsd[key].numpy())


def test_loss_module_buffers_follow_dtype_casts():
    m = nnl.CrossEntropyLoss(weight=zg.tensor([1.0, 2.0, 3.0]))
    assert dict(m.named_buffers())["weight"].dtype == np.float32
    m.double()
    assert m.weight.dtype == np.float64
    x = zg.tensor(np.zeros((2, 3)), requires_grad=True)
    assert m(x, zg.tensor([0, 2])).item() == pytest.approx(np.log(3))


def test_loss_module_options_and_legacy_reduction():
    assert nnl.HuberLoss().delta == 1.0 and nnl.HuberLoss(reduction="sum").reduction == "sum"
    assert nnl.SmoothL1Loss().beta == 1.0
    ce = nnl.CrossEntropyLoss()
    assert (ce.ignore_index, ce.reduction, ce.label_smoothing, ce.weight) == (
        -100, "mean", 0.0, None
    )
    assert list(ce.state_dict()) == [] and list(nnl.BCEWithLogitsLoss().state_dict()) == []
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert nnl.MSELoss(reduce=False).reduction == "none"
    with pytest.warns(UserWarning):
        assert nnl.L1Loss(size_average=False).reduction == "sum"


# ------------------------------------------------------------------ errors


def _x(*shape, dtype=np.float32):
    return zg.from_numpy(np.zeros(shape, dtype))


def _y(*values):
    return zg.tensor(list(values), dtype=zg.int64)


def test_cross_entropy_target_shape_errors():
    with pytest.raises(
        ValueError, match=r"cross_entropy: target shape \(32, 2\) does not match input shape "
        r"\(32, 10\)"
    ):
        L.cross_entropy(_x(32, 10), _x(32, 2))
    with pytest.raises(
        ValueError, match=r"expected target of shape \(N,\) = \(32,\) for input of shape "
        r"\(32, 10\), got \(32, 2\)"
    ):
        L.cross_entropy(_x(32, 10), zg.zeros(32, 2, dtype=zg.int64))
    with pytest.raises(ValueError, match=r"\(N, d1, \.\.\.\) = \(2, 4, 4\).*got \(2, 4\)"):
        L.cross_entropy(_x(2, 3, 4, 4), zg.zeros(2, 4, dtype=zg.int64))
    with pytest.raises(ValueError, match=r"nll_loss: expected target of shape"):
        L.nll_loss(_x(4, 3), _y(0, 1))


def test_cross_entropy_target_dtype_and_range_errors():
    with pytest.raises(TypeError, match="class-index targets must be integers.*float32"):
        L.cross_entropy(_x(3, 10), _x(3))
    with pytest.raises(TypeError, match="class-index targets must be integers.*bool"):
        L.cross_entropy(_x(2, 10), zg.tensor([True, False]))
    with pytest.raises(ValueError, match="target contains class 12 but input has 10 classes"):
        L.cross_entropy(_x(3, 10), _y(0, 12, 1))
    with pytest.raises(ValueError, match="target contains class -1 but input has 10 classes"):
        L.nll_loss(_x(3, 10), _y(0, -1, -100))
    # ignore_index may lie inside or outside [0, C)
    assert np.isfinite(L.cross_entropy(_x(3, 10), _y(0, 7, 7), ignore_index=7).item())
    assert np.isfinite(L.cross_entropy(_x(3, 10), _y(0, 99, 1), ignore_index=99).item())


def test_cross_entropy_option_errors():
    with pytest.raises(ValueError, match=r"weight must be a 1-D tensor of C = 10 .* \(5,\)"):
        L.cross_entropy(_x(3, 10), _y(0, 1, 2), weight=zg.ones(5))
    with pytest.raises(ValueError, match="weight requires grad"):
        L.cross_entropy(_x(3, 10), _y(0, 1, 2), weight=zg.ones(10, requires_grad=True))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        L.cross_entropy(_x(3, 10), _y(0, 1, 2), label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index=2 is not supported for class-prob"):
        L.cross_entropy(_x(3, 10), _x(3, 10), ignore_index=2)
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        L.cross_entropy(_x(3, 10), _y(0, 1, 2), reduction="avg")
    with pytest.raises(TypeError, match="input must be a floating point tensor, got int64"):
        L.cross_entropy(zg.zeros(3, 10, dtype=zg.int64), _y(0, 1, 2))
    with pytest.raises(ValueError, match="input must have a class dimension"):
        L.cross_entropy(zg.tensor(1.0), _y(0))


def test_binary_cross_entropy_range_errors():
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: input values must be in \[0, 1\], "
        r"found min -0.2 / max 1.3"
    ):
        L.binary_cross_entropy(zg.tensor([-0.2, 0.5, 1.3]), zg.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"target values must be in \[0, 1\], found min 0 / "
                       r"max 2"):
        L.binary_cross_entropy(zg.tensor([0.2, 0.5]), zg.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"input values must be in \[0, 1\].*nan"):
        L.binary_cross_entropy(zg.tensor([0.2, float("nan")]), zg.tensor([0.0, 1.0]))


def test_elementwise_loss_shape_dtype_and_option_errors():
    for fn in (L.mse_loss, L.l1_loss, L.huber_loss, L.smooth_l1_loss, L.kl_div,
               L.binary_cross_entropy, L.binary_cross_entropy_with_logits):
        name = fn.__name__
        with pytest.raises(ValueError, match=rf"{name}: target shape \(3, 1\) does not match "
                           r"input shape \(3,\)"):
            fn(_x(3), _x(3, 1), reduction="sum")
        with pytest.raises(TypeError, match=rf"{name}: target must be a floating point .*int64"):
            fn(_x(3), zg.zeros(3, dtype=zg.int64), reduction="sum")
        with pytest.raises(ValueError, match=rf"{name}: 'avg' is not a valid value"):
            fn(_x(3), _x(3), reduction="avg")
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        L.huber_loss(_x(3), _x(3), delta=0)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative"):
        L.smooth_l1_loss(_x(3), _x(3), beta=-1.0)
    with pytest.raises(ValueError, match=r"pos_weight of shape \(4,\) cannot be broadcast to "
                       r"the input shape \(2, 3\)"):
        L.binary_cross_entropy_with_logits(_x(2, 3), _x(2, 3), pos_weight=zg.ones(4))
    with pytest.raises(ValueError, match=r"weight of shape \(2, 2, 3\) cannot be broadcast"):
        L.binary_cross_entropy(_x(2, 3), _x(2, 3), weight=zg.ones(2, 2, 3))
    with pytest.raises(ValueError, match="pos_weight requires grad"):
        L.binary_cross_entropy_with_logits(_x(3), _x(3), pos_weight=zg.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="mse_loss: input must be a Tensor, got ndarray"):
        L.mse_loss(np.zeros(3), _x(3))


def test_float64_target_does_not_upcast_float32_loss(rng):
    x = zg.from_numpy(rand_array(rng, (4, 3), np.float32)).requires_grad_()
    t = zg.from_numpy(rand_array(rng, (4, 3), np.float64)).requires_grad_()
    out = L.mse_loss(x, t)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert t.grad.dtype == np.float64
