"""matmul/@ with 1-D, 2-D and broadcast batches; mm, bmm, linear: gradcheck and torch parity."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array

DTYPES = [np.float64, np.float32]
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (5, 3, 2)),
    ((4, 3), (2, 3, 1)),
    ((2, 4, 3), (3,)),
    ((3,), (2, 3, 4)),
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gradcheck(shapes, rng):
    a, b = (rand_array(rng, s) for s in shapes)
    assert check_grad(zg.matmul, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_parity(dtype, rng):
    for sa, sb in MATMUL_SHAPES + [((8, 16, 32), (32, 24)), ((3, 7, 9), (1, 9, 11))]:
        a, b = rand_array(rng, sa, dtype), rand_array(rng, sb, dtype)
        assert_parity(lambda x, y: x @ y, lambda x, y: x @ y, [a, b])


def test_matmul_with_ndarray_operand(rng):
    a, b = rand_array(rng, (2, 3)), rand_array(rng, (3, 4))
    x = zg.tensor(a, requires_grad=True)
    np.testing.assert_allclose((x @ b).detach().numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose((b.T @ x.T).detach().numpy(), (a @ b).T, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mm_bmm_linear(dtype, rng):
    a, b = rand_array(rng, (4, 3), dtype), rand_array(rng, (3, 2), dtype)
    assert_parity(zg.mm, torch.mm, [a, b])
    p, q = rand_array(rng, (2, 4, 3), dtype), rand_array(rng, (2, 3, 5), dtype)
    assert_parity(zg.bmm, torch.bmm, [p, q])
    w, bias = rand_array(rng, (5, 3), dtype), rand_array(rng, (5,), dtype)
    for x in (rand_array(rng, (4, 3), dtype), rand_array(rng, (2, 4, 3), dtype)):
        assert_parity(zg.linear, TF.linear, [x, w, bias])
        assert_parity(zg.linear, TF.linear, [x, w])
    if dtype == np.float64:
        assert check_grad(zg.linear, rand_array(rng, (2, 4, 3)), w, bias)


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(64, 10\) and \(20, 5\)"):
        zg.randn(64, 10) @ zg.randn(20, 5)
    with pytest.raises(ValueError, match=r"\(3,\) and \(4,\)"):
        zg.matmul(zg.ones(3), zg.ones(4))
    with pytest.raises(ValueError, match=r"batch dims .*\(2, 3, 4\) and \(5, 4, 2\)"):
        zg.ones(2, 3, 4) @ zg.ones(5, 4, 2)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        zg.matmul(zg.tensor(2.0), zg.ones(2))
    with pytest.raises(ValueError, match=r"mm: expected 2-D.*\(3,\)"):
        zg.mm(zg.ones(3), zg.ones(3, 2))
    with pytest.raises(ValueError, match="in_features=3"):
        zg.linear(zg.ones(2, 4), zg.ones(5, 3))
