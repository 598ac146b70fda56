"""Transformer encoder: TransformerEncoderLayer, TransformerEncoder, PositionalEncoding.

Post-LN (norm_first=False, the original paper and PyTorch's default):
    x = norm1(x + dropout1(self_attn(x)));   x = norm2(x + dropout2(ff(x)))
Pre-LN (norm_first=True):
    x = x + dropout1(self_attn(norm1(x)));   x = x + dropout2(ff(norm2(x)))
with ff(x) = linear2(dropout(activation(linear1(x)))). Submodule names are PyTorch's, so a
torch state_dict (as NumPy arrays) loads and gives the same outputs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn.attention import MultiheadAttention
from zengrad.nn.containers import ModuleList
from zengrad.nn.dropout import Dropout
from zengrad.nn.layernorm import LayerNorm
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.ops.activation import gelu, relu

_ACTIVATIONS = {"relu": relu, "gelu": gelu}


def generate_square_subsequent_mask(sz: int, dtype=None) -> Tensor:
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i sees 0..i)."""
    dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    return Tensor(np.triu(np.full((sz, sz), -np.inf, dt), 1))


def _is_causal_mask(mask, sz: int) -> bool:
    """PyTorch's TransformerEncoder check: mask equals generate_square_subsequent_mask(sz)."""
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.shape != (sz, sz):
        return False
    return bool(np.array_equal(arr, np.triu(np.full((sz, sz), -np.inf), 1)))


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and LayerNorm.

    src (S, N, E), or (N, S, E) with batch_first, or unbatched (S, E); src_mask (S, S) or
    (N nhead, S, S) and src_key_padding_mask (N, S) as in MultiheadAttention (bool True =
    masked out). activation: 'relu', 'gelu' or a callable (a Module is registered).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation should be relu/gelu, not "
                                 f"{activation!r}")
            activation = _ACTIVATIONS[activation]
        elif not callable(activation):
            raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a "
                            f"callable, got {type(activation).__name__}")
        self.activation = activation
        self.batch_first = batch_first

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x) -> Tensor:
        # on (rows, d_model): one GEMM per linear (NumPy loops GEMMs over a 3-D batch)
        shape = x.data.shape
        x = x.reshape(-1, shape[-1])
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x.reshape(*shape))


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (layers.0, layers.1, ...) applied in turn,
    then the optional final norm. forward(src, mask=None, src_key_padding_mask=None,
    is_causal=None): is_causal=None detects a causal float mask as PyTorch does."""

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got "
                            f"{type(encoder_layer).__name__}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, Integral) or num_layers < 1:
            raise ValueError(f"TransformerEncoder: num_layers must be a positive int, got "
                             f"{num_layers!r}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm
        # nested tensors are a PyTorch inference fast path: accepted, with no effect here
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool | None = None) -> Tensor:
        if is_causal is None:
            batch_first = getattr(self.layers[0], "batch_first", False)
            seq_axis = 1 if batch_first and src.data.ndim == 3 else 0
            is_causal = mask is not None and _is_causal_mask(mask, src.data.shape[seq_axis])
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=is_causal)
        if self.norm is not None:
            out = self.norm(out)
        return out


class PositionalEncoding(Module):
    """Adds the sinusoidal position code of "Attention Is All You Need", then dropout:

        PE[pos, 2i] = sin(pos / 10000^(2i / d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i / d))

    (d = d_model; for odd d the last column is a sine). The table is the buffer `pe` of
    shape (max_len, 1, d_model), persistent (in the state_dict), as in PyTorch's tutorial,
    so the tutorial's checkpoints load. Input (L, N, d_model), or (N, L, d_model) with
    batch_first, with L <= max_len.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 batch_first: bool = False, dtype=None) -> None:
        super().__init__()
        for name, n in (("d_model", d_model), ("max_len", max_len)):
            if isinstance(n, bool) or not isinstance(n, Integral) or n <= 0:
                raise ValueError(f"PositionalEncoding: {name} must be a positive int, got {n!r}")
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), batch_first
        self.dropout = Dropout(dropout)
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        pos = np.arange(max_len, dtype=np.float64)[:, None]
        div = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, 1, d_model), np.float64)
        pe[:, 0, 0::2] = np.sin(pos * div)
        pe[:, 0, 1::2] = np.cos(pos * div[: d_model // 2])
        self.register_buffer("pe", Tensor(pe.astype(dt)))

    def forward(self, x: Tensor) -> Tensor:
        shape = x.data.shape
        if x.data.ndim != 3 or shape[-1] != self.d_model:
            raise ValueError(
                f"PositionalEncoding: expected input ({'N, L' if self.batch_first else 'L, N'}, "
                f"{self.d_model}), got shape {tuple(shape)}"
            )
        length = shape[1] if self.batch_first else shape[0]
        if length > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {length} exceeds max_len "
                             f"{self.max_len}")
        pe = self.pe.data[:length, 0] if self.batch_first else self.pe.data[:length]
        if pe.dtype != x.data.dtype:
            pe = pe.astype(x.data.dtype)
        return self.dropout(x + Tensor._make(pe, False, None))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
