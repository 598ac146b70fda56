"""Convolution (conv1d, conv2d): strided windows + one GEMM per direction.

    y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, g(o) C/G + c, s h + d i, s w + d j]

Layout: the window matrix is channel-major, cols (C*KH*KW, N*OH*OW), built with as_strided,
so `W (OC, C*KH*KW) @ cols` lands in (OC, N, OH, OW) memory; the NCHW result is a transposed
view of it (no copy). Elementwise ops keep that memory order and the next conv reads it with
as_strided at no cost, so activations stay channel-major between layers (PERFORMANCE.md).
On NumPy, one-group forwards copy and multiply the columns in chunks of whole images (each
chunk's GEMM reads its columns from L2), with the bias as a row of ones in the GEMM: [W | b] @
[cols; 1], so the weight-gradient product gives db as its last column.
Backward: dW = dY @ cols^T (one GEMM); dx = col2im(W^T @ dY) by KH*KW shifted slice-adds
(stride 1: on the flattened padded grid, where each offset is one long contiguous slice).
conv1d is conv2d on a height-1 image.
Stride-1 convolutions with one or two input channels on NumPy (where Numba runs) are a direct
sum, ops.conv_direct: no column buffer (LeNet-5's conv1 would copy its input 25 times over).
Stride-1, one-group convolutions with >= 16 channels in and out on NumPy skip the column
buffer: ops.conv_implicit runs them as KH*KW accumulated GEMMs over shifted views of the padded
input, chunked by images over zengrad's threads (1 thread, BasicBlock 3x3 64ch: forward
42 -> 30 ms; 2 threads: each thread runs its own products instead of OpenBLAS splitting
thin ones).
Below those channel counts the forward and dW stay here; the input gradient is a direct sum
where Numba runs (ops.conv_direct_input_grad: LeNet-5's conv2 dx 2.6 -> 1.35 ms, 1 thread),
else from 3 input channels that path's correlation of dY with the flipped kernel, in
cache-sized chunks (1 thread, LeNet-5 step: conv2's dx 1.4 -> 0.65 ms against col2im).
The column buffer is a kept one (ops.scratch.kept_empty): allocated afresh each step its
pages were zeroed by the kernel at first touch (LeNet-5 step, 1 thread: 0.65x the time).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops import conv_direct, conv_direct_input_grad, conv_implicit, conv_winograd
from zengrad.ops.args import LazyName, check_positive, ntuple, shape_str
from zengrad.ops.blas_threads import BLAS_ONE_THREAD_MACS, over_threads, small_product
from zengrad.ops.conv_implicit import (
    PaddedFlat,
    correlate,
    dy_flat,
    flipped_taps,
    implicit_gemm_ok,
    input_and_weight_grad,
    shifted_input_grad_ok,
    weight_grad,
)
from zengrad.ops.scratch import kept_empty, scratch

Pads = tuple[tuple[int, int], tuple[int, int]]

# stride-1 input gradients use the flat padded grid when it is at most this much larger than
# the output grid (its GEMM covers the padding too); measured: BasicBlock 3x3 pad 1 (1.13x) wins
FLAT_MAX_RATIO = 2.0
# the flat input gradient computes W^T dY in column blocks of about this many floats (8 MB)
COL2IM_BLOCK_FLOATS = 2 * 1024 * 1024
# OpenBLAS runs products with few output rows (LeNet's 6 or 16 channels) over long column
# ranges 1.3-3x slower than the same product cut into column blocks of this many columns
# (1 thread: conv1 (6, 25) @ (25, 50176) 2.1 -> 0.75 ms); wide outputs gain nothing
SMALL_OUT_ROWS = 16
SMALL_OUT_BLOCK = 4096
# dW = dY cols^T with a tiny (OC, C KH KW) result and a long sum (N OH OW) is 5x faster as
# a batched product over sum blocks of this length, then summed (conv1: 3.5 -> 0.7 ms)
TINY_DW_SIZE = 1024
TINY_DW_BLOCK = 1024
# other weight gradients are cut into about this many row blocks of dW^T (multiples of 8
# rows), shared by zengrad's threads (LeNet-5's conv2: 151 rows in blocks of 80; blocks of
# 40 took 1.12x the time at one thread)
DW_BLOCKS = 2
# one-group forwards on NumPy copy and multiply chunks of whole images, at most
# SMALL_OUT_BLOCK columns and this many floats of columns and products (C KH KW + 1 + OC
# rows), so the GEMM reads each chunk's columns from L2 right after the copy wrote them.
# LeNet forward (1 / 2 threads): conv1 844 / 840 -> 780 / 780 us (5 images a chunk; 10: 1.1 ms),
# conv2 1060 / 940 -> 975 / 960 us (31 images; 7: 1000 / 1090, BLAS splitting thin products)
CHUNK_FLOATS = 512 * 1024
# the im2col copy runs in two stages (_row_windows) for output rows shorter than this: LeNet
# conv2 (OW 10) forward 1006 -> 894 us alone; conv1 (OW 28) 881-917 -> 985 us in the step
TWO_STAGE_MAX_OW = 16


# ----- padding ---------------------------------------------------------------------------
def conv_padding(padding, kernel, dilation, stride, owner: str) -> Pads:
    """int / tuple / 'valid' / 'same' -> ((top, bottom), (left, right)) for 2 spatial dims.

    'same' pads d (k - 1) in total, the extra one (when odd) on the bottom/right, as PyTorch.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{owner}: padding='same' is not supported for strided convolutions "
                    f"(stride={stride})"
                )
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
        else:
            raise ValueError(
                f"{owner}: invalid padding string {padding!r}, should be one of 'valid', 'same'"
            )
    else:
        p = ntuple(padding, n, "padding", owner)
        if any(v < 0 for v in p):
            raise ValueError(f"{owner}: negative padding is not supported, got {p}")
        pads = [(v, v) for v in p]
    if n == 1:
        pads = [(0, 0)] + pads
    return tuple(pads)


# ----- the op -----------------------------------------------------------------------------
def as_strided(xp, a, shape: tuple, strides: tuple):
    """A read-only strided view of a on xp's device (CuPy's as_strided takes no writeable=;
    its views are written by no op here either)."""
    if xp is np:
        return xp.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _channel_major_padded(x, pads: Pads):
    """x (N, C, H, W) as a (C, N, Hp, Wp) array (zero padded); a free view when unpadded."""
    (pt, pb), (pl, pr) = pads
    xt = x.transpose(1, 0, 2, 3)
    if not (pt or pb or pl or pr):
        return xt
    c, n, h, w = xt.shape
    xpad = backend.xp_of(x).zeros((c, n, h + pt + pb, w + pl + pr), x.dtype)
    xpad[:, :, pt : pt + h, pl : pl + w] = xt
    return xpad


def _small_rows_matmul(xp, a, b):
    """a @ b, in column blocks when a has few rows and b many columns (see SMALL_OUT_ROWS)."""
    m, cols = a.shape[0], b.shape[1]
    if m > SMALL_OUT_ROWS or cols <= 2 * SMALL_OUT_BLOCK:
        return a @ b
    out = xp.empty((m, cols), np.result_type(a.dtype, b.dtype))
    for s in range(0, cols, SMALL_OUT_BLOCK):
        e = min(s + SMALL_OUT_BLOCK, cols)
        xp.matmul(a, b[:, s:e], out=out[:, s:e])
    return out


def _weight_grad(xp, gm, cols):
    """dW = gm (OC, P) @ cols^T (P, K), as OpenBLAS runs it fastest: computed transposed,
    (cols @ gm^T)^T (1 thread: 1.25-2x faster for LeNet's conv2 and the BasicBlock), or, for
    a tiny result over a long sum, as a batched product over sum blocks (TINY_DW_*)."""
    oc, p = gm.shape
    k = cols.shape[0]
    if oc * k <= TINY_DW_SIZE and p >= 8 * TINY_DW_BLOCK:
        nb = p // TINY_DW_BLOCK
        main = nb * TINY_DW_BLOCK
        g3 = gm[:, :main].reshape(oc, nb, TINY_DW_BLOCK).transpose(1, 0, 2)
        c3 = cols[:, :main].reshape(k, nb, TINY_DW_BLOCK).transpose(1, 2, 0)
        dw = xp.matmul(g3, c3).sum(axis=0)
        if main < p:
            dw += gm[:, main:] @ cols[:, main:].T
        return dw
    macs = oc * p * k
    if macs < BLAS_ONE_THREAD_MACS:
        return (cols @ gm.T).T
    # row blocks of dW^T on zengrad's threads, BLAS at one thread (blas_threads): the blocks
    # depend on the shape only, so the bits do not depend on the thread count
    per = -(-k // DW_BLOCKS)
    per += -per % 8
    out = xp.empty((k, oc), np.result_type(gm.dtype, cols.dtype))  # host: dtype
    gt = gm.T

    def block(c, o):
        xp.matmul(c, gt, out=o)

    with small_product(macs // DW_BLOCKS):
        over_threads(block, [cols, out], per)
    return out.T


def _row_windows(xp, dst, rows_view, kh: int, dh: int, oh: int) -> None:
    """The im2col copy for stride 1 along H in two stages: first the KW horizontal shifts of
    every padded row, R[c, j, m, h, :] = x_pad[c, m, h, d_w j + s_w (0..OW-1)] (runs of OW),
    then dst[(c, i, j), m, :, :] = R[c, j, m, d_h i : d_h i + OH, :], one run of OH*OW floats
    per (c, i, j, image) since R's rows are OW long. dst (C KH KW, M, OH, OW) may be a view
    (rows strided); rows_view (C, KW, M, HU, OW) reads the padded input. LeNet-5, 1 thread:
    conv2's copy (6 x 64 x 14 x 14 in: 96,000 runs of 10 floats in one stage) 507 -> 355 us
    for the whole batch, its forward 1006 -> 894 us; conv1's (28-float rows) 387 -> 375 us
    alone but slower in the step (TWO_STAGE_MAX_OW)."""
    c, kw, m, hu, ow = rows_view.shape
    r = scratch(xp, rows_view.shape, rows_view.dtype, ("conv2d", "rows"))
    r[...] = rows_view
    rs = r.strides
    src = as_strided(xp, r, (c, kh, kw, m, oh * ow), (rs[0], dh * rs[3], rs[1], rs[2], rs[4]))
    dst.reshape(c, kh, kw, m, oh * ow)[...] = src


class Conv2dFn(Function):
    """y = W * x + b (cross-correlation, as PyTorch);  dW = dY cols^T, dx = col2im(W^T dY),
    db = sum of dY over (N, OH, OW). Inputs of rank 3 are conv1d (a height-1 image).
    Stride-1 convolutions with enough channels on NumPy take the shifted-view path instead
    (ops.conv_implicit: no column buffer; dx is the correlation of dY with the flipped kernel),
    and 3x3 ones of ResNet's sizes compute y and dx by Winograd F(2x2, 3x3)
    (ops.conv_winograd), dW too; those with one or two input channels are a direct sum
    (ops.conv_direct: y and dW), and stride-1 ones with few input channels take dx as a
    direct sum too (ops.conv_direct_input_grad)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups):
        xp = ctx.xp = backend.xp_of(x)
        one_d = x.ndim == 3
        if one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        n, c, h, wd = x.shape
        oc, cg, kh, kw = w.shape
        dtype = np.result_type(x.dtype, w.dtype)
        ctx.direct = xp is np and conv_direct.direct_ok(
            x.shape, w.shape, stride, pads, dilation, groups, dtype
        )
        if ctx.direct:
            ctx.winograd = ctx.shifted = False
            return Conv2dFn._forward_direct(ctx, x, w, b, stride, pads, dilation, one_d)
        ctx.winograd = xp is np and conv_winograd.winograd_ok(
            x.shape, w.shape, stride, pads, dilation, groups, dtype
        )
        ctx.shifted = ctx.winograd or (
            xp is np and implicit_gemm_ok(x.shape, w.shape, stride, pads, dilation, groups, dtype)
        )
        if ctx.shifted:
            return Conv2dFn._forward_shifted(ctx, x, w, b, pads, dilation, one_d)
        sh, sw = stride
        dh, dw = dilation
        xpad = _channel_major_padded(x, pads)
        hp, wp = xpad.shape[2], xpad.shape[3]
        oh = (hp - dh * (kh - 1) - 1) // sh + 1
        ow = (wp - dw * (kw - 1) - 1) // sw + 1
        s_c, s_n, s_h, s_w = xpad.strides
        win = as_strided(
            xp, xpad, (c, kh, kw, n, oh, ow), (s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw)
        )
        needs = ctx.needs_input_grad
        k = c * kh * kw
        ctx.bias_row = groups == 1 and xp is np and b is not None  # cols[k] = 1: b in the GEMM
        if ctx.bias_row:
            cols = kept_empty(xp, (k + 1, n * oh * ow), xpad.dtype)
            out = Conv2dFn._chunked_forward(w, b, xpad, win, cols, (n, oh, ow), dh, sh)
        else:
            cols = kept_empty(xp, (k, n * oh * ow), xpad.dtype)
            cols.reshape(c, kh, kw, n, oh, ow)[...] = win  # the im2col copy
            if groups == 1:
                out = _small_rows_matmul(xp, w.reshape(oc, -1), cols)
            else:
                cols = cols.reshape(groups, cg * kh * kw, n * oh * ow)
                out = xp.matmul(w.reshape(groups, oc // groups, -1), cols).reshape(oc, -1)
            if b is not None:
                out += b[:, None]
        if needs[1]:
            ctx.cols = cols
        if needs[0]:
            ctx.w = w
            Conv2dFn._pick_input_grad(ctx, x.shape, w.shape, stride, pads, dilation, groups,
                                      out.dtype)
        ctx.geom = (one_d, x.shape, w.shape, pads, stride, dilation, groups, oh, ow)
        y = out.reshape(oc, n, oh, ow).transpose(1, 0, 2, 3)
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def _forward_direct(ctx, x, w, b, stride, pads, dilation, one_d):
        """The forward of the direct path (ops.conv_direct): it keeps the padded input for
        the weight gradient instead of a column buffer."""
        out, grid = conv_direct.forward(x, w, b, pads)
        needs = ctx.needs_input_grad
        if needs[1]:
            ctx.grid = grid
        if needs[0]:
            ctx.w = w
            Conv2dFn._pick_input_grad(ctx, x.shape, w.shape, stride, pads, dilation, 1,
                                      out.dtype)
        ctx.bias_row = False
        ctx.geom = (one_d, x.shape, w.shape, pads, stride, dilation, 1, grid.oh, grid.ow)
        y = out.transpose(1, 0, 2, 3)
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def _pick_input_grad(ctx, xshape, wshape, stride, pads, dilation, groups, dtype):
        """How the backward of the im2col and direct paths computes dx: a direct sum
        (ctx.dx_direct), the shifted-view correlation (ctx.dx_shifted) or col2im."""
        on_host = ctx.xp is np
        ctx.dx_direct = on_host and conv_direct_input_grad.input_grad_ok(
            xshape, wshape, stride, pads, dilation, groups, dtype, conv_implicit.MIN_CHANNELS
        )
        ctx.dx_shifted = on_host and not ctx.dx_direct and shifted_input_grad_ok(
            xshape, wshape, stride, pads, dilation, groups, dtype
        )

    @staticmethod
    def _chunked_forward(w, b, xpad, win, cols, grid, dh, sh):
        """out (OC, N OH OW) = [W | b] @ [cols; 1], im2col copy and GEMM per chunk of whole
        images (CHUNK_FLOATS); cols (C KH KW + 1, N OH OW) is filled for the weight gradient
        (its last row of ones gives db in the same product). The chunks depend on the shape
        only: the bits do not depend on the thread count.
        With stride 1 along H the copy runs in two stages (_row_windows): a kernel row's
        columns of one image are then one run of OH*OW floats instead of OH runs of OW."""
        xp = backend.xp_of(cols)
        n, oh, ow = grid
        oc, k = w.shape[0], cols.shape[0] - 1
        c, kh, kw = win.shape[:3]
        wb = xp.empty((oc, k + 1), np.result_type(w.dtype, cols.dtype))  # host: dtype
        wb[:, :k] = w.reshape(oc, k)
        wb[:, k] = b
        # a plain allocation (freed memory stays mapped: zengrad.allocator): the LeNet step is
        # level with a kept one (ab_trees 1.00 / 1.02 at 1 / 2 threads), which pins memory
        out = xp.empty((oc, n * oh * ow), wb.dtype)
        plane = oh * ow
        per = max(1, min(SMALL_OUT_BLOCK // plane, CHUNK_FLOATS // ((k + 1 + oc) * plane)))
        cols4 = cols.reshape(k + 1, n, oh, ow)
        two_stage = sh == 1 and kh > 1 and ow < TWO_STAGE_MAX_OW
        if two_stage:
            hu = oh + dh * (kh - 1)  # the padded rows the windows read
            s_c, s_n, s_h, s_w = xpad.strides
            s_wj, s_wo = win.strides[2], win.strides[5]
            rows_view = as_strided(xp, xpad, (c, kw, n, hu, ow), (s_c, s_wj, s_n, s_h, s_wo))

        def run(i, j):  # images i..j-1
            dst = cols4[:k, i:j]
            if two_stage:
                _row_windows(xp, dst, rows_view[:, :, i:j], kh, dh, oh)
            else:
                dst.reshape(c, kh, kw, j - i, oh, ow)[...] = win[:, :, :, i:j]
            cols4[k, i:j] = 1
            xp.matmul(wb, cols[:, i * plane : j * plane], out=out[:, i * plane : j * plane])

        # the chunks on zengrad's threads, each product at one BLAS thread (small_product):
        # with OpenBLAS's workers spinning from other products of the step they took 1.3x
        # the step's time at 2 threads, so the step's other small products hold BLAS at one
        # thread too (linear layers); a chunk's product alone is below SMALL_PRODUCT_MACS
        firsts = np.arange(0, n, per)  # host: each chunk's first image

        def chunk(first):
            i = int(first[0])
            run(i, min(i + per, n))

        with small_product(oc * (k + 1) * per * plane):
            over_threads(chunk, [firsts], 1)
        return out

    @staticmethod
    def _forward_shifted(ctx, x, w, b, pads, dilation, one_d):
        """The forward of the shifted-view path: y = sum over taps of W_ij @ shifted X."""
        n, c, h, wd = x.shape
        oc, _, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        oh = h + pt + pb - dilation[0] * (kh - 1)
        ow = wd + pl + pr - dilation[1] * (kw - 1)
        xc = x.transpose(1, 0, 2, 3)
        if ctx.winograd:  # (x as it is is the weight gradient's operand too)
            operand = xc
            out = conv_winograd.correlate(xc, conv_winograd.filter_transform(w), pads, (oh, ow))
        else:
            operand = PaddedFlat(xc, pads, (kh, kw), dilation)
            taps = ctx.xp.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(kh * kw, oc, c)
            out = correlate(operand, taps, (oh, ow))
        if b is not None:
            out += b[:, None, None, None]
        needs = ctx.needs_input_grad
        if needs[1]:
            ctx.flat = operand
        if needs[0]:
            ctx.w = w
        ctx.geom = (one_d, x.shape, w.shape, pads, (1, 1), dilation, 1, oh, ow)
        y = out.transpose(1, 0, 2, 3)
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def _backward_shifted(ctx, g):
        """dW from the saved padded input and dY on its grid; dx = dY (padded by d (k-1) - p)
        correlated with the flipped kernel, W'[c, o, i, j] = W[o, c, KH-1-i, KW-1-j]."""
        one_d, xshape, wshape, pads, _, dilation, _, oh, ow = ctx.geom
        gy = g.transpose(1, 0, 2, 3)  # (OC, N, OH, OW), free for channel-major g
        needs = ctx.needs_input_grad
        dx = dw = db = None
        if needs[2]:
            db = gy.sum(axis=(1, 2, 3))
        if ctx.winograd:  # (never conv1d: its kernel is 3x3)
            if needs[0]:  # dY padded by 2 - p, correlated with W turned
                (pt, pb), (pl, pr) = pads
                u = conv_winograd.input_grad_filter(ctx.w)
                dpads = ((2 - pt, 2 - pb), (2 - pl, 2 - pr))
                dx = conv_winograd.correlate(gy, u, dpads, xshape[2:]).transpose(1, 0, 2, 3)
            if needs[1]:
                dw = conv_winograd.weight_grad(ctx.flat, gy, pads)
            return dx, dw, db, None, None, None, None
        gflat = dy_flat(gy, pads, wshape[2:], dilation)
        if needs[0] and needs[1]:  # one pass sharing dY's blocks
            dx, dw = input_and_weight_grad(ctx.flat, gflat, flipped_taps(ctx.w), xshape[2:])
            dx = dx.transpose(1, 0, 2, 3)
        elif needs[1]:
            dw = weight_grad(ctx.flat, gflat)
        elif needs[0]:
            dx = correlate(gflat, flipped_taps(ctx.w), xshape[2:]).transpose(1, 0, 2, 3)
        if one_d:
            dx = None if dx is None else dx[:, :, 0, :]
            dw = None if dw is None else dw[:, :, 0, :]
        return dx, dw, db, None, None, None, None

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        one_d, xshape, wshape, pads, stride, dilation, groups, oh, ow = ctx.geom
        if one_d:
            g = g[:, :, None, :]
        if ctx.shifted:
            return Conv2dFn._backward_shifted(ctx, g)
        n, c, h, wd = xshape
        oc = g.shape[1]
        needs = ctx.needs_input_grad
        gm = g.transpose(1, 0, 2, 3).reshape(oc, n * oh * ow)  # free for channel-major g
        dx = dw = db = None
        if needs[2] and not (needs[1] and ctx.bias_row):
            db = gm.sum(axis=1)
        if needs[1] and ctx.direct:
            dw = conv_direct.weight_grad(ctx.grid, g.transpose(1, 0, 2, 3))
            if one_d:
                dw = dw[:, :, 0, :]
        elif needs[1]:
            cols = ctx.cols
            if groups == 1:
                dw = _weight_grad(xp, gm, cols)
                if ctx.bias_row:  # the ones row: its column is db
                    db = dw[:, -1].copy() if needs[2] else None
                    dw = dw[:, :-1]
            else:
                gg = gm.reshape(groups, oc // groups, -1)
                dw = xp.matmul(gg, cols.transpose(0, 2, 1))
            dw = dw.reshape(wshape)
            if one_d:
                dw = dw[:, :, 0, :]
        if needs[0] and ctx.dx_direct:
            dx = conv_direct_input_grad.input_grad(ctx.w, g.transpose(1, 0, 2, 3), xshape, pads)
            if one_d:
                dx = dx[:, :, 0, :]
        elif needs[0] and ctx.dx_shifted:
            gflat = dy_flat(g.transpose(1, 0, 2, 3), pads, wshape[2:], dilation)
            dx = correlate(gflat, flipped_taps(ctx.w), xshape[2:]).transpose(1, 0, 2, 3)
            if one_d:
                dx = dx[:, :, 0, :]
        elif needs[0]:
            dx = Conv2dFn._input_grad(ctx.w, gm, xshape, pads, stride, dilation, groups, oh, ow)
            if one_d:
                dx = dx[:, :, 0, :]
        return dx, dw, db, None, None, None, None

    @staticmethod
    def _input_grad(w, gm, xshape, pads, stride, dilation, groups, oh, ow):
        """dx = col2im(W^T dY): one GEMM, then KH*KW shifted slice-adds into the padded grad."""
        xp = backend.xp_of(gm)  # (conv_transpose's forward calls this too)
        n, c, h, wd = xshape
        oc, cg, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        hp, wp = h + pt + pb, wd + pl + pr
        flat = groups == 1 and stride == (1, 1) and hp * wp <= FLAT_MAX_RATIO * oh * ow
        if flat and (kh * kw > 1 or hp * wp > oh * ow):  # (1x1 unpadded: dcols is dx)
            return Conv2dFn._input_grad_flat(xp, w, gm, xshape, pads, dilation, oh, ow)
        # rows ordered (i, j, c) so that each kernel offset's slice dcols[i, j] is contiguous
        if groups == 1:
            dcols = w.transpose(2, 3, 1, 0).reshape(kh * kw * c, oc) @ gm
        else:
            ocg = oc // groups
            wg = w.reshape(groups, ocg, cg, kh, kw).transpose(0, 3, 4, 2, 1)
            dcols = xp.matmul(wg.reshape(groups, kh * kw * cg, ocg), gm.reshape(groups, ocg, -1))
            dcols = dcols.reshape(groups, kh, kw, cg, -1).transpose(1, 2, 0, 3, 4)
        dcols = dcols.reshape(kh, kw, c, n, oh, ow)
        sh, sw = stride
        dh, dw = dilation
        if kh == kw == 1 and sh == sw == 1 and not (pt or pb or pl or pr):
            return dcols.reshape(c, n, h, wd).transpose(1, 0, 2, 3)
        dxp = xp.zeros((c, n, h + pt + pb, wd + pl + pr), dcols.dtype)
        for i in range(kh):
            for j in range(kw):
                r, q = i * dh, j * dw
                rows = slice(r, r + sh * (oh - 1) + 1, sh)
                cols = slice(q, q + sw * (ow - 1) + 1, sw)
                dxp[:, :, rows, cols] += dcols[i, j]
        return dxp[:, :, pt : pt + h, pl : pl + wd].transpose(1, 0, 2, 3)

    @staticmethod
    def _input_grad_flat(xp, w, gm, xshape, pads, dilation, oh, ow):
        """Stride-1 col2im on the flattened padded grid: output (n, h, w) sits at flat position
        p = (n Hp + h) Wp + w, the input it reads through offset (i, j) at p + d_h i Wp + d_w j.
        So with dY zero-padded to that grid, each offset's W_ij^T dY adds into ONE contiguous
        shifted slice of dx_pad: long runs instead of OW-float ones (2x faster adds)."""
        n, c, h, wd = xshape
        oc, _, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        dh, dw = dilation
        hp, wp = h + pt + pb, wd + pl + pr
        total = n * hp * wp
        span = total - dh * (kh - 1) * wp - dw * (kw - 1)  # covers every output position
        if n == 0 or span <= 0:  # an empty batch: nothing to add
            return xp.zeros(xshape, np.result_type(w.dtype, gm.dtype))
        gp = xp.zeros((oc, n, hp, wp), gm.dtype)
        gp[:, :, :oh, :ow] = gm.reshape(oc, n, oh, ow)
        gp = gp.reshape(oc, total)
        wt = w.transpose(2, 3, 1, 0).reshape(kh * kw * c, oc)
        rows = kh * kw * c
        # column blocks of W^T dY (~8 MB) are added while still in cache; one full-size
        # dcols (85 MB for BasicBlock) went through memory twice. 1 thread: 64 -> 42 ms
        chunk = min(span, max(1024, COL2IM_BLOCK_FLOATS // rows))
        dtype = np.result_type(wt.dtype, gp.dtype)
        buf = xp.empty((rows, chunk), dtype)
        dxp = xp.zeros((c, total), dtype)
        offsets = [(k // kw) * dh * wp + (k % kw) * dw for k in range(kh * kw)]
        for s in range(0, span, chunk):
            e = min(s + chunk, span)
            dcols = xp.matmul(wt, gp[:, s:e], out=buf[:, : e - s]).reshape(kh * kw, c, e - s)
            for k, o in enumerate(offsets):
                dxp[:, o + s : o + e] += dcols[k]
        dxp = dxp.reshape(c, n, hp, wp)
        return dxp[:, :, pt : pt + h, pl : pl + wd].transpose(1, 0, 2, 3)


# ----- public functions ---------------------------------------------------------------------
def describe_call(name: str, weight_shape, stride, padding, dilation, groups) -> str:
    """How errors name a functional conv call: conv2d(weight of shape (8, 3, 3, 3), stride=(2, 2)),
    the options shown when not default."""
    nd = len(stride)
    parts = [f"weight of shape {shape_str(weight_shape)}"]
    if any(s != 1 for s in stride):
        parts.append(f"stride={stride}")
    if padding not in (0, "valid") and padding != (0,) * nd:
        parts.append(f"padding={padding!r}")
    if any(d != 1 for d in dilation):
        parts.append(f"dilation={dilation}")
    if groups != 1:
        parts.append(f"groups={groups}")
    return f"{name}(" + ", ".join(parts) + ")"


def check_input_and_weight(name: str, input, weight) -> None:
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"{name}: input and weight must be Tensors, got {type(input).__name__} and "
            f"{type(weight).__name__}"
        )


def check_bias(owner: str, bias, out_channels: int) -> None:
    """bias is None or a Tensor of shape (out_channels,)."""
    if bias is not None and (not isinstance(bias, Tensor) or bias.array.shape != (out_channels,)):
        got = shape_str(bias.array.shape) if isinstance(bias, Tensor) else type(bias).__name__
        raise ValueError(f"{owner}: bias must have shape ({out_channels},), got {got}")


def check_conv_input(
    owner: str, nd: int, xshape, in_channels: int, kernel, pads: Pads, dilation
) -> None:
    """Rank, channel count and kernel-vs-padded-input checks, naming owner and the input."""
    rank = len(xshape)
    if rank != nd + 2:
        raise ValueError(
            f"{owner}: expected a {nd + 2}-D input (batched) or {nd + 1}-D input (unbatched), "
            f"got input of shape {shape_str(xshape)}"
        )
    if xshape[1] != in_channels:
        raise ValueError(
            f"{owner}: expected input with {in_channels} channels, got input of shape "
            f"{shape_str(xshape)}"
        )
    spatial = tuple(xshape[2:])
    padded = tuple(s + p0 + p1 for s, (p0, p1) in zip(spatial, pads[2 - nd :]))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(e > p for e, p in zip(eff, padded)):
        raise ValueError(
            f"{owner}: kernel size {tuple(kernel)} (dilated: {eff}) can't be greater than the "
            f"padded input size {padded}; input of shape {shape_str(xshape)}"
        )


def conv_nd(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    nd: int,
    stride,
    padding,
    dilation,
    groups: int,
    owner: str | Callable[[], str] | None = None,
) -> Tensor:
    """Validate the arguments of conv1d/conv2d (and nn.Conv*d's call) and apply the op.
    owner names the call in errors; a callable is called only when an error is raised."""
    check_input_and_weight(f"conv{nd}d", input, weight)
    if callable(owner):
        owner = LazyName(owner)
    pre = owner or f"conv{nd}d"
    stride_t = ntuple(stride, nd, "stride", pre)
    dil_t = ntuple(dilation, nd, "dilation", pre)
    check_positive(stride_t, "stride", pre)
    check_positive(dil_t, "dilation", pre)
    wshape = weight.array.shape
    if owner is None:
        owner = LazyName(
            lambda: describe_call(f"conv{nd}d", wshape, stride_t, padding, dil_t, groups)
        )
    if len(wshape) != nd + 2:
        raise ValueError(f"{owner}: weight must be {nd + 2}-D, got shape {shape_str(wshape)}")
    if not isinstance(groups, Integral) or groups <= 0:
        raise ValueError(f"{owner}: groups must be a positive integer, got {groups!r}")
    if wshape[0] % groups:
        raise ValueError(
            f"{owner}: out_channels ({wshape[0]}) must be divisible by groups ({groups})"
        )
    kernel = tuple(wshape[2:])
    pads = conv_padding(padding, kernel, dil_t, stride_t, owner)
    check_bias(owner, bias, wshape[0])
    in_ch = wshape[1] * groups
    unbatched = input.array.ndim == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    check_conv_input(owner, nd, input.array.shape, in_ch, kernel, pads, dil_t)
    if nd == 1:
        stride_t, dil_t = (1, *stride_t), (1, *dil_t)
    out = Conv2dFn.apply(input, weight, bias, stride_t, pads, dil_t, int(groups))
    return out.squeeze(0) if unbatched else out


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation: input (N, C, L), weight (OC, C/groups, K) -> (N, OC, L_out)."""
    return conv_nd(input, weight, bias, 1, stride, padding, dilation, groups)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation: input (N, C, H, W), weight (OC, C/groups, KH, KW) -> (N, OC, OH, OW),
    OH = (H + pad_h - dilation (KH - 1) - 1) // stride + 1."""
    return conv_nd(input, weight, bias, 2, stride, padding, dilation, groups)
