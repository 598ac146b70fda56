"""Batch normalization as one fused op with the closed-form backward.

train: mu, var = mean and biased variance over every axis but C (M values per channel)
       xhat = (x - mu) / sqrt(var + eps),  y = w xhat + b
       dx = (w invstd / M) (M g - sum(g) - xhat sum(g xhat)),  dw = sum(g xhat),  db = sum(g)
       running <- (1 - m) running + m batch  (the variance unbiased: var M / (M - 1))
eval:  the same with the running mean/variance: dx = g w invstd.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops import threads
from zengrad.ops.args import shape_str
from zengrad.ops.blas_threads import one_blas_thread
from zengrad.ops.norm_kernels import AFFINE, BATCH_DX
from zengrad.ops.scratch import scratch

# ops.scratch slot of the one-visit backward: g's copied piece (a C-ordered g, in cache)
_PIECE = ("batchnorm", "piece")
# the one-visit passes take blocks of 2 cache blocks (4 channels of the BasicBlock's 32x32x32).
# Alone, forward / backward ms, 2 threads: 3.0 / 3.0 at 2 channels a block, 2.35 / 2.35 at 4;
# 1 thread 3.0 / 3.2 and 3.1 / 3.3 (each block's dozen small calls pass the GIL back and forth)
WHOLE_CHANNEL_CACHE_BLOCKS = 2  # threads.CACHE_BLOCK values each


def update_running_stats(running_mean, running_var, mu, var, momentum: float, m: int) -> None:
    """running <- (1 - momentum) running + momentum batch, in place (either may be None);
    the variance unbiased: var m / (m - 1) for m values per channel."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mu
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += (momentum * m / (m - 1)) * var


def affine(xhat, w, b, bshape: tuple):
    """y = w xhat + b per channel (w, b of shape (C,), either may be None): a new array."""
    if w is None:
        return xhat.copy() if b is None else xhat + b.reshape(bshape)
    y = xhat * w.reshape(bshape)
    if b is not None:
        y += b.reshape(bshape)
    return y


class _Rows:
    """x (N, C, *S) seen as a 2-D array of rows (R, L), each row L values of one channel:
    C-contiguous x as (N C, prod S) with row r in channel r mod C, channel-major x (conv's
    output: memory (C, N, *S)) as (C, N prod S) with row r in channel r. Per-row sums folded
    per channel in a fixed order give the statistics; blocks of rows run one at a time (their
    temporaries stay in cache) and, large, on the thread pool (zengrad.ops.threads)."""

    __slots__ = ("shape", "major", "rows", "length", "per")

    def __init__(self, shape: tuple, channel_major: bool):
        n, c = shape[:2]
        self.shape, self.major = shape, channel_major
        self.length = math.prod(shape[2:]) * (n if channel_major else 1)
        self.rows = c if channel_major else n * c
        self.per = max(1, threads.CACHE_BLOCK // self.length)  # rows per block

    @staticmethod
    def of(x, *same_dtype) -> _Rows | None:
        """The row view's plan for x, or None where the plain path is taken: device arrays,
        other layouts, rows too short to pay, parameters of another dtype."""
        if type(x) is not np.ndarray or x.ndim < 3 or x.size == 0:
            return None
        if any(a is not None and a.dtype != x.dtype for a in same_dtype):
            return None
        if x.transpose(1, 0, *range(2, x.ndim)).flags.c_contiguous:
            plan = _Rows(x.shape, True)
        elif x.flags.c_contiguous:
            plan = _Rows(x.shape, False)
        else:
            return None
        return plan if plan.length >= 16 else None

    def view(self, a):
        """a's (R, L) view, or None when a is not laid out as x."""
        if self.major:
            t = a.transpose(1, 0, *range(2, a.ndim))
            return t.reshape(self.rows, self.length) if t.flags.c_contiguous else None
        return a.reshape(self.rows, self.length) if a.flags.c_contiguous else None

    def empty(self, xp, dtype):
        """(a new array laid out as x, its row view)."""
        n, c, *rest = self.shape
        if self.major:
            a = xp.empty((c, n, *rest), dtype)
            return a.transpose(1, 0, *range(2, a.ndim)), a.reshape(self.rows, self.length)
        a = xp.empty(self.shape, dtype)
        return a, a.reshape(self.rows, self.length)

    def rows_of(self, xp, a):
        """a's row view, a copied into x's layout first when it has another one."""
        v = self.view(a)
        if v is None:
            full, v = self.empty(xp, a.dtype)
            full[...] = a
        return v

    def expand(self, xp, v):
        """A per-channel vector (C,) as a per-row column (R, 1)."""
        if not self.major:
            v = xp.tile(v, self.shape[0])
        return v[:, None]

    def fold(self, p):
        """Per-row partial sums (R,) to per-channel sums (C,): a fixed order of additions, so
        the same bits however the blocks were spread over threads."""
        return p if self.major else p.reshape(self.shape[0], self.shape[1]).sum(axis=0)

    def each_block(self, fn, arrays, per: int | None = None) -> None:
        """fn(*blocks) over the row blocks of arrays (first axis: rows; `per` rows each,
        default self.per), on the pool when large (zengrad.ops.threads.for_blocks)."""
        per = self.per if per is None else per
        threads.for_blocks(fn, arrays, block=per, least=threads.OP_PARALLEL_MIN)

    def channel_blocks(self) -> int:
        """Rows per block of the one-visit (whole-channel) passes: about
        WHOLE_CHANNEL_CACHE_BLOCKS cache blocks of values. Each row is computed on its own, so
        the block size changes no bit."""
        return max(1, WHOLE_CHANNEL_CACHE_BLOCKS * threads.CACHE_BLOCK // self.length)

    def row_sums(self, xp, fn, arrays, count: int) -> list:
        """For each row block: fn(*blocks) returns `count` per-row sums of the block (arrays
        of the block's rows, x's dtype); collected into (R,) arrays and folded per channel."""
        outs = [xp.empty(self.rows, arrays[0].dtype) for _ in range(count)]

        def block(*parts):
            k = len(outs)
            for o, r in zip(parts[:k], fn(*parts[k:])):
                o[...] = r

        self.each_block(block, (*outs, *arrays))
        return [self.fold(o) for o in outs]


def _normalize_rows(xp, lay: _Rows, x, mu, invstd, w, b):
    """xhat = (x - mu) invstd and y = w xhat + b through the row view: (xhat, y) laid out
    as x, the same ufuncs per element as affine()."""
    xhat, xhat_r = lay.empty(xp, x.dtype)
    y, y_r = lay.empty(xp, x.dtype)
    cols = [lay.expand(xp, mu), lay.expand(xp, invstd)]
    cols += [lay.expand(xp, v) for v in (w, b) if v is not None]
    has_w, has_b = w is not None, b is not None

    def block(xr, hr, yr, mr, ir, *wb):
        xp.subtract(xr, mr, out=hr)
        hr *= ir
        if has_w:
            xp.multiply(hr, wb[0], out=yr)
            if has_b:
                yr += wb[1]
        elif has_b:
            xp.add(hr, wb[0], out=yr)
        else:
            yr[...] = hr

    lay.each_block(block, (lay.view(x), xhat_r, y_r, *cols))
    return xhat, y


class BatchNormFn(Function):
    """y = w (x - mu) / sqrt(var + eps) + b with batch (training) or running statistics.
    Large NumPy inputs go through row blocks (_Rows): 3 passes over x forward (sum; centred
    squares; normalize and affine) and 2 backward (two sums; dx), where whole-array ufuncs
    take 11 and 13. A channel-major input (a convolution's output) in training has whole
    channels as rows, so each block is finished in one visit forward and backward, its
    per-channel sums as BLAS dot products (float64 within a few ulps of the row-sum path's)."""

    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, training, momentum, eps):
        xp = ctx.xp = backend.xp_of(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        lay = ctx.lay = _Rows.of(x, w, b, running_mean, running_var)
        m = x.size // x.shape[1]
        if training and lay is not None and lay.major:
            ctx.training, ctx.axes, ctx.bshape, ctx.w = training, axes, bshape, w
            mu, var, ctx.invstd, ctx.xhat, y = _train_forward_major(xp, lay, x, w, b, eps)
            update_running_stats(running_mean, running_var, mu, var, momentum, m)
            return y
        if training:
            if lay is None:
                mu = x.mean(axis=axes)
                xc = x - mu.reshape(bshape)
                var = xp.mean(xp.square(xc), axis=axes)
            else:
                (s1,) = lay.row_sums(xp, lambda xr: (xr.sum(axis=1),), (lay.view(x),), 1)
                mu = s1 / m

                def centred_squares(xr, mr):
                    t = xp.subtract(xr, mr)
                    xp.square(t, out=t)
                    return (t.sum(axis=1),)

                cols = (lay.view(x), lay.expand(xp, mu))
                (s2,) = lay.row_sums(xp, centred_squares, cols, 1)
                var = s2 / m
            update_running_stats(running_mean, running_var, mu, var, momentum, m)
        else:
            mu, var = running_mean, running_var
            if lay is None:
                xc = x - running_mean.reshape(bshape)
        invstd = 1 / xp.sqrt(var + eps)
        ctx.training, ctx.axes, ctx.bshape, ctx.invstd, ctx.w = training, axes, bshape, invstd, w
        if lay is not None:
            ctx.xhat, y = _normalize_rows(xp, lay, x, mu, invstd, w, b)
            return y
        xhat = xc
        xhat *= invstd.reshape(bshape)
        ctx.xhat = xhat
        return affine(xhat, w, b, bshape)

    @staticmethod
    def backward(ctx, g):
        xp, lay = ctx.xp, ctx.lay
        axes, bshape, xhat = ctx.axes, ctx.bshape, ctx.xhat
        needs = ctx.needs_input_grad
        want_sg = needs[2] or (needs[0] and ctx.training)
        want_sgx = needs[1] or (needs[0] and ctx.training)
        if lay is not None and g.dtype != xhat.dtype:
            lay = None
        if lay is not None and lay.major and ctx.training and needs[0]:
            sg, sgx, dx = _train_backward_major(xp, lay, g, xhat, ctx.w, ctx.invstd)
            return dx, sgx if needs[1] else None, sg if needs[2] else None, *(None,) * 5
        if lay is None:
            sg = g.sum(axis=axes) if want_sg else None
            sgx = xp.sum(g * xhat, axis=axes) if want_sgx else None
        else:
            g_r, h_r = lay.rows_of(xp, g), lay.view(xhat)

            def sums(gr, hr):
                out = (gr.sum(axis=1),) if want_sg else ()
                if want_sgx:
                    t = xp.multiply(gr, hr)
                    out += (t.sum(axis=1),)
                return out

            count = want_sg + want_sgx
            folded = lay.row_sums(xp, sums, (g_r, h_r), count) if count else []
            sg = folded.pop(0) if want_sg else None
            sgx = folded.pop(0) if want_sgx else None
        dx = None
        if needs[0]:
            scale = ctx.invstd if ctx.w is None else ctx.w * ctx.invstd
            m = g.size // g.shape[1]
            if lay is not None:
                dx = _dx_rows(xp, lay, g_r, h_r, scale, sg, sgx, m, ctx.training)
            elif ctx.training:
                # (w invstd) (g - sum(g)/M - xhat sum(g xhat)/M), sums per channel
                dx = xhat * (sgx / m).reshape(bshape)
                xp.subtract(g, dx, out=dx)
                dx -= (sg / m).reshape(bshape)
                dx *= scale.reshape(bshape)
            else:
                dx = g * scale.reshape(bshape)
        dw = sgx if needs[1] else None
        db = sg if needs[2] else None
        return dx, dw, db, None, None, None, None, None


@functools.lru_cache(maxsize=8)
def _ones(length: int, dtype) -> np.ndarray:
    """A read-only vector of `length` ones: a row block's sums as one matrix-vector product
    (NumPy only: the one-visit paths take NumPy arrays)."""
    ones = np.ones(length, dtype)  # host: the one-visit paths run on NumPy arrays only
    ones.flags.writeable = False
    return ones


def _channel_rows(a):
    """a (N, C, *S) as (C, N, *S): axis 0 is the channel (a view)."""
    return a.transpose(1, 0, *range(2, a.ndim))


def _train_forward_major(xp, lay: _Rows, x, w, b, eps: float):
    """Training forward for channel-major x, where each row of the row view is one whole
    channel: per block of channels, in one visit while the block is in cache, the mean, the
    centred squares' mean, invstd, xhat and y (x read from memory once, where the row-sum
    path reads it three times). The sums are BLAS products at one thread, sum(x) = x @ 1 and
    sum((x - mu)^2) = vecdot(x - mu, x - mu): one call each where x.sum and a squared
    temporary took three (per block of 4 channels, 1 thread: 28 -> 8 us and 41 -> 11 us;
    the forward alone 3.3 -> 2.2 ms); a row's order of additions depends on its length only,
    so the bits do not depend on the thread count. Returns mu, var, invstd (C,) and xhat, y."""
    m = lay.length
    xhat, xhat_r = lay.empty(xp, x.dtype)
    y, y_r = lay.empty(xp, x.dtype)
    mu, var, invstd = (xp.empty(lay.rows, x.dtype) for _ in range(3))
    params = [v for v in (w, b) if v is not None]
    has_w, has_b = w is not None, b is not None

    ones = _ones(m, x.dtype)
    finish = AFFINE[has_w, has_b]

    def block(xr, hr, yr, mu_r, var_r, inv_r, *wb):
        xp.matmul(xr, ones, out=mu_r)
        mu_r /= m
        xp.subtract(xr, mu_r[:, None], out=hr)
        xp.vecdot(hr, hr, out=var_r)
        var_r /= m
        inv_r[...] = 1 / xp.sqrt(var_r + eps)
        # xhat = (x - mu) invstd and y = w xhat + b in one pass (ops.kernels)
        finish([hr, inv_r[:, None], *(v[:, None] for v in wb)], (), [yr])

    arrays = (lay.view(x), xhat_r, y_r, mu, var, invstd, *params)
    with one_blas_thread():  # the BLAS sums in a fixed order whatever the thread count
        lay.each_block(block, arrays, lay.channel_blocks())
    return mu, var, invstd, xhat, y


def _train_backward_major(xp, lay: _Rows, g, xhat, w, invstd):
    """Training backward for channel-major xhat: per block of whole channels, sum(g),
    sum(g xhat) and then dx of those channels while the block is in cache (g and xhat read
    from memory once, not twice). g in another layout (C order, after a residual add) is
    copied block by block into a cached piece, not as a whole. sum(g) = g @ 1 and
    sum(g xhat) = vecdot(g, xhat) are BLAS products at one thread, as in the forward (the
    backward alone 3.7 -> 2.65 ms, 1 thread). Returns sum(g), sum(g xhat) (C,) and dx laid
    out as x."""
    m = lay.length
    dx, dx_r = lay.empty(xp, g.dtype)
    sg, sgx = xp.empty(lay.rows, g.dtype), xp.empty(lay.rows, g.dtype)
    scale = invstd if w is None else w * invstd
    g_r = lay.view(g)
    dense = g_r is not None
    if not dense:
        g_r = _channel_rows(g)  # (C, N, *S), strided

    def block(gr, hr, dr, sg_r, sgx_r, sc):
        if not dense:
            piece = scratch(xp, hr.shape, gr.dtype, _PIECE)
            piece.reshape(gr.shape)[...] = gr
            gr = piece
        xp.matmul(gr, ones, out=sg_r)
        xp.vecdot(gr, hr, out=sgx_r)
        # dx = (g - xhat sum(g xhat) / m - sum(g) / m) scale in one pass (ops.kernels)
        BATCH_DX([gr, hr, (sgx_r / m)[:, None], (sg_r / m)[:, None], sc[:, None]], (), [dr])

    ones = _ones(m, g.dtype)
    with one_blas_thread():  # the BLAS sums in a fixed order whatever the thread count
        lay.each_block(block, (g_r, lay.view(xhat), dx_r, sg, sgx, scale), lay.channel_blocks())
    return sg, sgx, dx


def _dx_rows(xp, lay: _Rows, g_r, h_r, scale, sg, sgx, m: int, training: bool):
    """dx through the row view, laid out as x: the plain path's ufuncs per element."""
    dx, dx_r = lay.empty(xp, g_r.dtype)
    sc = lay.expand(xp, scale)
    if training:
        k1, k2 = lay.expand(xp, sgx / m), lay.expand(xp, sg / m)

        def block(gr, hr, dr, k1r, k2r, sr):
            xp.multiply(hr, k1r, out=dr)
            xp.subtract(gr, dr, out=dr)
            dr -= k2r
            dr *= sr

        lay.each_block(block, (g_r, h_r, dx_r, k1, k2, sc))
    else:
        lay.each_block(lambda gr, dr, sr: xp.multiply(gr, sr, out=dr), (g_r, dx_r, sc))
    return dx


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) of input (N, C, *); in training use the batch statistics
    and update running_mean/running_var in place (when given), else use the running ones."""
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm: input must be a Tensor, got {type(input).__name__}")
    shape = input.array.shape
    if input.array.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape "
            f"{shape_str(shape)}"
        )
    c = shape[1]
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and (not isinstance(t, Tensor) or t.array.shape != (c,)):
            got = shape_str(t.array.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"batch_norm: {name} must have shape ({c},) to match input of shape "
                f"{shape_str(shape)}, got {got}"
            )
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when not training")
    if training and input.array.size // max(c, 1) <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {shape_str(shape)}"
        )
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
    return BatchNormFn.apply(input, weight, bias, rm, rv, bool(training), momentum, eps)
