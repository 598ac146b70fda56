"""conv2d's chunked im2col forward (ops/conv.py: the bias as a row of ones in the GEMM, chunks
of whole images, on zengrad's threads at several threads): torch's values and gradients in
float64, for every subset of inputs needing a gradient, and the same bits at 1 and 2 threads."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from zengrad.nn import functional as F
from zengrad.ops import blas_threads, threads

# LeNet-5's convolutions (the first from 1 channel, padded) and a small strided one
CASES = [
    ((6, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),
    ((6, 6, 14, 14), (16, 6, 5, 5), {}),
    ((3, 2, 9, 8), (4, 2, 3, 3), dict(stride=2, padding=1)),
    # stride 1 along H: the two-stage im2col copy (row shifts, then one run per kernel row),
    # with W strided, H dilated, W dilated, asymmetric padding, a kernel one row high
    ((3, 2, 9, 11), (4, 2, 3, 2), dict(stride=(1, 2), padding=(1, 0))),
    ((2, 3, 12, 9), (5, 3, 3, 3), dict(dilation=(2, 1), padding=(2, 1))),
    ((2, 2, 8, 10), (3, 2, 2, 3), dict(stride=(1, 3), dilation=(3, 2))),
    ((2, 2, 6, 7), (3, 2, 1, 3), dict(padding=(0, 1))),
]


def _run(xs, ws, kw, needs, dtype, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    zx, zw = zg.from_numpy(x), zg.from_numpy(w)
    zb = zg.from_numpy(b) if bias else None
    for t, need in zip((zx, zw, zb), needs):
        if t is not None and need:
            t.requires_grad_()
    y = F.conv2d(zx, zw, zb, **kw)
    g = rng.standard_normal(y.shape).astype(dtype)
    if y.requires_grad:
        y.backward(zg.from_numpy(g))
    grads = [None if t is None or t.grad is None else t.grad.array for t in (zx, zw, zb)]
    return (x, w, b, g), y.array, grads


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("needs", list(itertools.product([False, True], repeat=3)))
def test_matches_torch_float64(case, needs):
    xs, ws, kw = case
    (x, w, b, g), y, grads = _run(xs, ws, kw, needs, np.float64)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_(n) for a, n in zip((x, w, b), needs))
    ty = TF.conv2d(tx, tw, tb, **kw)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    if ty.requires_grad:
        ty.backward(torch.from_numpy(g))
    for got, t, need in zip(grads, (tx, tw, tb), needs):
        if need:
            np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-11, atol=1e-11)
        else:
            assert got is None


@pytest.mark.parametrize("case", CASES[:2])
def test_without_bias_matches_torch(case):
    xs, ws, kw = case
    (x, w, _, g), y, grads = _run(xs, ws, kw, (True, True, False), np.float64, bias=False)
    tx, tw = (torch.from_numpy(a).requires_grad_() for a in (x, w))
    ty = TF.conv2d(tx, tw, None, **kw)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[0], tx.grad.numpy(), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(grads[1], tw.grad.numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", CASES[:2])
def test_same_bits_at_one_and_two_threads(case):
    xs, ws, kw = (64, *case[0][1:]), case[1], case[2]
    before = threads.get_num_threads()
    try:
        out = []
        for n in (1, 2):
            threads.set_num_threads(n)
            # BLAS held at one thread in both runs: OpenBLAS's own threaded products may round
            # otherwise (its Haswell kernels do); what is checked is zengrad's thread count
            with blas_threads.one_blas_thread():
                _, y, grads = _run(xs, ws, kw, (True, True, True), np.float32, seed=5)
            out.append([y, *grads])
    finally:
        threads.set_num_threads(before)
    for a, b in zip(*out):
        assert a.dtype == b.dtype and np.ascontiguousarray(a).tobytes() == (
            np.ascontiguousarray(b).tobytes()
        )
