"""Ops that split their work over zengrad.ops.threads give the same bits at 1 and 2 threads.

Sizes straddle the pool's thresholds (PARALLEL_MIN, CACHE_BLOCK), inputs come C-ordered,
channel-major (conv's output layout), strided and empty, and a spy on the pool checks that
the 2-thread runs do hand work to another thread (else the comparison proves nothing).
"""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from zengrad.nn import functional as F
from zengrad.ops import threads

REAL = {k: getattr(threads, k) for k in ("PARALLEL_MIN", "OP_PARALLEL_MIN", "CACHE_BLOCK")}
SMALL = {"PARALLEL_MIN": 4096, "OP_PARALLEL_MIN": 16384, "CACHE_BLOCK": 4096, "PIECE_MIN": 2048}
P, CB = SMALL["OP_PARALLEL_MIN"], SMALL["CACHE_BLOCK"]


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch):
    """The pool's thresholds lowered, so that test-sized arrays are split over threads and
    into many cache blocks (test_real_thresholds puts the real ones back)."""
    for name, value in SMALL.items():
        monkeypatch.setattr(threads, name, value)


@pytest.fixture
def at_threads(monkeypatch):
    """at_threads(n, f): f() run with n pool threads; counts the jobs posted to the pool."""
    before = threads.get_num_threads()
    submits = []
    real = threads.WorkerPool.post

    def spy(pool, *a, **k):
        submits.append(1)
        return real(pool, *a, **k)

    monkeypatch.setattr(threads.WorkerPool, "post", spy)

    def run(n, f):
        threads.set_num_threads(n)
        return f()

    run.submits = submits
    yield run
    threads.set_num_threads(before)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes, dtypes and bytes (NaN payloads and the sign of zero included)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def layout(base: np.ndarray, kind: str) -> np.ndarray:
    """base (N, C, ...) C-ordered, channel-major (memory (C, N, ...)) or strided."""
    if kind == "cm":
        return np.ascontiguousarray(base.swapaxes(0, 1)).swapaxes(0, 1)
    if kind == "strided":
        wide = np.repeat(base, 2, axis=-1)
        wide[..., 1::2] = 7.0  # values a wrong read would pick up
        return wide[..., ::2]
    return base


def run_twice(at_threads, f, expect_split: bool = True):
    """f() at 1 and at 2 threads; their results (tuples of arrays) bit for bit equal."""
    at_threads.submits.clear()
    one = at_threads(1, f)
    assert not at_threads.submits, "one thread must not use the pool"
    two = at_threads(2, f)
    assert bool(at_threads.submits) == expect_split
    for a, b in zip(one, two):
        assert same_bits(a, b)
    return one


def grads_of(op, *arrays, seed=0):
    """op's output and the gradients of every input, for a random upstream gradient."""
    ts = [zg.from_numpy(a).requires_grad_() for a in arrays]  # (views kept: no copy)
    y = op(*ts)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(y.array.dtype)
    y.backward(zg.from_numpy(g))
    return (y.array, *(t.grad.array for t in ts))


SIZES = [CB - 1, CB + 5, 3 * CB + 64 * 7 + 3, P - 1, P, P + 17, 3 * P + 7]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_bits(at_threads, n, dtype):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    x[::97] = 0.0
    x[5::101] = -0.0
    y, dx = run_twice(at_threads, lambda: grads_of(F.relu, x), expect_split=n >= P)
    g = np.random.default_rng(0).standard_normal(n).astype(dtype)
    assert same_bits(y, np.maximum(x, 0))
    assert same_bits(dx, g * (y > 0))  # the one-call formula


@pytest.mark.parametrize("dtype", [np.bool_, np.int32])
def test_relu_of_large_non_float_arrays_keeps_numpys_result(dtype):
    x = (np.arange(2 * P) % 3 - 1).astype(dtype)  # (bools: max(x, 0) is an int64 array)
    y = F.relu(zg.from_numpy(x)).array
    expected = np.maximum(x, 0)
    assert y.dtype == expected.dtype and np.array_equal(y, expected)


@pytest.mark.parametrize("kind", ["c", "cm", "strided"])
def test_relu_layouts(at_threads, kind):
    base = np.random.default_rng(1).standard_normal((64, 6, 28, 28)).astype(np.float32)
    x = layout(base, kind)
    y, dx = run_twice(at_threads, lambda: grads_of(F.relu, x))
    assert same_bits(y, np.maximum(base, 0))


def test_relu_nan_and_empty(at_threads):
    x = np.random.default_rng(2).standard_normal(P + 3).astype(np.float32)
    x[::7] = np.nan
    y, dx = run_twice(at_threads, lambda: grads_of(F.relu, x))
    assert np.isnan(y[::7]).all() and (dx[::7] == 0).all()  # torch: no gradient through NaN
    e = np.zeros((0, 3), np.float32)
    run_twice(at_threads, lambda: grads_of(F.relu, e), expect_split=False)


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b])
@pytest.mark.parametrize("n", [P - 1, P + 1, 5 * P + 3])
def test_binary_bits(at_threads, op, n):
    rng = np.random.default_rng(n)
    a, b = rng.standard_normal((2, n)).astype(np.float32)
    outs = run_twice(at_threads, lambda: grads_of(op, a, b), expect_split=n >= P)
    with np.errstate(all="ignore"):
        assert same_bits(outs[0], op(a, b))


def test_binary_layouts_and_broadcast(at_threads):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((32, 16, 24, 24)).astype(np.float32)
    a, b = layout(base, "cm"), layout(base[::-1].copy(), "strided")
    outs = run_twice(at_threads, lambda: grads_of(lambda s, t: s * t + s, a, b))
    assert same_bits(outs[0], a * b + a)
    bias = rng.standard_normal((16, 1, 1)).astype(np.float32)
    outs = run_twice(at_threads, lambda: grads_of(lambda s, t: s + t, a, bias), False)
    assert same_bits(outs[0], a + bias)


def batch_norm_step(x, training, affine=True):
    c = x.shape[1]
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 1.5, c).astype(x.dtype)
    b = rng.standard_normal(c).astype(x.dtype)
    rm = zg.from_numpy(rng.standard_normal(c).astype(x.dtype))
    rv = zg.from_numpy(rng.uniform(0.5, 2.0, c).astype(x.dtype))

    def op(t, wt, bt):
        return F.batch_norm(t, rm, rv, wt if affine else None, bt if affine else None,
                            training=training)

    out = grads_of(op, x, w, b) if affine else grads_of(lambda t: op(t, None, None), x)
    return (*out, rm.array.copy(), rv.array.copy())


@pytest.mark.parametrize("kind", ["c", "cm", "strided"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 96, 96), (16, 8, 24, 24), (2, 4, 128, 131)])
def test_batch_norm_bits(at_threads, kind, training, shape):
    base = np.random.default_rng(5).standard_normal(shape).astype(np.float32) * 3 + 1
    x = layout(base, kind)
    outs = run_twice(at_threads, lambda: batch_norm_step(x, training),
                     expect_split=kind != "strided")
    # the row-block statistics agree with whole-array NumPy ones
    if training:
        mu = base.mean(axis=(0, 2, 3), dtype=np.float64)
        sd = np.sqrt(base.var(axis=(0, 2, 3), dtype=np.float64) + 1e-5)
        rng = np.random.default_rng(4)  # batch_norm_step's weight and bias
        w = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
        b = rng.standard_normal(shape[1]).astype(np.float32)
        ref = (base - mu[:, None, None]) / sd[:, None, None] * w[:, None, None]
        ref = ref + b[:, None, None]
        np.testing.assert_allclose(outs[0], ref, rtol=1e-4, atol=1e-4)


def test_batch_norm_no_affine_and_float64(at_threads):
    x = layout(np.random.default_rng(6).standard_normal((8, 4, 48, 48)), "cm")
    run_twice(at_threads, lambda: batch_norm_step(x, True, affine=False))
    run_twice(at_threads, lambda: batch_norm_step(x.astype(np.float32), False, affine=False))


def test_batch_norm_gradient_in_another_layout(at_threads):
    """A C-ordered upstream gradient for a channel-major input (a residual add's output)."""
    x = layout(np.random.default_rng(7).standard_normal((16, 8, 32, 32)).astype(np.float32), "cm")

    def step():
        t = zg.from_numpy(x).requires_grad_()
        y = F.batch_norm(t, None, None, training=True)
        g = np.random.default_rng(8).standard_normal(y.shape).astype(np.float32)
        y.backward(zg.from_numpy(g))  # C-ordered
        return y.array, t.grad.array

    run_twice(at_threads, step)


POOLS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=1, dilation=2),
    dict(kernel_size=2, ceil_mode=True),
]


@pytest.mark.parametrize("kw", POOLS)
@pytest.mark.parametrize("kind", ["c", "cm", "strided"])
def test_max_pool_bits(at_threads, kw, kind):
    rng = np.random.default_rng(9)
    base = np.maximum(rng.standard_normal((64, 6, 29, 29)), 0).astype(np.float32)  # ties at 0
    base[:, :, 3, 3:9] = 1.5  # ties at a positive max
    x = layout(base, kind)
    y, dx = run_twice(at_threads, lambda: grads_of(lambda t: F.max_pool2d(t, **kw), x))
    assert same_bits(y, F.max_pool2d(zg.from_numpy(base), **kw).array)


def test_max_pool_gradient_in_another_layout(at_threads):
    """LeNet's second pool: a channel-major input, its gradient C-ordered from flatten."""
    x = layout(np.random.default_rng(10).standard_normal((256, 16, 10, 10)).astype(np.float32),
               "cm")

    def step():
        t = zg.from_numpy(x).requires_grad_()
        y = F.max_pool2d(t, 2).flatten(1)
        y.backward(zg.from_numpy(np.random.default_rng(11).standard_normal(y.shape)
                                 .astype(np.float32)))
        return y.array, t.grad.array

    run_twice(at_threads, step)


def test_max_pool_small_and_nan(at_threads):
    x = np.random.default_rng(12).standard_normal((2, 3, 8, 8)).astype(np.float32)
    run_twice(at_threads, lambda: grads_of(lambda t: F.max_pool2d(t, 2), x), False)
    big = np.random.default_rng(13).standard_normal((64, 8, 24, 24)).astype(np.float32)
    big[0, 0, 0, 0] = np.nan  # the index path (torch's rule for NaN windows)
    run_twice(at_threads, lambda: grads_of(lambda t: F.max_pool2d(t, 2), big))


# ----- the helpers themselves -------------------------------------------------------------------
@pytest.mark.parametrize("block", [None, 1000])
@pytest.mark.parametrize("kind", ["c", "cm", "strided"])
def test_elementwise_visits_each_element_once(at_threads, block, kind):
    a = layout(np.arange(3 * P, dtype=np.float64).reshape(12, 4, -1, 8), kind)
    out = np.zeros(a.shape)
    pieces = []

    def fn(x, o):
        pieces.append(x.size)
        o += x + 1  # a second visit would show as 2 x + 2

    at_threads(2, lambda: threads.elementwise(fn, (a, out), block=block))
    np.testing.assert_array_equal(out, a + 1)
    assert len(pieces) > 1


def test_flat_views_follow_memory_order():
    a = layout(np.arange(120.0).reshape(2, 3, 4, 5), "cm")
    (v,) = threads.flat_views([a])
    assert v.base is not None and np.shares_memory(v, a)
    np.testing.assert_array_equal(v, a.transpose(1, 0, 2, 3).ravel())
    assert threads.flat_views([a, np.ascontiguousarray(a)]) is None
    assert threads.flat_views([layout(np.ones((2, 3, 4, 4)), "strided")]) is None


def test_elementwise_reraises_a_piece_error(at_threads):
    a = np.arange(4 * P, dtype=np.float64)

    def fn(x):
        if x[-1] == a[-1]:  # the last piece, run by another thread
            raise ValueError("last piece")

    with pytest.raises(ValueError, match="last piece"):
        at_threads(2, lambda: threads.elementwise(fn, (a,)))


@pytest.mark.parametrize("offset", [-1, 0, 17])
def test_real_thresholds(at_threads, monkeypatch, offset):
    """At the shipped thresholds: one call below OP_PARALLEL_MIN, the pool from it on."""
    for name, value in REAL.items():
        monkeypatch.setattr(threads, name, value)
    n = REAL["OP_PARALLEL_MIN"] + offset
    rng = np.random.default_rng(14)
    a, b = rng.standard_normal((2, n)).astype(np.float32)
    run_twice(at_threads, lambda: grads_of(F.relu, a), expect_split=offset >= 0)
    run_twice(at_threads, lambda: grads_of(lambda s, t: s * t, a, b), expect_split=offset >= 0)
