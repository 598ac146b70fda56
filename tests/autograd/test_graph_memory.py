"""Graph memory: backward frees the intermediates even while the loss is still referenced.

A training loop keeps `loss` alive until the next step; before this was fixed, released
nodes kept their input tensors, so the whole previous graph (here 60 MiB) stayed resident.
The cyclic GC is switched off while measuring: the graph must be freed by reference
counting alone, at once, as in torch.
"""

import gc
import tracemalloc
import weakref
from contextlib import contextmanager

import numpy as np
import pytest

import zengrad as zg

MIB = 2**20
N_ELEMS = MIB // 4  # one float32 MiB
N_OPS = 60


@contextmanager
def _no_cyclic_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _chain(x, n_ops=N_OPS, keep=None):
    """n_ops elementwise ops on x (each output a new 1 MiB array); weakrefs into `keep`."""
    y = x
    for _ in range(n_ops // 2):
        y = y * 1.0001
        y = y + 0.001
        if keep is not None:
            keep.append(weakref.ref(y))
    return y.sum()


def _live_bytes(fn) -> int:
    """Bytes allocated by fn() that are still alive when it returns."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del result
    return after - before


def test_backward_frees_the_graph_while_the_loss_is_alive():
    x = zg.tensor(np.ones(N_ELEMS, np.float32), requires_grad=True)
    held = {}

    def forward_only():
        held["loss"] = _chain(x)

    def forward_backward():
        held["loss"] = _chain(x)
        held["loss"].backward()

    with _no_cyclic_gc():
        forward = _live_bytes(forward_only)
        held.clear()
        x.grad = None
        after_backward = _live_bytes(forward_backward)
    # the forward really holds the 60 intermediates (else this test could not fail)
    assert forward > 50 * MIB, forward / MIB
    # after backward with `loss` alive: x.grad (1 MiB) plus small change, as torch (~inputs)
    assert after_backward < 3 * MIB, f"{after_backward / MIB:.1f} MiB still alive"
    assert held["loss"].grad_fn is not None  # the loss itself is still there


def test_intermediate_tensors_die_after_backward():
    x = zg.tensor(np.ones(1000, np.float32), requires_grad=True)
    refs = []
    with _no_cyclic_gc():
        loss = _chain(x, keep=refs)
        assert all(r() is not None for r in refs)
        loss.backward()
        alive = sum(r() is not None for r in refs)
    assert alive == 0, f"{alive} of {len(refs)} intermediates still alive"
    np.testing.assert_allclose(x.grad.array, 1.0001 ** (N_OPS // 2), rtol=1e-5)


def test_training_loop_does_not_keep_the_previous_graph():
    """Memory after step k+1 equals memory after step k: last step's graph is gone."""
    w = zg.tensor(np.ones(N_ELEMS, np.float32), requires_grad=True)
    loss = None

    def step():
        nonlocal loss
        w.grad = None
        loss = _chain(w, n_ops=20)
        loss.backward()

    with _no_cyclic_gc():
        tracemalloc.start()
        try:
            step()
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(3):
                step()
            grown = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
    assert grown < MIB // 2, f"{grown / MIB:.2f} MiB more after 3 steps"


def test_retain_graph_keeps_the_graph_and_backward_twice_works():
    x = zg.tensor(np.ones(1000, np.float32), requires_grad=True)
    refs = []
    with _no_cyclic_gc():
        loss = _chain(x, n_ops=10, keep=refs)
        loss.backward(retain_graph=True)
        assert all(r() is not None for r in refs)  # kept for the second backward
        first = x.grad.array.copy()
        loss.backward()  # frees now
        alive = sum(r() is not None for r in refs)
    np.testing.assert_allclose(x.grad.array, 2 * first, rtol=1e-6)
    assert alive == 0


def test_second_backward_still_raises_a_clear_error():
    x = zg.tensor(np.ones(10, np.float32), requires_grad=True)
    loss = _chain(x, n_ops=10)
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_second_backward_through_a_shared_freed_node_raises():
    x = zg.tensor(np.ones(10, np.float32), requires_grad=True)
    h = (x * 2).exp()
    a = h.sum()
    b = (h * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="second time"):
        b.backward()


def test_autograd_grad_frees_the_graph_too():
    x = zg.tensor(np.ones(1000, np.float32), requires_grad=True)
    refs = []
    with _no_cyclic_gc():
        loss = _chain(x, n_ops=10, keep=refs)
        (gx,) = zg.autograd.grad(loss, x)
        alive = sum(r() is not None for r in refs)
    assert alive == 0
    assert x.grad is None
    np.testing.assert_allclose(gx.array, 1.0001**5, rtol=1e-6)


def test_hooks_and_retain_grad_work_and_do_not_pin_the_tensor():
    x = zg.tensor(np.ones(4, np.float32), requires_grad=True)
    seen = []
    with _no_cyclic_gc():
        y = x * 2
        y.retain_grad()
        z = x * 3
        z.register_hook(lambda g: seen.append(g.array.copy()) or g * 10)
        z_ref = weakref.ref(z)
        loss = (y * z).sum()
        del z  # the hook must still run: it belongs to the graph, not to the Python object
        loss.backward()
        assert z_ref() is None  # no tensor -> node -> observer -> tensor cycle
    np.testing.assert_allclose(seen[0], 2 * np.ones(4))  # dloss/dz = y
    np.testing.assert_allclose(y.grad.array, 3 * np.ones(4))  # dloss/dy = z
    np.testing.assert_allclose(x.grad.array, 2 * 3 + 3 * 20 * np.ones(4))
    assert y.retains_grad
