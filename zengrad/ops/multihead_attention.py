"""Multi-head attention as torch's F.multi_head_attention_forward (what nn.MultiheadAttention
calls), composed from linear and the fused attention ops of zengrad.ops.attention:

    head_i = softmax((q W_q,i) (k W_k,i)^T / sqrt(d) + mask) (v W_v,i),   d = E / H
    out = concat(head_1 .. head_H) W_o^T + b_o

Paths:
  * need_weights=False, self-attention (query is key is value, one packed in_proj_weight):
    one GEMM for the packed projection x in_proj_weight^T, then the fused packed attention
    op (SelfAttentionPackedFn): no head split/merge copies in the graph.
  * need_weights=False otherwise: projections, heads as (N, H, L, d) views, the fused
    scaled-dot-product op.
  * need_weights=True: the scores, softmax and dropout as separate ops, as PyTorch does, so
    the returned weights (after dropout) are differentiable. A query whose keys are all
    masked gives NaN here (as PyTorch's need_weights path) and 0 on the fused paths (as
    PyTorch's sdpa path).
Masks are constants here (no gradient); F.scaled_dot_product_attention differentiates a
float attn_mask. Every linear runs on (rows, features): one GEMM, not one per batch item.
"""

from __future__ import annotations

import math

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.ops.activation import softmax
from zengrad.ops.attention import (
    ScaledDotProductAttentionFn,
    SelfAttentionPackedFn,
    bool_to_additive,
    causal_additive,
)
from zengrad.ops.dropout import dropout
from zengrad.ops.linalg import linear, matmul
from zengrad.ops.shape import chunk

__all__ = ["multi_head_attention_forward"]

_WHO = "MultiheadAttention"


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


def _as_additive(mask, name: str, dtype, xp=np):
    """A bool (True = masked out) or float (added) mask as an additive constant array
    (array-likes are made with xp, the query's module)."""
    arr = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if arr.dtype == np.bool_:
        return bool_to_additive(arr, dtype, take_part=False)
    if arr.dtype.kind != "f":
        raise TypeError(f"{_WHO}: only bool and floating types of {name} are supported, got "
                        f"{arr.dtype}")
    return arr.astype(dtype, copy=False)


def _merged_mask(attn_mask, key_padding_mask, h, n, length, src_len, dt, xp=np):
    """attn_mask + key_padding_mask as one additive array broadcastable to (N, H, L, S)."""
    mask = None
    if attn_mask is not None:
        am = _as_additive(attn_mask, "attn_mask", dt, xp)
        if am.shape == (length, src_len):
            mask = am
        elif am.shape == (n * h, length, src_len):
            mask = am.reshape(n, h, length, src_len)
        else:
            raise ValueError(
                f"{_WHO}: attn_mask must have shape ({length}, {src_len}) or "
                f"({n * h}, {length}, {src_len}) (L, S or N*num_heads, L, S), got "
                f"{tuple(am.shape)}"
            )
    if key_padding_mask is not None:
        kpm = _as_additive(key_padding_mask, "key_padding_mask", dt, xp)
        if kpm.shape != (n, src_len):
            raise ValueError(f"{_WHO}: key_padding_mask must have shape ({n}, {src_len}) "
                             f"(N, S), got {tuple(kpm.shape)}")
        kpm = kpm.reshape(n, 1, 1, src_len)
        mask = kpm if mask is None else mask + kpm
    return mask


def _check_inputs(query, key, value, dims, batch_first: bool, wdt) -> bool:
    """True for batched (3-D) inputs, False for unbatched (2-D); errors name the shapes.
    dims = (E, kdim, vdim); wdt the parameters' dtype."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_WHO}: {name} must be a Tensor, got {type(t).__name__}")
    qs, ks, vs = query.array.shape, key.array.shape, value.array.shape
    if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs):
        raise ValueError(f"{_WHO}: query, key and value must all be 3-D (batched) or 2-D "
                         f"(unbatched), got {qs}, {ks}, {vs}")
    for name, s, dim in zip(("query", "key", "value"), (qs, ks, vs), dims):
        if s[-1] != dim:
            raise ValueError(f"{_WHO}: {name} of shape {s} must have last dim {dim}")
    if ks[:-1] != vs[:-1]:
        raise ValueError(f"{_WHO}: key {ks} and value {vs} must have the same leading dims")
    batch_axis = 0 if batch_first else 1
    if len(qs) == 3 and qs[batch_axis] != ks[batch_axis]:
        raise ValueError(f"{_WHO}: query {qs} and key {ks} have different batch sizes "
                         f"(batch_first={batch_first})")
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.array.dtype != wdt:
            raise TypeError(f"{_WHO}: {name} dtype {t.array.dtype} does not match the "
                            f"parameters' dtype {wdt}")
    return len(qs) == 3


def _project(query, key, value, e, in_proj_weight, in_proj_bias, separate, self_attention):
    """q, k, v = the three input projections (one GEMM when they share the input)."""
    b = in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
    if separate is not None:
        wq, wk, wv = separate
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    w = in_proj_weight
    if self_attention:
        return chunk(linear(query, w, b), 3, -1)
    if key is value:
        kv = linear(key, w[e:], None if b is None else b[e:])
        return (linear(query, w[:e], bq), *chunk(kv, 2, -1))
    return (linear(query, w[:e], bq), linear(key, w[e:2 * e], bk),
            linear(value, w[2 * e:], bv))


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask=None,
    need_weights: bool = True,
    attn_mask=None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    batch_first: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """torch's F.multi_head_attention_forward: query (L, N, E), key (S, N, kdim), value
    (S, N, vdim), or unbatched (L, E) ... -> (attn_output (L, N, E), attn_weights (N, L, S),
    or (N, H, L, S) with average_attn_weights=False, or None when need_weights=False).

    key_padding_mask (N, S) and attn_mask (L, S) or (N H, L, S): bool True = not allowed to
    attend, float = added to the scores. is_causal is a hint that attn_mask is the causal
    mask (attn_mask is still required, as torch). batch_first=True (a zengrad keyword):
    inputs and output are (N, L, E), as nn.MultiheadAttention(batch_first=True) passes them,
    with no transposes. bias_k/bias_v, add_zero_attn, static_k/static_v are not supported.
    """
    if bias_k is not None or bias_v is not None or add_zero_attn:
        raise NotImplementedError(f"{_WHO}: add_bias_kv and add_zero_attn are not supported")
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{_WHO}: static_k and static_v are not supported")
    e, h = int(embed_dim_to_check), int(num_heads)
    if h <= 0 or e % h:
        raise ValueError(f"{_WHO}: embed_dim ({e}) must be divisible by num_heads ({h})")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_WHO}: dropout must be in [0, 1], got {dropout_p}")
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight \
        else None
    if separate is not None:
        if any(w is None for w in separate):
            raise ValueError(f"{_WHO}: use_separate_proj_weight=True needs q_proj_weight, "
                             "k_proj_weight and v_proj_weight")
        dims = (e, k_proj_weight.array.shape[1], v_proj_weight.array.shape[1])
    elif in_proj_weight is None:
        raise ValueError(f"{_WHO}: in_proj_weight is None (pass use_separate_proj_weight=True "
                         "with q/k/v_proj_weight)")
    else:
        dims = (e, e, e)
    self_attention = query is key and key is value and separate is None
    batched = _check_inputs(query, key, value, dims, batch_first,
                            out_proj_weight.array.dtype)
    bf = batch_first or not batched
    if not batched:  # as a batch of one, batch first
        query, key, value = (t.reshape(1, *t.array.shape) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = backend.xp_of(query.array).asarray(
                key_padding_mask.array if isinstance(key_padding_mask, Tensor)
                else key_padding_mask
            ).reshape(1, -1)
    qsh = query.array.shape
    n, length = (qsh[0], qsh[1]) if bf else (qsh[1], qsh[0])
    src_len = key.array.shape[1] if bf else key.array.shape[0]
    dt = query.array.dtype

    if is_causal and attn_mask is None:
        raise RuntimeError(
            f"{_WHO}: need attn_mask if specifying the is_causal hint (make one with "
            "generate_square_subsequent_mask)"
        )
    causal = is_causal and key_padding_mask is None and not need_weights
    xp = backend.xp_of(query.array)
    if causal:
        mask = causal_additive(length, src_len, dt, xp)
    else:
        mask = _merged_mask(attn_mask, key_padding_mask, h, n, length, src_len, dt, xp)
    p = float(dropout_p) if training else 0.0
    rows = qsh[:2]
    out_shape = (*(rows if batched else rows[1:]), e)

    if not need_weights and self_attention:
        # the scores' 1 / sqrt(d) folded into the query's rows of the packed projection: a
        # pass over (3E, E) and (3E,) instead of over q and dq ((N L, E) each)
        col = xp.ones((3 * e, 1), dt)
        col[:e] = 1.0 / math.sqrt(e // h)
        w = in_proj_weight * Tensor._make(col, False, None)
        b = None if in_proj_bias is None else (
            in_proj_bias * Tensor._make(col.reshape(3 * e), False, None))
        qkv = linear(query.reshape(-1, e), w, b)
        ctx = SelfAttentionPackedFn.apply(qkv, mask, h, bf, p, rows, 1.0)
        return linear(ctx, out_proj_weight, out_proj_bias).reshape(*out_shape), None

    q, k, v = _project(query, key, value, e, in_proj_weight, in_proj_bias, separate,
                       self_attention)
    q, k, v = (_heads(t, h, bf) for t in (q, k, v))
    scale = 1.0 / math.sqrt(e // h)
    if not need_weights:
        o = ScaledDotProductAttentionFn.apply(q, k, v, mask, scale, p)
        weights = None
    else:
        scores = matmul(q * scale, k.transpose(-1, -2))
        if mask is not None:
            scores = scores + Tensor._make(mask, False, None)
        weights = softmax(scores, -1)
        if p > 0:
            weights = dropout(weights, p, True)
        o = matmul(weights, v)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.reshape(*weights.array.shape[1:])
    out = linear(_merge_heads(o, bf), out_proj_weight, out_proj_bias)
    return out.reshape(*out_shape), weights
