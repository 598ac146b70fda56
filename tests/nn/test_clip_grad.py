"""clip_grad_norm_ / clip_grad_value_ and parameter vectors against torch.nn.utils."""

import numpy as np
import pytest
import torch

import zengrad as zg
import zengrad.nn as nn
from zengrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def _pair_with_grads(rng, dtype, scale):
    shapes = [(4, 3), (3,), (2, 2, 2)]
    zps, tps = [], []
    for s in shapes:
        w = rng.standard_normal(s).astype(dtype)
        g = (scale * rng.standard_normal(s)).astype(dtype)
        zp, tp = nn.Parameter(zg.from_numpy(w.copy())), torch.nn.Parameter(torch.from_numpy(w))
        zp.grad, tp.grad = zg.from_numpy(g.copy()), torch.from_numpy(g.copy())
        zps.append(zp)
        tps.append(tp)
    return zps, tps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 0.01)])
def test_clip_grad_norm_matches_torch(rng, dtype, norm_type, max_norm, scale):
    zps, tps = _pair_with_grads(rng, dtype, scale)
    tz = clip_grad_norm_(zps, max_norm, norm_type=norm_type)
    tt = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert isinstance(tz, zg.Tensor) and tz.dtype == dtype and tz.shape == ()
    np.testing.assert_allclose(tz.item(), tt.item(), rtol=rtol)
    for zp, tp in zip(zps, tps):
        assert zp.grad.dtype == dtype
        np.testing.assert_allclose(zp.grad.array, tp.grad.numpy(), rtol=rtol, atol=1e-12)


def test_clip_grad_norm_edge_cases(rng):
    p = nn.Parameter(zg.ones(3))
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no grads at all
    p.grad = zg.tensor([3.0, 4.0, 0.0])
    assert clip_grad_norm_(p, 10.0).item() == pytest.approx(5.0)  # a single tensor works
    np.testing.assert_array_equal(p.grad.array, [3.0, 4.0, 0.0])  # under max: untouched
    p.grad = zg.tensor([np.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("clip", [0.1, 0.5, 5.0])
def test_clip_grad_value_matches_torch(rng, clip):
    zps, tps = _pair_with_grads(rng, np.float32, 1.0)
    assert clip_grad_value_(zps, clip) is None
    torch.nn.utils.clip_grad_value_(tps, clip)
    for zp, tp in zip(zps, tps):
        np.testing.assert_array_equal(zp.grad.array, tp.grad.numpy())


def test_parameters_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    vec = parameters_to_vector(m.parameters())
    assert vec.shape == (m.num_parameters(),)
    expected = np.concatenate([p.array.ravel() for p in m.parameters()])
    np.testing.assert_array_equal(vec.array, expected)
    vec.sum().backward()  # differentiable: every parameter gets a gradient of ones
    assert all((p.grad.array == 1).all() for p in m.parameters())
    w_array = m[0].weight.array
    vector_to_parameters(zg.arange(vec.shape[0], dtype=zg.float32), m.parameters())
    assert m[0].weight.array is w_array
    np.testing.assert_array_equal(m[0].weight.array.ravel(), np.arange(12))
    np.testing.assert_array_equal(m[1].bias.array, [24.0, 25.0])
    with pytest.raises(ValueError, match=r"\(26,\)"):
        vector_to_parameters(zg.zeros(5), m.parameters())
    with pytest.raises(TypeError, match="Tensor"):
        vector_to_parameters(np.zeros(26), m.parameters())
