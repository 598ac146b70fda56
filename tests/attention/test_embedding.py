"""Embedding: gradcheck (repeated indices, padding_idx), parity with torch.nn.Embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.attention.parity import copy_weights
from tests.helpers import _close, rand_array
from zengrad.nn.embedding import Embedding, embedding


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_gradcheck(rng, padding_idx):
    idx = np.array([[0, 2, 2, 4], [4, 1, 2, 0]])  # repeated rows accumulate
    w = zg.tensor(rand_array(rng, (5, 3)), requires_grad=True)
    # the padding row's gradient is 0 by definition, unlike the finite difference: check
    # the others with indices that avoid it, then all of them against the formula
    pad = None if padding_idx is None else padding_idx % 5
    used = np.where(idx == pad, 3, idx)
    assert zg.gradcheck(lambda w: embedding(used, w, padding_idx=padding_idx) ** 2, [w])
    out = (embedding(idx, w, padding_idx=padding_idx) ** 2).sum()
    w.grad = None
    out.backward()
    expect = np.zeros((5, 3))
    np.add.at(expect, idx.reshape(-1), 2 * w.array[idx.reshape(-1)])
    if padding_idx is not None:
        expect[padding_idx] = 0
    np.testing.assert_allclose(w.grad.numpy(), expect, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_idx", [None, 0, 3])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_parity(rng, dtype, padding_idx, shape):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.Embedding(6, 4, padding_idx=padding_idx, dtype=tdt)
    zm = Embedding(6, 4, padding_idx=padding_idx, dtype=dtype)
    copy_weights(zm, tm)
    idx = rng.integers(0, 6, shape)
    idx.reshape(-1)[:2] = padding_idx if padding_idx is not None else 1
    yz, yt = zm(zg.tensor(idx)), tm(torch.from_numpy(idx))
    _close(yz.detach().numpy(), yt.detach().numpy(), "output")
    cot = rng.standard_normal(yt.shape).astype(dtype)
    yz.backward(zg.from_numpy(cot))
    yt.backward(torch.from_numpy(cot))
    assert zm.weight.grad.dtype == dtype
    _close(zm.weight.grad.numpy(), tm.weight.grad.numpy(), "weight grad")


def test_init_and_padding_row():
    zg.manual_seed(0)
    m = Embedding(2000, 16, padding_idx=5)
    w = m.weight.array
    assert w.dtype == np.float32 and w.shape == (2000, 16)
    assert np.all(w[5] == 0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1)
    assert list(m.state_dict()) == ["weight"]
    assert repr(m) == "Embedding(2000, 16, padding_idx=5)"


def test_from_pretrained():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    m = Embedding.from_pretrained(table)
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(np.array([3, 0])).array, table[[3, 0]])
    table[0] = -1  # a copy, not a view
    assert m.weight.array[0, 0] == 0
    assert Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_errors():
    m = Embedding(5, 2)
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        m(np.array([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        m(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        m(zg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx must be within"):
        Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="positive"):
        Embedding(0, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_max_norm_parity(rng, dtype, norm_type):
    """Rows used by the input with norm > max_norm are scaled down in place, before the
    lookup; the others (and unused rows) keep their values; gradients as without it."""
    table = (3 * rng.standard_normal((7, 4))).astype(dtype)
    table[5] *= 0.01  # one row under the bound
    idx = np.array([[0, 5, 0], [2, 6, 5]])
    tw = torch.nn.Parameter(torch.from_numpy(table.copy()))
    zw = zg.tensor(table.copy(), requires_grad=True)
    yt = torch.nn.functional.embedding(torch.from_numpy(idx), tw, max_norm=1.5,
                                       norm_type=norm_type)
    yz = zg.nn.functional.embedding(zg.tensor(idx), zw, max_norm=1.5, norm_type=norm_type)
    _close(yz.detach().numpy(), yt.detach().numpy(), "output")
    _close(zw.array, tw.detach().numpy(), "renormalized weight")
    np.testing.assert_array_equal(zw.array[[1, 3, 4]], table[[1, 3, 4]])  # unused rows
    cot = rng.standard_normal(yt.shape).astype(dtype)
    yt.backward(torch.from_numpy(cot))
    yz.backward(zg.from_numpy(cot))
    _close(zw.grad.numpy(), tw.grad.numpy(), "weight grad")


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_scale_grad_by_freq_parity(rng, padding_idx):
    kw = {"padding_idx": padding_idx, "scale_grad_by_freq": True}
    tm = torch.nn.Embedding(6, 3, dtype=torch.float64, **kw)
    zm = Embedding(6, 3, dtype=np.float64, **kw)
    copy_weights(zm, tm)
    idx = np.array([[0, 2, 2, 1], [2, 4, 0, 1]])
    yz, yt = zm(zg.tensor(idx)), tm(torch.from_numpy(idx))
    cot = rng.standard_normal(yt.shape)
    yz.backward(zg.from_numpy(cot))
    yt.backward(torch.from_numpy(cot))
    _close(zm.weight.grad.numpy(), tm.weight.grad.numpy(), "weight grad")
    # not a true gradient (no gradcheck): the plain one divided by each row's count
    plain = zg.tensor(zm.weight.array.copy(), requires_grad=True)
    zg.nn.functional.embedding(idx, plain, padding_idx).backward(zg.from_numpy(cot))
    counts = np.maximum(np.bincount(idx.reshape(-1), minlength=6), 1)[:, None]
    np.testing.assert_allclose(zm.weight.grad.numpy(), plain.grad.numpy() / counts, rtol=1e-14)


def test_functional_signature_and_sparse(rng):
    """F.embedding takes torch's arguments in torch's order; sparse=True gives the same
    gradient as a dense array (zengrad has no sparse tensors)."""
    import inspect

    assert (list(inspect.signature(zg.nn.functional.embedding).parameters)
            == list(inspect.signature(torch.nn.functional.embedding).parameters))
    table = rand_array(rng, (5, 2))
    idx = np.array([3, 0, 3])
    dense = zg.tensor(table, requires_grad=True)
    sparse = zg.tensor(table, requires_grad=True)
    zg.nn.functional.embedding(idx, dense).sum().backward()
    zg.nn.functional.embedding(idx, sparse, None, None, 2.0, False, True).sum().backward()
    np.testing.assert_array_equal(sparse.grad.numpy(), dense.grad.numpy())
    m = Embedding(5, 2, None, 1.0, 1.0, True, True)
    assert (m.max_norm, m.norm_type, m.scale_grad_by_freq, m.sparse) == (1.0, 1.0, True, True)
    with pytest.raises(TypeError, match="max_norm must be a number"):
        zg.nn.functional.embedding(idx, dense, max_norm="1")
    with pytest.raises(ValueError, match="2-D"):
        zg.nn.functional.embedding(idx, zg.ones(5))
