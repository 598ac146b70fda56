"""F.scaled_dot_product_attention: gradcheck (float64) and parity with torch 2.13."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, rand_array
from zengrad.ops.attention import scaled_dot_product_attention as sdpa


def _qkv(rng, batch, length, src_len, e, ev, dtype=np.float64):
    return (rand_array(rng, (*batch, length, e), dtype),
            rand_array(rng, (*batch, src_len, e), dtype),
            rand_array(rng, (*batch, src_len, ev), dtype))


def _bool_mask(rng, shape, full_row=None):
    """Random bool mask (True = take part) with every row keeping at least one key."""
    m = rng.random(shape) < 0.6
    m[..., 0] = True
    if full_row is not None:
        m[..., full_row, :] = False
    return m


# ------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "broadcast"])
def test_gradcheck(rng, case):
    q, k, v = _qkv(rng, (2,), 3, 4, 3, 2)
    kw = {}
    if case == "bool":
        kw["attn_mask"] = zg.tensor(_bool_mask(rng, (3, 4), full_row=1))
    elif case == "causal":
        kw["is_causal"] = True
    elif case == "scale":
        kw["scale"] = 0.37
    elif case == "broadcast":  # k and v shared by the batch
        k, v = k[0], v[0]
    if case == "float":
        m = rand_array(rng, (2, 3, 4))
        m[0, 2] = -np.inf  # a fully masked row: zero output and no gradient
        m[1, 0, 1] = -np.inf
        mask = zg.tensor(m, requires_grad=True)

        def fn(q, k, v):
            return sdpa(q, k, v, attn_mask=mask)

        assert zg.gradcheck(fn, [zg.tensor(a, requires_grad=True) for a in (q, k, v)])
        # the additive mask's own gradient, on finite entries
        finite = zg.tensor(rand_array(rng, (3, 4)), requires_grad=True)
        qt, kt, vt = (zg.tensor(a) for a in (q, k, v))
        assert zg.gradcheck(lambda m: sdpa(qt, kt, vt, attn_mask=m), [finite])
        return
    assert zg.gradcheck(lambda q, k, v: sdpa(q, k, v, **kw),
                        [zg.tensor(a, requires_grad=True) for a in (q, k, v)])


def test_gradcheck_dropout(rng):
    """With the seed fixed inside fn, every evaluation draws the same dropout mask."""
    q, k, v = _qkv(rng, (2,), 3, 5, 4, 3)

    def fn(q, k, v):
        zg.manual_seed(7)
        return sdpa(q, k, v, dropout_p=0.4)

    assert zg.gradcheck(fn, [zg.tensor(a, requires_grad=True) for a in (q, k, v)])


def test_dropout_statistics(rng):
    """Dropped weights: about p of them, the rest scaled by 1 / (1 - p): v = I exposes them."""
    q = zg.tensor(rand_array(rng, (8, 40, 4), np.float32))
    k = zg.tensor(rand_array(rng, (8, 50, 4), np.float32))
    v = zg.tensor(np.broadcast_to(np.eye(50, dtype=np.float32), (8, 50, 50)).copy())
    w = sdpa(q, k, v, dropout_p=0.3).numpy()
    ref = sdpa(q, k, v).numpy()
    kept = w != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(w[kept], ref[kept] / 0.7, rtol=1e-5)


# ------------------------------------------------------------------ parity


def _torch_sdpa(**kw):
    def f(q, k, v, *mask):
        return TF.scaled_dot_product_attention(q, k, v, *mask, **kw)
    return f


def _zg_sdpa(**kw):
    def f(q, k, v, *mask):
        return sdpa(q, k, v, *mask, **kw)
    return f


SWEEP = [  # batch, L, S, E, Ev
    ((), 5, 5, 4, 4),
    ((2,), 3, 6, 8, 5),
    ((2, 3), 7, 4, 6, 6),
    ((1, 2), 1, 9, 3, 2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SWEEP)
@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal", "scale"])
def test_parity(rng, dtype, shape, mask):
    batch, length, src_len, e, ev = shape
    q, k, v = _qkv(rng, batch, length, src_len, e, ev, dtype)
    kw, extra = {}, []
    if mask == "bool":
        extra = [_bool_mask(rng, (length, src_len))]
    elif mask == "float":
        m = rand_array(rng, (*batch[-1:], length, src_len), dtype)
        m[..., 0, 1] = -np.inf
        extra = [m]
    elif mask == "causal":
        kw["is_causal"] = True
    elif mask == "scale":
        kw["scale"] = 0.2
    # a float mask is an input too: its gradient is compared (a bool one has none)
    assert_parity(_zg_sdpa(**kw), _torch_sdpa(**kw), [q, k, v, *extra])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fully_masked_rows_match_torch(rng, dtype):
    """torch 2.13's math path returns 0 for a query row with every key masked (bool all
    False, or float all -inf), not NaN; its gradients there are 0 too."""
    q, k, v = _qkv(rng, (2,), 4, 5, 3, 2, dtype)
    bm = _bool_mask(rng, (2, 4, 5))
    bm[0, 1] = False
    bm[1, 3] = False
    assert_parity(_zg_sdpa(), _torch_sdpa(), [q, k, v, bm])
    fm = np.zeros((4, 5), dtype)
    fm[2] = -np.inf
    out = sdpa(*(zg.tensor(a) for a in (q, k, v)), attn_mask=zg.tensor(fm)).numpy()
    assert np.all(out[:, 2] == 0) and np.all(np.isfinite(out))
    assert_parity(_zg_sdpa(), _torch_sdpa(), [q, k, v, fm])


def test_broadcast_batch_parity(rng):
    """k, v shared over the batch, mask over heads: grads summed over the broadcast axes."""
    q = rand_array(rng, (2, 3, 4, 5))
    k, v = rand_array(rng, (3, 6, 5)), rand_array(rng, (1, 3, 6, 2))
    m = rand_array(rng, (2, 1, 4, 6))
    assert_parity(_zg_sdpa(), _torch_sdpa(), [q, k, v, m])


def test_float32_stays_float32(rng):
    q, k, v = (zg.tensor(a, requires_grad=True) for a in _qkv(rng, (2,), 3, 4, 3, 2, np.float32))
    out = sdpa(q, k, v, attn_mask=zg.tensor(_bool_mask(rng, (3, 4))), dropout_p=0.1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert q.grad.dtype == k.grad.dtype == v.grad.dtype == np.float32


# ------------------------------------------------------------------ errors


def test_errors(rng):
    q, k, v = (zg.tensor(a) for a in _qkv(rng, (2,), 3, 4, 3, 2))
    with pytest.raises(ValueError, match="is_causal"):
        sdpa(q, k, v, attn_mask=zg.tensor(np.ones((3, 4), bool)), is_causal=True)
    with pytest.raises(ValueError, match=r"same last dim"):
        sdpa(q, zg.tensor(rand_array(rng, (2, 4, 5))), v)
    with pytest.raises(ValueError, match=r"same length"):
        sdpa(q, k, zg.tensor(rand_array(rng, (2, 5, 2))))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 5\)"):
        sdpa(q, k, v, attn_mask=zg.tensor(np.ones((3, 5), bool)))
    with pytest.raises(TypeError, match="same dtype"):
        sdpa(q, k.to(np.float32), v)
    with pytest.raises(TypeError, match="attn_mask must be bool or float64"):
        sdpa(q, k, v, attn_mask=zg.tensor(np.ones((3, 4), np.int64)))
    with pytest.raises(ValueError, match="dropout_p"):
        sdpa(q, k, v, dropout_p=1.5)
    with pytest.raises(ValueError, match="at least 2 dims"):
        sdpa(zg.tensor(np.ones(3)), k, v)


def test_torch_causal_alignment_is_top_left(rng):
    """Documented: with L != S the causal mask is tril(ones(L, S)), as torch."""
    q, k, v = _qkv(rng, (), 3, 5, 4, 5)
    out = sdpa(zg.tensor(q), zg.tensor(k), zg.tensor(np.eye(5)), is_causal=True).numpy()
    assert np.all(out[np.triu_indices(3, 1, 5)] == 0)
    ref = TF.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, np.eye(5))),
                                          is_causal=True)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12)
