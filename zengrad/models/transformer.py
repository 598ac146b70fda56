"""Transformer encoder models: a sequence classifier and a per-position tagger.

    tokens (N, L) -> Embedding, or features (N, L, input_dim) -> Linear   (N, L, d_model)
      -> + sinusoidal positions -> TransformerEncoder (batch first)
    classifier: mean over the non-padded positions -> Linear -> (N, num_classes)
    tagger:     Linear at every position               -> (N, L, num_tags)
    forecaster: the last position's output          -> Linear -> (N, horizon[, target_size])

The embedding is not scaled by sqrt(d_model) (the PyTorch tutorial does): with N(0, 1)
embeddings the positional code (values in [-1, 1]) keeps a comparable size, which tasks
that depend on position (reverse, sort) need. Pre-LN layers (norm_first=True) get a final
LayerNorm, as is usual for them.
"""

from __future__ import annotations

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.nn.embedding import Embedding
from zengrad.nn.layernorm import LayerNorm
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.nn.transformer import PositionalEncoding, TransformerEncoder, TransformerEncoderLayer


class _EncoderBody(Module):
    """Input projection + positions + encoder, shared by the classifier and the tagger."""

    def __init__(self, vocab_size, input_dim, d_model, nhead, num_layers, dim_feedforward,
                 dropout, max_len, padding_idx, norm_first, activation) -> None:
        super().__init__()
        if (vocab_size is None) == (input_dim is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of vocab_size (token "
                             f"inputs) and input_dim (feature inputs), got vocab_size="
                             f"{vocab_size}, input_dim={input_dim}")
        if vocab_size is not None:
            self.embedding = Embedding(vocab_size, d_model, padding_idx=padding_idx)
        else:
            self.input_proj = Linear(input_dim, d_model)
        self.pos_encoder = PositionalEncoding(d_model, max_len=max_len, batch_first=True)
        layer = TransformerEncoderLayer(
            d_model, nhead, dim_feedforward or 4 * d_model, dropout, activation,
            batch_first=True, norm_first=norm_first)
        self.encoder = TransformerEncoder(layer, num_layers,
                                          norm=LayerNorm(d_model) if norm_first else None)
        self.tokens, self.padding_idx = vocab_size is not None, padding_idx

    def _encode(self, x, src_key_padding_mask):
        if self.tokens:
            arr = x.array if isinstance(x, Tensor) else np.asarray(x)
            if arr.ndim != 2:
                raise ValueError(f"{type(self).__name__}: token input must be (N, L), got "
                                 f"shape {arr.shape}")
            if src_key_padding_mask is None and self.padding_idx is not None:
                # a Tensor input's mask by a tensor op, which an ONNX export traces
                src_key_padding_mask = (x if isinstance(x, Tensor) else arr) == self.padding_idx
            h = self.embedding(arr)
        else:
            if not isinstance(x, Tensor) or x.array.ndim != 3:
                got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
                raise ValueError(f"{type(self).__name__}: feature input must be a Tensor "
                                 f"(N, L, input_dim), got {got}")
            h = self.input_proj(x)
        h = self.encoder(self.pos_encoder(h), src_key_padding_mask=src_key_padding_mask)
        return h, src_key_padding_mask


class TransformerClassifier(_EncoderBody):
    """Sequence -> class logits (N, num_classes), mean-pooling the encoder's outputs over
    the positions that are not padding. Token inputs with vocab_size, or feature inputs
    with input_dim (exactly one); padding_idx (tokens) masks padding out of attention and
    pooling. dim_feedforward defaults to 4 d_model."""

    def __init__(self, vocab_size: int | None = None, d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, num_classes: int = 2, dim_feedforward: int | None = None,
                 dropout: float = 0.1, *, input_dim: int | None = None, max_len: int = 512,
                 padding_idx: int | None = None, norm_first: bool = False,
                 activation: str = "relu") -> None:
        super().__init__(vocab_size, input_dim, d_model, nhead, num_layers, dim_feedforward,
                         dropout, max_len, padding_idx, norm_first, activation)
        self.classifier = Linear(d_model, num_classes)

    def forward(self, x, src_key_padding_mask=None) -> Tensor:
        h, pad = self._encode(x, src_key_padding_mask)
        if pad is None:
            pooled = h.mean(1)
        elif isinstance(pad, Tensor):  # tensor ops (the same arithmetic), for ONNX export
            keep = (~pad if pad.dtype == np.bool_ else pad.isfinite()).to(h.dtype)
            count = keep.sum(1, keepdim=True).clamp(min=1)
            pooled = (h * (keep / count).unsqueeze(-1)).sum(1)
        else:
            pad = np.asarray(pad)
            keep = ~pad if pad.dtype == np.bool_ else np.isfinite(pad)
            keep = keep.astype(h.array.dtype)
            count = np.maximum(keep.sum(1, keepdims=True), 1)
            weights = Tensor._make((keep / count)[:, :, None], False, None)
            pooled = (h * weights).sum(1)
        return self.classifier(pooled)


class TransformerTagger(_EncoderBody):
    """Per-position classification: (N, L) tokens -> (N, L, num_tags) logits, for tasks
    such as reversing a sequence (position i reads token L-1-i through full attention)."""

    def __init__(self, vocab_size: int, num_tags: int, d_model: int = 64, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.1,
                 *, max_len: int = 512, padding_idx: int | None = None, norm_first: bool = False,
                 activation: str = "relu") -> None:
        super().__init__(vocab_size, None, d_model, nhead, num_layers, dim_feedforward,
                         dropout, max_len, padding_idx, norm_first, activation)
        self.head = Linear(d_model, num_tags)

    def forward(self, x, src_key_padding_mask=None) -> Tensor:
        h, _ = self._encode(x, src_key_padding_mask)
        return self.head(h)


class TransformerForecaster(_EncoderBody):
    """Next `horizon` values of a series from a window of its past: a Transformer encoder
    over the window's steps (features (N, L, input_size), or (N, L) when input_size=1) and a
    Linear head on the last position's output, h_{L-1}, which attends to the whole window.

    Output (N, horizon) when target_size is 1, else (N, horizon, target_size); target_size
    defaults to input_size (forecast every input series), as LSTMForecaster. Dropout
    defaults to 0: forecasting data sets are small and the windows overlap, so they are
    fitted best with weight decay or early stopping rather than noise.
    """

    def __init__(self, input_size: int = 1, d_model: int = 32, nhead: int = 4,
                 num_layers: int = 2, horizon: int = 1, dim_feedforward: int | None = None,
                 dropout: float = 0.0, *, target_size: int | None = None, max_len: int = 512,
                 norm_first: bool = False, activation: str = "relu") -> None:
        target_size = input_size if target_size is None else target_size
        for name, v in (("input_size", input_size), ("horizon", horizon),
                        ("target_size", target_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TransformerForecaster: {name} must be an integer >= 1, "
                                 f"got {v!r}")
        super().__init__(None, input_size, d_model, nhead, num_layers, dim_feedforward,
                         dropout, max_len, None, norm_first, activation)
        self.input_size, self.horizon, self.target_size = input_size, horizon, target_size
        self.head = Linear(d_model, horizon * target_size)

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(x, Tensor) and x.ndim == 2 and self.input_size == 1:
            x = x.unsqueeze(-1)
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"TransformerForecaster: expected a Tensor (N, L, {self.input_size})"
                + (" or (N, L)" if self.input_size == 1 else "") + f", got {got}")
        h, _ = self._encode(x, None)
        y = self.head(h[:, -1])
        if self.target_size == 1:
            return y
        return y.reshape(y.shape[0], self.horizon, self.target_size)
