"""TransformerEncoderLayer / TransformerEncoder / PositionalEncoding against torch 2.13."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.attention.parity import check_module
from tests.helpers import rand_array
from zengrad.nn.layernorm import LayerNorm
from zengrad.nn.transformer import (
    PositionalEncoding,
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
)

D, NH, FF, N, S = 8, 2, 16, 3, 5


def _randomize(module, dtype):
    """Torch's LayerNorm starts as the identity: random weights make every grad count."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn(p.shape, dtype=dtype) * 0.3 + (1 if "weight" in name else 0))
    return module


def _layer_pair(dtype=np.float64, **kw):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    kw = {"dim_feedforward": FF, **kw}
    tm = _randomize(torch.nn.TransformerEncoderLayer(D, NH, dtype=tdt, **kw), tdt).eval()
    return TransformerEncoderLayer(D, NH, dtype=dtype, **kw).eval(), tm


def _src(rng, batch_first, dtype=np.float64):
    return rand_array(rng, (N, S, D) if batch_first else (S, N, D), dtype)


def _padding(rng):
    kpm = rng.random((N, S)) < 0.3
    kpm[:, 0] = False
    return kpm


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "padding", "causal"])
def test_layer_parity(rng, norm_first, activation, batch_first, mask):
    zm, tm = _layer_pair(norm_first=norm_first, activation=activation, batch_first=batch_first)
    arrays = {"x": _src(rng, batch_first)}
    causal = mask == "causal"
    if mask == "padding":
        arrays["kpm"] = _padding(rng)
        arrays["am"] = rng.random((S, S)) < 0.2  # bool attn_mask too: True = masked out
        arrays["am"][:, 0] = False
    if causal:
        arrays["am"] = np.triu(np.full((S, S), -np.inf), 1)

    def call(m, t):
        return m(t["x"], src_mask=t.get("am"), src_key_padding_mask=t.get("kpm"),
                 is_causal=causal)

    check_module(zm, tm, arrays, call, grads=("x",))


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_float32_parity(rng, norm_first):
    """float32: atol 1e-5 x max|value| everywhere (summation order differs from torch's)."""
    zm, tm = _layer_pair(np.float32, norm_first=norm_first, batch_first=True,
                         activation="gelu")
    arrays = {"x": _src(rng, True, np.float32), "kpm": _padding(rng)}
    check_module(zm, tm, arrays, lambda m, t: m(t["x"], src_key_padding_mask=t["kpm"]),
                 grads=("x",))


def test_layer_callable_activation_and_unbatched(rng):
    zm, tm = _layer_pair(activation=torch.nn.functional.silu)
    zm.activation = zg.silu
    check_module(zm, tm, {"x": rand_array(rng, (S, D))}, lambda m, t: m(t["x"]), grads=("x",))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("final_norm", [False, True])
@pytest.mark.parametrize("mask", ["padding", "causal"])
def test_encoder_parity(rng, norm_first, final_norm, mask):
    tm_layer = torch.nn.TransformerEncoderLayer(D, NH, FF, batch_first=True,
                                                norm_first=norm_first, dtype=torch.float64)
    tnorm = torch.nn.LayerNorm(D, dtype=torch.float64) if final_norm else None
    tm = _randomize(torch.nn.TransformerEncoder(tm_layer, 2, norm=tnorm,
                                                enable_nested_tensor=False), torch.float64)
    tm.eval()
    zm = TransformerEncoder(
        TransformerEncoderLayer(D, NH, FF, batch_first=True, norm_first=norm_first,
                                dtype=np.float64),
        2, norm=LayerNorm(D, dtype=np.float64) if final_norm else None).eval()
    arrays = {"x": _src(rng, True)}
    if mask == "padding":
        arrays["kpm"] = _padding(rng)
    else:  # is_causal=None: both detect the causal float mask
        arrays["am"] = np.triu(np.full((S, S), -np.inf), 1)

    def call(m, t):
        return m(t["x"], mask=t.get("am"), src_key_padding_mask=t.get("kpm"))

    check_module(zm, tm, arrays, call, grads=("x",))


def test_encoder_layers_are_independent_copies():
    layer = TransformerEncoderLayer(D, NH, FF)
    enc = TransformerEncoder(layer, 3)
    assert [k for k in enc.state_dict() if k.endswith("in_proj_weight")] == [
        f"layers.{i}.self_attn.in_proj_weight" for i in range(3)]
    w0 = enc.layers[0].linear1.weight
    assert w0 is not enc.layers[1].linear1.weight and w0 is not layer.linear1.weight
    np.testing.assert_array_equal(w0.array, enc.layers[1].linear1.weight.array)
    w0.array[...] = 0
    assert np.any(enc.layers[1].linear1.weight.array != 0)
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, NH, FF), 3,
                                    norm=torch.nn.LayerNorm(D), enable_nested_tensor=False)
    z = TransformerEncoder(layer, 3, norm=LayerNorm(D))
    assert list(z.state_dict()) == list(t.state_dict())


def test_training_mode_dropout(rng):
    m = TransformerEncoderLayer(D, NH, FF, dropout=0.5, batch_first=True, dtype=np.float64)
    x = zg.tensor(_src(rng, True))
    m.eval()
    a = m(x).detach().numpy()
    m.train()
    b = m(x).detach().numpy()
    assert not np.allclose(a, b)
    m.eval()
    np.testing.assert_array_equal(m(x).detach().numpy(), a)


def test_generate_square_subsequent_mask():
    m = generate_square_subsequent_mask(4).numpy()
    ref = torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(m, ref)
    assert m.dtype == np.float32


def test_positional_encoding_matches_tutorial_formula():
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...): PyTorch tutorial's."""
    d, max_len = 6, 50
    pe = PositionalEncoding(d, max_len=max_len)
    table = pe.pe.array
    assert table.shape == (max_len, 1, d) and list(pe.state_dict()) == ["pe"]
    position = torch.arange(max_len).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    ref = torch.zeros(max_len, 1, d)
    ref[:, 0, 0::2] = torch.sin(position * div_term)
    ref[:, 0, 1::2] = torch.cos(position * div_term)
    np.testing.assert_allclose(table, ref.numpy(), atol=1e-6)
    assert table[7, 0, 4] == pytest.approx(math.sin(7 / 10000 ** (4 / 6)), abs=1e-6)
    x = np.zeros((9, 2, d), np.float32)
    np.testing.assert_allclose(pe(zg.tensor(x)).numpy(), np.repeat(table[:9], 2, axis=1))
    pbf = PositionalEncoding(d, max_len=max_len, batch_first=True)
    np.testing.assert_allclose(pbf(zg.tensor(x.transpose(1, 0, 2))).numpy()[1], table[:9, 0])
    odd = PositionalEncoding(5, max_len=10).pe.array  # odd d_model: one fewer cosine
    assert odd.shape == (10, 1, 5) and odd[3, 0, 4] == pytest.approx(math.sin(3 / 10000 ** 0.8))
    with pytest.raises(ValueError, match="exceeds max_len"):
        PositionalEncoding(d, max_len=4)(zg.tensor(x))


def test_errors():
    with pytest.raises(ValueError, match="relu/gelu"):
        TransformerEncoderLayer(D, NH, activation="tanh")
    with pytest.raises(ValueError, match="num_layers"):
        TransformerEncoder(TransformerEncoderLayer(D, NH), 0)
    m = TransformerEncoderLayer(D, NH, FF)
    with pytest.raises(RuntimeError, match="is_causal"):
        m(zg.ones(S, N, D), is_causal=True)
