"""Pooling: max, average and adaptive average over windows, as KH*KW strided slices.

    max:  y[n, c, h, w] = max_{i, j} x_pad[n, c, s h + d i, s w + d j]          (pad = -inf)
    avg:  y[n, c, h, w] = sum_{i, j} x_pad[n, c, s h + i, s w + j] / divisor[h, w]  (pad = 0)
Forward loops over the KH*KW kernel offsets only; each offset is one strided view of the whole
batch. Max-pool gradient goes to ONE element per window, the first maximum in row-major window
order (PyTorch's rule for ties); a window holding NaN passes it to its last NaN and a window
of -inf to its first real element, as torch (by its indices, below). 1-D pools are 2-D pools
of height 1.
return_indices=True: the argmax of each window as torch's flat per-plane index h * W + w
(int64); the values are then x gathered at those indices, and the gradient scatters back
through them (so ties, -inf and NaN windows follow torch's indices exactly).
max_unpool: y = zeros with y.plane[idx] = x (the adjoint gather is its backward).
"""

from __future__ import annotations

import functools
import math
from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops import jit_cache, kernels, threads
from zengrad.ops.args import check_positive, ntuple, shape_str


# ----- geometry -------------------------------------------------------------------------------
def pool_out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """floor-or-ceil((L + 2p - d (k - 1) - 1) / s) + 1; in ceil mode the last window must start
    inside the input or the left padding (PyTorch's rule)."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _offsets(k, s, d, out):
    """Slices picking, for kernel offset i, the positions s*o + d*i of every output o."""
    return [slice(d * i, d * i + s * (out - 1) + 1, s) for i in range(k)]


def _padded(x, pt: int, pl: int, size, fill):
    """x (N, C, H, W) at offset (pt, pl) in a (N, C, *size) buffer of fill, in x's memory order."""
    if pt == pl == 0 and size == x.shape[2:]:
        return x
    n, c, h, w = x.shape
    xp = backend.xp_of(x)
    if x.transpose(1, 0, 2, 3).flags.c_contiguous:  # channel-major activations stay so
        buf = xp.full((c, n, *size), fill, x.dtype).transpose(1, 0, 2, 3)
    else:
        buf = xp.full((n, c, *size), fill, x.dtype)
    buf[:, :, pt : pt + h, pl : pl + w] = x
    return buf


def _geometry(shape, kernel, stride, padding, dilation, ceil_mode):
    """Output size, padded buffer size (covering every window) and whether the windows
    tile the buffer exactly (then backward can write each slice instead of adding)."""
    h, w = shape[2:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = pool_out_size(h, kh, sh, ph, dh, ceil_mode)
    ow = pool_out_size(w, kw, sw, pw, dw, ceil_mode)
    need_h = max((oh - 1) * sh + dh * (kh - 1) + 1, h + ph)
    need_w = max((ow - 1) * sw + dw * (kw - 1) + 1, w + pw)
    tiles = dh == dw == 1 and sh == kh and sw == kw and need_h == oh * kh and need_w == ow * kw
    return (oh, ow), (need_h, need_w), tiles


def _lowest(dtype):
    """The padding value that never wins a max: -inf, or an integer dtype's lowest value."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min if dtype.kind in "iu" else 0


def _window_max(x, kernel, stride, padding, dilation, ceil_mode):
    """The -inf padded input, the window maxima (NaN-propagating) and the offset slices."""
    xp = backend.xp_of(x)
    (oh, ow), size, tiles = _geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    xpad = _padded(x, padding[0], padding[1], size, _lowest(x.dtype))
    rows = _offsets(kernel[0], stride[0], dilation[0], oh)
    cols = _offsets(kernel[1], stride[1], dilation[1], ow)
    windows = [(r, q) for r in rows for q in cols]
    r, q = windows[0]
    out = xp.empty_like(xpad[:, :, r, q], order="K")

    def window_max(xp_, o):
        views = [xp_[:, :, r, q] for r, q in windows]
        if len(views) == 1:
            o[...] = views[0]
            return
        # maximum(a, b) returns b where a == b: the earlier window element goes second so
        # that a tie of -0.0 and 0.0 keeps the first one's sign (torch's first maximum)
        xp.maximum(views[1], views[0], out=o)
        for v in views[2:]:
            xp.maximum(v, o, out=o)

    # pieces along N (the padded input and the output share that axis)
    threads.split_rows(window_max, (xpad, out))
    return xpad, out, rows, cols, tiles


# ----- 2x2 max pooling over dense rows -----------------------------------------------------------
# kernel 2, stride 2, no padding or dilation, even H and W, on an input whose memory holds
# whole rows of W with H the next axis (C order, or conv's channel-major activations): as
# (R, W) rows in memory order, the window max is a max over the two halves of each row pair
# and then over the two rows. The first pass reads the flat rows at stride 2 in ONE long loop
# (NumPy gets no such loop from an (OH, OW) view with step 2 on both axes: 14-float inner
# loops, 15-20 ns each), and the per-pass masks are dense arrays of the halved sizes.
# LeNet-5 pool 1 (6 x 64 x 28 x 28 channel-major), 1 thread: forward + backward 832 -> 650 us
# (the forward 195 -> 330, the backward 637 -> 320). Where Numba runs, one compiled pass each
# way instead (the argmax place of each window saved as one byte): fwd + bwd through autograd
# 500 -> 221 us (session 9, AVX-512 machine); the same bits (max is exact, g lands unchanged).


def _dense_rows(x):
    """(order, x.transpose(order) as (R, W) rows) when x (N, C, H, W) lies densely in memory
    with W its innermost axis and H the next; else None. Size-1 axes count as outermost."""
    order = sorted(range(4), key=lambda k: (x.shape[k] > 1, -abs(x.strides[k])))
    if order[2:] != [2, 3] or x.strides[3] != x.itemsize:
        return None
    t = x.transpose(order)
    if not t.flags.c_contiguous:
        return None
    return order, t.reshape(-1, x.shape[3])


def _pool2x2_ok(x, kernel, stride, padding, dilation) -> bool:
    """Whether max pooling takes the 2x2 dense-rows path (NumPy floats only)."""
    if kernel != (2, 2) or stride != (2, 2) or any(padding) or dilation != (1, 1):
        return False
    if type(x) is not np.ndarray or x.dtype.kind != "f" or x.size == 0:
        return False
    return x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 and _dense_rows(x) is not None


def _from_rows(flat, order, shape):
    """A flat array in memory order `order` as the (N, C, H, W) array of that shape."""
    t = flat.reshape(tuple(shape[k] for k in order))
    return t.transpose(np.argsort(order))  # host: an axis order


# The two kernels index flat arrays with unsigned indices: a signed index makes Numba check
# for negative ones on every access, which kept the loops 3-4x slower (forward 380 us, LeNet's
# pool 1, against 87; the backward's four select-stores per window 273 us against 71 for a
# zeroing pass and one store).
# The forward finds each window's place from comparisons with its max, in integer arithmetic,
# not by carrying the place through the max's selects: LLVM vectorizes the latter only with
# AVX-512's mask registers; on AVX2 it left the loop scalar, each select a branch that random
# data mispredicts (LeNet's pool 1, Zen 3: 1,150 us against 300-450 now, float32 and 64).

def _max2x2(pair, out, idx):  # pragma: no cover - compiled by Numba
    """out[i, j] = the max of window j of row pair i (pair (R/2, 2W): the two rows side by
    side), idx[i, j] = its place 0-3 in row-major window order: torch's rule, the first
    maximum, or the last NaN (`v > m or v != v`), so the output holds the NaN too.

    The place: with a real max m, the first element equal to it, k = na + na nb + na nb nc
    (n_v = [v != m]); with a NaN max every n_v is 1 (k = 3), less the run of real values at
    the window's end, s_d + s_d s_c + s_d s_c s_b (s_v = [v == v]): the last NaN."""
    r2, w2 = out.shape
    w = 2 * w2
    pf, of, xf = pair.reshape(pair.size), out.reshape(out.size), idx.reshape(idx.size)
    for i in range(r2):
        for j in range(w2):
            p = np.uint64(2 * (i * w + j))
            a, b = pf[p], pf[p + np.uint64(1)]
            c, d = pf[p + np.uint64(w)], pf[p + np.uint64(w + 1)]
            m = b if (b > a) | (b != b) else a
            m = c if (c > m) | (c != c) else m
            m = d if (d > m) | (d != d) else m
            q = np.uint64(i * w2 + j)
            of[q] = m
            na, nb, nc = np.int64(a != m), np.int64(b != m), np.int64(c != m)
            sb, sc, sd = np.int64(b == b), np.int64(c == c), np.int64(d == d)
            first = na + (na & nb) + (na & nb & nc)
            xf[q] = first - np.int64(m != m) * (sd + (sd & sc) + (sd & sc & sb))


def _max2x2_grad(g, idx, dx, zero):  # pragma: no cover - compiled by Numba
    """dx (R/2, 2W) = g[i, j] at window j's place idx[i, j] of row pair i, zero elsewhere."""
    r2, w2 = g.shape
    w = 2 * w2
    gf, xf, df = g.reshape(g.size), idx.reshape(idx.size), dx.reshape(dx.size)
    for f in range(dx.size):
        df[np.uint64(f)] = zero
    for i in range(r2):
        for j in range(w2):
            q = np.uint64(i * w2 + j)
            k = np.int64(xf[q])
            df[np.uint64(2 * (i * w + j) + (k >> 1) * w + (k & 1))] = gf[q]


@functools.cache
def _compiled_2x2():
    """The 2x2 window kernels compiled (on the first call)."""
    jit = functools.partial(jit_cache.compile_function, nogil=True, error_model="numpy")
    return jit(_max2x2), jit(_max2x2_grad)


def _pool2x2_forward(x, masks: bool):
    """(y, (order, mh, mv, idx)): y the 2x2 window maxima in x's memory order.

    Where Numba runs, one compiled pass (_max2x2) writes y and, with masks, each window's
    argmax place idx (R/2, W/2, uint8), NaN windows included. Otherwise NumPy passes: mh
    (R, W/2) = 1.0 where a row's right element beats its left one (strictly: a tie goes left)
    and mv (R/2, W/2) = 1.0 where the upper row's pair max is the window's (a tie goes up), so
    following them picks each window's first maximum in row-major order. y is the same bits."""
    xp = backend.xp_of(x)
    order, rows = _dense_rows(x)
    r, w = rows.shape
    n, c, h, _ = x.shape
    pair = rows.reshape(r // 2, 2 * w)  # a row pair: axis 0 is what threads may split
    out = xp.empty((r // 2, w // 2), x.dtype)
    yshape = (n, c, h // 2, w // 2)
    if kernels.numba_enabled():
        idx = xp.empty((r // 2, w // 2), np.uint8)
        threads.split_rows(_compiled_2x2()[0], (pair, out, idx))
        return _from_rows(out, order, yshape), (order, None, None, idx if masks else None)
    half = xp.empty((r // 2, w), x.dtype)  # each row's pair maxima, the two rows side by side
    mh = xp.empty((r // 2, w), x.dtype) if masks else None
    mv = xp.empty((r // 2, w // 2), x.dtype) if masks else None

    def run(pair, half, out, mh=None, mv=None):
        flat, hf = pair.reshape(-1), half.reshape(-1)
        left, right = flat[0::2], flat[1::2]
        if mh is not None:
            xp.greater(right, left, out=mh.reshape(-1), casting="unsafe")
        xp.maximum(right, left, out=hf)  # (a tie keeps the first's sign: see window_max)
        up, down = half[:, : w // 2], half[:, w // 2 :]
        xp.maximum(down, up, out=out)
        if mv is not None:  # the upper row wins where it holds the max (a tie too)
            xp.equal(out, up, out=mv, casting="unsafe")  # 47 us; greater(down, up) 75

    threads.split_rows(run, (pair, half, out) + ((mh, mv) if masks else ()))
    return _from_rows(out, order, yshape), (order, mh, mv, None)


def _pool2x2_backward(g, xshape, saved):
    """dx: g routed down the masks, g * mv to the upper row and the rest to the lower, then
    within the row g * mh to the right element and the rest to the left (g - g m is g or 0
    exactly: m is 1 or 0)."""
    xp = backend.xp_of(g)
    order, mh, mv, idx = saved
    r2, w = (idx.shape[0], 2 * idx.shape[1]) if idx is not None else mh.shape
    gt = g.transpose(order)
    if not gt.flags.c_contiguous:  # g in y's memory order (a flattened y comes back C-ordered)
        gt = xp.ascontiguousarray(gt)
    gt = gt.reshape(r2, w // 2)
    dx = xp.empty((r2, 2 * w), g.dtype)
    if idx is not None:  # (the compiled forward's argmax places)
        zero = g.dtype.type(0)
        threads.split_rows(lambda d, gp, ip: _compiled_2x2()[1](gp, ip, d, zero), (dx, gt, idx))
        return _from_rows(dx, order, xshape)
    half = xp.empty((r2, w), g.dtype)

    def run(dx, half, gt, mh, mv):
        up, down = half[:, : w // 2], half[:, w // 2 :]
        xp.multiply(gt, mv, out=up)
        xp.subtract(gt, up, out=down)
        flat, hf = dx.reshape(-1), half.reshape(-1)
        xp.multiply(hf, mh.reshape(-1), out=flat[1::2])
        xp.subtract(hf, flat[1::2], out=flat[0::2])

    threads.split_rows(run, (dx, half, gt, mh, mv))
    return _from_rows(dx, order, xshape)


class MaxPool2dFn(Function):
    """y = max over each window;  dL/dx = g at the first maximum of each window, 0 elsewhere.
    Large inputs are cut along N into pieces run on the thread pool (zengrad.ops.threads):
    every step is elementwise over the windows, so the pieces give one call's bits."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        ctx.xp = backend.xp_of(x)
        ctx.fast = _pool2x2_ok(x, kernel, stride, padding, dilation)
        if ctx.fast:
            out, ctx.saved = _pool2x2_forward(x, masks=ctx.needs_input_grad[0])
            ctx.x, ctx.out, ctx.steps = x, out, (stride, dilation)
            ctx.geom = (kernel, padding, ceil_mode)
            return out
        xpad, out, rows, cols, tiles = _window_max(x, kernel, stride, padding, dilation, ceil_mode)
        ctx.xpad, ctx.out, ctx.geom = xpad, out, (rows, cols, padding, x.shape, tiles)
        ctx.steps = (stride, dilation)
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.fast:
            x = ctx.x
            if ctx.saved[3] is not None or not ctx.xp.isnan(ctx.out).any():
                return _pool2x2_backward(g, x.shape, ctx.saved), None, None, None, None, None
            # a NaN window: torch's indices, as below
            stride, dilation = ctx.steps
            kernel, padding, ceil_mode = ctx.geom
            _, out, rows, cols, _ = _window_max(x, kernel, stride, padding, dilation, ceil_mode)
            idx, empty = _argmax_indices(x, out, rows, cols, padding, stride, dilation, x.shape[2:])
            return _scatter_planes(g, idx, x.shape, empty), None, None, None, None, None
        rows, cols, padding, xshape, tiles = ctx.geom
        xp, xpad, out = ctx.xp, ctx.xpad, ctx.out
        if xp.isnan(out).any() or (any(padding) and xp.isneginf(out).any()):
            # a NaN window (torch: its last NaN gets g) or an all -inf window that can
            # touch the -inf padding (torch: its first real element): follow torch's indices
            stride, dilation = ctx.steps
            idx, empty = _argmax_indices(
                xpad, out, rows, cols, padding, stride, dilation, xshape[2:]
            )
            return _scatter_planes(g, idx, xshape, empty), None, None, None, None, None
        if g.strides != out.strides:
            # g in out's memory order (a flattened pool output comes back C-ordered while
            # conv's activations are channel-major): the loops below then read one order
            gd = xp.empty_like(out, dtype=g.dtype)
            gd[...] = g
            g = gd
        dxp = xp.empty_like(xpad) if tiles else xp.zeros_like(xpad)
        k = len(rows) * len(cols)
        win = [(r, q) for r in rows for q in cols]

        def first_max_grads(xp_, dp, o, gp):
            # window offset i gets g where it holds the max and no earlier offset did
            free = None  # windows whose gradient is not yet assigned
            for i, (r, q) in enumerate(win):
                hit = xp_[:, :, r, q] == o
                if free is None:
                    free = ~hit
                else:
                    hit &= free
                    if i < k - 1:
                        xp.greater(free, hit, out=free)  # free and not hit
                if tiles:  # the windows cover dxp once: write, no zeros to add to
                    xp.multiply(gp, hit, out=dp[:, :, r, q])
                else:
                    dp[:, :, r, q] += gp * hit

        threads.split_rows(first_max_grads, (xpad, dxp, out, g))
        ph, pw = padding
        return dxp[:, :, ph : ph + xshape[2], pw : pw + xshape[3]], None, None, None, None, None


def _argmax_indices(xpad, out, rows, cols, padding, stride, dilation, hw):
    """(idx, empty): the flat index h * W + w of each window's maximum (see
    max_pool_indices), and the (OH, OW) mask of windows holding no input element (or None)."""
    h, w = hw
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    oh, ow = out.shape[2:]
    xp = backend.xp_of(out)
    idx = xp.full(out.shape, -1, np.int64)
    nan = xp.isnan(out)
    nan_idx = xp.full(out.shape, -1, np.int64) if nan.any() else None
    for i, r in enumerate(rows):
        rpos = sh * xp.arange(oh) + dh * i - ph
        for j, q in enumerate(cols):
            cpos = sw * xp.arange(ow) + dw * j - pw
            inside = ((rpos >= 0) & (rpos < h))[:, None] & ((cpos >= 0) & (cpos < w))[None, :]
            flat = rpos[:, None] * w + cpos[None, :]
            v = xpad[:, :, r, q]
            hit = (v == out) & inside & (idx < 0)
            xp.copyto(idx, flat, where=hit)
            if nan_idx is not None:
                xp.copyto(nan_idx, flat, where=xp.isnan(v) & inside)  # the last NaN wins
    if nan_idx is not None:
        xp.copyto(idx, nan_idx, where=nan)
    empty = idx < 0
    if empty.any():
        # a dilated window can fall between the input's elements (all padding): torch gives
        # -inf and its scan's starting index, the first window position at or after 0 in
        # each dim (which lies past the input); the gather masks these windows
        r0 = sh * xp.arange(oh) - ph
        r0 = r0 + (-(xp.minimum(r0, 0) // dh)) * dh
        c0 = sw * xp.arange(ow) - pw
        c0 = c0 + (-(xp.minimum(c0, 0) // dw)) * dw
        xp.copyto(idx, r0[:, None] * w + c0[None, :], where=empty)
        return idx, empty[0, 0]  # (geometric: the same for every plane)
    return idx, None


def max_pool_indices(x, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's argmax of each window as a flat index h * W + w into its (unpadded) plane,
    int64 (N, C, OH, OW): the first maximum in row-major window order among the positions
    inside the input (a window of -inf points at its first real element); a window holding
    NaN points at its last NaN (torch's `val > max || isnan(val)` scan). Returns (idx, the
    mask of windows holding no input element, or None)."""
    xpad, out, rows, cols, _ = _window_max(x, kernel, stride, padding, dilation, ceil_mode)
    return _argmax_indices(xpad, out, rows, cols, padding, stride, dilation, x.shape[2:])


def _scatter_planes(g, idx, xshape, empty=None):
    """dx (xshape) with dx[n, c].flat[idx[n, c, k]] += g[n, c, k]: windows may share a
    maximum, so one bincount over plane-offset indices (not a scatter with repeats).
    Windows in `empty` (no input element) pass no gradient."""
    n, c = xshape[:2]
    xp = backend.xp_of(g)
    plane = math.prod(xshape[2:])
    if empty is not None:
        g, idx = xp.where(empty, 0, g), xp.where(empty, 0, idx)
    where = idx.reshape(n * c, -1) + (xp.arange(n * c) * plane)[:, None]
    sums = xp.bincount(where.ravel(), weights=g.ravel(), minlength=n * c * plane)
    return sums.astype(g.dtype, copy=False).reshape(xshape)


class PlaneGatherFn(Function):
    """y[n, c, k] = x[n, c, idx[n, c, k]] over flattened planes (the max of a window, picked
    by its index);  dL/dx[n, c, j] = sum of g[n, c, k] over the k with idx = j. Windows
    in `empty` (no input element in them) give -inf and no gradient."""

    @staticmethod
    def forward(ctx, x, idx, empty):
        xp = backend.xp_of(x)
        n, c = x.shape[:2]
        ctx.xshape, ctx.idx, ctx.empty = x.shape, idx, empty
        take = idx if empty is None else xp.where(empty, 0, idx)
        flat = x.reshape(n, c, -1)
        y = xp.take_along_axis(flat, take.reshape(n, c, -1), axis=2).reshape(idx.shape)
        if empty is not None:
            y[:, :, empty] = -np.inf
        return y

    @staticmethod
    def backward(ctx, g):
        return _scatter_planes(g, ctx.idx, ctx.xshape, ctx.empty), None, None


class MaxUnpoolFn(Function):
    """y = zeros (N, C, OH, OW) with y[n, c, idx[n, c, k]] = x[n, c, k] (the inverse of max
    pooling's gather; a repeated index keeps the last value);  dL/dx = g gathered at idx."""

    @staticmethod
    def forward(ctx, x, idx, out_hw):
        xp = ctx.xp = backend.xp_of(x)
        n, c = x.shape[:2]
        ctx.idx = idx
        y = xp.zeros((n, c, out_hw[0] * out_hw[1]), x.dtype)
        ctx.empty = y.shape[2] == 0
        if not ctx.empty:
            xp.put_along_axis(y, idx.reshape(n, c, -1), x.reshape(n, c, -1), axis=2)
        return y.reshape(n, c, *out_hw)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        n, c = g.shape[:2]
        idx = ctx.idx
        if ctx.empty:  # an empty output: no value was written
            return xp.zeros(idx.shape, g.dtype), None, None
        dx = xp.take_along_axis(g.reshape(n, c, -1), idx.reshape(n, c, -1), axis=2)
        return dx.reshape(idx.shape), None, None


def _avg_divisor(shape, kernel, stride, padding, out, count_include_pad, override, dtype):  # host
    """divisor[h, w]: the window's area, clipped to the padded input (count_include_pad) or
    to the input itself; or divisor_override. A host array (a plan from sizes)."""
    if override is not None:
        return np.asarray(override, dtype)
    counts = []
    for size, k, s, p, o in zip(shape[2:], kernel, stride, padding, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    return np.multiply.outer(counts[0], counts[1]).astype(dtype)


class AvgPool2dFn(Function):
    """y = sum over each window / divisor;  dL/dx = (g / divisor) added to every window element."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, override):
        xp = ctx.xp = backend.xp_of(x)
        (oh, ow), size, tiles = _geometry(x.shape, kernel, stride, padding, (1, 1), ceil_mode)
        xpad = _padded(x, padding[0], padding[1], size, 0)
        rows = _offsets(kernel[0], stride[0], 1, oh)
        cols = _offsets(kernel[1], stride[1], 1, ow)
        views = [xpad[:, :, r, q] for r in rows for q in cols]
        out = views[0].copy(order="K")
        for v in views[1:]:
            out += v
        div = _avg_divisor(
            x.shape, kernel, stride, padding, (oh, ow), count_include_pad, override, x.dtype
        )
        if xp is not np:
            div = xp.asarray(div)
        out /= div
        ctx.div, ctx.geom = div, (rows, cols, padding, x.shape, xpad.shape, tiles)
        ctx.order_cm = x.transpose(1, 0, 2, 3).flags.c_contiguous
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        rows, cols, padding, xshape, pshape, tiles = ctx.geom
        gd = g / ctx.div
        n, c, hp, wp = pshape
        alloc = xp.empty if tiles else xp.zeros
        if ctx.order_cm:
            dxp = alloc((c, n, hp, wp), gd.dtype).transpose(1, 0, 2, 3)
        else:
            dxp = alloc(pshape, gd.dtype)
        for r in rows:
            for q in cols:
                if tiles:
                    dxp[:, :, r, q] = gd
                else:
                    dxp[:, :, r, q] += gd
        ph, pw = padding
        return (
            dxp[:, :, ph : ph + xshape[2], pw : pw + xshape[3]],
            None,
            None,
            None,
            None,
            None,
            None,
        )


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:  # host
    """A (out, size) averaging matrix: row o averages x[floor(o L / O) : ceil((o + 1) L / O)]."""
    a = np.zeros((out, size), dtype)
    for o in range(out):
        start, end = (o * size) // out, -(-((o + 1) * size) // out)
        a[o, start:end] = 1.0 / (end - start)
    return a


class AdaptiveAvgPool2dFn(Function):
    """y = A_h x A_w^T (separable window means);  dL/dx = A_h^T g A_w. 1x1 output: the mean."""

    @staticmethod
    def forward(ctx, x, out_size):
        xp = ctx.xp = backend.xp_of(x)
        h, w = x.shape[2:]
        if out_size == (1, 1):
            ctx.geom = (h, w)
            return x.mean(axis=(2, 3), keepdims=True)
        ah = _adaptive_matrix(h, out_size[0], x.dtype)
        aw = _adaptive_matrix(w, out_size[1], x.dtype)
        if xp is not np:  # (the plans are made on the host, moved once)
            ah, aw = xp.asarray(ah), xp.asarray(aw)
        ctx.geom = (ah, aw)
        return xp.matmul(xp.matmul(ah, x), aw.T)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, b = ctx.geom
        if isinstance(a, int):
            n, c = g.shape[:2]
            return xp.broadcast_to(g / (a * b), (n, c, a, b)).copy(), None
        return xp.matmul(xp.matmul(a.T, g), b), None


# ----- public functions ------------------------------------------------------------------------
def _window_args(name, nd, kernel_size, stride, padding, dilation=1):
    """kernel_size, stride (None or empty: kernel_size), padding and dilation as nd-tuples;
    kernel_size, stride and dilation checked positive."""
    k = ntuple(kernel_size, nd, "kernel_size", name)
    s = k if stride is None or stride == [] or stride == () else ntuple(stride, nd, "stride", name)
    p = ntuple(padding, nd, "padding", name)
    d = ntuple(dilation, nd, "dilation", name)
    check_positive(k, "kernel_size", name)
    check_positive(s, "stride", name)
    check_positive(d, "dilation", name)
    return k, s, p, d


def _check_rank(owner: str, nd: int, shape) -> None:
    if len(shape) not in (nd + 1, nd + 2):
        raise ValueError(
            f"{owner}: expected a {nd + 2}-D (batched) or {nd + 1}-D (unbatched) input, got "
            f"input of shape {shape_str(shape)}"
        )


def _pool_args(name, nd, x, kernel_size, stride, padding, dilation, max_pool):
    """Normalize and check pool arguments; returns 2-D tuples and the input as 4-D."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    k, s, p, d = _window_args(name, nd, kernel_size, stride, padding, dilation)
    owner = f"{name}(kernel_size={k if nd > 1 else k[0]}"
    if s != k:
        owner += f", stride={s if nd > 1 else s[0]}"
    if any(p):
        owner += f", padding={p if nd > 1 else p[0]}"
    owner += ")"
    for pi, ki, di in zip(p, k, d):
        eff = di * (ki - 1) + 1 if max_pool else ki
        if pi < 0 or 2 * pi > eff:
            raise ValueError(
                f"{owner}: pad should be non-negative and at most half of the (effective) "
                f"kernel size, got padding={p}, kernel_size={k}"
            )
    _check_rank(owner, nd, x.array.shape)
    if any(n == 0 for n in x.array.shape[-nd - 1 :]):
        raise ValueError(f"{owner}: got an empty input of shape {shape_str(x.array.shape)}")
    return k, s, p, d, owner


def _to4d(x: Tensor, nd: int) -> tuple[Tensor, int]:
    """(C, *S) or (N, C, *S) -> (N, C, H, W); returns the number of dims added."""
    added = 0
    if x.array.ndim == nd + 1:
        x = x.unsqueeze(0)
        added += 1
    if nd == 1:
        x = x.unsqueeze(2)
        added += 1
    return x, added


def _from4d(y: Tensor, nd: int, unbatched: bool) -> Tensor:
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def _check_out(owner, shape, k, s, p, d, ceil_mode, nd):
    sizes = shape[-nd:]
    outs = tuple(pool_out_size(n, *a, ceil_mode) for n, *a in zip(sizes, k, s, p, d))
    if any(o < 1 for o in outs):
        raise ValueError(
            f"{owner}: input of shape {shape_str(shape)} is too small: calculated output size "
            f"{outs}"
        )


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d, owner = _pool_args(name, nd, input, kernel_size, stride, padding, dilation, True)
    _check_out(owner, input.array.shape, k, s, p, d, ceil_mode, nd)
    unbatched = input.array.ndim == nd + 1
    x, _ = _to4d(input, nd)
    if nd == 1:
        k, s, p, d = (1, *k), (1, *s), (0, *p), (1, *d)
    if not return_indices:
        return _from4d(MaxPool2dFn.apply(x, k, s, p, d, bool(ceil_mode)), nd, unbatched)
    # the values are x at the indices, so the gradient follows them (ties and NaN as torch)
    idx, empty = max_pool_indices(x.array, k, s, p, d, bool(ceil_mode))
    y = PlaneGatherFn.apply(x, idx, empty)
    ind = Tensor._make(idx, False, None)
    return _from4d(y, nd, unbatched), _from4d(ind, nd, unbatched)


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """y[n, c, l] = max_i x_pad[n, c, s l + d i] over (N, C, L); stride defaults to kernel_size.
    return_indices: also each maximum's position l in its row (int64), for max_unpool1d."""
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """y[n, c, h, w] = max_{i, j} x_pad[n, c, s h + d i, s w + d j]; the gradient goes to the
    first maximum of each window (row-major order). return_indices: also each maximum's flat
    position h * W + w in its (N, C) plane (int64), as torch, for max_unpool2d."""
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool1d_with_indices(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """max_pool1d(..., return_indices=True) under torch's other name (always both)."""
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True
    )


def max_pool2d_with_indices(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """max_pool2d(..., return_indices=True) under torch's other name (always both)."""
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True
    )


def _unpool(name, nd, input, indices, kernel_size, stride, padding, output_size) -> Tensor:
    """Validate max_unpool1d/2d's arguments (torch's output-size rule) and apply the op."""
    for what, t in (("input", input), ("indices", indices)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
    k, s, p, _ = _window_args(name, nd, kernel_size, stride, padding)
    if any(v < 0 for v in p):
        raise ValueError(f"{name}: padding must be non-negative, got {p}")
    shape = input.array.shape
    _check_rank(name, nd, shape)
    if indices.array.shape != shape:
        raise ValueError(
            f"{name}: expected indices of the input's shape {shape_str(shape)}, got indices "
            f"of shape {shape_str(indices.array.shape)}"
        )
    if indices.array.dtype != np.int64:
        raise TypeError(f"{name}: indices must be int64, got dtype {indices.array.dtype}")
    default = [(n - 1) * si + ki - 2 * pi for n, si, ki, pi in zip(shape[-nd:], s, k, p)]
    if output_size is None:
        out = default
    else:
        out = list(output_size)
        if len(out) == nd + 2:
            out = out[2:]
        if len(out) != nd or not all(
            isinstance(v, Integral) and not isinstance(v, bool) for v in out
        ):
            raise ValueError(
                f"{name}: output_size should be a sequence of {nd} or {nd + 2} ints, got "
                f"{output_size!r}"
            )
        for dim, (o, dflt, si) in enumerate(zip(out, default, s)):
            if not dflt - si < o < dflt + si:
                raise ValueError(
                    f"{name}: invalid output_size {tuple(out)} (dim {dim} must be between "
                    f"{dflt - si} and {dflt + si}, exclusive)"
                )
    if any(o < 0 for o in out):
        raise ValueError(f"{name}: output size {tuple(out)} must be non-negative")
    plane = math.prod(out)
    idx = indices.array
    if plane == 0:  # an empty output reads no index (torch returns it without a check)
        pass
    elif idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise ValueError(
            f"{name}: found an invalid max index {int(bad)} (output planes are of size "
            f"{'x'.join(str(o) for o in out)})"
        )
    unbatched = len(shape) == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = idx[None] if unbatched else idx
    if nd == 1:
        x, idx, out = x.unsqueeze(2), idx[:, :, None, :], [1, *out]
    y = MaxUnpoolFn.apply(x, idx, tuple(out))
    return _from4d(y, nd, unbatched)


def max_unpool1d(
    input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None
) -> Tensor:
    """The partial inverse of max_pool1d: zeros of length (L - 1) s - 2 p + k (or
    output_size) with y[n, c, indices[n, c, l]] = input[n, c, l]."""
    return _unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0, output_size=None
) -> Tensor:
    """The partial inverse of max_pool2d: zeros (N, C, OH, OW), OH = (H - 1) s - 2 p + k (or
    output_size, within s of that), with y.plane[indices[n, c, h, w]] = input[n, c, h, w];
    dL/dinput = g read at the indices."""
    return _unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, include_pad, override):
    k, s, p, _, owner = _pool_args(name, nd, input, kernel_size, stride, padding, 1, False)
    if input.array.dtype.kind != "f":
        # (torch averages integers with its integer division; not implemented here)
        raise TypeError(
            f"{owner}: expected a floating-point input, got dtype {input.array.dtype}"
        )
    if override is not None and (not isinstance(override, Integral) or override == 0):
        raise ValueError(f"{owner}: divisor_override must be a non-zero int, got {override!r}")
    _check_out(owner, input.array.shape, k, s, p, (1,) * nd, ceil_mode, nd)
    unbatched = input.array.ndim == nd + 1
    x, _ = _to4d(input, nd)
    if nd == 1:
        k, s, p = (1, *k), (1, *s), (0, *p)
    y = AvgPool2dFn.apply(x, k, s, p, bool(ceil_mode), bool(include_pad), override)
    return _from4d(y, nd, unbatched)


def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """y[n, c, l] = mean of the window x_pad[n, c, s l : s l + k] (see avg_pool2d's divisor)."""
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """y = window sum / divisor; divisor = window area clipped to the padded input
    (count_include_pad) or to the input, or divisor_override."""
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over windows [floor(o H / OH), ceil((o + 1) H / OH)) per output row (and column);
    output_size an int, a pair, or a pair with None (= keep that input size)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"adaptive_avg_pool2d: input must be a Tensor, got {type(input).__name__}")
    owner = f"adaptive_avg_pool2d(output_size={output_size!r})"
    if input.array.ndim not in (3, 4):
        raise ValueError(
            f"{owner}: expected a 4-D (batched) or 3-D (unbatched) input, got input of shape "
            f"{shape_str(input.array.shape)}"
        )
    size = tuple(input.array.shape[-2:])
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        out = tuple(s if o is None else o for o, s in zip(output_size, size))
    else:
        out = output_size
    out = ntuple(out, 2, "output_size", owner)
    check_positive(out, "output_size", owner)
    if any(n == 0 for n in size):
        raise ValueError(f"{owner}: got an empty input of shape {shape_str(input.array.shape)}")
    unbatched = input.array.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    y = AdaptiveAvgPool2dFn.apply(x, out)
    return y.squeeze(0) if unbatched else y
