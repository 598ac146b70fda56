"""Layers and activation modules against torch.nn: outputs, input grads, parameter grads."""

import numpy as np
import pytest
import torch

import zengrad as zg
import zengrad.nn as nn
from tests.nn.parity import assert_module_parity

DTYPES = [np.float64, np.float32]
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,in_f,out_f,bias",
    [((5, 3), 3, 4, True), ((2, 3, 7), 7, 2, False), ((6,), 6, 3, True), ((4, 1), 1, 1, True)],
)
def test_linear_parity(rng, dtype, shape, in_f, out_f, bias):
    th = torch.nn.Linear(in_f, out_f, bias=bias).to(TORCH_DTYPE[dtype])
    zm = nn.Linear(in_f, out_f, bias=bias, dtype=dtype)
    assert zm.weight.shape == (out_f, in_f) and zm.weight.dtype == dtype
    assert (zm.bias is None) == (not bias)
    assert_module_parity(zm, th, rng.standard_normal(shape).astype(dtype))


def test_linear_default_init_bounds():
    m = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    assert m.weight.dtype == np.float32 and m.weight.requires_grad
    for p in (m.weight, m.bias):
        assert np.abs(p.array).max() <= bound
        assert np.abs(p.array).max() > 0.95 * bound  # spans the range, not a narrower one
    # U(-b, b) has std b / sqrt(3)
    np.testing.assert_allclose(m.weight.array.std(), bound / np.sqrt(3), rtol=0.02)


def test_linear_errors():
    m = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="in_features=3"):
        m(zg.randn(4, 5))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)


ACTIVATIONS = [
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(2.0, 3.0)),
    (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: nn.LogSoftmax(dim=0), lambda: torch.nn.LogSoftmax(dim=0)),
    (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
    (lambda: nn.Identity(), lambda: torch.nn.Identity()),
    (lambda: nn.Flatten(), lambda: torch.nn.Flatten()),
    (lambda: nn.Flatten(0, 1), lambda: torch.nn.Flatten(0, 1)),
    (lambda: nn.Unflatten(1, (2, 2)), lambda: torch.nn.Unflatten(1, (2, 2))),
    (lambda: nn.Unflatten(-1, (-1, 1)), lambda: torch.nn.Unflatten(-1, (-1, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda m: repr(m[0]()))
def test_parameterless_module_parity(rng, dtype, make):
    zm, th = make[0](), make[1]()
    for shape in [(3, 4, 5), (2, 4)]:
        x = rng.uniform(-4, 4, shape).astype(dtype)
        assert_module_parity(zm, th, x)
        assert repr(zm) == repr(th)


def test_softmax_needs_dim():
    with pytest.raises(ValueError, match="dim"):
        nn.Softmax()(zg.randn(2, 3))


def test_unflatten_size_mismatch():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        nn.Unflatten(1, (2, 3))(zg.randn(2, 5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_with_torch_weights_matches(rng, dtype):
    th = torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8), torch.nn.GELU(),
        torch.nn.Dropout(0.3), torch.nn.Linear(8, 3), torch.nn.LogSoftmax(dim=1),
    ).to(TORCH_DTYPE[dtype]).eval()
    zm = nn.Sequential(
        nn.Linear(6, 16, dtype=dtype), nn.Tanh(), nn.Linear(16, 8, dtype=dtype), nn.GELU(),
        nn.Dropout(0.3), nn.Linear(8, 3, dtype=dtype), nn.LogSoftmax(dim=1),
    ).eval()
    assert_module_parity(zm, th, rng.standard_normal((10, 6)).astype(dtype))
