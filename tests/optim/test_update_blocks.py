"""The blocked optimizer updates (blocks of several threads.BLOCK, per-thread scratch, a
short last block) give bit for bit a one-call, whole-array update in torch's op order."""

import numpy as np
import pytest

import zengrad as zg
from zengrad import optim
from zengrad.ops import threads
from zengrad.optim import optimizer as optimizer_mod

# a size of several update blocks and a short last one, one just over BLOCK, one under it,
# a 2-D one and a size-0 one
SHAPES = [(optimizer_mod.UPDATE_BLOCK * 3 + 3,), (threads.BLOCK + 1,), (5,), (301, 257),
          (0, 3)]


def _reference_adam(p, grads, lr, betas, eps, wd, amsgrad, maximize, decoupled):
    """Adam on whole arrays, one ufunc per pass, in the order the blocked update uses."""
    b1, b2 = betas
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p *= 1.0 - lr * wd
            g = -g if maximize else g
        elif wd:
            g = p * wd - g if maximize else p * wd + g
        elif maximize:
            g = -g
        tmp = g - m
        tmp *= 1.0 - b1
        m += tmp
        v *= b2
        tmp = g * (1.0 - b2)
        tmp *= g
        v += tmp
        if amsgrad:
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax)
        else:
            denom = np.sqrt(v)
        bc2 = (1 - b2**t) ** 0.5  # folded into the constants: m / (sqrt(v) + eps bc2)
        denom += eps * bc2
        tmp = m / denom
        tmp *= -(lr / (1 - b1**t)) * bc2
        p += tmp
    return p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["plain", "amsgrad", "l2", "l2_maximize", "adamw"])
def test_adam_matches_the_whole_array_update_bit_for_bit(nthreads, dtype, kind):
    kw = {"plain": {}, "amsgrad": {"amsgrad": True}, "l2": {"weight_decay": 0.1},
          "l2_maximize": {"weight_decay": 0.1, "maximize": True},
          "adamw": {"weight_decay": 0.1, "decoupled_weight_decay": True}}[kind]
    rng = np.random.default_rng(3)
    start = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(3)]
    params = [zg.tensor(a.copy(), requires_grad=True) for a in start]
    opt = optim.Adam(params, lr=1e-2, betas=(0.8, 0.99), eps=1e-6, **kw)
    for k, step_grads in enumerate(grads):
        for p, g in zip(params, step_grads):
            # the second step's 2-D gradients are transposed views (copied before blocking)
            p.grad = zg.tensor(np.ascontiguousarray(g.T).T if g.ndim == 2 and k == 1 else g)
        opt.step()
    for i, p in enumerate(params):
        want = _reference_adam(
            start[i].copy(), [g[i] for g in grads], 1e-2, (0.8, 0.99), 1e-6,
            kw.get("weight_decay", 0.0), kw.get("amsgrad", False), kw.get("maximize", False),
            kw.get("decoupled_weight_decay", False))
        np.testing.assert_array_equal(p.array, want)
        assert p.array.dtype == dtype


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_the_whole_array_update_bit_for_bit(nthreads, momentum):
    rng = np.random.default_rng(4)
    start = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    params = [zg.tensor(a.copy(), requires_grad=True) for a in start]
    opt = optim.SGD(params, lr=0.1, momentum=momentum)
    want = [a.copy() for a in start]
    bufs = [None] * len(start)
    for _ in range(3):
        for i, p in enumerate(params):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad = zg.tensor(g)
            if momentum:
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] *= momentum
                    bufs[i] += g
                want[i] += bufs[i] * -0.1
            else:
                want[i] += g * -0.1
        opt.step()
    for p, w in zip(params, want):
        np.testing.assert_array_equal(p.array, w)


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "ufuncs"])
def test_updates_run_in_the_caller_in_blocks_at_any_thread_count(nthreads, monkeypatch,
                                                                  compiled):
    """Inside a training step OpenBLAS's workers still spin on the other cores, so a split
    lost (optim/optimizer.py): every block runs in the caller's thread, UPDATE_BLOCK long;
    Adam's compiled kernel (one pass) runs over the whole parameter at once."""
    import threading

    from zengrad.ops import kernels
    from zengrad.optim import adam as adam_mod

    if compiled and not kernels.numba_enabled():
        pytest.skip("Numba is off or not installed")
    monkeypatch.setattr(kernels, "_numba", kernels.numba_module() if compiled else False)
    calls = []
    block = adam_mod._adam_block

    def spy(p, *args, **kwargs):
        calls.append((threading.current_thread().name, p.size))
        block(p, *args, **kwargs)

    monkeypatch.setattr(adam_mod, "_adam_block", spy)
    n = 3 * optimizer_mod.UPDATE_BLOCK + 5
    w = zg.tensor(np.ones(n, np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = zg.tensor(np.full(n, 0.5, np.float32))
    opt.step()
    me = threading.current_thread().name
    assert calls == ([(me, n)] if compiled else
                     [(me, optimizer_mod.UPDATE_BLOCK)] * 3 + [(me, 5)])
    np.testing.assert_allclose(w.array, 1 - 0.1, rtol=1e-6)  # the first step: lr * sign(g)


def test_block_scratch_is_per_thread_and_shaped_like_the_block():
    import threading

    a = np.zeros((4, threads.BLOCK), np.float32)  # a block's size (small ones allocate)
    s0, s1 = optimizer_mod.block_scratch(a, 0), optimizer_mod.block_scratch(a, 1)
    assert s0.shape == a.shape and s0.dtype == a.dtype and not np.shares_memory(s0, s1)
    assert np.shares_memory(s0, optimizer_mod.block_scratch(a, 0))  # reused, not reallocated
    other = []
    t = threading.Thread(target=lambda: other.append(optimizer_mod.block_scratch(a, 0)))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], s0)
    for n in (optimizer_mod.UPDATE_BLOCK + 1, 5):  # larger than a block, or small
        other = np.zeros(n, np.float64)
        s = optimizer_mod.block_scratch(other, 0)
        assert s.shape == other.shape and not np.shares_memory(s, optimizer_mod.block_scratch(
            other, 0))  # a fresh array each time
