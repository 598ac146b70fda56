"""MultiheadAttention with PyTorch's parameters, arguments and mask conventions.

    head_i = softmax((q W_q,i) (k W_k,i)^T / sqrt(d) + mask) (v W_v,i),   d = E / H
    out = concat(head_1 .. head_H) W_o^T + b_o

Paths (all compose ops; the fused math is in zengrad.ops.attention):
  * need_weights=False, self-attention (query is key is value, kdim = vdim = E): one GEMM for
    the packed projection x in_proj_weight^T, then the fused packed attention op: no head
    split/merge copies in the graph. TransformerEncoderLayer takes this path.
  * need_weights=False otherwise: projections, heads as (N, H, L, d) views, the fused
    scaled-dot-product op.
  * need_weights=True: the scores, softmax and dropout as separate ops, as PyTorch does, so
    the returned weights (after dropout) are differentiable. A query whose keys are all
    masked gives NaN here (as PyTorch's need_weights path) and 0 on the fused paths (as
    PyTorch's sdpa path).
Masks are constants here (no gradient); F.scaled_dot_product_attention differentiates a
float attn_mask.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import init
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.ops.activation import softmax
from zengrad.ops.attention import (
    ScaledDotProductAttention,
    SelfAttentionPacked,
    bool_to_additive,
    causal_additive,
)
from zengrad.ops.dropout import dropout as dropout_op
from zengrad.ops.linalg import linear, matmul
from zengrad.ops.shape import chunk


def rows_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """linear() on (.., in) as one 2-D GEMM over all rows: NumPy's matmul runs one GEMM per
    leading index on 3-D input, 1.3-1.6x slower for the sizes of a Transformer layer."""
    if x.array.ndim <= 2:
        return linear(x, weight, bias)
    lead = x.array.shape[:-1]
    out = linear(x.reshape(-1, x.array.shape[-1]), weight, bias)
    return out.reshape(*lead, weight.array.shape[0])


def _heads(t: Tensor, num_heads: int, batch_first: bool) -> Tensor:
    """(N, L, E) if batch_first else (L, N, E) -> (N, H, L, d) (a view)."""
    a, b, e = t.array.shape
    t = t.reshape(a, b, num_heads, e // num_heads)
    return t.permute(0, 2, 1, 3) if batch_first else t.permute(1, 2, 0, 3)


def _merge_heads(o: Tensor, batch_first: bool) -> Tensor:
    """(N, H, L, d) -> rows (N L, H d) if batch_first else (L N, H d)."""
    n, h, length, d = o.array.shape
    if batch_first:
        return o.permute(0, 2, 1, 3).reshape(n * length, h * d)
    return o.permute(2, 0, 1, 3).reshape(length * n, h * d)


def _as_additive(mask, name: str, dtype) -> np.ndarray:
    """A bool (True = masked out) or float (added) mask as an additive constant array."""
    arr = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype == np.bool_:
        return bool_to_additive(arr, dtype, take_part=False)
    if arr.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are "
                        f"supported, got {arr.dtype}")
    return arr.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Attention over H heads of size E / H, with PyTorch's layout:
    in_proj_weight (3E, E) = [W_q; W_k; W_v] (or q/k/v_proj_weight when kdim or vdim != E),
    in_proj_bias (3E), out_proj (Linear E -> E).

    Inputs (L, N, E) / (S, N, kdim) / (S, N, vdim), or (N, L, E) ... with batch_first, or
    unbatched (L, E). Returns (attn_output, attn_weights): weights (N, L, S) averaged over
    heads, (N, H, L, S) with average_attn_weights=False, None when need_weights=False.
    key_padding_mask (N, S) and attn_mask (L, S) or (N H, L, S): bool True = not allowed to
    attend, float = added to the scores.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(n, bool) or not isinstance(n, Integral) or n <= 0:
                raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                      "supported")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"device {device!r} is not available (NumPy cpu backend only)")
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        e = int(embed_dim)
        self.embed_dim, self.num_heads, self.head_dim = e, int(num_heads), e // int(num_heads)
        self.kdim = int(kdim) if kdim is not None else e
        self.vdim = int(vdim) if vdim is not None else e
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        self.dropout = dropout
        self.batch_first = batch_first
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((e, e), dt))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * e, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        self_attention = query is key and key is value and self._qkv_same_embed_dim
        batched = self._check_inputs(query, key, value)
        bf = self.batch_first or not batched
        if not batched:  # as a batch of one, batch first
            query, key, value = (t.reshape(1, *t.array.shape) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(
                    key_padding_mask.array if isinstance(key_padding_mask, Tensor)
                    else key_padding_mask
                ).reshape(1, -1)
        n, length = (query.array.shape[0], query.array.shape[1]) if bf else (
            query.array.shape[1], query.array.shape[0])
        src_len = key.array.shape[1] if bf else key.array.shape[0]
        dt = query.array.dtype

        if is_causal and attn_mask is None:
            raise RuntimeError(
                "MultiheadAttention: need attn_mask if specifying the is_causal hint (make one "
                "with generate_square_subsequent_mask)"
            )
        causal = is_causal and key_padding_mask is None and not need_weights
        mask = None if causal else self._merged_mask(
            attn_mask, key_padding_mask, n, length, src_len, dt)
        if causal:
            mask = causal_additive(length, src_len, dt)
        p = self.dropout if self.training else 0.0

        if not need_weights and self_attention:
            rows = query.array.shape[:2]
            qkv = linear(query.reshape(-1, self.embed_dim), self.in_proj_weight,
                         self.in_proj_bias)
            ctx = SelfAttentionPacked.apply(qkv, mask, self.num_heads, bf, float(p), rows)
            out = self.out_proj(ctx)
            return out.reshape(*(rows if batched else rows[1:]), self.embed_dim), None

        q, k, v = self._project(query, key, value, self_attention)
        q, k, v = (_heads(t, self.num_heads, bf) for t in (q, k, v))
        if not need_weights:
            o = ScaledDotProductAttention.apply(q, k, v, mask, 1.0 / math.sqrt(self.head_dim),
                                                float(p))
            weights = None
        else:
            scores = matmul(q * (1.0 / math.sqrt(self.head_dim)), k.transpose(-1, -2))
            if mask is not None:
                scores = scores + Tensor._make(mask, False, None)
            weights = softmax(scores, -1)
            if p > 0:
                weights = dropout_op(weights, p, True)
            o = matmul(weights, v)
            if average_attn_weights:
                weights = weights.mean(1)
            if not batched:
                weights = weights.reshape(*weights.array.shape[1:])
        rows = query.array.shape[:2]
        out = self.out_proj(_merge_heads(o, bf))
        return out.reshape(*(rows if batched else rows[1:]), self.embed_dim), weights

    def _project(self, query, key, value, self_attention: bool):
        """q, k, v = the three input projections (one GEMM when they share the input)."""
        e, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if not self._qkv_same_embed_dim:
            return (rows_linear(query, self.q_proj_weight, bq),
                    rows_linear(key, self.k_proj_weight, bk),
                    rows_linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if self_attention:
            return chunk(rows_linear(query, w, b), 3, -1)
        if key is value:
            kv = rows_linear(key, w[e:], None if b is None else b[e:])
            return (rows_linear(query, w[:e], bq), *chunk(kv, 2, -1))
        return (rows_linear(query, w[:e], bq), rows_linear(key, w[e:2 * e], bk),
                rows_linear(value, w[2 * e:], bv))

    def _check_inputs(self, query, key, value) -> bool:
        """True for batched (3-D) inputs, False for unbatched (2-D); errors name the shapes."""
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got "
                                f"{type(t).__name__}")
        qs, ks, vs = query.array.shape, key.array.shape, value.array.shape
        if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs):
            raise ValueError(f"MultiheadAttention: query, key and value must all be 3-D "
                             f"(batched) or 2-D (unbatched), got {qs}, {ks}, {vs}")
        want = (("query", qs, self.embed_dim), ("key", ks, self.kdim), ("value", vs, self.vdim))
        for name, s, dim in want:
            if s[-1] != dim:
                raise ValueError(f"MultiheadAttention: {name} of shape {s} must have last dim "
                                 f"{dim}")
        if ks[:-1] != vs[:-1]:
            raise ValueError(f"MultiheadAttention: key {ks} and value {vs} must have the same "
                             "leading dims")
        batch_axis = 0 if self.batch_first else 1
        if len(qs) == 3 and qs[batch_axis] != ks[batch_axis]:
            raise ValueError(f"MultiheadAttention: query {qs} and key {ks} have different batch "
                             f"sizes (batch_first={self.batch_first})")
        wdt = self.out_proj.weight.array.dtype
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.array.dtype != wdt:
                raise TypeError(f"MultiheadAttention: {name} dtype {t.array.dtype} does not "
                                f"match the parameters' dtype {wdt}")
        return len(qs) == 3

    def _merged_mask(self, attn_mask, key_padding_mask, n, length, src_len, dt):
        """attn_mask + key_padding_mask as one additive array broadcastable to (N, H, L, S)."""
        h = self.num_heads
        mask = None
        if attn_mask is not None:
            am = _as_additive(attn_mask, "attn_mask", dt)
            if am.shape == (length, src_len):
                mask = am
            elif am.shape == (n * h, length, src_len):
                mask = am.reshape(n, h, length, src_len)
            else:
                raise ValueError(
                    f"MultiheadAttention: attn_mask must have shape ({length}, {src_len}) or "
                    f"({n * h}, {length}, {src_len}) (L, S or N*num_heads, L, S), got "
                    f"{tuple(am.shape)}"
                )
        if key_padding_mask is not None:
            kpm = _as_additive(key_padding_mask, "key_padding_mask", dt)
            if kpm.shape != (n, src_len):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape "
                                 f"({n}, {src_len}) (N, S), got {tuple(kpm.shape)}")
            kpm = kpm.reshape(n, 1, 1, src_len)
            mask = kpm if mask is None else mask + kpm
        return mask

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
