"""Seeded random sweeps: random shapes, broadcasting, dims and keepdim against torch.

Each case draws its own shapes from a seeded generator, so a failure names a reproducible
case (the seed is in the test id).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array

SEEDS = range(12)


def _shape(rng, ndim):
    return tuple(int(n) for n in rng.integers(1, 5, ndim))


def _broadcast_partner(rng, shape):
    """A shape that broadcasts with shape: trailing dims kept or set to 1, leading dropped."""
    partner = [1 if rng.random() < 0.3 else n for n in shape]
    drop = int(rng.integers(0, len(shape) + 1))
    return tuple(partner[drop:])


def _dims(rng, ndim):
    """None, one (maybe negative) dim, or a tuple of distinct dims."""
    if ndim == 0 or rng.random() < 0.2:
        return None
    k = int(rng.integers(1, ndim + 1))
    dims = [int(d) - ndim * int(rng.random() < 0.5) for d in rng.permutation(ndim)[:k]]
    return dims[0] if k == 1 and rng.random() < 0.5 else tuple(dims)


BINARY = [
    (zg.add, torch.add), (zg.sub, torch.sub), (zg.mul, torch.mul),
    (zg.maximum, torch.maximum), (zg.minimum, torch.minimum),
]
REDUCE = {
    "sum": (zg.sum, lambda x, d, k: torch.sum(x, d if d is not None else (), k)),
    "mean": (zg.mean, lambda x, d, k: torch.mean(x, d if d is not None else (), k)),
    "amax": (lambda x, d, k: zg.amax(x, () if d is None else d, k), torch.amax),
    "var": (lambda x, d, k: zg.var(x, d, keepdim=k), lambda x, d, k: torch.var(x, d, keepdim=k)),
    "logsumexp": (
        lambda x, d, k: zg.logsumexp(x, tuple(range(x.ndim)) if d is None else d, k),
        lambda x, d, k: torch.logsumexp(x, tuple(range(x.ndim)) if d is None else d, k),
    ),
    "norm": (
        lambda x, d, k: zg.norm(x, 2, d, k), lambda x, d, k: torch.linalg.vector_norm(x, 2, d, k)
    ),
}


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_broadcast_sweep(seed):
    rng = np.random.default_rng(seed)
    sa = _shape(rng, int(rng.integers(0, 5)))
    sb = _broadcast_partner(rng, sa)
    if rng.random() < 0.5:
        sa, sb = sb, sa
    for zfn, tfn in BINARY:
        for dtype in (np.float64, np.float32):
            a, b = rand_array(rng, sa, dtype), rand_array(rng, sb, dtype)
            assert_parity(zfn, tfn, [a, b])
    a, b = rand_array(rng, sa), rand_array(rng, sb, low=0.5)
    assert check_grad(lambda x, y: x * y / y.exp() - x, a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_reduction_sweep(seed):
    rng = np.random.default_rng(100 + seed)
    ndim = int(rng.integers(1, 5))
    shape = _shape(rng, ndim)
    for name, (zfn, tfn) in REDUCE.items():
        d, keepdim = _dims(rng, ndim), bool(rng.random() < 0.5)
        axes = range(ndim) if d is None else np.atleast_1d(d)
        if name == "var" and np.prod([shape[i] for i in axes]) < 2:
            continue  # zero degrees of freedom: torch warns (tested in test_reduce)
        for dtype in (np.float64, np.float32):
            x = rand_array(rng, shape, dtype)
            assert_parity(
                lambda t, d=d, k=keepdim, f=zfn: f(t, d, k),
                lambda t, d=d, k=keepdim, f=tfn: f(t, d, k),
                [x],
            )
        assert check_grad(lambda t, d=d, k=keepdim, f=zfn: f(t, d, k), rand_array(rng, shape))


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_and_matmul_sweep(seed):
    rng = np.random.default_rng(200 + seed)
    shape = _shape(rng, int(rng.integers(1, 4)))
    dim = int(rng.integers(-len(shape), len(shape)))
    batch = _shape(rng, int(rng.integers(0, 3)))
    n, k, m = (int(v) for v in rng.integers(1, 5, 3))
    batch_b = _broadcast_partner(rng, batch)
    for dtype in (np.float64, np.float32):
        x = rand_array(rng, shape, dtype, -5, 5)
        assert_parity(lambda t: zg.softmax(t, dim), lambda t: TF.softmax(t, dim), [x])
        assert_parity(lambda t: zg.log_softmax(t, dim), lambda t: TF.log_softmax(t, dim), [x])
        a = rand_array(rng, batch + (n, k), dtype)
        b = rand_array(rng, batch_b + (k, m), dtype)
        assert_parity(zg.matmul, torch.matmul, [a, b])
    assert check_grad(zg.matmul, rand_array(rng, batch + (n, k)), rand_array(rng, (k, m)))
