"""Stride-1 convolution as KH*KW accumulated GEMMs over shifted views: no column buffer.

On the zero-padded input flattened channel-major to X (C, N*Hp*Wp), output position
p = (n Hp + h) Wp + w reads input p + off_ij through kernel tap (i, j), off_ij = d_h i Wp + d_w j.
So for every tap, the (C, L) block of X starting at column s + off_ij is one strided view
(row stride N Hp Wp, unit column stride), which BLAS reads in place:

    Y[:, s:s+L] = sum_ij  W_ij (OC, C) @ X[:, s+off_ij : s+off_ij+L]

Positions of the padded grid that are not outputs (the right and bottom border, kh-1 rows and
kw-1 columns of each image) are computed too and dropped; X carries max(off) spare zero
columns so that the last image's views stay in bounds.
The work is cut into chunks of whole images, so each chunk's accumulator stays in cache and
OpenBLAS sees (OC, C) @ (C, L) products with L of a few thousand, which it runs at 2-3x the
rate of one (OC, C*KH*KW) @ (C*KH*KW, N*OH*OW) product with a long output (1 thread,
BasicBlock 64ch 32x32 b32 forward: 46 -> 30 ms, including the 75 MB im2col copy it avoids).

The same loop gives the input gradient (a correlation of dY, padded by d(k-1)-p, with the
flipped, transposed kernel) and, with the roles swapped, the weight gradient
dW_ij = sum_p dY_pad[:, p] X[:, p+off_ij]^T, one batched product over the KH*KW taps per chunk.
Written against the array's module, but taken on NumPy only (ops.conv decides): the speed
comes from NumPy's matmul handing strided operands to OpenBLAS without a copy.
"""

from __future__ import annotations

import numpy as np

from zengrad import backend

# a chunk holds about this many accumulator floats (OC x L): 64 x 1156 (one 34x34 image)
# measured fastest for the BasicBlock, 2 or 4 images at once 5-20% slower (1 thread)
CHUNK_FLOATS = 96 * 1024
# the path is taken when every tap's product is at least this big (C and OC both >= 16):
# below it one im2col GEMM costs less than KH*KW small calls and their adds
MIN_CHANNELS = 16
MIN_WORK = 2 * 1024 * 1024  # N*OH*OW*C*OC*KH*KW multiply-adds


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
    (pt, pb), (pl, pr) = pads
    dh, dw = dilation
    if max(pt, pb) > dh * (kh - 1) or max(pl, pr) > dw * (kw - 1):
        return False
    oh, ow = h + pt + pb - dh * (kh - 1), w + pl + pr - dw * (kw - 1)
    if min(c, oc) < MIN_CHANNELS or n * oh * ow == 0:
        return False
    return n * oh * ow * c * oc * kh * kw >= MIN_WORK


class PaddedFlat:
    """src (C, N, H, W) zero padded by pads into X (C, N*Hp*Wp + spare), and the geometry of
    the taps on that grid."""

    __slots__ = ("xp", "x", "n", "hp", "wp", "offsets", "kshape")

    def __init__(self, src, pads, kshape, dilation):
        xp = self.xp = backend.xp_of(src)
        c, n, h, w = src.shape
        (pt, pb), (pl, pr) = pads
        kh, kw = kshape
        dh, dw = dilation
        self.n, self.hp, self.wp = n, h + pt + pb, w + pl + pr
        self.kshape = kshape
        self.offsets = [i * dh * self.wp + j * dw for i in range(kh) for j in range(kw)]
        total = n * self.hp * self.wp
        self.x = xp.zeros((c, total + self.offsets[-1]), src.dtype)
        grid = self.x[:, :total].reshape(c, n, self.hp, self.wp)
        grid[:, :, pt : pt + h, pl : pl + w] = src

    def chunks(self, rows: int):
        """(first image, images, first column) of chunks whose (rows, L) accumulator holds
        about CHUNK_FLOATS floats, in whole images."""
        size = self.hp * self.wp
        step = max(1, CHUNK_FLOATS // max(1, rows * size))
        for n0 in range(0, self.n, step):
            yield n0, min(step, self.n - n0), n0 * size

    def tap_views(self, start: int, length: int):
        """The (KH, KW, C, length) strided view of every tap's block from column start."""
        x = self.x
        s_c, s_p = x.strides
        kh, kw = self.kshape
        dh_step = (self.offsets[kw] if kh > 1 else 0) * s_p
        dw_step = (self.offsets[1] if kw > 1 else 0) * s_p
        # (read only: written by nothing; CuPy's as_strided takes no writeable=)
        return self.xp.lib.stride_tricks.as_strided(
            x[:, start:], (kh, kw, x.shape[0], length), (dh_step, dw_step, s_c, s_p)
        )


def correlate(flat: PaddedFlat, wk, out_hw: tuple[int, int]):
    """y (OC, N, OH, OW) = sum over taps k of wk[k] (OC, C) applied to the shifted views of flat.

    wk: (KH*KW, OC, C), the taps in row-major (i, j) order."""
    oh, ow = out_hw
    taps, oc, _ = wk.shape
    hp, wp, xp = flat.hp, flat.wp, flat.xp
    dtype = np.result_type(wk.dtype, flat.x.dtype)
    y = xp.empty((oc, flat.n, oh, ow), dtype)
    x = flat.x
    acc = tmp = None
    for n0, g, s in flat.chunks(oc):
        length = g * hp * wp
        if acc is None or acc.shape[1] != length:
            acc = xp.empty((oc, length), dtype)
            tmp = xp.empty((oc, length), dtype)
        for k, off in enumerate(flat.offsets):
            view = x[:, s + off : s + off + length]
            if k == 0:
                xp.matmul(wk[0], view, out=acc)
            else:
                xp.matmul(wk[k], view, out=tmp)
                acc += tmp
        y[:, n0 : n0 + g] = acc.reshape(oc, g, hp, wp)[:, :, :oh, :ow]
    return y


def weight_grad(flat: PaddedFlat, gy):
    """dW (OC, C, KH, KW): dW_ij = sum over output positions p of dY[:, p] X[:, p + off_ij]^T,
    with dY (OC, N, OH, OW) laid on the padded grid (zeros at the positions that are not
    outputs). Per chunk, the taps' views are copied into one (KH KW C, L) block that stays in
    cache and multiplied at once, as (cols @ dY^T)^T: 1 thread, BasicBlock, 31 ms against
    35-37 for KH*KW separate or batched products over the views."""
    oc, n, oh, ow = gy.shape
    hp, wp, xp = flat.hp, flat.wp, flat.xp
    kh, kw = flat.kshape
    c = flat.x.shape[0]
    dtype = np.result_type(gy.dtype, flat.x.dtype)
    dw = xp.zeros((kh * kw * c, oc), dtype)
    grid = cols = None
    for n0, g, s in flat.chunks(oc):
        length = g * hp * wp
        if grid is None or grid.shape[1] != g:
            grid = xp.zeros((oc, g, hp, wp), dtype)  # the border stays zero
            cols = xp.empty((kh, kw, c, length), flat.x.dtype)
        grid[:, :, :oh, :ow] = gy[:, n0 : n0 + g]
        cols[...] = flat.tap_views(s, length)
        dw += cols.reshape(kh * kw * c, length) @ grid.reshape(oc, length).T
    return dw.reshape(kh, kw, c, oc).transpose(3, 2, 0, 1)
