"""Blockwise (and threaded) optimizer updates give bit for bit the one-call result."""

import numpy as np
import pytest

import zengrad as zg
from zengrad import optim
from zengrad.ops import threads


@pytest.mark.parametrize("n", [1, threads.BLOCK - 1, threads.BLOCK + 3, 5 * threads.BLOCK + 7])
def test_for_blocks_covers_every_element_once(two_threads, n):
    a = np.arange(n, dtype=np.float64)
    out = np.zeros(n)

    def fn(x, y):
        y += x + 1  # a second visit of an element would show as 2 x + 2

    threads.for_blocks(fn, [a, out])
    np.testing.assert_array_equal(out, a + 1)


def test_for_blocks_reraises_a_block_error(two_threads):
    a = np.arange(6 * threads.BLOCK, dtype=np.float64)

    def fn(x):
        if x[0] >= 5 * threads.BLOCK:  # the last block, run by another thread
            raise ValueError("last block")

    with pytest.raises(ValueError, match="last block"):
        threads.for_blocks(fn, [a])


def test_set_num_threads_refuses_bad_counts():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RuntimeError, match="set_num_threads expects"):
            threads.set_num_threads(bad)


def _adam_run(shapes, nthreads, amsgrad, dtype, steps=3):
    threads.set_num_threads(nthreads)
    rng = np.random.default_rng(0)
    params = [zg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    opt = optim.Adam(params, lr=1e-2, amsgrad=amsgrad, weight_decay=0.01)
    for _ in range(steps):
        for p in params:
            g = rng.standard_normal(p.shape).astype(dtype)
            # a transposed (non-contiguous) gradient takes the copy path
            p.grad = zg.tensor(np.ascontiguousarray(g.T).T if g.ndim == 2 else g)
        opt.step()
    return [p.array.copy() for p in params], opt.state_dict()


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_blockwise_threaded_equals_one_thread(amsgrad, dtype):
    before = threads.get_num_threads()
    shapes = [(300, 700), (700,), (3,), (0, 4)]  # 210,000 elements: many blocks; size 0
    try:
        one, state_one = _adam_run(shapes, 1, amsgrad, dtype)
        two, state_two = _adam_run(shapes, 2, amsgrad, dtype)
    finally:
        threads.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    for k, st in state_one["state"].items():
        for name, v in st.items():
            np.testing.assert_array_equal(v, state_two["state"][k][name])


def test_pool_works_in_a_forked_child(two_threads):
    """A child forked after the pool started gets a fresh pool (not the parent's dead one)."""
    import multiprocessing as mp

    a = np.zeros(8 * threads.BLOCK)
    threads.for_blocks(lambda x: x.__iadd__(1), [a])  # the parent's pool exists now
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as workers:
        assert workers.apply_async(_child_sum).get(timeout=60) == 8 * threads.BLOCK


def _child_sum() -> float:
    b = np.zeros(8 * threads.BLOCK)
    threads.for_blocks(lambda x: x.__iadd__(1), [b])
    return float(b.sum())
