"""Transformers as torch.nn: TransformerEncoderLayer/Encoder, TransformerDecoderLayer/Decoder,
Transformer (encoder + decoder), PositionalEncoding.

Encoder layer, post-LN (norm_first=False, the original paper and PyTorch's default):
    x = norm1(x + dropout1(self_attn(x)));   x = norm2(x + dropout2(ff(x)))
Pre-LN (norm_first=True):
    x = x + dropout1(self_attn(norm1(x)));   x = x + dropout2(ff(norm2(x)))
with ff(x) = linear2(dropout(activation(linear1(x)))). The decoder layer adds cross-attention
over the encoder output m between the two blocks:
    post-LN: x = norm1(x + sa(x)); x = norm2(x + mha(x, m)); x = norm3(x + ff(x))
    pre-LN:  x = x + sa(norm1(x)); x = x + mha(norm2(x), m); x = x + ff(norm3(x))
Submodule names are PyTorch's, so a torch state_dict (as NumPy arrays) loads and gives the
same outputs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import is_grad_enabled
from zengrad.autograd.tensor import Tensor
from zengrad.nn import functional as F
from zengrad.nn import init
from zengrad.nn.attention import MultiheadAttention
from zengrad.nn.containers import ModuleList
from zengrad.nn.dropout import Dropout
from zengrad.nn.layernorm import LayerNorm
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.nn.placement import layer_device
from zengrad.ops.layernorm import add_layer_norm
from zengrad.ops.linalg import feed_forward_relu

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def generate_square_subsequent_mask(sz: int, dtype=None) -> Tensor:
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i sees 0..i)."""
    dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    return Tensor._make(np.triu(np.full((sz, sz), -np.inf, dt), 1), False, None)  # host


def _activation(who: str, activation: str | Callable) -> Callable:
    """'relu' / 'gelu' -> the op; a callable (a Module is registered by the caller) as is."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{who}: activation should be relu/gelu, not {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


def _feed_forward(layer: Module, x: Tensor, out_dropout: Module) -> Tensor:
    """out_dropout(linear2(dropout(activation(linear1(x))))), on (rows, d_model): one GEMM per
    linear (NumPy loops GEMMs over a 3-D batch). ReLU without dropout between plain Linears
    (no hooks) runs as one op (ops.linalg.feed_forward_relu: the same values)."""
    shape = x.array.shape
    x = x.reshape(-1, shape[-1])
    l1, l2, drop = layer.linear1, layer.linear2, layer.dropout
    if (layer.activation is F.relu and _plain(l1, Linear) and _plain(l2, Linear)
            and _plain(drop, Dropout) and (drop.p == 0 or not drop.training)):
        x = feed_forward_relu(x, l1.weight, l1.bias, l2.weight, l2.bias)
    else:
        x = l2(drop(layer.activation(l1(x))))
    return out_dropout(x.reshape(*shape))


def _plain(module: Module, cls: type) -> bool:
    """module is a cls itself (not a subclass) without hooks: its forward may be fused."""
    return type(module) is cls and not (module._forward_pre_hooks or module._forward_hooks
                                        or module._backward_hooks
                                        or module._backward_pre_hooks)


def _add_norm(norm: Module, x: Tensor, y: Tensor) -> Tensor:
    """norm(x + y). A plain LayerNorm without hooks takes the sum and the norm as one op (the
    same values: the sum goes straight into the norm's buffer instead of a tensor of its own)."""
    if _plain(norm, LayerNorm):
        return add_layer_norm(x, y, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return norm(x + y)


def _num_layers(who: str, num_layers) -> int:
    if isinstance(num_layers, bool) or not isinstance(num_layers, Integral) or num_layers < 1:
        raise ValueError(f"{who}: num_layers must be a positive int, got {num_layers!r}")
    return int(num_layers)


def _seq_len(src: Tensor, batch_first: bool) -> int:
    """L of (L, N, E), (N, L, E) with batch_first, or unbatched (L, E)."""
    return src.array.shape[1] if batch_first and src.array.ndim == 3 else src.array.shape[0]


def _is_causal_mask(mask, sz: int) -> bool:
    """PyTorch's TransformerEncoder check: mask equals generate_square_subsequent_mask(sz)."""
    arr = backend.asnumpy(mask.array) if isinstance(mask, Tensor) else np.asarray(mask)  # host
    if arr.shape != (sz, sz):
        return False
    return bool(np.array_equal(arr, np.triu(np.full((sz, sz), -np.inf), 1)))  # host


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: their submodules (registered in torch's
    order) and the self-attention block."""

    def _attention(self, d_model, nhead, dropout, bias, batch_first, kw) -> MultiheadAttention:
        return MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                  batch_first=batch_first, **kw)

    def _add_feed_forward_and_norms(self, who: str, num_blocks: int, d_model: int,
                                    dim_feedforward: int, dropout: float, activation,
                                    layer_norm_eps: float, batch_first: bool, norm_first: bool,
                                    bias: bool, kw: dict) -> None:
        """linear1, dropout, linear2, norm1..norm{num_blocks}, dropout1..dropout{num_blocks},
        activation and the flags, after the attention modules the caller registered."""
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        for i in range(1, num_blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, num_blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(who, activation)
        self.batch_first = batch_first

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)


class TransformerEncoderLayer(_TransformerLayer):
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
        self.self_attn = self._attention(d_model, nhead, dropout, bias, batch_first, kw)
        self._add_feed_forward_and_norms("TransformerEncoderLayer", 2, d_model, dim_feedforward,
                                         dropout, activation, layer_norm_eps, batch_first,
                                         norm_first, bias, kw)

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = _add_norm(self.norm1, x,
                          self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = _add_norm(self.norm2, x, self._ff_block(x))
        return x

    def _ff_block(self, x) -> Tensor:
        return _feed_forward(self, x, self.dropout2)


def _nested_tensor_ok(layer: Module) -> bool:
    """torch's TransformerEncoder.__init__ checks for its nested-tensor inference path."""
    from zengrad.nn.activation import GELU, ReLU

    if not isinstance(layer, TransformerEncoderLayer) or layer.norm_first:
        return False
    attn = layer.self_attn
    act = layer.activation
    return bool(
        attn.batch_first and attn._qkv_same_embed_dim and attn.in_proj_bias is not None
        and (act is F.relu or act is F.gelu or isinstance(act, (ReLU, GELU)))
        and layer.norm1.eps == layer.norm2.eps and attn.num_heads % 2 == 0
    )


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (layers.0, layers.1, ...) applied in turn,
    then the optional final norm. forward(src, mask=None, src_key_padding_mask=None,
    is_causal=None): is_causal=None detects a causal float mask as PyTorch does.

    torch's nested-tensor path: in inference (eval mode, no gradient needed) with a
    src_key_padding_mask whose padding is at the end of each row, and no mask, torch computes
    only the real positions and returns 0 at the padded ones (before the final norm), when
    enable_nested_tensor and the layer qualifies (batch_first, post-LN, relu/gelu, an even
    nhead, ...). The real positions are the same either way (padded keys are masked out);
    the padded ones are set to 0 here too under the same conditions, so outputs match.
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got "
                            f"{type(encoder_layer).__name__}")
        self.num_layers = _num_layers("TransformerEncoder", num_layers)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check
        self.use_nested_tensor = bool(enable_nested_tensor) and _nested_tensor_ok(encoder_layer)

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool | None = None) -> Tensor:
        if is_causal is None:
            seq = _seq_len(src, getattr(self.layers[0], "batch_first", False))
            is_causal = mask is not None and _is_causal_mask(mask, seq)
        keep = self._nested_keep(src, mask, src_key_padding_mask)
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=is_causal)
        if keep is not None:  # torch's nested-tensor path: padded positions are 0
            out = out * Tensor._make(keep[:, :, None].astype(out.array.dtype), False, None)
        if self.norm is not None:
            out = self.norm(out)
        return out

    def _nested_keep(self, src: Tensor, mask, src_key_padding_mask) -> np.ndarray | None:
        """(N, S) True at real positions when torch would take its nested-tensor path (class
        docstring), else None."""
        first = self.layers[0]
        if (not getattr(self, "use_nested_tensor", False) or first.training
                or src_key_padding_mask is None or mask is not None
                or not isinstance(src, Tensor) or src.array.ndim != 3):
            return None
        if is_grad_enabled() and (src.requires_grad
                                  or any(p.requires_grad for p in first.parameters())):
            return None
        # host: a decision about the path, taken from the mask's values
        kpm = (backend.asnumpy(src_key_padding_mask.array)
               if isinstance(src_key_padding_mask, Tensor)
               else np.asarray(src_key_padding_mask))  # host
        keep = ~kpm if kpm.dtype == np.bool_ else kpm == 0  # float masks: 0 = attend
        if keep.shape != src.array.shape[:2]:
            return None  # the layers report the bad shape
        left_aligned = bool(np.all(keep[:, :-1] >= keep[:, 1:]))  # host
        if not left_aligned:
            if self.mask_check:
                return None  # torch checks, and takes the ordinary path
            raise NotImplementedError(
                "TransformerEncoder: mask_check=False with a src_key_padding_mask whose "
                "padding is not at the end of each row: torch's nested-tensor path reads such "
                "rows differently; pass mask_check=True (the default) or right-padded rows"
            )
        return keep


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over tgt, cross-attention over memory (the encoder output) and a
    feed-forward block, each with a residual connection and LayerNorm (module docstring).

    tgt (T, N, E) and memory (S, N, E), or (N, T, E) / (N, S, E) with batch_first, or
    unbatched (T, E) / (S, E). tgt_mask (T, T) or (N nhead, T, T), memory_mask (T, S) or
    (N nhead, T, S); tgt_key_padding_mask (N, T), memory_key_padding_mask (N, S): bool True =
    masked out, float = added to the scores, as in MultiheadAttention. tgt_is_causal /
    memory_is_causal are hints that the mask given is the causal one (it is still required).
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
        self.self_attn = self._attention(d_model, nhead, dropout, bias, batch_first, kw)
        self.multihead_attn = self._attention(d_model, nhead, dropout, bias, batch_first, kw)
        self._add_feed_forward_and_norms("TransformerDecoderLayer", 3, d_model, dim_feedforward,
                                         dropout, activation, layer_norm_eps, batch_first,
                                         norm_first, bias, kw)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        for name, t in (("tgt", tgt), ("memory", memory)):
            if not isinstance(t, Tensor):
                raise TypeError(f"TransformerDecoderLayer: {name} must be a Tensor, got "
                                f"{type(t).__name__}")
        if tgt.array.ndim != memory.array.ndim:
            raise ValueError(
                f"TransformerDecoderLayer: tgt and memory must both be batched (3-D) or both "
                f"unbatched (2-D), got shapes {tuple(tgt.array.shape)} and "
                f"{tuple(memory.array.shape)}"
            )
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + _feed_forward(self, self.norm3(x), self.dropout3)
        else:
            x = _add_norm(self.norm1, x,
                          self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = _add_norm(self.norm2, x, self._mha_block(x, memory, memory_mask,
                                                         memory_key_padding_mask,
                                                         memory_is_causal))
            x = _add_norm(self.norm3, x, _feed_forward(self, x, self.dropout3))
        return x

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer (layers.0, layers.1, ...) applied in turn to
    tgt, each attending over the same memory, then the optional final norm.
    tgt_is_causal=None detects a causal float tgt_mask as PyTorch does."""

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"TransformerDecoder: decoder_layer must be a Module, got "
                            f"{type(decoder_layer).__name__}")
        self.num_layers = _num_layers("TransformerDecoder", num_layers)
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        if not isinstance(tgt, Tensor):
            raise TypeError(f"TransformerDecoder: tgt must be a Tensor, got "
                            f"{type(tgt).__name__}")
        if tgt_is_causal is None:
            seq = _seq_len(tgt, getattr(self.layers[0], "batch_first", False))
            tgt_is_causal = tgt_mask is not None and _is_causal_mask(tgt_mask, seq)
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            out = self.norm(out)
        return out


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need", as torch.nn.Transformer:

        memory = encoder(src, src_mask, src_key_padding_mask)
        out = decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                      memory_key_padding_mask)

    encoder = TransformerEncoder(num_encoder_layers layers, norm=LayerNorm(d_model)), decoder
    likewise (or custom_encoder / custom_decoder). Every parameter with more than one dim is
    re-initialized Xavier-uniform, as PyTorch does. src (S, N, E), tgt (T, N, E) (batch_first:
    (N, S, E), (N, T, E); unbatched (S, E), (T, E)); output shaped as tgt.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        layer_kw = {"dim_feedforward": dim_feedforward, "dropout": dropout,
                    "activation": activation, "layer_norm_eps": layer_norm_eps,
                    "batch_first": batch_first, "norm_first": norm_first, "bias": bias, **kw}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **layer_kw), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **layer_kw), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self) -> None:
        """Xavier-uniform for every weight matrix (dim > 1), as torch.nn.Transformer."""
        for p in self.parameters():
            if p.array.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        for name, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"Transformer: {name} must be a Tensor, got {type(t).__name__}")
        ss, ts = tuple(src.array.shape), tuple(tgt.array.shape)
        if len(ss) != len(ts) or len(ss) not in (2, 3):
            raise ValueError(f"Transformer: src and tgt must both be 3-D (batched) or 2-D "
                             f"(unbatched), got shapes {ss} and {ts}")
        axis = 0 if self.batch_first else 1
        if len(ss) == 3 and ss[axis] != ts[axis]:
            raise RuntimeError(f"the batch number of src and tgt must be equal: src {ss}, tgt "
                               f"{ts} (batch_first={self.batch_first})")
        if ss[-1] != self.d_model or ts[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}): src {ss}, tgt {ts}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (on device)."""
        device = layer_device(device, "generate_square_subsequent_mask")
        return generate_square_subsequent_mask(sz, dtype).to(device)


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
        # the table is made on the host (Module.to moves it)
        pos = np.arange(max_len, dtype=np.float64)[:, None]  # host
        div = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # host
        pe = np.zeros((max_len, 1, d_model), np.float64)  # host
        pe[:, 0, 0::2] = np.sin(pos * div)  # host
        pe[:, 0, 1::2] = np.cos(pos * div[: d_model // 2])  # host
        self.register_buffer("pe", Tensor._make(pe.astype(dt), False, None))

    def forward(self, x: Tensor) -> Tensor:
        shape = x.array.shape
        if x.array.ndim != 3 or shape[-1] != self.d_model:
            raise ValueError(
                f"PositionalEncoding: expected input ({'N, L' if self.batch_first else 'L, N'}, "
                f"{self.d_model}), got shape {tuple(shape)}"
            )
        length = shape[1] if self.batch_first else shape[0]
        if length > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {length} exceeds max_len "
                             f"{self.max_len}")
        pe = self.pe.array[:length, 0] if self.batch_first else self.pe.array[:length]
        if pe.dtype != x.array.dtype:
            pe = pe.astype(x.array.dtype)
        return self.dropout(x + Tensor._make(pe, False, None))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
