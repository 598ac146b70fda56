"""zengrad.amp.GradScaler / autocast against torch's (CPU)."""

import warnings

import numpy as np
import pytest
import torch

import zengrad as zg


def _run(lib, grads):
    """A few scaled steps of SGD on p, with the given raw gradient per step (inf: overflow)."""
    p = lib.nn.Parameter(lib.tensor(np.ones(3)))
    opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    scales, losses = [], []
    for g in grads:
        opt.zero_grad()
        loss = scaler.scale((p * lib.tensor(np.asarray(g))).sum())
        losses.append(float(loss.item()))
        loss.backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return p.detach().numpy().copy(), scales, losses, scaler.state_dict()


def test_scaling_skipping_and_growth_match_torch():
    grads = [[1.0, 2.0, 3.0], [0.5, np.inf, 1.0], [1.0, 1.0, 1.0], [2.0, 0.0, -1.0],
             [np.nan, 1.0, 1.0], [1.0, -2.0, 0.5]]
    zp, zs, zl, zsd = _run(zg, grads)
    tp, ts, tl, tsd = _run(torch, grads)
    np.testing.assert_allclose(zp, tp, rtol=1e-12)
    assert zs == ts and np.allclose(zl, tl, equal_nan=True)
    assert {k: float(v) for k, v in zsd.items()} == {k: float(v) for k, v in tsd.items()}


def test_unscale_then_clip_then_step_as_in_the_amp_recipe():
    for lib in (zg, torch):
        p = lib.nn.Parameter(lib.tensor([3.0, 4.0]))
        opt = lib.optim.SGD([p], lr=1.0)
        scaler = lib.amp.GradScaler("cpu", init_scale=4.0)
        scaler.scale((p * p).sum() / 2).backward()
        scaler.unscale_(opt)
        np.testing.assert_allclose(p.grad.numpy(), [3.0, 4.0])
        with pytest.raises(RuntimeError, match="already been called"):
            scaler.unscale_(opt)
        lib.nn.utils.clip_grad_norm_([p], 1.0)
        scaler.step(opt)
        scaler.update()
        np.testing.assert_allclose(p.detach().numpy(), [2.4, 3.2], rtol=1e-6)


def test_the_cuda_default_warns_and_disables_as_torch_without_cuda():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        s = zg.amp.GradScaler()
    assert not s.is_enabled() and s.state_dict() == {} and s.get_scale() == 1.0
    x = zg.tensor(2.0, requires_grad=True)
    assert s.scale(x) is x
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not zg.cuda.amp.GradScaler(enabled=False).is_enabled()


def test_autocast_is_a_no_op_where_torch_disables_it_and_refused_where_it_would_cast():
    with zg.autocast("cpu", enabled=False):
        assert (zg.ones(2) * 2).dtype == zg.float32
    with pytest.warns(UserWarning, match="Disabling autocast"), zg.autocast("cuda"):
        pass
    with pytest.raises(NotImplementedError, match="no lower-precision kernels"):
        zg.autocast("cpu", dtype=zg.float16)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        zg.autocast("tpu")
