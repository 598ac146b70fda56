"""Creation ops: shapes, dtypes and values as torch; seeded random draws reproduce."""

import numpy as np
import pytest
import torch

import zengrad as zg


def _same(z, t):
    assert z.shape == tuple(t.shape)
    assert z.dtype.name == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-6)


def test_filled():
    _same(zg.zeros(2, 3), torch.zeros(2, 3))
    _same(zg.zeros((2, 3)), torch.zeros((2, 3)))
    _same(zg.ones(4, dtype=zg.float64), torch.ones(4, dtype=torch.float64))
    _same(zg.ones(()), torch.ones(()))
    _same(zg.full((2, 2), 1.5), torch.full((2, 2), 1.5))
    _same(zg.full((3,), 7), torch.full((3,), 7))
    _same(zg.full((2,), True), torch.full((2,), True))
    _same(zg.eye(3), torch.eye(3))
    _same(zg.eye(2, 4), torch.eye(2, 4))
    assert zg.empty(2, 5).shape == (2, 5) and zg.empty(2).dtype == zg.float32
    assert zg.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="negative dimension"):
        zg.zeros(2, -1)


def test_like():
    x = zg.ones(2, 3, dtype=zg.float64)
    for name in ("zeros_like", "ones_like"):
        _same(getattr(zg, name)(x), getattr(torch, name)(torch.ones(2, 3, dtype=torch.float64)))
    _same(zg.full_like(x, 3.0), torch.full((2, 3), 3.0, dtype=torch.float64))
    assert zg.empty_like(x).shape == (2, 3)
    assert zg.zeros_like(x, dtype=zg.int64).dtype == zg.int64
    assert zg.rand_like(x).dtype == zg.float64 and zg.randn_like(x).shape == (2, 3)


def test_ranges():
    _same(zg.arange(5), torch.arange(5))
    _same(zg.arange(1, 7, 2), torch.arange(1, 7, 2))
    _same(zg.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25))
    _same(zg.arange(5, dtype=zg.float64), torch.arange(5, dtype=torch.float64))
    _same(zg.arange(5, 0, -2), torch.arange(5, 0, -2))
    _same(zg.linspace(-1, 1, 5), torch.linspace(-1, 1, 5))
    _same(zg.linspace(0, 1, 1), torch.linspace(0, 1, 1))
    with pytest.raises(ValueError, match="step must be nonzero"):
        zg.arange(0, 3, 0)


def test_random_shapes_dtypes_and_ranges():
    u = zg.rand(1000)
    assert u.dtype == zg.float32 and u.shape == (1000,)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0
    n = zg.randn(200, 50, dtype=zg.float64)
    assert n.dtype == zg.float64 and abs(n.numpy().mean()) < 0.05
    assert abs(n.numpy().std() - 1.0) < 0.05
    r = zg.randint(3, 8, (1000,))
    assert r.dtype == zg.int64 and r.numpy().min() == 3 and r.numpy().max() == 7
    assert zg.randint(4, size=(2, 2)).numpy().max() < 4
    m = zg.normal(2.0, 0.5, size=(20000,))
    assert abs(m.numpy().mean() - 2.0) < 0.02 and abs(m.numpy().std() - 0.5) < 0.02
    t = zg.normal(zg.tensor([0.0, 100.0]), zg.tensor([1.0, 0.0]))
    assert t.shape == (2,) and t.numpy()[1] == 100.0
    p = zg.randperm(10)
    assert sorted(p.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="low .* must be less than high"):
        zg.randint(5, 5, (2,))
    with pytest.raises(ValueError, match="std must be >= 0"):
        zg.normal(0.0, -1.0, size=(2,))


def test_manual_seed_reproduces_every_draw():
    def draws():
        return [zg.rand(3), zg.randn(2, 2), zg.randint(0, 100, (4,)), zg.normal(0, 1, (3,)),
                zg.randperm(5), zg.rand_like(zg.ones(2))]

    zg.manual_seed(42)
    a = draws()
    zg.manual_seed(42)
    b = draws()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    zg.manual_seed(43)
    assert not np.array_equal(zg.rand(3).numpy(), a[0].numpy())


def test_rng_state_roundtrip():
    zg.manual_seed(1)
    state = zg.get_rng_state()
    x = zg.randn(5)
    zg.set_rng_state(state)
    np.testing.assert_array_equal(zg.randn(5).numpy(), x.numpy())


def test_as_tensor_shares_memory_and_keeps_dtype():
    a = np.arange(3, dtype=np.int32)
    t = zg.as_tensor(a)
    assert t.dtype == zg.int32 and t.array is a
    assert zg.as_tensor(t) is t
    assert zg.as_tensor(a, dtype=zg.float32).dtype == zg.float32
    assert zg.as_tensor([1.0, 2.0]).dtype == zg.float32


def test_default_dtype_can_be_float64():
    try:
        zg.set_default_dtype(zg.float64)
        assert zg.tensor([1.0]).dtype == zg.float64 and zg.zeros(2).dtype == zg.float64
    finally:
        zg.set_default_dtype(zg.float32)
    with pytest.raises(TypeError, match="floating dtype"):
        zg.set_default_dtype(zg.int64)
