"""Scaled dot-product attention as one fused op with the backward written out.

    S = (q * scale) k^T + mask,   P = softmax(S) over keys,   O = (P * M) v
    dV = (P M)^T dO,   dP = (dO v^T) M,   dS = P (dP - rowsum(dP P)),
    dq = scale dS k,   dk = dS^T (q * scale),   dmask = dS (summed over broadcast axes)
M is the dropout mask (1 / (1 - p) where kept, 0 where dropped; all ones without dropout).
rowsum(dP P) equals rowsum(dO O) (FlashAttention's trick), an (L, 1) reduction of an
(L, Ev) product instead of an (L, S) one.

Fully masked rows (every key masked out by a bool mask, or -inf everywhere in a float mask)
give P = 0, so O = 0 and no gradient flows through them: torch 2.13's math path
(`_safe_softmax`) does the same, where a plain softmax would give NaN.

`SelfAttentionPackedFn` is the same computation reading q, k, v for all heads straight out of
one packed projection (.., 3E) as strided views, and writing the context in the layout the
output projection wants: MultiheadAttention's self-attention needs no copies, slices or
transposes in the graph.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.ops import blas_threads, float32_math, kernels

_NEG_INF = -np.inf


# ------------------------------------------------------------------ the shared math


def _softmax_cols_(xp, st, masked: bool):
    """softmax over axis -2 (the keys of transposed scores), in place; columns that are -inf
    everywhere become 0 (with a mask; without one they give NaN, as exp(-inf - -inf))."""
    kernel = _fused_softmax() if xp is np and st.dtype == np.float32 else None
    if kernel is not None and st.flags.c_contiguous:
        kernel[masked](st.reshape(math.prod(st.shape[:-2]), *st.shape[-2:]))
        return st
    m = st.max(axis=-2, keepdims=True)
    dead = None
    if masked:
        dead = xp.isneginf(m)
        if dead.any():
            m[dead] = 0  # exp(-inf - 0) = 0 instead of exp(nan)
        else:
            dead = None
    st -= m
    xp.exp(st, out=st)
    # the column sums as one batched GEMV with a row of ones: 4x faster here than
    # st.sum(axis=-2), which NumPy runs as one short inner loop per row
    tot = xp.matmul(xp.ones((1, st.shape[-2]), st.dtype), st)
    if dead is not None:
        tot[dead] = 1  # 0 / 1 = 0 for the dead queries
    xp.reciprocal(tot, out=tot)
    st *= tot
    return st


@functools.cache
def _fused_softmax():
    """{masked: k(st)}: the column softmax of float32 scores st (B, S, L) in place, one item's
    (S, L) block at a time while it is in cache: column maxima m, then e = exp(st - m) (ops.
    float32_math's exp) and the column sums t in one pass, then st = e (1 / t), vectorized
    along the contiguous L axis. NaN propagates through m; with a mask, a column with m = -inf
    (every key masked) gets m = 0 and t = 1, so it becomes 0. NumPy's passes took 2.1 ms for
    (32, 4, 64, 64) at one thread (4 ns an element; exp 1.4 of them). None without Numba."""
    fns = float32_math.functions()
    if fns is None:
        return None
    numba = kernels.numba_module()
    exp32 = fns[0]
    one, zero, ninf = np.float32(1.0), np.float32(0.0), np.float32(-np.inf)

    def make(masked):
        @numba.njit(nogil=True, error_model="numpy")
        def softmax(st):
            items, keys, cols = st.shape
            m = np.empty(cols, np.float32)  # host: compiled, NumPy only
            t = np.empty(cols, np.float32)  # host
            for b in range(items):
                blk = st[b]
                m[:] = ninf
                for s_ in range(keys):
                    for c in range(cols):
                        x = blk[s_, c]
                        m[c] = x if (x > m[c] or x != x) else m[c]
                if masked:
                    for c in range(cols):
                        m[c] = zero if m[c] == ninf else m[c]
                t[:] = zero
                for s_ in range(keys):
                    for c in range(cols):
                        e = exp32(blk[s_, c] - m[c])
                        blk[s_, c] = e
                        t[c] += e
                for c in range(cols):
                    t[c] = one / (one if (masked and t[c] == zero) else t[c])
                for s_ in range(keys):
                    for c in range(cols):
                        blk[s_, c] *= t[c]
        return softmax

    return {True: make(True), False: make(False)}


def attention_forward(q, k, v, mask, scale: float, dropout_p: float, out=None, draw=None):
    """O = dropout(softmax(q k^T scale + mask)) v on arrays (..., L, E) (..., S, E) (..., S, Ev);
    returns O and what attention_backward needs. out: an array or strided view of O's shape
    to write O into (kept for the backward: the caller must not change it). draw: the
    dropout's uniform draws, (..., L, S), where the caller made them (None: drawn here).

    The scores are kept transposed, S^T (..., S, L): the softmax's max and sum then reduce
    over axis -2, which NumPy runs as whole-row vector ops along the contiguous L axis
    (measured 3x faster than reducing rows of 64 along axis -1); the GEMMs read the
    transposes as strided views at no cost."""
    xp = backend.xp_of_all("scaled_dot_product_attention", q, k, v, mask)
    dt = q.dtype
    qs = q if scale == 1 else q * dt.type(scale)  # 1: q comes scaled (the packed path)
    st = xp.matmul(k, xp.swapaxes(qs, -1, -2))
    if mask is not None:
        mt = xp.swapaxes(mask, -1, -2)
        if np.broadcast_shapes(st.shape, mt.shape) == st.shape:
            st += mt
        else:  # the mask has more batch dims than q and k: the result takes them
            st = st + mt
    pt = _softmax_cols_(xp, st, mask is not None)
    keep = None
    pdt = pt
    if dropout_p > 0:  # drawn in (..., L, S) order, as the untransposed scores
        if draw is None:
            draw = dropout_draw(xp, pt.shape[:-2] + pt.shape[:-3:-1], dt)
        keep = xp.swapaxes((draw >= dropout_p).astype(dt), -1, -2)
        keep *= dt.type(1.0 / (1.0 - dropout_p)) if dropout_p < 1 else dt.type(0)
        pdt = pt * keep
    out = xp.matmul(xp.swapaxes(pdt, -1, -2), v, out=out)
    return out, (xp, qs, k, v, pt, keep, out, dt.type(scale))


def dropout_draw(xp, shape: tuple, dt):
    """The dropout's uniform draws for scores of shape (..., L, S), in that order."""
    return backend.rng_for(xp).random(shape, dtype=dt)


def attention_backward(saved, g, need_q: bool, need_k: bool, need_v: bool, need_s: bool,
                       outs=(None, None, None)):
    """(dq, dk, dv, dS) for the incoming gradient g = dL/dO (unbroadcast by the caller);
    the work runs on the transposed (..., S, L) layout of attention_forward. outs: arrays
    (or strided views) of the full batch shape for dq, dk, dv to be written into (None:
    new arrays)."""
    xp, qs, k, v, pt, keep, out, scale = saved
    dq = dk = dv = None
    if need_v:
        pdt = pt if keep is None else pt * keep
        dv = xp.matmul(pdt, g, out=outs[2])
    if not (need_q or need_k or need_s):
        return dq, dk, dv, None
    dpt = xp.matmul(v, xp.swapaxes(g, -1, -2))
    if keep is not None:
        dpt *= keep
    delta = xp.einsum("...i,...i->...", g, out)[..., None, :]
    dpt -= delta
    dpt *= pt  # dpt is now dS^T
    if need_q:
        dq = xp.matmul(xp.swapaxes(dpt, -1, -2), k, out=outs[0])
        if scale != 1:
            dq *= scale
    if need_k:
        dk = xp.matmul(dpt, qs, out=outs[1])
    return dq, dk, dv, xp.swapaxes(dpt, -1, -2)


class ScaledDotProductAttentionFn(Function):
    """O = softmax(q k^T scale + mask) v (see the module docstring for the backward)."""

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, dropout_p):
        out, ctx.saved = attention_forward(q, k, v, mask, scale, dropout_p)
        ctx.shapes = (q.shape, k.shape, v.shape, None if mask is None else mask.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        dq, dk, dv, ds = attention_backward(ctx.saved, g, n[0], n[1], n[2], n[3])
        qsh, ksh, vsh, msh = ctx.shapes
        dq = None if dq is None else unbroadcast(dq, qsh)
        dk = None if dk is None else unbroadcast(dk, ksh)
        dv = None if dv is None else unbroadcast(dv, vsh)
        dm = unbroadcast(ds, msh) if n[3] else None
        return dq, dk, dv, dm, None, None


# batch items per block of the packed self-attention: from ATTN_SPLIT_MIN score elements the
# items run in ATTN_BLOCKS blocks (cut by shape only: every block's products and softmax are
# the ones of the whole batch, item by item, so the bits do not depend on the thread count) on
# zengrad's threads, BLAS held to one thread. Its batched products are too small for OpenBLAS
# to thread, so at 2 threads the whole core used to run on one.
ATTN_BLOCKS = 4
ATTN_SPLIT_MIN = 1 << 18
# the blocks go to zengrad's threads from ATTN_THREAD_MIN score elements, one after another
# below (as layernorm.ROW_THREAD_MIN: the encoder step at 2 threads, 2^19 score elements,
# took 0.85-0.92x the time so); the bits are the same either way
ATTN_THREAD_MIN = 1 << 21


class SelfAttentionPackedFn(Function):
    """Multi-head self-attention core on a packed projection.

    qkv (a b, 3E): the rows of (N, L) when batch_first else of (L, N), given as rows=(a, b);
    columns [q | k | v] with the heads contiguous inside each (PyTorch's in_proj layout).
    Returns the context (a b, E) in the same row order, ready for the output projection.
    mask: an additive constant broadcastable to (N, H, L, L). scale: the scores' factor
    (None: 1 / sqrt(E / H)); 1 when the caller folded it into q's projection, which saves
    the passes of q * scale and dq * scale.
    """

    @staticmethod
    def forward(ctx, qkv, mask, num_heads, batch_first, dropout_p, rows, scale=None):
        a, b = rows
        e = qkv.shape[-1] // 3
        d = e // num_heads
        xp = ctx.xp = backend.xp_of(qkv)
        q5 = qkv.reshape(a, b, 3, num_heads, d)
        # (N, H, L, d) strided views: batched matmul reads them without copies
        perm = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
        q, k, v = (q5[:, :, i].transpose(perm) for i in range(3))
        # the last GEMM writes the context straight into the (a, b, H, d) rows the output
        # projection reads (a strided view with unit inner stride: BLAS takes it as is)
        res = xp.empty((a, b, num_heads, d), qkv.dtype)
        out = res.transpose(perm)
        n, length = q.shape[0], q.shape[2]
        per = n
        if (xp is np and n * num_heads * length * length >= ATTN_SPLIT_MIN
                and (mask is None or mask.ndim <= 4)):
            per = -(-n // ATTN_BLOCKS)
        # a mask with a batch axis is cut with the items; one without is shared
        cut_mask = mask is not None and mask.ndim == 4 and mask.shape[0] == n > 1
        scale = 1.0 / math.sqrt(d) if scale is None else scale
        ctx.perm, ctx.shape5, ctx.per = perm, q5.shape, per
        # over_threads compares `least` with its first array's size, the item count: n + 1
        # keeps the blocks in turn on this thread
        ctx.least = 0 if n * num_heads * length * length >= ATTN_THREAD_MIN else n + 1
        if per >= n:
            _, saved = attention_forward(q, k, v, mask, scale, dropout_p, out=out)
            ctx.saved = {0: saved}
            return res.reshape(a * b, e)
        # drawn for the whole batch in one call, so the stream is the unsplit one
        draw = dropout_draw(xp, (n, num_heads, length, length), qkv.dtype) if dropout_p else None
        ctx.saved = {}

        def block(items, qb, kb, vb, ob) -> None:
            lo, hi = int(items[0]), int(items[-1]) + 1
            _, ctx.saved[lo] = attention_forward(
                qb, kb, vb, mask[lo:hi] if cut_mask else mask, scale, dropout_p, out=ob,
                draw=None if draw is None else draw[lo:hi])

        items = np.arange(n)  # host: the items' indices (blocks run on NumPy arrays only)
        blas_threads.over_threads(block, [items, q, k, v, out], per, ctx.least)
        return res.reshape(a * b, e)

    @staticmethod
    def backward(ctx, g):
        perm, (a, b, _, h, d) = ctx.perm, ctx.shape5
        go = g.reshape(a, b, h, d).transpose(perm)
        # the GEMMs write dq, dk, dv straight into the packed gradient's strided views
        # (each (L, d) slice has unit inner stride, so BLAS takes it as is): no copies
        d5 = ctx.xp.empty(ctx.shape5, g.dtype)
        outs = tuple(d5[:, :, i].transpose(perm) for i in range(3))
        if len(ctx.saved) == 1:
            attention_backward(ctx.saved[0], go, True, True, True, False, outs)
        else:
            def block(items, gb, dq, dk, dv) -> None:
                attention_backward(ctx.saved[int(items[0])], gb, True, True, True, False,
                                   (dq, dk, dv))

            items = np.arange(go.shape[0])  # host: the items' indices
            blas_threads.over_threads(block, [items, go, *outs], ctx.per, ctx.least)
        return d5.reshape(a * b, 3 * h * d), None, None, None, None, None, None


# ------------------------------------------------------------------ masks and the public API


def bool_to_additive(mask, dtype, take_part: bool = True):
    """A bool mask as an additive one (on the mask's device): 0 where attention is allowed,
    -inf where not. take_part=True: True means 'attend' (sdpa); False: True means 'masked
    out' (MHA)."""
    xp = backend.xp_of(mask)
    allowed = mask if take_part else ~mask
    return xp.where(allowed, xp.zeros((), dtype), xp.full((), _NEG_INF, dtype))


def causal_additive(length: int, src_len: int, dtype, xp=np):
    """(L, S) additive mask of the top-left aligned lower triangle (query i sees keys <= i),
    made with xp (the inputs' array module)."""
    allowed = xp.tri(length, src_len, dtype=bool)
    return bool_to_additive(allowed, dtype)


def _shape(x) -> str:
    return str(tuple(x.shape))


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(query key^T * scale + mask) value over (..., L, E), (..., S, E), (..., S, Ev).

    attn_mask: bool (True = take part in attention) or float (added to the scores, may
    require grad), broadcastable to (..., L, S). is_causal: query i attends to keys 0..i
    (top-left aligned when L != S); not together with attn_mask. scale defaults to
    1 / sqrt(E). dropout_p drops attention weights (always, as PyTorch's functional form:
    pass 0.0 in eval). Rows with every key masked give 0 (as torch 2.13's math path).
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got "
                            f"{type(t).__name__}")
        if t.array.dtype.kind != "f":
            raise TypeError(f"scaled_dot_product_attention: {name} must be floating point, "
                            f"got {t.array.dtype}")
        if t.array.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} needs at least 2 dims "
                             f"(..., length, features), got shape {_shape(t)}")
    dt = query.array.dtype
    if key.array.dtype != dt or value.array.dtype != dt:
        raise TypeError(
            "scaled_dot_product_attention: query, key and value must have the same dtype, got "
            f"{dt}, {key.array.dtype} and {value.array.dtype}"
        )
    qs, ks, vs = query.array.shape, key.array.shape, value.array.shape
    if qs[-1] != ks[-1]:
        raise ValueError(f"scaled_dot_product_attention: query {qs} and key {ks} must have the "
                         "same last dim (E)")
    if ks[-2] != vs[-2]:
        raise ValueError(f"scaled_dot_product_attention: key {ks} and value {vs} must have the "
                         "same length (S, second-to-last dim)")
    try:
        batch = np.broadcast_shapes(qs[:-2], ks[:-2], vs[:-2])
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: batch dims of query {qs}, key {ks} and "
                         f"value {vs} do not broadcast") from None
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p}")
    length, src_len = qs[-2], ks[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(qs[-1]) if qs[-1] > 0 else 1.0
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: explicit attn_mask should not be "
                             "set when is_causal=True")
        mask = causal_additive(length, src_len, dt, backend.xp_of(query.array))
    elif attn_mask is not None:
        mask = _sdpa_mask(attn_mask, dt, batch + (length, src_len), backend.xp_of(query.array))
    return ScaledDotProductAttentionFn.apply(query, key, value, mask, float(scale),
                                           float(dropout_p))


def _sdpa_mask(attn_mask, dt, scores_shape, xp):
    """attn_mask as a float Tensor (kept, for its gradient) or an additive constant array
    (array-likes are made on the query's device, xp)."""
    arr = attn_mask.array if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
    try:
        np.broadcast_shapes(arr.shape, scores_shape)
    except ValueError:
        raise ValueError(
            f"scaled_dot_product_attention: attn_mask of shape {tuple(arr.shape)} does not "
            f"broadcast to the attention scores (..., L, S) = {tuple(scores_shape)}"
        ) from None
    if arr.dtype == np.bool_:
        return bool_to_additive(arr, dt)
    if arr.dtype != dt:
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be bool or {dt} (the "
                        f"query's dtype), got {arr.dtype}")
    if isinstance(attn_mask, Tensor):
        return attn_mask
    return arr
