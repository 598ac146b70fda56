"""BlockUpdates (optim/optimizer.py): one step's updates, cut into blocks and run together
over the threads, give bit for bit the one-call update of each parameter, keep the order of
parameters that may share memory, and re-raise a block's error."""

import numpy as np
import pytest

from zengrad.ops import threads
from zengrad.optim import optimizer as optimizer_mod
from zengrad.optim.optimizer import BlockUpdates, block_scratch

BIG = 3 * optimizer_mod.THREAD_BLOCK + 5  # several blocks at any thread count, a short last


def _step(p, g, m):
    """Three passes with a work array: m = 0.9 m + g; p -= 0.1 m / (1 + |g|)."""
    tmp = block_scratch(p, 0)
    m *= 0.9
    m += g
    np.abs(g, out=tmp)
    tmp += 1.0
    np.divide(m, tmp, out=tmp)
    tmp *= -0.1
    p += tmp


def _arrays(rng, n, dtype=np.float32):
    return [rng.standard_normal(n).astype(dtype) for _ in range(3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocks_of_many_parameters_equal_one_call_each(nthreads, dtype):
    rng = np.random.default_rng(0)
    sizes = [BIG, threads.BLOCK + 1, 7, optimizer_mod.UPDATE_BLOCK, 0]
    sets = [_arrays(rng, n, dtype) for n in sizes]
    sets.append([a.reshape(301, 257).copy() for a in _arrays(rng, 301 * 257, dtype)])  # 2-D
    want = [[a.copy() for a in arrays] for arrays in sets]
    for w in want:
        _step(*w)
    updates = BlockUpdates()
    called = []
    updates.add_call(lambda: called.append(1), 10)
    for arrays in sets:
        updates.add(_step, arrays)
    assert updates.tasks  # large parameters wait for run()
    updates.run()
    assert called == [1] and not updates.tasks
    for arrays, w in zip(sets, want):
        for a, b in zip(arrays, w):
            np.testing.assert_array_equal(a, b)


def test_a_view_runs_after_what_was_queued_before_it(nthreads):
    """p2 is a view of p1's memory: p1's update (queued) must be done before p2's reads it,
    as when the parameters are updated one after the other."""
    rng = np.random.default_rng(1)
    p1, g1, m1 = _arrays(rng, BIG)
    g2, m2 = _arrays(rng, BIG // 2)[:2]
    p2 = p1[: BIG // 2]
    want = [a.copy() for a in (p1, g1, m1, g2, m2)]
    _step(want[0], want[1], want[2])
    _step(want[0][: BIG // 2], want[3], want[4])
    updates = BlockUpdates()
    updates.add(_step, [p1, g1, m1])
    updates.add(_step, [p2, g2, m2])
    updates.run()
    for a, b in zip((p1, g1, m1, g2, m2), want):
        np.testing.assert_array_equal(a, b)


def test_the_same_array_twice_is_updated_twice_in_order(nthreads):
    rng = np.random.default_rng(2)
    p, g, m = _arrays(rng, BIG)
    g2, m2 = _arrays(rng, BIG)[:2]
    want = [a.copy() for a in (p, g, m, g2, m2)]
    _step(want[0], want[1], want[2])
    _step(want[0], want[3], want[4])
    updates = BlockUpdates()
    updates.add(_step, [p, g, m])
    updates.add(_step, [p, g2, m2])
    updates.run()
    for a, b in zip((p, g, m, g2, m2), want):
        np.testing.assert_array_equal(a, b)


def test_a_non_contiguous_gradient_is_copied_and_a_strided_state_runs_whole(nthreads):
    rng = np.random.default_rng(3)
    p, m = _arrays(rng, 400 * 300)[:2]
    p, m = p.reshape(400, 300), m.reshape(400, 300)
    g = np.ascontiguousarray(rng.standard_normal((300, 400)).astype(np.float32)).T
    q = _arrays(rng, BIG)[0]
    h, wide = _arrays(rng, 2 * BIG)[:2]
    n = wide[::2]  # a strided state array
    want = [a.copy() for a in (p, g, m, q, h[::2], n)]
    _step(want[0], want[1], want[2])
    _step(want[3], want[4], want[5])
    updates = BlockUpdates()
    updates.add(_step, [p, g, m])
    updates.add(_step, [q, h[::2], n])
    updates.run()
    for a, b in zip((p, g, m, q, n), (want[0], want[1], want[2], want[3], want[5])):
        np.testing.assert_array_equal(a, b)


def test_a_block_error_is_raised_by_run(nthreads):
    def fail(p, g, m):
        if p.size and p[0] == 5.0:
            raise FloatingPointError("block")

    p = np.zeros(BIG, np.float32)
    p[-3] = 5.0  # the last, short block
    p[-1] = 5.0
    updates = BlockUpdates()
    updates.add(fail, [p[: BIG - 3].copy(), p[: BIG - 3].copy(), p[: BIG - 3].copy()])
    tail = np.full(BIG, 5.0, np.float32)
    updates.add(fail, [tail, tail.copy(), tail.copy()])
    with pytest.raises(FloatingPointError, match="block"):
        updates.run()
    assert not updates.tasks  # run() forgets what it ran, even when it fails


def test_two_threads_share_one_step_between_the_caller_and_a_worker(monkeypatch):
    """At 2 threads one run() posts one job for the whole step (not one per parameter)."""
    before = threads.get_num_threads()
    posts = []
    real = threads.WorkerPool.post
    monkeypatch.setattr(threads.WorkerPool, "post",
                        lambda pool, *a: (posts.append(1), real(pool, *a))[1])
    try:
        threads.set_num_threads(2)
        rng = np.random.default_rng(4)
        updates = BlockUpdates()
        for _ in range(3):
            updates.add(_step, _arrays(rng, BIG))
        updates.run()
        assert posts == [1]
        threads.set_num_threads(1)
        updates.add(_step, _arrays(rng, BIG))
        updates.run()
        assert posts == [1]
    finally:
        threads.set_num_threads(before)
