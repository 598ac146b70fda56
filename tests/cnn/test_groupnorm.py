"""group_norm and nn.GroupNorm: gradcheck, parity with torch, state_dict, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from zengrad.nn import functional as F
from zengrad.nn.norm import GroupNorm
from zengrad.ops.groupnorm import group_norm

# (shape, num_groups)
CASES = [
    ((2, 6, 4, 3), 3),
    ((3, 4, 5), 2),
    ((2, 4), 4),  # one channel per group, no spatial dims
    ((1, 6, 2, 2), 1),  # one group: layer norm over (C, H, W)
    ((2, 6, 3, 1), 6),  # instance norm
    ((1, 2, 1, 1, 3), 2),  # 5-D, size-1 dims
    ((2, 4, 7), 2),
]


@pytest.mark.parametrize("shape, groups", CASES)
def test_group_norm_gradcheck(rng, shape, groups):
    c = shape[1]
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    assert check_grad(lambda x, w, b: group_norm(x, groups, w, b, 1e-5), x, w, b)
    assert check_grad(lambda x: group_norm(x, groups), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, groups", CASES)
def test_group_norm_parity(rng, shape, groups, dtype):
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    # float32: 1e-4 relative. A one-value group has x - mu = 0 exactly here; torch's float32
    # statistics leave a rounding residue of ~1e-7 |x| there, which invstd (1/sqrt(eps))
    # amplifies to ~5e-5: compared with an absolute 1e-4 in that case
    tol = dict(rtol=1e-4) if dtype == np.float32 else {}
    if dtype == np.float32 and np.prod(shape[1:]) == groups:
        tol["atol"] = 1e-4
    assert_parity(
        lambda x, w, b: F.group_norm(x, groups, w, b, 1e-3),
        lambda x, w, b: TF.group_norm(x, groups, w, b, 1e-3),
        [x, w, b],
        **tol,
    )
    assert_parity(
        lambda x, w: F.group_norm(x, groups, weight=w),
        lambda x, w: TF.group_norm(x, groups, weight=w),
        [x, w],
        **tol,
    )


def test_group_norm_empty_batch(rng):
    x = rng.standard_normal((0, 4, 3))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    assert_parity(
        lambda x, w, b: group_norm(x, 2, w, b), lambda x, w, b: TF.group_norm(x, 2, w, b),
        [x, w, b],
    )


@pytest.mark.parametrize("kwargs", [dict(affine=True), dict(affine=False), dict(bias=False)])
def test_module_parity_and_state_dict(rng, kwargs):
    layer = GroupNorm(2, 6, eps=1e-4, **kwargs).double()
    twin = torch.nn.GroupNorm(2, 6, eps=1e-4, **kwargs).double()
    assert list(layer.state_dict()) == list(twin.state_dict())
    with torch.no_grad():
        for p in twin.parameters():
            p.normal_()
    layer.load_state_dict({k: v.numpy().copy() for k, v in twin.state_dict().items()})
    x = rng.standard_normal((3, 6, 4, 5))
    assert_parity(lambda x: layer(x), lambda x: twin(x), [x])
    for name, p in layer.named_parameters():
        tp = dict(twin.named_parameters())[name]
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(layer) == repr(twin)
    layer.eval()  # no running statistics: eval computes the same
    np.testing.assert_allclose(layer(zg.tensor(x)).detach().numpy(), twin(torch.tensor(x)).detach())


def test_module_init():
    layer = GroupNorm(4, 8)
    assert layer.weight.dtype == np.float32 and layer.weight.shape == (8,)
    assert np.all(layer.weight.array == 1) and np.all(layer.bias.array == 0)
    assert zg.nn.GroupNorm is GroupNorm


def test_errors():
    with pytest.raises(ValueError, match=r"divisible by num_groups.*\(2, 4, 3\).*num_groups=3"):
        group_norm(zg.zeros(2, 4, 3), 3)
    with pytest.raises(ValueError, match=r"at least 2 dims.*\(4,\)"):
        group_norm(zg.zeros(4), 2)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\).*got \(3,\)"):
        group_norm(zg.zeros(2, 4, 3), 2, zg.ones(3))
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        group_norm(zg.zeros(2, 4, 3), 0)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\): expected input .* C = 4, got .*"):
        GroupNorm(2, 4)(zg.zeros(2, 6, 3))
    with pytest.raises(TypeError, match="num_groups must be an int"):
        GroupNorm(2.0, 4)
    with pytest.raises(TypeError, match="floating-point input, got dtype int64"):
        group_norm(zg.zeros(2, 4, 3).to(zg.int64), 2)
    with pytest.raises(TypeError, match="weight has dtype float64 but the input has float32"):
        group_norm(zg.zeros(2, 4, 3), 2, zg.ones(4).double())
