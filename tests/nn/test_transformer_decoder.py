"""TransformerDecoderLayer / TransformerDecoder / Transformer against torch 2.13: the same
state_dict gives the same outputs, input gradients and parameter gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.attention.parity import check_module, copy_weights
from tests.helpers import rand_array
from zengrad import nn

D, NH, FF, N, T, S = 8, 2, 16, 3, 4, 5


def _randomize(module, dtype):
    """Torch's LayerNorm starts as the identity: random weights make every grad count."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn(p.shape, dtype=dtype) * 0.3 + (1 if "weight" in name else 0))
    return module


def _tdt(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def _seq(rng, length, batch_first, dtype=np.float64):
    return rand_array(rng, (N, length, D) if batch_first else (length, N, D), dtype)


def _padding(rng, length):
    kpm = rng.random((N, length)) < 0.3
    kpm[:, 0] = False
    return kpm


def _causal(length):
    return np.triu(np.full((length, length), -np.inf), 1)


def _masks(rng, kind: str) -> dict:
    if kind == "padding":  # key padding on both attentions and a bool memory_mask
        mm = rng.random((T, S)) < 0.2
        mm[:, 0] = False
        return {"tkpm": _padding(rng, T), "mkpm": _padding(rng, S), "mm": mm}
    if kind == "causal":
        return {"tm": _causal(T)}
    if kind == "float":  # additive float masks of the (N nhead, T, *) form
        return {"tm": rng.standard_normal((N * NH, T, T)),
                "mm": rng.standard_normal((N * NH, T, S))}
    return {}


def _decoder_call(causal_hint):
    def call(m, t):
        kw = {} if causal_hint is None else {"tgt_is_causal": causal_hint}
        return m(t["tgt"], t["mem"], tgt_mask=t.get("tm"), memory_mask=t.get("mm"),
                 tgt_key_padding_mask=t.get("tkpm"), memory_key_padding_mask=t.get("mkpm"),
                 **kw)
    return call


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "padding", "causal", "float"])
def test_decoder_layer_parity(rng, norm_first, batch_first, mask):
    kw = {"dim_feedforward": FF, "norm_first": norm_first, "batch_first": batch_first,
          "activation": "gelu" if norm_first else "relu"}
    tm = _randomize(torch.nn.TransformerDecoderLayer(D, NH, dtype=torch.float64, **kw),
                    torch.float64).eval()
    zm = nn.TransformerDecoderLayer(D, NH, dtype=np.float64, **kw).eval()
    arrays = {"tgt": _seq(rng, T, batch_first), "mem": _seq(rng, S, batch_first),
              **_masks(rng, mask)}
    check_module(zm, tm, arrays, _decoder_call(mask == "causal"), grads=("tgt", "mem"))


def test_decoder_layer_float32_and_unbatched(rng):
    tm = _randomize(torch.nn.TransformerDecoderLayer(D, NH, FF, batch_first=True), torch.float32)
    zm = nn.TransformerDecoderLayer(D, NH, FF, batch_first=True)
    arrays = {"tgt": _seq(rng, T, True, np.float32), "mem": _seq(rng, S, True, np.float32),
              "tkpm": _padding(rng, T)}
    check_module(zm.eval(), tm.eval(), arrays, _decoder_call(False), grads=("tgt", "mem"))
    unbatched = {"tgt": rand_array(rng, (T, D), np.float32),
                 "mem": rand_array(rng, (S, D), np.float32), "tm": _causal(T)}
    check_module(zm, tm, unbatched, _decoder_call(True), grads=("tgt", "mem"))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("final_norm", [False, True])
def test_decoder_stack_parity_detects_causal_mask(rng, norm_first, final_norm):
    """tgt_is_causal=None: both detect the causal float tgt_mask."""
    layer = torch.nn.TransformerDecoderLayer(D, NH, FF, norm_first=norm_first,
                                             dtype=torch.float64)
    tnorm = torch.nn.LayerNorm(D, dtype=torch.float64) if final_norm else None
    tm = _randomize(torch.nn.TransformerDecoder(layer, 2, norm=tnorm), torch.float64).eval()
    zm = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(D, NH, FF, norm_first=norm_first, dtype=np.float64), 2,
        norm=nn.LayerNorm(D, dtype=np.float64) if final_norm else None).eval()
    arrays = {"tgt": _seq(rng, T, False), "mem": _seq(rng, S, False), "tm": _causal(T),
              "mkpm": _padding(rng, S)}
    check_module(zm, tm, arrays, _decoder_call(None), grads=("tgt", "mem"))


def _transformer_pair(dtype=np.float64, **kw):
    kw = {"d_model": D, "nhead": NH, "num_encoder_layers": 2, "num_decoder_layers": 2,
          "dim_feedforward": FF, **kw}
    with warnings.catch_warnings():  # torch: nested tensors need batch_first (no effect here)
        warnings.simplefilter("ignore", UserWarning)
        tm = _randomize(torch.nn.Transformer(dtype=_tdt(dtype), **kw), _tdt(dtype))
    return nn.Transformer(dtype=dtype, **kw), tm


def _transformer_call(m, t):
    return m(t["src"], t["tgt"], src_mask=t.get("sm"), tgt_mask=t.get("tm"),
             memory_mask=t.get("mm"), src_key_padding_mask=t.get("skpm"),
             tgt_key_padding_mask=t.get("tkpm"), memory_key_padding_mask=t.get("mkpm"))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_parity_eval(rng, norm_first, batch_first):
    zm, tm = _transformer_pair(norm_first=norm_first, batch_first=batch_first)
    skpm = _padding(rng, S)
    arrays = {"src": _seq(rng, S, batch_first), "tgt": _seq(rng, T, batch_first),
              "tm": _causal(T), "skpm": skpm, "mkpm": skpm.copy(), "tkpm": _padding(rng, T)}
    check_module(zm.eval(), tm.eval(), arrays, _transformer_call, grads=("src", "tgt"))


def test_transformer_parity_train_mode_without_dropout(rng):
    """dropout=0 in train mode: the same function as eval, here and in torch."""
    zm, tm = _transformer_pair(dropout=0.0, batch_first=True, activation="gelu")
    sm = rng.random((S, S)) < 0.3  # a bool src_mask, True = masked out
    sm[:, 0] = False
    arrays = {"src": _seq(rng, S, True), "tgt": _seq(rng, T, True), "tm": _causal(T), "sm": sm}
    assert zm.training and tm.training
    check_module(zm, tm, arrays, _transformer_call, grads=("src", "tgt"))


def test_transformer_float32_unbatched(rng):
    zm, tm = _transformer_pair(np.float32)
    arrays = {"src": rand_array(rng, (S, D), np.float32),
              "tgt": rand_array(rng, (T, D), np.float32), "tm": _causal(T)}
    check_module(zm.eval(), tm.eval(), arrays, _transformer_call, grads=("src", "tgt"))


def test_transformer_state_dict_keys_and_init():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t = torch.nn.Transformer(16, 4, 2, 3, 32)
    z = nn.Transformer(16, 4, 2, 3, 32)
    assert list(z.state_dict()) == list(t.state_dict())
    assert [tuple(v.shape) for v in z.state_dict().values()] == [
        tuple(v.shape) for v in t.state_dict().values()]
    copy_weights(z, t)  # loads strictly
    # every matrix re-drawn Xavier-uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    for name, p in z.named_parameters():
        if p.array.ndim > 1:
            bound = np.sqrt(6.0 / sum(p.array.shape))
            assert np.abs(p.array).max() <= bound, name
            assert np.abs(p.array).max() > 0.5 * bound, name
    # the decoder layers are independent copies
    d = z.decoder.layers
    assert d[0].linear1.weight is not d[1].linear1.weight
    assert not np.array_equal(d[0].linear1.weight.array, d[1].linear1.weight.array)


def test_custom_encoder_decoder_and_keys(rng):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, FF), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, FF), 1)
    m = nn.Transformer(D, NH, custom_encoder=enc, custom_decoder=dec)
    assert m.encoder is enc and m.decoder is dec
    assert "encoder.norm.weight" not in m.state_dict()
    out = m(zg.tensor(_seq(rng, S, False, np.float32)), zg.tensor(_seq(rng, T, False, np.float32)))
    assert out.shape == (T, N, D)


def test_training_mode_dropout_is_active(rng):
    m = nn.Transformer(D, NH, 1, 1, FF, dropout=0.5, batch_first=True, dtype=np.float64)
    src, tgt = zg.tensor(_seq(rng, S, True)), zg.tensor(_seq(rng, T, True))
    a = m.eval()(src, tgt).detach().numpy()
    b = m.train()(src, tgt).detach().numpy()
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(m.eval()(src, tgt).detach().numpy(), a)


def test_generate_square_subsequent_mask():
    for sz in (1, 4):
        ref = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        got = nn.Transformer.generate_square_subsequent_mask(sz)
        np.testing.assert_array_equal(got.numpy(), ref.numpy())
        assert got.dtype == np.float32
    got = nn.Transformer.generate_square_subsequent_mask(3, device="cpu", dtype=zg.float64)
    assert got.dtype == np.float64
    with pytest.raises(RuntimeError, match="not available"):
        nn.Transformer.generate_square_subsequent_mask(3, device="cuda")


def test_errors():
    m = nn.Transformer(D, NH, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        m(zg.ones(S, N, D), zg.ones(T, N + 1, D))
    with pytest.raises(RuntimeError, match="feature number"):
        m(zg.ones(S, N, D), zg.ones(T, N, D + 2))
    with pytest.raises(ValueError, match="both be 3-D"):
        m(zg.ones(S, N, D), zg.ones(T, D))
    with pytest.raises(ValueError, match="relu/gelu"):
        nn.TransformerDecoderLayer(D, NH, activation="tanh")
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH), 0)
    with pytest.raises(TypeError, match="decoder_layer must be a Module"):
        nn.TransformerDecoder("layer", 2)
    layer = nn.TransformerDecoderLayer(D, NH, FF)
    with pytest.raises(RuntimeError, match="is_causal"):
        layer(zg.ones(T, N, D), zg.ones(S, N, D), tgt_is_causal=True)
    with pytest.raises(ValueError, match="memory_mask|attn_mask"):
        layer(zg.ones(T, N, D), zg.ones(S, N, D), memory_mask=np.zeros((T, T)))
    with pytest.raises(ValueError, match="both be batched"):
        layer(zg.ones(T, N, D), zg.ones(S, D))


@pytest.mark.parametrize(("case", "nhead"), [("right-padded", 2), ("float-mask", 2),
                                             ("odd-heads", 1), ("not-left-aligned", 2),
                                             ("norm-first", 2), ("train", 2)])
def test_inference_matches_torchs_nested_tensor_path(rng, case, nhead):
    """Under no_grad in eval mode torch's encoder skips padded positions (nested tensors) and
    returns 0 there; zengrad does the same under the same conditions, so the memory and a
    decoder output that attends to it without memory_key_padding_mask agree with torch."""
    kw = {"d_model": D, "nhead": nhead, "num_encoder_layers": 2, "num_decoder_layers": 1,
          "dim_feedforward": FF, "batch_first": True, "norm_first": case == "norm-first",
          "dropout": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tm = _randomize(torch.nn.Transformer(**kw), torch.float32)
    zm = nn.Transformer(**kw)
    copy_weights(zm, tm)
    if case != "train":
        zm.eval()
        tm.eval()
    src, tgt = _seq(rng, S, True, np.float32), _seq(rng, T, True, np.float32)
    kpm = np.zeros((N, S), bool)
    kpm[0, 3:] = True
    kpm[1, 4] = True
    if case == "not-left-aligned":
        kpm[2, 1] = True
    tkpm = torch.from_numpy(kpm)
    zkpm = kpm
    if case == "float-mask":
        tkpm = torch.from_numpy(np.where(kpm, -np.inf, 0.0).astype(np.float32))
        zkpm = np.where(kpm, -np.inf, 0.0).astype(np.float32)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t_mem = tm.encoder(torch.from_numpy(src), src_key_padding_mask=tkpm).numpy()
        t_out = tm(torch.from_numpy(src), torch.from_numpy(tgt),
                   src_key_padding_mask=tkpm).numpy()
    with zg.no_grad():
        z_mem = zm.encoder(zg.tensor(src), src_key_padding_mask=zkpm).numpy()
        z_out = zm(zg.tensor(src), zg.tensor(tgt), src_key_padding_mask=zkpm).numpy()
    np.testing.assert_allclose(z_mem, t_mem, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(z_out, t_out, rtol=1e-4, atol=1e-5)
    assert zm.encoder.use_nested_tensor == (case not in ("odd-heads", "norm-first"))
    zm.encoder.norm = tm.encoder.norm = None  # the padded rows before the final norm:
    with torch.no_grad():
        t_raw = tm.encoder(torch.from_numpy(src), src_key_padding_mask=tkpm).numpy()
    with zg.no_grad():
        z_raw = zm.encoder(zg.tensor(src), src_key_padding_mask=zkpm).numpy()
    np.testing.assert_allclose(z_raw, t_raw, rtol=1e-4, atol=1e-5)
    nested = case in ("right-padded", "float-mask")
    assert np.all(z_raw[0, 3:] == 0) == nested  # 0 only on torch's nested path


def test_nested_path_needs_left_aligned_rows_without_mask_check():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, NH, FF, batch_first=True), 1,
                                mask_check=False).eval()
    kpm = np.zeros((N, S), bool)
    kpm[0, 1] = True
    with zg.no_grad(), pytest.raises(NotImplementedError, match="mask_check"):
        enc(zg.ones(N, S, D), src_key_padding_mask=kpm)


def test_seq2seq_training_steps_match_torch(rng):
    """A tiny seq2seq model (embeddings, nn.Transformer, a head), cross-entropy and Adam for a
    few steps from the same weights, dropout=0 in train mode: the same losses as torch."""
    vocab = 7

    def build(lib, dtype):
        class Seq2Seq(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = lib.nn.Embedding(vocab, D, dtype=dtype)
                self.tr = lib.nn.Transformer(D, NH, 1, 1, FF, dropout=0.0, batch_first=True,
                                             dtype=dtype)
                self.head = lib.nn.Linear(D, vocab, dtype=dtype)

            def forward(self, src, tgt):
                mask = lib.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1],
                                                                          dtype=dtype)
                return self.head(self.tr(self.emb(src), self.emb(tgt), tgt_mask=mask))
        return Seq2Seq()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tm = build(torch, torch.float64)
    zm = build(zg, zg.float64)
    copy_weights(zm, tm)
    src = rng.integers(0, vocab, (N, S))
    tgt = rng.integers(0, vocab, (N, T + 1))
    zopt = zg.optim.Adam(zm.parameters(), lr=1e-2)
    topt = torch.optim.Adam(tm.parameters(), lr=1e-2)
    zlosses, tlosses = [], []
    for _ in range(4):
        for model, opt, lib, losses in ((zm, zopt, zg, zlosses), (tm, topt, torch, tlosses)):
            opt.zero_grad()
            logits = model(lib.tensor(src), lib.tensor(tgt[:, :-1]))
            loss = lib.nn.functional.cross_entropy(logits.reshape(-1, vocab),
                                                   lib.tensor(tgt[:, 1:]).reshape(-1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(zlosses, tlosses, rtol=1e-9)
    assert zlosses[-1] < zlosses[0]


def test_whole_module_save_and_load(rng, tmp_path):
    """zengrad.save(model) / zengrad.load rebuild nn.Transformer and TransformerDecoder with
    their constructor arguments: the same keys, weights and outputs."""
    src, tgt = zg.tensor(_seq(rng, S, True, np.float32)), zg.tensor(_seq(rng, T, True, np.float32))
    m = nn.Transformer(D, NH, 1, 2, FF, batch_first=True, norm_first=True).eval()
    zg.save(m, tmp_path / "t.pt")
    back = zg.load(tmp_path / "t.pt")
    assert type(back) is nn.Transformer and back.batch_first and not back.training
    assert list(back.state_dict()) == list(m.state_dict())
    with zg.no_grad():
        np.testing.assert_array_equal(back(src, tgt).numpy(), m(src, tgt).numpy())
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NH, FF), 2, nn.LayerNorm(D))
    zg.save(dec, tmp_path / "d.pt")
    assert list(zg.load(tmp_path / "d.pt").state_dict()) == list(dec.state_dict())
