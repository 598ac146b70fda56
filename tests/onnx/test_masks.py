"""Attention masks that follow the inputs: padding masks (an input, or made from the tokens
with tensor ops) and causal masks built from a dynamic sequence length."""

from __future__ import annotations

import math

import numpy as np
import pytest

import zengrad as zg
import zengrad.nn.functional as F
from tests.onnx.conftest import check_export, session, zengrad_outputs, zonnx
from zengrad import models, nn

BATCH_SEQ = {"in0": {0: "n", 1: "l"}}


def tokens(n: int, length: int, pads, seed: int = 0) -> zg.Tensor:
    """(n, length) tokens in 1..11, row i ending in pads[i] padding tokens (0)."""
    t = np.random.default_rng(seed).integers(1, 12, (n, length))
    for i, p in enumerate(pads):
        if p:
            t[i, -p:] = 0
    return zg.tensor(t)


def pad_mask(lengths, total: int) -> zg.Tensor:
    return zg.tensor(np.arange(total)[None, :] >= np.asarray(lengths)[:, None])


class Encoder(nn.Module):
    """A 2-layer encoder, masked as `kind` says."""

    def __init__(self, kind: str, nested: bool = True) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=nested)
        self.kind = kind

    def forward(self, x, pad=None):
        length = x.shape[1]
        if self.kind == "square":
            mask = nn.Transformer.generate_square_subsequent_mask(length)
            return self.enc(x, mask=mask, is_causal=True)
        if self.kind == "triu":
            return self.enc(x, mask=zg.triu(zg.ones(length, length), diagonal=1).bool())
        return self.enc(x, src_key_padding_mask=pad)


@pytest.mark.parametrize("kind", ["square", "triu"])
def test_causal_mask_of_dynamic_length(tmp_path, kind):
    zg.manual_seed(0)
    proto = check_export(Encoder(kind), (zg.randn(2, 5, 8),),
                         [(zg.randn(3, 9, 8),), (zg.randn(1, 1, 8),)], tmp_path,
                         dynamic_axes=BATCH_SEQ)
    assert "Range" in {n.op_type for n in proto.graph.node}  # built from the length


def test_sdpa_is_causal_and_tril_buffer(tmp_path):
    class Causal(nn.Module):
        """Two causal attentions: is_causal=True, and nanoGPT's registered tril buffer
        sliced to the length, with masked_fill."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("bias", zg.tril(zg.ones(16, 16)).view(1, 1, 16, 16))

        def forward(self, q):
            a = F.scaled_dot_product_attention(q, q * 2, q + 1, is_causal=True)
            t = q.shape[2]
            att = (q @ q.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
            return a + F.softmax(att, dim=-1) @ q

    zg.manual_seed(1)
    check_export(Causal(), (zg.randn(2, 2, 5, 4),), [(zg.randn(3, 2, 11, 4),)], tmp_path,
                 dynamic_axes={"in0": {0: "n", 2: "l"}})


def test_padding_mask_as_an_input(tmp_path):
    zg.manual_seed(2)
    model = Encoder("pad", nested=False)
    check_export(model, (zg.randn(2, 5, 8), pad_mask([3, 5], 5)),
                 [(zg.randn(3, 7, 8), pad_mask([7, 2, 5], 7))], tmp_path,
                 dynamic_axes={"in0": {0: "n", 1: "l"}, "in1": {0: "n", 1: "l"}})


@pytest.mark.parametrize("float_mask", [False, True])
def test_multihead_attention_padding_and_attn_mask(tmp_path, float_mask):
    mha = nn.MultiheadAttention(8, 2, batch_first=True)

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = mha

        def forward(self, q, kv, kpm, am):
            out, weights = self.mha(q, kv, kv, key_padding_mask=kpm, attn_mask=am)
            return out, weights

    def masks(n, length, src, lengths):
        kpm = pad_mask(lengths, src)
        am = np.random.default_rng(length).random((length, src)) < 0.2
        am[:, 0] = False  # every query keeps key 0 (a fully masked row is NaN, as torch)
        am = zg.tensor(am)
        if float_mask:
            kpm = zg.where(kpm, zg.tensor(-1e4), zg.tensor(0.0))
            am = zg.where(am, zg.tensor(-2.0), zg.tensor(0.5))
        return kpm, am

    zg.manual_seed(3)
    check_export(M(), (zg.randn(2, 3, 8), zg.randn(2, 5, 8), *masks(2, 3, 5, [5, 2])),
                 [(zg.randn(4, 3, 8), zg.randn(4, 5, 8), *masks(4, 3, 5, [1, 5, 3, 4]))],
                 tmp_path, dynamic_axes={"in0": {0: "n"}, "in1": {0: "n"}, "in2": {0: "n"}})


def test_transformer_classifier_with_padding_idx(tmp_path):
    zg.manual_seed(4)
    model = models.TransformerClassifier(vocab_size=12, d_model=16, nhead=2, num_layers=2,
                                         num_classes=3, padding_idx=0)
    proto = check_export(model, (tokens(2, 6, [2, 0]),),
                         [(tokens(4, 9, [0, 3, 8, 1], 1),), (tokens(1, 3, [1], 2),),
                          (tokens(3, 6, [0, 0, 0], 3),)], tmp_path, dynamic_axes=BATCH_SEQ)
    assert "Equal" in {n.op_type for n in proto.graph.node}  # the mask, from the tokens


def test_transformer_tagger_with_padding_idx_real_positions(tmp_path):
    """torch's nested-tensor shortcut (eval, no grad, right-padded rows) returns 0 at the
    padded positions; the exported graph, as torch.onnx's, computes them the ordinary way.
    The real positions match."""
    zg.manual_seed(5)
    model = models.TransformerTagger(vocab_size=12, num_tags=4, d_model=16, nhead=2,
                                     num_layers=1, padding_idx=0).eval()
    path = str(tmp_path / "tagger.onnx")
    zonnx.export(model, (tokens(2, 6, [2, 0]),), path, input_names=["tokens"],
                 dynamic_axes={"tokens": {0: "n", 1: "l"}})
    x = tokens(3, 8, [0, 3, 5], 1)
    (got,) = session(path).run(None, {"tokens": x.numpy()})
    (want,) = zengrad_outputs(model, (x,))
    real = x.numpy() != 0
    np.testing.assert_allclose(got[real], want[real], rtol=1e-5, atol=1e-5)


def test_a_varying_constant_of_no_known_form_is_still_refused():
    class M(nn.Module):
        def forward(self, x):
            length = x.shape[1]
            noise = np.random.default_rng(length).standard_normal((length, 1))
            return x + zg.tensor(noise.astype(np.float32))

    with pytest.raises(zonnx.ExportError, match="outside zengrad's ops"):
        zonnx.export(M(), (zg.randn(2, 4, 4),), dynamic_axes={"input": {0: "n", 1: "l"}})


def test_padding_classifier_opset_17(tmp_path):
    zg.manual_seed(6)
    model = models.TransformerClassifier(vocab_size=12, d_model=8, nhead=2, num_layers=1,
                                         num_classes=2, padding_idx=0)
    check_export(model, (tokens(2, 5, [1, 0]),), [(tokens(3, 7, [6, 0, 2], 1),)], tmp_path,
                 dynamic_axes=BATCH_SEQ, opset_version=17)
