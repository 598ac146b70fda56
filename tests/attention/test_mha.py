"""MultiheadAttention: parity with torch.nn.MultiheadAttention (outputs, weights, input and
parameter grads) over layouts, masks, need_weights/average, kdim/vdim and unbatched input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.attention.parity import check_module, copy_weights
from tests.helpers import rand_array
from zengrad.nn.attention import MultiheadAttention

E, H, N, L, S = 8, 2, 3, 4, 5


def _pair(dtype=np.float64, **kw):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.MultiheadAttention(E, H, dtype=tdt, **kw)
    with torch.no_grad():  # non-zero biases, so the bias gradients mean something
        for name, p in tm.named_parameters():
            if "bias" in name:
                p.copy_(torch.randn(p.shape, dtype=tdt) * 0.5)
    return MultiheadAttention(E, H, dtype=dtype, **kw), tm


def _seq(rng, length, dim, batch_first, dtype=np.float64):
    shape = (N, length, dim) if batch_first else (length, N, dim)
    return rand_array(rng, shape, dtype)


def _masks(rng, kind, dtype, src_len=S):
    """The mask arrays of one setting, for src_len keys."""
    arrays = {}
    if kind in ("kpm", "both"):
        kpm = rng.random((N, src_len)) < 0.3
        kpm[:, 0] = False  # every query keeps a key
        arrays["kpm"] = kpm
        if kind == "both":  # a float padding mask too (torch warns on mixed bool/float)
            arrays["kpm"] = np.where(kpm, -np.inf, rand_array(rng, kpm.shape, dtype))
    if kind == "bool":
        am = rng.random((L, src_len)) < 0.3
        am[:, 0] = False
        arrays["am"] = am
    if kind in ("float", "both"):
        am = rand_array(rng, (L, src_len), dtype)
        am[1, 2] = -np.inf
        arrays["am"] = am
    if kind == "float3d":
        am = rand_array(rng, (N * H, L, src_len), dtype)
        arrays["am"] = am
    return arrays


def _kw(t):
    kw = {}
    if "kpm" in t:
        kw["key_padding_mask"] = t["kpm"]
    if "am" in t:
        kw["attn_mask"] = t["am"]
    return kw


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "kpm", "bool", "float", "float3d", "both"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_cross_attention_parity(rng, batch_first, mask, need_weights, average):
    """query, key and value all different (three projections)."""
    zm, tm = _pair(batch_first=batch_first)
    arrays = {"q": _seq(rng, L, E, batch_first), "k": _seq(rng, S, E, batch_first),
              "v": _seq(rng, S, E, batch_first), **_masks(rng, mask, np.float64)}

    def call(m, t):
        return m(t["q"], t["k"], t["v"], need_weights=need_weights,
                 average_attn_weights=average, **_kw(t))

    check_module(zm, tm, arrays, call, grads=("q", "k", "v"))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "kpm", "bool", "float", "causal"])
@pytest.mark.parametrize("need_weights", [False, True])
def test_self_attention_parity(rng, batch_first, mask, need_weights):
    """query is key is value: the packed projection (and the fused packed op without weights)."""
    zm, tm = _pair(batch_first=batch_first)
    arrays = {"x": _seq(rng, L, E, batch_first)}
    causal = mask == "causal"
    if mask == "causal":
        arrays["am"] = np.triu(np.full((L, L), -np.inf), 1)
    else:
        arrays.update(_masks(rng, mask, np.float64, src_len=L))

    def call(m, t):
        return m(t["x"], t["x"], t["x"], need_weights=need_weights, is_causal=causal, **_kw(t))

    check_module(zm, tm, arrays, call, grads=("x",))


@pytest.mark.parametrize("batch_first", [False, True])
def test_key_is_value_parity(rng, batch_first):
    zm, tm = _pair(batch_first=batch_first)
    arrays = {"q": _seq(rng, L, E, batch_first), "kv": _seq(rng, S, E, batch_first)}
    check_module(zm, tm, arrays, lambda m, t: m(t["q"], t["kv"], t["kv"]), grads=("q", "kv"))


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_kdim_vdim_parity(rng, need_weights, bias):
    zm, tm = _pair(kdim=6, vdim=3, batch_first=True, bias=bias)
    assert zm.in_proj_weight is None and zm.q_proj_weight.shape == (E, E)
    arrays = {"q": _seq(rng, L, E, True), "k": _seq(rng, S, 6, True),
              "v": _seq(rng, S, 3, True), **_masks(rng, "kpm", np.float64)}
    check_module(zm, tm, arrays,
                 lambda m, t: m(t["q"], t["k"], t["v"], need_weights=need_weights, **_kw(t)),
                 grads=("q", "k", "v"))


@pytest.mark.parametrize("self_attn", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_unbatched_parity(rng, self_attn, need_weights, average):
    zm, tm = _pair()
    arrays = {"q": rand_array(rng, (L, E)), "k": rand_array(rng, (S, E)),
              "v": rand_array(rng, (S, E)), "kpm": np.array([False, True, False, False, True])}
    if self_attn:
        arrays = {"q": rand_array(rng, (L, E)), "am": rng.random((L, L)) < 0.3}
        arrays["am"][:, 0] = False

        def call(m, t):
            return m(t["q"], t["q"], t["q"], need_weights=need_weights, attn_mask=t["am"],
                     average_attn_weights=average)
    else:
        def call(m, t):
            return m(t["q"], t["k"], t["v"], key_padding_mask=t["kpm"],
                     need_weights=need_weights, average_attn_weights=average)

    check_module(zm, tm, arrays, call, grads=tuple(k for k in ("q", "k", "v") if k in arrays))


@pytest.mark.parametrize("self_attn", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_float32_parity(rng, self_attn, need_weights):
    """float32 sweep (rtol 1e-5 of the largest value, as every float32 parity test)."""
    zm, tm = _pair(np.float32, batch_first=True)
    arrays = {"q": _seq(rng, L, E, True, np.float32), "k": _seq(rng, S, E, True, np.float32),
              **_masks(rng, "kpm", np.float32)}
    if self_attn:
        arrays["kpm"] = arrays["kpm"][:, :L]

    def call(m, t):
        k = t["q"] if self_attn else t["k"]
        return m(t["q"], k, k, need_weights=need_weights, key_padding_mask=t["kpm"])

    check_module(zm, tm, arrays, call, grads=("q",) if self_attn else ("q", "k"))


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the NaN, as in torch
def test_fully_masked_query_matches_torch(rng):
    """Every key padded for one batch item: the fused (need_weights=False) path gives 0 there,
    like torch's sdpa; the need_weights path gives NaN, like torch's."""
    zm, tm = _pair(batch_first=True)
    copy_weights(zm, tm)
    x = _seq(rng, L, E, True)
    kpm = np.zeros((N, L), bool)
    kpm[1] = True
    for need_weights in (False, True):
        zo, zw = zm(zg.tensor(x), zg.tensor(x), zg.tensor(x), key_padding_mask=kpm,
                    need_weights=need_weights)
        xt = torch.from_numpy(x)
        to, tw = tm(xt, xt, xt, key_padding_mask=torch.from_numpy(kpm), need_weights=need_weights)
        np.testing.assert_allclose(zo.detach().numpy(), to.detach().numpy(), rtol=1e-10)
        assert np.isnan(zo.detach().numpy()[1]).all() == need_weights
        if need_weights:
            np.testing.assert_allclose(zw.detach().numpy(), tw.detach().numpy(), rtol=1e-10)


def test_layout_and_init():
    zg.manual_seed(0)
    m = MultiheadAttention(16, 4)
    assert [n for n, _ in m.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight.shape == (48, 16) and m.in_proj_bias.shape == (48,)
    assert np.all(m.in_proj_bias.array == 0) and np.all(m.out_proj.bias.array == 0)
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform on (3E, E)
    w = m.in_proj_weight.array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    t = torch.nn.MultiheadAttention(16, 4, kdim=5, vdim=7, bias=False)
    z = MultiheadAttention(16, 4, kdim=5, vdim=7, bias=False)
    assert list(z.state_dict()) == list(t.state_dict())
    assert {k: tuple(v.shape) for k, v in z.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()}


def test_dropout_only_in_training(rng):
    m = MultiheadAttention(E, H, dropout=0.5, batch_first=True, dtype=np.float64)
    x = zg.tensor(_seq(rng, L, E, True))
    m.eval()
    a = m(x, x, x)[0].detach().numpy()
    np.testing.assert_array_equal(a, m(x, x, x)[0].detach().numpy())
    m.train()
    for need_weights in (True, False):
        out, w = m(x, x, x, need_weights=need_weights, average_attn_weights=False)
        assert not np.allclose(out.detach().numpy(), a)
        if need_weights:  # the returned weights are the dropped-out ones (as PyTorch)
            kept = w.detach().numpy() != 0
            assert 0.3 < kept.mean() < 0.7


def test_errors(rng):
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(10, 3)
    m = MultiheadAttention(E, H)
    x = zg.tensor(rand_array(rng, (L, N, E), np.float32))
    with pytest.raises(ValueError, match=r"last dim 8"):
        m(x, zg.ones(S, N, 4), zg.ones(S, N, 4))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(4, 4\)"):
        m(x, x, x, attn_mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(3, 4\)"):
        m(x, x, x, key_padding_mask=np.zeros((4, 3), bool))
    with pytest.raises(RuntimeError, match="is_causal"):
        m(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="only bool and floating"):
        m(x, x, x, attn_mask=np.zeros((4, 4), np.int64))
    with pytest.raises(TypeError, match="dtype"):
        m(x.to(np.float64), x.to(np.float64), x.to(np.float64))
    with pytest.raises(ValueError, match="3-D"):
        m(x, zg.ones(S, E), zg.ones(S, E))


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("self_attention", [True, False])
def test_functional_forward_parity(rng, separate, need_weights, self_attention):
    """F.multi_head_attention_forward called as torch code calls it, (L, N, E) layout."""
    kw = {"kdim": 6, "vdim": 5} if separate else {}
    tm = torch.nn.MultiheadAttention(E, H, dtype=torch.float64, **kw)
    params = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    params["in_proj_bias"] = rand_array(rng, (3 * E,))
    q = rand_array(rng, (L, N, E))
    k = q if self_attention and not separate else rand_array(rng, (S, N, kw.get("kdim", E)))
    v = k if self_attention and not separate else rand_array(rng, (S, N, kw.get("vdim", E)))
    kpm = rng.random((N, k.shape[0])) < 0.3
    kpm[:, 0] = False

    def run(lib, F, wrap):
        p = {n: wrap(a) for n, a in params.items()}
        x = {id(a): wrap(a) for a in (q, k, v)}  # the same array -> the same tensor
        out, w = F.multi_head_attention_forward(
            x[id(q)], x[id(k)], x[id(v)], E, H, p.get("in_proj_weight"), p["in_proj_bias"],
            None, None, False, 0.0, p["out_proj.weight"], p["out_proj.bias"],
            key_padding_mask=lib.from_numpy(kpm), need_weights=need_weights,
            use_separate_proj_weight=separate, q_proj_weight=p.get("q_proj_weight"),
            k_proj_weight=p.get("k_proj_weight"), v_proj_weight=p.get("v_proj_weight"))
        (out.sum() + (0 if w is None else (w * w).sum())).backward()
        return [out, w, *(x[id(a)].grad for a in (q, k, v)), *(t.grad for t in p.values())]

    zr = run(zg, zg.nn.functional, lambda a: zg.tensor(a, requires_grad=True))
    tr = run(torch, torch.nn.functional,
             lambda a: torch.tensor(a, requires_grad=True))
    for i, (z, t) in enumerate(zip(zr, tr)):
        if t is None:
            assert z is None, i
        else:
            np.testing.assert_allclose(z.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=str(i))


def test_functional_forward_errors(rng):
    x = zg.tensor(rand_array(rng, (L, N, E)))
    w, b = zg.ones(3 * E, E, dtype=zg.float64), zg.zeros(3 * E, dtype=zg.float64)
    wo = zg.ones(E, E, dtype=zg.float64)
    F = zg.nn.functional
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        F.multi_head_attention_forward(x, x, x, E, H, w, b, b, b, False, 0.0, wo, None)
    with pytest.raises(ValueError, match="divisible"):
        F.multi_head_attention_forward(x, x, x, E, 3, w, b, None, None, False, 0.0, wo, None)
    with pytest.raises(ValueError, match="q_proj_weight"):
        F.multi_head_attention_forward(x, x, x, E, H, None, b, None, None, False, 0.0, wo,
                                       None, use_separate_proj_weight=True)
