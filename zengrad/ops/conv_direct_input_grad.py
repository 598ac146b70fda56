"""The input gradient of a stride-1 convolution with few input channels as a direct sum,
compiled by Numba (the backward's counterpart of ops.conv_direct).

    dx[c, n, y, x] = sum_{o, i, j} W[o, c, i, j] dY[o, n, y + pt - i, x + pl - j]

over the taps whose dY index lies inside dY (OH x OW). dY is laid out with zero columns
around each row only, G (OC, N, OH, Wg), Wg = W + KW - 1, dY's column u at grid column
u + KW - 1 - pl; dx is computed on the same pitch, D (C, N, H, Wg) (columns W.. dropped). dx
position q = y Wg + x then reads tap (i, j) at G[q + (pt - i) Wg + KW - 1 - j], and kernel row
i reaches only the dx rows y in [i - pt, i - pt + OH) (clipped to [0, H)): each (o, c, i) pass
is one loop over those rows' contiguous range of positions. The zero rows of the padded
correlation (ops.conv_implicit, dY padded by k - 1 - p on every side) are never multiplied:
LeNet-5's conv2 (6 -> 16 channels, 5x5 on 14x14) needs 176 positions a pass, not 248, and no
copy of dY's padded rows.

The KW taps and OB input channels of a pass are unrolled (generated source per (KW, OB)), so
each dY value loaded feeds OB KW multiply-adds; D starts at zero and each element sums its
terms in the order (o, i, j), no fastmath: the same bits at any thread count. Blocks of
images go to zengrad's threads from SPLIT_MIN_WORK multiply-adds, as the forward's do.

Measured (1 thread, float32, LeNet-5's conv2 input gradient, batch 64): see INPUT_BLOCK and
bench/README.md. Taken where Numba runs, for stride-1 one-group convolutions with fewer than
conv_implicit.MIN_CHANNELS input channels (ops.conv decides).
"""

from __future__ import annotations

import functools

import numpy as np

from zengrad.ops import conv_direct, jit_cache, kernels, threads

# input channels of dx per pass (unrolled)
INPUT_BLOCK = 3


def input_grad_ok(xshape, wshape, stride, pads, dilation, groups, dtype, max_channels) -> bool:
    """Whether the input gradient of a conv2d takes this path: stride 1, no dilation, one
    group, a float dtype, fewer than max_channels input channels, kernel rows of at most
    conv_direct.MAX_KW taps, pads of at most k - 1, and Numba."""
    n, c, h, w = xshape
    oc, _, kh, kw = wshape
    if stride != (1, 1) or dilation != (1, 1) or groups != 1 or not 0 < c < max_channels:
        return False
    if np.dtype(dtype) not in (np.float32, np.float64) or kw > conv_direct.MAX_KW:
        return False
    (pt, pb), (pl, pr) = pads
    if max(pt, pb) > kh - 1 or max(pl, pr) > kw - 1 or min(n, oc, h, w) == 0:
        return False
    return kernels.numba_enabled()


def _source(kw: int, ob: int) -> str:
    """k(gf, w, out, start, lo, count, N, OC, C, KH, Pg, Px, c_lo, c_hi, n0, n1) adds, for
    images n0..n1 and input channels c_lo..c_hi (a multiple of ob apart), every (o, i) pass
    into out (C, N, Px) flat. Pass i covers out positions lo[i] .. lo[i] + count[i] and reads
    gf (OC, N, Pg) flat from start[i]. Indices are unsigned (see conv_direct)."""
    lines = [
        "def k(gf, w, out, start, lo, count, N, OC, C, KH, Pg, Px, c_lo, c_hi, n0, n1):",
        "    U = np.uint64",
        "    for n in range(n0, n1):",
        f"        for c0 in range(c_lo, c_hi, {ob}):",
        "            for o in range(OC):",
        "                gb = U((o * N + n) * Pg)",
        "                for i in range(KH):",
        "                    base = gb + U(start[i])",
    ]
    for q in range(ob):
        lines.append(f"                    a{q} = U(((c0 + {q}) * N + n) * Px + lo[i])")
        for j in range(kw):
            lines.append(f"                    w{q}_{j} = w[U(((o * C + c0 + {q}) * KH + i) * {kw}"
                         f" + {j})]")
    lines += ["                    for p in range(count[i]):",
              "                        up = U(p)",
              "                        t = base + up"]
    for j in range(kw):  # tap j reads KW - 1 - j past the pass's start
        lines.append(f"                        x{j} = gf[t + U({kw - 1 - j})]")
    for q in range(ob):
        terms = "".join(f" + w{q}_{j} * x{j}" for j in range(kw))
        lines.append(f"                        out[a{q} + up] = out[a{q} + up]{terms}")
    return "\n".join(lines)


@functools.cache
def _kernel(kw: int, ob: int):
    """The compiled kernel for kw taps and ob input channels a pass (on the first call)."""
    return jit_cache.compile_source(_source(kw, ob), "k", {"np": np}, nogil=True,
                                    error_model="numpy")


def input_grad(w, gy, xshape, pads):
    """dx (N, C, H, W) for the output gradient gy (OC, N, OH, OW) of a stride-1 convolution
    of an input of xshape with w (OC, C, KH, KW) and pads ((pt, pb), (pl, pr))."""
    n, c, h, wd = xshape
    oc, _, kh, kw = w.shape
    _, _, oh, ow = gy.shape
    (pt, _), (pl, _) = pads
    dtype = np.result_type(gy.dtype, w.dtype)
    wg = wd + kw - 1
    e = kw - 1 - pl
    grid = np.zeros((oc, n, oh, wg), dtype)  # host: this path is NumPy's
    grid[:, :, :, e : e + ow] = gy
    rows = np.arange(kh)  # host: kernel rows
    ylo = np.maximum(0, rows - pt)  # host
    yhi = np.minimum(h, rows - pt + oh)  # host
    lo = (ylo * wg).astype(np.int64)
    count = np.where(yhi > ylo, (yhi - 1 - ylo) * wg + wd, 0).astype(np.int64)  # host
    start = ((ylo + pt - rows) * wg).astype(np.int64)
    px = h * wg
    out = np.zeros(c * n * px, dtype)  # host
    wf = np.ascontiguousarray(w, dtype=dtype).reshape(-1)  # host
    full = c - c % INPUT_BLOCK
    main, tail = _kernel(kw, INPUT_BLOCK), _kernel(kw, 1)
    gf = grid.reshape(-1)
    geom = (n, oc, c, kh, oh * wg, px)
    per = conv_direct.IMAGES_PER_BLOCK
    firsts = np.arange(0, n, per)  # host: each block's first image

    def block(first):
        n0 = int(first[0])
        n1 = min(n, n0 + per)
        if full:
            main(gf, wf, out, start, lo, count, *geom, 0, full, n0, n1)
        if full < c:
            tail(gf, wf, out, start, lo, count, *geom, full, c, n0, n1)

    work = n * int(count.sum()) * kw * oc * c
    least = 0 if work >= conv_direct.SPLIT_MIN_WORK else len(firsts) + 1
    threads.for_blocks(block, [firsts], 1, least)
    dx = np.empty((c, n, h, wd), dtype)  # host
    dx[...] = out.reshape(c, n, h, wg)[:, :, :, :wd]
    return dx.transpose(1, 0, 2, 3)
