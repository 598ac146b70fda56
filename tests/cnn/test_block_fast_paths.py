"""The BasicBlock's fast paths (batch norm over whole channels of a channel-major input, the
shifted-view convolution's scratch buffers) against the plain formulas, and the same bits at
one and two threads."""

import threading

import numpy as np
import pytest

import zengrad as zg
from tests.helpers import assert_same_bits_at_one_and_two_threads
from zengrad.ops.batchnorm import batch_norm
from zengrad.ops.scratch import scratch


def _channel_major(a):
    """a (N, C, *S) with memory order (C, N, *S), as a convolution's output."""
    perm = (1, 0, *range(2, a.ndim))
    return np.ascontiguousarray(a.transpose(perm)).transpose(perm)


def _reference(x, g, w, b, eps):
    """Training batch norm and its gradients by the textbook formulas (float64)."""
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes)
    var = x.var(axis=axes)
    xhat = (x - mu.reshape(shape)) / np.sqrt(var + eps).reshape(shape)
    y = w.reshape(shape) * xhat + b.reshape(shape)
    m = x.size // x.shape[1]
    sg, sgx = g.sum(axis=axes), (g * xhat).sum(axis=axes)
    scale = (w / np.sqrt(var + eps)).reshape(shape)
    dx = scale * (g - sg.reshape(shape) / m - xhat * (sgx / m).reshape(shape))
    return y, dx, sgx, sg, mu, var * m / (m - 1)


def _run(x, g, w, b, eps=1e-5):
    xt = zg.tensor(x, requires_grad=True)
    xt.array = x  # keep the channel-major memory order of x
    wt, bt = zg.tensor(w, requires_grad=True), zg.tensor(b, requires_grad=True)
    rm, rv = zg.tensor(np.zeros_like(w)), zg.tensor(np.zeros_like(w))
    y = batch_norm(xt, rm, rv, wt, bt, training=True, momentum=1.0, eps=eps)
    y.backward(zg.tensor(g))
    return [y.array, xt.grad.array, wt.grad.array, bt.grad.array, rm.array, rv.array]


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (32, 8, 16, 16), (3, 5, 700)])
@pytest.mark.parametrize("g_channel_major", [True, False])
def test_batch_norm_channel_major_matches_formulas(rng, shape, g_channel_major):
    x = _channel_major(rng.standard_normal(shape) * 2 + 1)
    g = rng.standard_normal(shape)
    if g_channel_major:
        g = _channel_major(g)
    c = shape[1]
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    got = _run(x, g, w, b)
    for a, e in zip(got, _reference(x, g, w, b, 1e-5)):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)
    y = got[0]
    assert y.transpose(1, 0, *range(2, y.ndim)).flags.c_contiguous  # x's layout kept


def test_batch_norm_channel_major_parameter_grads_only(rng):
    """The one-visit forward keeps x, not xhat: a backward that needs only dw and db (x a
    constant) makes xhat again from x for the row-sum path."""
    shape = (6, 5, 7, 8)
    x = _channel_major(rng.standard_normal(shape) * 2 + 1)
    g = rng.standard_normal(shape)
    w, b = rng.standard_normal(5), rng.standard_normal(5)
    wt, bt = zg.tensor(w, requires_grad=True), zg.tensor(b, requires_grad=True)
    xt = zg.tensor(x)
    xt.array = x
    y = batch_norm(xt, None, None, wt, bt, training=True)
    y.backward(zg.tensor(g))
    ref = _reference(x, g, w, b, 1e-5)
    np.testing.assert_allclose(y.array, ref[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.array, ref[2], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bt.grad.array, ref[3], rtol=1e-10, atol=1e-10)


def test_batch_norm_channel_major_same_bits_at_any_thread_count(rng):
    shape = (32, 64, 32, 32)  # 2M values: split over the pool at two threads
    x = _channel_major(rng.standard_normal(shape).astype(np.float32))
    g = rng.standard_normal(shape).astype(np.float32)  # C order, as after a residual add
    w = rng.standard_normal(64).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    assert_same_bits_at_one_and_two_threads(lambda: list(_run(x, g, w, b)))


def test_scratch_is_per_slot_and_per_thread():
    a = scratch(np, (4, 100), np.float32, 0)
    b = scratch(np, (4, 100), np.float32, 1)
    assert not np.shares_memory(a, b)
    assert np.shares_memory(a, scratch(np, (2, 50), np.float32, 0))  # the same slot again
    big = scratch(np, (8, 100), np.float32, 0)  # grown
    assert big.shape == (8, 100) and big.dtype == np.float32
    other = []
    t = threading.Thread(target=lambda: other.append(scratch(np, (8, 100), np.float32, 0)))
    t.start()
    t.join()
    assert not np.shares_memory(big, other[0])


def test_kept_outputs_alive_at_once_do_not_share_memory(rng):
    """Graphs alive at once (and outputs the caller still holds) each keep their own batch
    norm output and saved xhat, and each backward reads its own."""
    shape = (8, 16, 32, 32)  # 512 KiB of float32 per array: kept
    xs = [_channel_major(rng.standard_normal(shape).astype(np.float32)) for _ in range(3)]
    w = zg.tensor(np.ones(16, np.float32), requires_grad=True)
    outs = []
    for x in xs:
        xt = zg.tensor(x, requires_grad=True)
        xt.array = x
        outs.append((xt, batch_norm(xt, None, None, w, None, training=True)))
    arrays = [y.array for _, y in outs]
    for i in range(len(arrays)):
        for j in range(i):
            assert not np.shares_memory(arrays[i], arrays[j])
    for xt, y in outs[::-1]:
        y.sum().backward()
        ref = _reference(xt.array.astype(np.float64), np.ones(shape), np.ones(16),
                         np.zeros(16), 1e-5)
        np.testing.assert_allclose(y.array, ref[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(xt.grad.array, ref[1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "kernel, padding, dilation",
    [(3, 1, 1), (3, 2, 2), (5, 2, 1), (3, 0, 1), (3, 2, 1), ((3, 5), (1, 2), 1)],
)
def test_shifted_view_weight_grad_matches_torch(rng, kernel, padding, dilation):
    """dW on the shifted-view path: with dY shifted (a zero last grid row: pads below
    d (k - 1)) or with X's taps copied (full padding), against torch in float64."""
    import torch

    x = rng.standard_normal((8, 16, 12, 13))
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    w = rng.standard_normal((24, 16, kh, kw)) * 0.1
    xt, wt = zg.tensor(x, requires_grad=True), zg.tensor(w, requires_grad=True)
    y = zg.nn.functional.conv2d(xt, wt, padding=padding, dilation=dilation)
    g = rng.standard_normal(y.shape)
    y.backward(zg.tensor(g))
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    ty = torch.nn.functional.conv2d(tx, tw, padding=padding, dilation=dilation)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wt.grad.array, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.array, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "kernel, padding, dilation",
    [(3, 1, 1), (3, 2, 2), (5, 2, 1), (3, 0, 1), ((3, 5), (1, 2), 1), (3, 2, 1)],
)
def test_input_and_weight_grad_in_one_pass_matches_the_two_apart(
    rng, monkeypatch, kernel, padding, dilation
):
    """dx and dW in one pass over chunks sharing dY's column-shift block: the same as
    correlate and weight_grad apart (float64), the shared pass taken where dY's grid has a
    zero last row (pads below d (k - 1)), the two apart otherwise."""
    from zengrad.ops import conv_implicit as ci

    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    pads = ((ph, ph), (pw, pw))
    x = rng.standard_normal((16, 5, 12, 13))  # (C, N, H, W)
    w = rng.standard_normal((24, 16, kh, kw))
    flat = ci.PaddedFlat(x, pads, (kh, kw), (dilation, dilation))
    oh, ow = 12 + 2 * ph - dilation * (kh - 1), 13 + 2 * pw - dilation * (kw - 1)
    gflat = ci.dy_flat(rng.standard_normal((24, 5, oh, ow)), pads, (kh, kw), (dilation,) * 2)
    taps = ci.flipped_taps(w)
    apart = ci.correlate(gflat, taps, (12, 13)), ci.weight_grad(flat, gflat)
    fallback = []
    monkeypatch.setattr(ci, "correlate", lambda *a: fallback.append(1) or apart[0])
    dx, dw = ci.input_and_weight_grad(flat, gflat, taps, (12, 13))
    assert bool(fallback) == (ph == dilation * (kh - 1))  # no zero last row: apart
    np.testing.assert_allclose(dx, apart[0], rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(dw, apart[1], rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_channel_major_gradcheck(rng, affine):
    """float64 finite differences through the one-visit path: x enters channel-major (a
    transposed view of a (C, N, H, W) leaf, as a convolution's output lies in memory)."""
    leaf = zg.tensor(rng.standard_normal((3, 4, 3, 3)) * 2 + 1, requires_grad=True)
    w = zg.tensor(rng.standard_normal(3), requires_grad=True) if affine else None
    b = zg.tensor(rng.standard_normal(3), requires_grad=True) if affine else None
    inputs = [leaf] + ([w, b] if affine else [])

    def fn(xc, *wb):
        x = xc.permute(1, 0, 2, 3)  # (N, C, H, W), channel-major in memory
        assert x.array.transpose(1, 0, 2, 3).flags.c_contiguous
        return batch_norm(x, None, None, *(wb or (None, None)), training=True)

    assert zg.gradcheck(fn, inputs)
