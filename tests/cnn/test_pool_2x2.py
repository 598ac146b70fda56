"""max_pool2d's 2x2 dense-rows path (ops/pool.py; compiled, or NumPy passes) against the
general path and torch: values, the first-maximum rule for ties (ReLU's zeros, repeated
values, -inf), layouts, NaN, inf and NaN gradients, the same bits at one and two threads."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from zengrad.nn import functional as F
from zengrad.ops import kernels, pool


def _layout(base: np.ndarray, kind: str) -> np.ndarray:
    if kind == "cm":  # conv's channel-major activations
        return np.ascontiguousarray(base.swapaxes(0, 1)).swapaxes(0, 1)
    if kind == "nhwc":  # W not innermost: the general path
        return np.ascontiguousarray(base.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return base


def _grads(x: np.ndarray, g: np.ndarray):
    t = zg.from_numpy(x).requires_grad_()
    y = F.max_pool2d(t, 2)
    y.backward(zg.from_numpy(g))
    return y.array, t.grad.array


def _inputs(kind: str, dtype, ties: bool):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 4, 8, 10))
    if ties:
        base = np.maximum(np.round(base), 0)  # all-zero windows and repeated maxima
        base[0, 0, :2, :2] = -np.inf
        base[0, 1, 2:4, 4:6] = 2.0
    x = _layout(base.astype(dtype), kind)
    g = rng.standard_normal((3, 4, 4, 5)).astype(dtype)
    return x, g


@pytest.mark.parametrize("kind", ["c", "cm", "nhwc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_same_as_general_path(monkeypatch, kind, dtype, ties):
    x, g = _inputs(kind, dtype, ties)
    assert pool._pool2x2_ok(x, (2, 2), (2, 2), (0, 0), (1, 1)) == (kind != "nhwc")
    y, dx = _grads(x, g)
    monkeypatch.setattr(pool, "_pool2x2_ok", lambda *a: False)
    y0, dx0 = _grads(x, g)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)
    assert y.dtype == dx.dtype == dtype


def _assert_as_torch(x, g):
    """The output (its zeros' signs too) and input gradient are torch's, bit for bit."""
    y, dx = _grads(x, g)
    tx = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    ty = TF.max_pool2d(tx, 2)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(np.signbit(y), np.signbit(ty.detach().numpy()))
    np.testing.assert_array_equal(dx, tx.grad.numpy())


@pytest.mark.parametrize("kind", ["c", "cm"])
def test_ties_match_torch(kind):
    _assert_as_torch(*_inputs(kind, np.float64, True))


def test_output_keeps_the_input_memory_order():
    x, g = _inputs("cm", np.float32, False)
    y, saved = pool._pool2x2_forward(x, masks=True)
    dx = pool._pool2x2_backward(g, x.shape, saved)  # (g C-ordered: copied into y's order)
    assert y.transpose(1, 0, 2, 3).flags.c_contiguous
    assert dx.transpose(1, 0, 2, 3).flags.c_contiguous


def test_nan_window_follows_torch():
    x, g = _inputs("cm", np.float64, False)
    x = x.copy()
    x[1, 2, 3, 4] = x[1, 2, 2, 5] = np.nan  # two NaNs in one window: torch takes the last
    _assert_as_torch(x, g)


def test_no_grad_saves_no_masks():
    x, _ = _inputs("cm", np.float32, False)
    with zg.no_grad():
        y = F.max_pool2d(zg.from_numpy(x), 2)
    assert y.grad_fn is None
    np.testing.assert_array_equal(y.array, TF.max_pool2d(torch.from_numpy(x.copy()), 2).numpy())


@pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba")
@pytest.mark.parametrize("kind", ["c", "cm"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_compiled_and_numpy_passes_give_the_same_bits(monkeypatch, kind, dtype, ties):
    x, g = _inputs(kind, dtype, ties)
    y, dx = _grads(x, g)
    monkeypatch.setattr(kernels, "numba_enabled", lambda: False)
    y0, dx0 = _grads(x, g)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)


@pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba")
def test_compiled_path_routes_inf_and_nan_gradients_as_torch():
    """g = inf or NaN reaches the window's maximum only (0 elsewhere), as torch's scatter."""
    x, g = _inputs("cm", np.float64, True)
    g = g.copy()
    g[0, 0, 0, 0], g[1, 2, 1, 1], g[2, 3, 3, 4] = np.inf, -np.inf, np.nan
    _assert_as_torch(x, g)


def test_two_threads_give_the_one_thread_bits():
    rng = np.random.default_rng(5)
    shape = (32, 16, 64, 64)  # 2M elements: split over the threads (threads.OP_PARALLEL_MIN)
    x = np.maximum(np.round(rng.standard_normal(shape) * 2), 0).astype(np.float32)
    g = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    before = zg.get_num_threads()
    try:
        zg.set_num_threads(1)
        y1, dx1 = _grads(x, g)
        zg.set_num_threads(2)
        y2, dx2 = _grads(x, g)
    finally:
        zg.set_num_threads(before)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(dx1, dx2)


@pytest.mark.parametrize("kind", ["cm", "nhwc"])  # the 2x2 path, the general one
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_window_of_special_values_follows_torch(dtype, kind):
    """All 7^4 windows over NaN, +-inf, +-0 and +-1: the max (its sign bit too) and the
    place its gradient goes (first maximum, last NaN) are torch's."""
    vals = np.array([np.nan, -np.inf, -1.0, -0.0, 0.0, 1.0, np.inf], dtype)
    win = np.stack(np.meshgrid(*[np.arange(7)] * 4, indexing="ij"), -1).reshape(-1, 4)
    x = vals[win].reshape(7, 343, 2, 2).transpose(0, 2, 1, 3).reshape(1, 7, 2, 686)
    x = _layout(x, kind)
    _assert_as_torch(x, np.arange(1, 1 + 7 * 343, dtype=dtype).reshape(1, 7, 1, 343))
