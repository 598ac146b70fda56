"""Stride-1 convolution as KH*KW accumulated GEMMs over shifted views: no column buffer.

On the zero-padded input flattened channel-major to X (C, positions) (PaddedFlat: row pitch
Wq, image pitch Hq rows), output position p = (n Hq + oy) Wq + ox reads its input through
kernel tap (i, j) at p + off_ij, off_ij = d_h i Wq + d_w j. So for every tap the (C, L) block
of X from column s + off_ij is one strided view (row stride = X's row, unit column stride)
that BLAS reads in place:

    Y[:, s:s+L] = sum_ij  W_ij (OC, C) @ X[:, s+off_ij : s+off_ij+L]

Grid positions that are not outputs (one padding column per row, one padding row per image
for a 3x3 'same' conv) are computed too and dropped. The work is cut into chunks of whole
images: each chunk's accumulator stays in cache, and the chunks run on zengrad's threads, each
with one BLAS thread (OpenBLAS splitting every thin product over two threads was 5x slower on
a loaded machine). Measured (1 thread, CPU time, BasicBlock 3x3 64ch 32x32 batch 32): forward
42 -> 30 ms (the 75 MB im2col copy is gone; the products run at ~118 GFLOP/s of the 157 peak).

The input gradient is the same loop: dY padded by d(k-1) - p, correlated with the flipped,
transposed kernel. The weight gradient dW_ij = sum_p dY[:, p] X[:, p + off_ij]^T copies each
chunk's tap views into one cached (KH KW C, L) block for one product (31 ms; 23 ms from the
im2col path's saved columns, whose copy cost 17 ms in the forward).
Winograd F(2x2, 3x3) with NumPy's passes over the 4x larger transformed tiles cost 20+ ms
more than its GEMMs save; with the transforms compiled by Numba it is ops.conv_winograd, which
takes 3x3 convolutions with 32-128 channels and 16x16 outputs or more (forward and both
gradients). Not kept: F(2, 3) along rows on this flat grid
(GEMMs 22 -> 15 ms, transforms eat all but 5%).
Written against the array's module, but taken on NumPy only (ops.conv decides): the speed
comes from NumPy's matmul handing strided operands to OpenBLAS without a copy.
"""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.ops import threads
from zengrad.ops.blas_threads import over_threads
from zengrad.ops.scratch import kept_empty, scratch

# a chunk's working set (input rows, accumulator and product: (C + 2 OC) x L floats) is about
# this many floats, at least one image: the BasicBlock's (64 + 128) x 1089 (one 33x33 grid)
# measured fastest at one image, 2 or 4 at once 5-20% slower; LeNet's conv2 input gradient
# (16 + 2 x 6 rows, 14x14 grid) 2.3x faster at 13-20 images a chunk than all 64 (1 thread)
CHUNK_FLOATS = 96 * 1024
# the path is taken when C and OC are both at least this: below it one im2col GEMM costs
# less than KH*KW thin products and their adds (conv + backward, 1 thread, 3x3 pad 1:
# C=3 1.8x the im2col path's time, C=4 1.03x, C=8 0.76-1.17x, C=16 0.69x)
MIN_CHANNELS = 16
MIN_WORK = 2 * 1024 * 1024  # N*OH*OW*C*OC*KH*KW multiply-adds
# ... and at least this many output positions: one 8x8 image with 64 channels (64 columns
# per product) ran 1.17x the im2col path's time, four of them 0.95x
MIN_POSITIONS = 256
# the padded copy is filled by zengrad's threads in blocks of this many channels, from
# threads.OP_PARALLEL_MIN elements (LeNet's padded dY, 0.5M: inside a step the split lost 4% of
# the 2-thread step, its thread sharing the other core with OpenBLAS's spinning workers)
PAD_BLOCK_ROWS = 8
# below MIN_CHANNELS the input gradient alone takes the path, from this many input channels
# (the forward and dW stay on the im2col path). 1 thread, CPU time, dx against the flat
# col2im: LeNet's conv2 6 -> 16 5x5 0.56x, 3 -> 16 3x3 pad 1 0.59x, 4 -> 8 5x5 0.79x,
# 16 -> 3 3x3 0.30x; with 2 input channels 1.25x, with 1 1.05x
MIN_DX_CHANNELS = 3


def implicit_gemm_ok(xshape, wshape, stride, pads, dilation, groups, dtype) -> bool:
    """Whether a conv2d (x of xshape, weight of wshape) takes the shifted-view path: stride 1,
    one group, a float dtype, enough channels and work, and pads small enough that the input
    gradient is a correlation with padding d(k-1) - p >= 0."""
    n, c, h, w = xshape
    oc, _, kh, kw = wshape
    if stride != (1, 1) or groups != 1 or kh * kw == 1:
        return False
    if np.dtype(dtype) not in (np.float32, np.float64):
        return False
    if not _pads_fit(pads, (kh, kw), dilation):
        return False
    (pt, pb), (pl, pr) = pads
    oh, ow = h + pt + pb - dilation[0] * (kh - 1), w + pl + pr - dilation[1] * (kw - 1)
    if min(c, oc) < MIN_CHANNELS or n * oh * ow < MIN_POSITIONS:
        return False
    return n * oh * ow * c * oc * kh * kw >= MIN_WORK


def _pads_fit(pads, kshape, dilation) -> bool:
    """Pads of at most d (k - 1): the input gradient's padding d (k - 1) - p is not negative."""
    (pt, pb), (pl, pr) = pads
    kh, kw = kshape
    return max(pt, pb) <= dilation[0] * (kh - 1) and max(pl, pr) <= dilation[1] * (kw - 1)


def shifted_input_grad_ok(xshape, wshape, stride, pads, dilation, groups, dtype) -> bool:
    """Whether the input gradient of a conv2d on the im2col path is computed here (see
    MIN_DX_CHANNELS): the conditions of implicit_gemm_ok but the channel counts and work."""
    n, c, h, w = xshape
    oc, _, kh, kw = wshape
    if stride != (1, 1) or groups != 1 or kh * kw == 1 or c < MIN_DX_CHANNELS or oc == 0:
        return False
    if np.dtype(dtype) not in (np.float32, np.float64) or not _pads_fit(pads, (kh, kw), dilation):
        return False
    (pt, pb), (pl, pr) = pads
    oh, ow = h + pt + pb - dilation[0] * (kh - 1), w + pl + pr - dilation[1] * (kw - 1)
    return n * oh * ow >= MIN_POSITIONS


def dy_flat(gy, pads, kshape, dilation) -> PaddedFlat:
    """dY (OC, N, OH, OW) padded by d (k - 1) - p on the input's grid, as input_grad and
    weight_grad read it."""
    (pt, pb), (pl, pr) = pads
    eh, ew = dilation[0] * (kshape[0] - 1), dilation[1] * (kshape[1] - 1)
    return PaddedFlat(gy, ((eh - pt, eh - pb), (ew - pl, ew - pr)), kshape, dilation)


def flipped_taps(w):
    """The taps (KH*KW, C, OC) of the input gradient's kernel: dx (C, N, H, W) is dY (padded
    by dy_flat) correlated with W'[c, o, i, j] = W[o, c, KH-1-i, KW-1-j] (w: (OC, C, KH, KW))."""
    oc, c, kh, kw = w.shape
    flipped = w[:, :, ::-1, ::-1].transpose(2, 3, 1, 0)
    return backend.xp_of(w).ascontiguousarray(flipped).reshape(kh * kw, c, oc)


class PaddedFlat:
    """src (C, N, H, W) on a zero-padded grid, flattened channel-major: X (C, margin + N*Hq*Wq
    + tail). Rows have pitch Wq = W + max(pl, pr) and images Hq = H + max(pt, pb) rows: the
    zeros after one row serve as the right padding of that row and the left padding of the
    next (likewise for images), so the grid has 6% more positions than the BasicBlock's
    32x32 outputs instead of 13% with each side padded. Output (n, oy, ox) sits at grid
    position p = (n Hq + oy) Wq + ox and reads tap (i, j) at X[:, p + off_ij],
    off_ij = d_h i Wq + d_w j (the margin, pt Wq + pl zeros, holds the first rows' padding)."""

    __slots__ = ("xp", "x", "n", "h", "hq", "wq", "offsets", "kshape", "margin")

    def __init__(self, src, pads, kshape, dilation):
        xp = self.xp = backend.xp_of(src)
        c, n, h, w = src.shape
        (pt, pb), (pl, pr) = pads
        kh, kw = kshape
        dh, dw = dilation
        self.n, self.h, self.hq, self.wq = n, h, h + max(pt, pb), w + max(pl, pr)
        self.kshape = kshape
        self.offsets = [i * dh * self.wq + j * dw for i in range(kh) for j in range(kw)]
        margin = self.margin = pt * self.wq + pl
        total = n * self.hq * self.wq
        self.x = kept_empty(xp, (c, total + self.offsets[-1]), src.dtype)
        hq, wq = self.hq, self.wq

        # zeros written only around the image where the padding is a small part of the grid
        # (BasicBlock 3x3 pad 1, 6%: fill 1.05 -> 0.95 ms); where it is a large part, its
        # many short strided runs cost more than zeroing the whole block first (LeNet's dY
        # padded by 4 on a 14x14 grid, 49%: 86 -> 113 us)
        pads_only = (hq * wq - h * w) * 4 <= hq * wq

        def fill(rows, src_rows):  # a block of channels: the image, zeros around it
            grid = rows[:, margin : margin + total].reshape(len(rows), n, hq, wq)
            if not pads_only:
                rows[...] = 0
                grid[:, :, :h, :w] = src_rows
                return
            rows[:, :margin] = 0
            rows[:, margin + total :] = 0
            grid[:, :, :h, :w] = src_rows  # before the zeros beside it: 0.95 ms, not 1.03
            grid[:, :, :h, w:] = 0
            grid[:, :, h:, :] = 0

        threads.for_blocks(fill, [self.x, src], PAD_BLOCK_ROWS, threads.OP_PARALLEL_MIN)

    def image_block(self, rows: int) -> int:
        """Images per chunk, so that rows floats per grid position make about CHUNK_FLOATS."""
        return max(1, CHUNK_FLOATS // max(1, rows * self.hq * self.wq))

    def tap_views(self, start: int, length: int):
        """The (KH, KW, C, length) strided view of every tap's block from grid position start."""
        x = self.x
        s_c, s_p = x.strides
        kh, kw = self.kshape
        dh_step = (self.offsets[kw] if kh > 1 else 0) * s_p
        dw_step = (self.offsets[1] if kw > 1 else 0) * s_p
        # (read only: written by nothing; CuPy's as_strided takes no writeable=)
        return self.xp.lib.stride_tricks.as_strided(
            x[:, start:], (kh, kw, x.shape[0], length), (dh_step, dw_step, s_c, s_p)
        )


def _sum_of_products(xp, pairs, shape: tuple, dtype):
    """sum over (w, view) in pairs of w @ view, accumulated in this thread's ("conv", "acc")
    work array (returned; the next chunk reuses it) in the pairs' order."""
    acc = scratch(xp, shape, dtype, ("conv", "acc"))
    tmp = scratch(xp, shape, dtype, ("conv", "product"))
    for k, (w, view) in enumerate(pairs):
        if k == 0:
            xp.matmul(w, view, out=acc)
        else:
            xp.matmul(w, view, out=tmp)
            acc += tmp
    return acc


def correlate(flat: PaddedFlat, wk, out_hw: tuple[int, int]):
    """y (OC, N, OH, OW) = sum over taps k of wk[k] (OC, C) applied to the shifted views of flat.

    wk: (KH*KW, OC, C), the taps in row-major (i, j) order. Chunks of whole images: each
    output element is the same sum whichever thread computes it. With >= MIN_CHANNELS output
    rows the KW taps of a kernel row are one product over a copied block of the chunk's KW
    column shifts (float64: within 1e-15 of the tap-by-tap sums)."""
    oh, ow = out_hw
    _, oc, _ = wk.shape
    hq, wq, xp = flat.hq, flat.wq, flat.xp
    dtype = np.result_type(wk.dtype, flat.x.dtype)
    y = xp.empty((oc, flat.n, oh, ow), dtype)
    x = flat.x

    def run(y_part, images):
        g, s = len(images), int(images[0]) * hq * wq
        length = g * hq * wq
        taps = ((wk[k], x[:, s + off : s + off + length]) for k, off in enumerate(flat.offsets))
        acc = _sum_of_products(xp, taps, (oc, length), dtype)
        y_part[...] = acc.reshape(oc, g, hq, wq)[:, :, :oh, :ow].transpose(1, 0, 2, 3)

    images = np.arange(flat.n)  # host: image numbers
    per = flat.image_block(x.shape[0] + 2 * oc)
    if oc < MIN_CHANNELS:
        # few output rows (an input gradient alone, MIN_DX_CHANNELS): the chunks in order,
        # BLAS keeping its threads. 2 threads, LeNet-5 step against the flat col2im: 1.11x
        # its time split over zengrad's threads, 1.01x so
        yt = y.transpose(1, 0, 2, 3)
        for s in range(0, flat.n, per):
            run(yt[s : s + per], images[s : s + per])
        return y
    kw = flat.kshape[1]
    wrows = _kernel_rows(wk, flat.kshape)
    shifts, rows = flat.offsets[:kw], flat.offsets[::kw]

    def run_rows(y_part, images):
        # the KW column shifts of the chunk's rows copied once into a (KW C, L + span) block
        # in cache; each kernel row is then one product with K = KW C over a view of it
        # (KH products and KH - 1 adds, not KH KW and KH KW - 1; BasicBlock correlate
        # alone 26.6 -> 25.3 ms at 1 thread, 14.5 -> 13.1 at 2; block step 0.98-0.99x)
        g, s = len(images), int(images[0]) * hq * wq
        block = _shift_block(x, s, g * hq * wq, shifts, rows[-1])
        _kernel_rows_into(wrows, block, rows, y_part.transpose(1, 0, 2, 3), (hq, wq), dtype)

    per = flat.image_block(kw * x.shape[0] + 2 * oc)
    over_threads(run_rows, [y.transpose(1, 0, 2, 3), images], per, threads.PARALLEL_MIN)
    return y


def _kernel_rows(wk, kshape):
    """The taps (KH*KW, OC, C) of one kernel row side by side: (KH, OC, KW C),
    [i][o, j C + c] = wk[i KW + j][o, c]."""
    kh, kw = kshape
    _, oc, c = wk.shape
    wrows = backend.xp_of(wk).ascontiguousarray(wk.reshape(kh, kw, oc, c).transpose(0, 2, 1, 3))
    return wrows.reshape(kh, oc, kw * c)


def _views_block(x, starts, length: int, slot):
    """This thread's scratch block `slot` (len(starts), C, length) holding the views of x's
    flat grid: [j] = x[:, starts[j] : starts[j] + length]."""
    block = scratch(backend.xp_of(x), (len(starts), x.shape[0], length), x.dtype, slot)
    for j, start in enumerate(starts):
        block[j] = x[:, start : start + length]
    return block


def _shift_block(x, s: int, length: int, shifts, span: int):
    """The ("conv", "shifts") block (KW, C, length + span): [j] = x[:, s + shifts[j]:]."""
    return _views_block(x, [s + off for off in shifts], length + span, ("conv", "shifts"))


def _kernel_rows_into(wrows, block, rows, out, grid_hw: tuple[int, int], dtype) -> None:
    """out (OC, g, OH, OW) = the crop of sum_i wrows[i] @ block[:, rows[i]:][:, :L] on the
    chunk's (g, Hq, Wq) grid (L = g Hq Wq): each kernel row one product with K = KW C."""
    xp = backend.xp_of(block)
    oc, g, oh, ow = out.shape
    hq, wq = grid_hw
    length = g * hq * wq
    stacked = block.reshape(-1, block.shape[-1])
    krows = ((wrows[i], stacked[:, off : off + length]) for i, off in enumerate(rows))
    acc = _sum_of_products(xp, krows, (oc, length), dtype)
    out[...] = acc.reshape(oc, g, hq, wq)[:, :, :oh, :ow]


def input_and_weight_grad(flat: PaddedFlat, gflat: PaddedFlat, wk, in_hw: tuple[int, int]):
    """(dx (C, N, H, W), dW (OC, C, KH, KW)): correlate(gflat, wk, in_hw) and
    weight_grad(flat, gflat) in one pass over the chunks, which share dY's block of column
    shifts (wk: flipped_taps of the weight). The input gradient's block holds
    gx[s + d_w j' + t'] in row j'; the shifted-dY weight gradient needs
    gx[g0 + s - d_w j + t], which is row j' = KW - 1 - j at t' = t + e, e = g0 - d_w (KW - 1),
    so its (KW OC, L) operand is a view of the block (rows in reversed j order) and its KW
    copies of dY are saved, with dY's chunk read from memory once. Where either path does
    not apply (few input channels, pads at d (k - 1)), the two are computed apart."""
    hq, wq, xp = flat.hq, flat.wq, flat.xp
    n, (kh, kw) = flat.n, flat.kshape
    c, oc = flat.x.shape[0], gflat.x.shape[0]
    gx, x = gflat.x, flat.x
    shifts, rows = flat.offsets[:kw], flat.offsets[::kw]
    span, e = rows[-1], gflat.margin - shifts[-1]
    if c < MIN_CHANNELS or not gflat.h < hq or not 0 <= e <= span:
        return correlate(gflat, wk, in_hw), weight_grad(flat, gflat)
    assert (gflat.hq, gflat.wq, gflat.n) == (hq, wq, n), "dY's grid is not the input's"
    dtype = np.result_type(wk.dtype, gx.dtype, x.dtype)
    dx = xp.empty((c, n, *in_hw), dtype)
    wrows = _kernel_rows(wk, flat.kshape)
    per = flat.image_block(kw * oc + 2 * c + kh * c)  # dY's block, dx's two, X's rows
    firsts = np.arange(0, n, per)  # host: each chunk's first image
    parts = xp.empty((len(firsts), kw * oc, kh * c), dtype)

    def run(part, first):
        i0 = int(first[0])
        g = min(per, n - i0)
        s, length = i0 * hq * wq, g * hq * wq
        block = _shift_block(gx, s, length, shifts, span)
        _kernel_rows_into(wrows, block, rows, dx[:, i0 : i0 + g], (hq, wq), dtype)
        xrows = _views_block(x, [s + off for off in rows], length, ("conv", "dw rows"))
        dys = block.reshape(kw * oc, length + span)[:, e : e + length]
        xp.matmul(dys, xrows.reshape(kh * c, length).T, out=part[0])

    over_threads(run, [parts, firsts], 1, threads.PARALLEL_MIN)
    return dx, parts.sum(axis=0).reshape(kw, oc, kh, c)[::-1].transpose(1, 3, 2, 0)


def weight_grad(flat: PaddedFlat, gflat: PaddedFlat):
    """dW (OC, C, KH, KW): dW_ij = sum over output positions p of dY[:, p] X[:, p + off_ij]^T.

    gflat: dY (OC, N, OH, OW) padded by d (k - 1) - p, as the input gradient reads it. Its grid
    is flat's (Hq = OH + max(d(k-1) - pt, d(k-1) - pb) = H + max(pt, pb), likewise Wq), and
    zero where there is no output, so its (OC, L) blocks are dY on flat's grid as they are.
    Per chunk, the taps' views are copied into one (KH KW C, L) block that stays in cache and
    multiplied at once, as (cols @ dY^T)^T: 1 thread, BasicBlock, 31 ms against 35-37 for
    KH*KW separate or batched products over the views. Each chunk's partial sum has its own
    slot, summed in chunk order at the end: the same result at any thread count.
    Where dY's grid has a zero last row per image (pads below d (k - 1)), dY is shifted
    instead (_weight_grad_shifted_dy): BasicBlock dW alone 26.5 -> 25.6 ms, block step
    0.98x (1 thread) and 0.94x (2 threads), float64 within 4e-16 of the copied taps."""
    hq, wq, xp = flat.hq, flat.wq, flat.xp
    assert (gflat.hq, gflat.wq, gflat.n) == (hq, wq, flat.n), "dY's grid is not the input's"
    n = flat.n
    kh, kw = flat.kshape
    c, oc = flat.x.shape[0], gflat.x.shape[0]
    dtype = np.result_type(gflat.x.dtype, flat.x.dtype)
    per = flat.image_block(kh * kw * c + oc)  # the tap block and dY's rows
    firsts = np.arange(0, n, per)  # host: each chunk's first image
    parts = xp.empty((len(firsts), kh * kw * c, oc), dtype)
    gx, g0 = gflat.x, gflat.margin

    def run(part, first):
        s = int(first[0]) * hq * wq
        length = min(per, n - int(first[0])) * hq * wq
        cols = scratch(xp, (kh, kw, c, length), flat.x.dtype, ("conv", "dw block"))
        cols[...] = flat.tap_views(s, length)
        grid = gx[:, g0 + s : g0 + s + length]
        xp.matmul(cols.reshape(kh * kw * c, length), grid.T, out=part[0])

    if gflat.h < hq and g0 >= flat.offsets[kw - 1]:
        return _weight_grad_shifted_dy(flat, gflat, per, firsts, dtype)
    over_threads(run, [parts, firsts], 1, threads.PARALLEL_MIN)
    return parts.sum(axis=0).reshape(kh, kw, c, oc).transpose(3, 2, 0, 1)


def _weight_grad_shifted_dy(flat: PaddedFlat, gflat: PaddedFlat, per: int, firsts, dtype):
    """weight_grad with dY shifted instead of X: with q = p + off_0j (off_0j = d_w j),

        dW_ij = sum_q dY[:, q - off_0j] X[:, q + off_i0]^T,

    so per chunk the KW shifted copies of dY's rows stack into one (KW OC, L) block (KW
    copies of OC rows, not KH KW of C), X's views at the KH row offsets off_i0 into another
    (KH C, L), and one product gives every tap: P[(j, o), (i, c)] = dW[o, c, i, j]. Summing
    q over the chunk instead of the chunk shifted by off_0j adds and drops terms only at
    positions just before the chunk's start and end: the last grid row of an image (zero in
    dY when gflat.h < Hq) or gflat's zero margin.
    One (KW OC, L) x (L, KH C) product instead of KH products with X's views read in place:
    OpenBLAS packs the dY block once, not KH times (BasicBlock dW alone 25.0 -> 24.1 ms,
    1 thread; the same float32 bits: each entry is the same dot product over L)."""
    hq, wq, xp = flat.hq, flat.wq, flat.xp
    n, (kh, kw) = flat.n, flat.kshape
    c, oc = flat.x.shape[0], gflat.x.shape[0]
    parts = xp.empty((len(firsts), kw * oc, kh * c), dtype)
    gx, g0, x = gflat.x, gflat.margin, flat.x
    shifts = flat.offsets[:kw]
    rows = flat.offsets[::kw]

    def run(part, first):
        s = int(first[0]) * hq * wq
        length = min(per, n - int(first[0])) * hq * wq
        dys = _views_block(gx, [g0 + s - off for off in shifts], length, ("conv", "dw block"))
        xrows = _views_block(x, [s + off for off in rows], length, ("conv", "dw rows"))
        xp.matmul(dys.reshape(kw * oc, length), xrows.reshape(kh * c, length).T, out=part[0])

    over_threads(run, [parts, firsts], 1, threads.PARALLEL_MIN)
    return parts.sum(axis=0).reshape(kw, oc, kh, c).transpose(1, 3, 2, 0)
