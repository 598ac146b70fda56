"""Stride-1 convolution with one or two input channels as a direct sum, compiled by Numba.

    y[o, n, p] = b[o] + sum_{c, i, j} W[o, c, i, j] X[c, n, p + i Wp + j]

on the zero-padded input flattened per image (X (C, N, Hp Wp), row pitch Wp): output (oy, ox)
sits at p = oy Wp + ox, so every kernel tap reads X at one shift and each (o, c, i) pass is one
loop over p in [0, L), L = (OH - 1) Wp + OW (the Wp - OW positions per row past the output
are computed and dropped). With one input channel the im2col path copies the input KH KW
times over (LeNet-5's conv1: 25 x 50,176 floats, 5 MB a step) to feed products of 6 rows
that OpenBLAS runs at a fraction of its peak; here nothing is copied. The KW taps of a kernel
row and OB output channels are unrolled in the loop body (the kernel source is generated per
(KW, OB)), so each loaded input feeds OB multiply-adds and each output is loaded and stored
once per kernel row, not once per tap. The sum runs in the order of the formula, bias first,
then (c, i, j) (no fastmath): the same bits at any thread count.

The weight gradient dW[o, c, i, j] = sum_{n, p} dY[o, n, p] X[c, n, p + i Wp + j] (dY zero
at the dropped positions) is the same loop with the KW OB sums as registers, compiled with
reassociation allowed so that its sums vectorize (4-10x faster; the order then depends on the
machine's vector width, as a BLAS product's does): per block of images into its own slot,
the slots summed in block order, so the bits do not depend on the thread count.

Measured (1 thread, float32, LeNet-5's conv1 1 -> 6 channels 5x5 pad 2 on 28x28, batch 64):
forward 363 us against the im2col path's ~800, weight gradient 190 us against ~270 plus the
forward's column copy. With six input channels (conv2) the forward was 709 us against
~1,180, but its weight gradient 985 us against 438 from the columns: the path takes
DIRECT_MAX_CHANNELS input channels. Taken where Numba runs (ops.conv decides); the input
gradient stays conv's (col2im of W^T dY).
"""

from __future__ import annotations

import functools

import numpy as np

from zengrad.ops import jit_cache, kernels, threads

# the path takes stride-1, undilated, one-group convolutions with at most this many input
# channels (see the module docstring) and kernel rows of at most MAX_KW taps (unrolled)
DIRECT_MAX_CHANNELS = 2
MAX_KW = 8
# ... and whose passes cover at least this many grid positions, L = (OH - 1) Wp + OW: below
# it the loops are too short for their setup and the dropped columns (1 thread, conv 1 -> 6
# channels 5x5 pad 2, batch 64, forward + backward against the im2col path: 8x8 images
# (L 92) 1.49x its time, 12x12 (188) 0.97-0.99x, 16x16 (316) 0.85-1.03x, 20x20 (476)
# 0.80-0.89x, 28x28 (892) 0.59-0.87x)
MIN_LENGTH = 400
# output channels per pass (unrolled): 3 measured fastest for conv1's 6 (2 / 3 / 6: 405 /
# 363 / 398 us); the rest of OC one at a time
OUT_BLOCK = 3
# images per block of work; the blocks go to zengrad's threads from this much work (multiply-
# adds, N L KH KW C OC; LeNet's conv1 8.6 M)
IMAGES_PER_BLOCK = 8
SPLIT_MIN_WORK = 1 << 20


def direct_ok(xshape, wshape, stride, pads, dilation, groups, dtype) -> bool:
    """Whether conv2d takes the direct path: stride 1, no dilation, one group, a float dtype,
    few input channels, kernel rows of at most MAX_KW, passes of MIN_LENGTH, and Numba."""
    n, c, h, w = xshape
    oc, _, kh, kw = wshape
    if stride != (1, 1) or dilation != (1, 1) or groups != 1 or c > DIRECT_MAX_CHANNELS:
        return False
    if np.dtype(dtype) not in (np.float32, np.float64) or kw > MAX_KW:
        return False
    if min(n, c, oc) == 0 or not kernels.numba_enabled():
        return False
    (pt, pb), (pl, pr) = pads
    hp, wp = h + pt + pb, w + pl + pr
    if hp < kh or wp < kw:
        return False
    return (hp - kh) * wp + wp - kw + 1 >= MIN_LENGTH


def _loop_head(arrays: str, ob: int) -> list[str]:
    """The kernels' first lines: k(<arrays>, rowoff, L, N, P, C, KH, o_lo, o_hi, n0, n1) and
    its loops over images, blocks of ob output channels, input channels and kernel rows
    (base: where kernel row i of channel c of image n starts reading X)."""
    return [
        f"def k({arrays}, rowoff, L, N, P, C, KH, o_lo, o_hi, n0, n1):",
        "    U = np.uint64",
        "    for n in range(n0, n1):",
        f"        for o0 in range(o_lo, o_hi, {ob}):",
        "            for c in range(C):",
        "                xb = U((c * N + n) * P)",
        "                for i in range(KH):",
        "                    base = xb + U(rowoff[i])",
    ]


def _w_at(q: int, j: int, kw: int) -> str:
    """The flat index of W[o0 + q, c, i, j] (W (OC, C, KH, kw) contiguous)."""
    return f"U((((o0 + {q}) * C + c) * KH + i) * {kw} + {j})"


def _forward_source(kw: int, ob: int) -> str:
    """The forward kernel's source for kernel rows of kw taps and ob output channels a pass:
    k(xf, w, b, out, rowoff, L, N, P, C, KH, o_lo, o_hi, n0, n1) adds, for images n0..n1 and
    output channels o_lo..o_hi (a multiple of ob apart), every (c, i) row pass into out
    (OC, N, L) flat, the first pass starting from the bias. Indices are unsigned: a signed
    one makes Numba check it for negative values on every access, and the loop does not
    vectorize."""
    lines = _loop_head("xf, w, b, out", ob)
    for q in range(ob):
        lines.append(f"                    a{q} = U(((o0 + {q}) * N + n) * L)")
        for j in range(kw):
            lines.append(f"                    w{q}_{j} = w[{_w_at(q, j, kw)}]")
    for first in (True, False):
        lines.append("                    if c == 0 and i == 0:" if first else
                     "                    else:")
        for q in range(ob):
            if first:
                lines.append(f"                        s{q} = b[U(o0 + {q})]")
        lines.append("                        for p in range(L):")
        lines.append("                            up = U(p)")
        lines.append("                            t = base + up")
        for j in range(kw):
            lines.append(f"                            x{j} = xf[t + U({j})]")
        for q in range(ob):
            start = f"s{q}" if first else f"out[a{q} + up]"
            terms = "".join(f" + w{q}_{j} * x{j}" for j in range(kw))
            lines.append(f"                            out[a{q} + up] = {start}{terms}")
    return "\n".join(lines)


def _weight_grad_source(kw: int, ob: int) -> str:
    """The weight gradient's kernel: k(xf, gf, dw, rowoff, L, N, P, C, KH, o_lo, o_hi, n0, n1)
    adds sum_{n in n0..n1, p} dY[o, n, p] X[c, n, p + rowoff[i] + j] into dw (OC, C, KH, kw)
    flat, the kw ob sums of a pass held as scalars."""
    lines = _loop_head("xf, gf, dw", ob)
    for q in range(ob):
        lines.append(f"                    g{q}b = U(((o0 + {q}) * N + n) * L)")
        for j in range(kw):
            lines.append(f"                    s{q}_{j} = dw.dtype.type(0)")
    lines += ["                    for p in range(L):",
              "                        up = U(p)",
              "                        t = base + up"]
    for j in range(kw):
        lines.append(f"                        x{j} = xf[t + U({j})]")
    for q in range(ob):
        lines.append(f"                        g{q} = gf[g{q}b + up]")
        for j in range(kw):
            lines.append(f"                        s{q}_{j} += g{q} * x{j}")
    for q in range(ob):
        for j in range(kw):
            lines.append(f"                    dw[{_w_at(q, j, kw)}] += s{q}_{j}")
    return "\n".join(lines)


@functools.cache
def _kernel(kind: str, kw: int, ob: int):
    """The compiled kernel of `kind` ("forward" or "weight_grad") for kw taps and ob channels
    (generated source: the taps and channels unrolled; compiled on the first call)."""
    source = _forward_source(kw, ob) if kind == "forward" else _weight_grad_source(kw, ob)
    fastmath = {"reassoc"} if kind == "weight_grad" else False
    return jit_cache.compile_source(source, "k", {"np": np}, nogil=True, error_model="numpy",
                                    fastmath=fastmath)


class Grid:
    """The zero-padded input X (C, N, Hp Wp) of a direct convolution, in dtype, and its
    geometry."""

    def __init__(self, x, pads, kshape, dtype) -> None:
        n, c, h, w = x.shape
        (pt, pb), (pl, pr) = pads
        self.kh, self.kw = kshape
        self.hp, self.wp = h + pt + pb, w + pl + pr
        self.oh, self.ow = self.hp - self.kh + 1, self.wp - self.kw + 1
        self.n, self.c = n, c
        xpad = np.zeros((c, n, self.hp, self.wp), dtype)  # host: this path is NumPy's
        xpad[:, :, pt : pt + h, pl : pl + w] = x.transpose(1, 0, 2, 3)
        self.flat = xpad.reshape(-1)
        self.length = (self.oh - 1) * self.wp + self.ow  # the positions a pass covers
        self.rowoff = np.arange(self.kh, dtype=np.int64) * self.wp  # host: offsets

    def on_grid(self, a):
        """The (OC, N, OH, OW) view of the outputs in a flat (OC, N, L) array of grid
        positions (a writeable view: the caller writes only its own array)."""
        s = a.itemsize
        oc = a.size // (self.n * self.length)
        return np.lib.stride_tricks.as_strided(  # host
            a, (oc, self.n, self.oh, self.ow),
            (self.n * self.length * s, self.length * s, self.wp * s, s))

    def run(self, kind: str, oc: int, lead: tuple, out, slots=None) -> None:
        """Call the `kind` kernel (arguments xf, *lead, target, ...) over every image and
        output channel, in blocks of IMAGES_PER_BLOCK images, on zengrad's threads for large
        work. The target is `out` (each block writes its own images' positions) or, with
        `slots` (one row per block), the block's own row."""
        full = oc - oc % OUT_BLOCK
        main, tail = _kernel(kind, self.kw, OUT_BLOCK), _kernel(kind, self.kw, 1)
        geom = (self.length, self.n, self.hp * self.wp, self.c, self.kh)
        firsts = np.arange(0, self.n, IMAGES_PER_BLOCK)  # host: each block's first image

        def block(first, slot=None):
            n0 = int(first[0])
            n1 = min(self.n, n0 + IMAGES_PER_BLOCK)
            target = out if slot is None else slot[0]
            if full:
                main(self.flat, *lead, target, self.rowoff, *geom, 0, full, n0, n1)
            if full < oc:
                tail(self.flat, *lead, target, self.rowoff, *geom, full, oc, n0, n1)

        work = self.n * self.length * self.kh * self.kw * oc * self.c
        least = 0 if work >= SPLIT_MIN_WORK else len(firsts) + 1
        threads.for_blocks(block, [firsts] if slots is None else [firsts, slots], 1, least)


def forward(x, w, b, pads):
    """(y (OC, N, OH, OW) contiguous, the Grid) of y = W * x + b; x (N, C, H, W)."""
    oc, c, kh, kw = w.shape
    dtype = np.result_type(x.dtype, w.dtype)
    grid = Grid(x, pads, (kh, kw), dtype)
    wf = np.ascontiguousarray(w, dtype=dtype).reshape(-1)  # host
    bias = np.zeros(oc, dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)  # host
    out = np.empty(oc * grid.n * grid.length, dtype)  # host
    grid.run("forward", oc, (wf, bias), out)
    y = np.empty((oc, grid.n, grid.oh, grid.ow), dtype)  # host
    y[...] = grid.on_grid(out)
    return y, grid


def weight_grad(grid: Grid, gy):
    """dW (OC, C, KH, KW) for the output gradient gy (OC, N, OH, OW) of forward's call."""
    oc = gy.shape[0]
    dtype = grid.flat.dtype
    gf = np.zeros(oc * grid.n * grid.length, dtype)  # host: dY, zero past each row's outputs
    grid.on_grid(gf)[...] = gy
    blocks = -(-grid.n // IMAGES_PER_BLOCK)
    parts = np.zeros((blocks, oc * grid.c * grid.kh * grid.kw), dtype)  # host: one per block
    grid.run("weight_grad", oc, (gf,), None, parts)
    return parts.sum(axis=0).reshape(oc, grid.c, grid.kh, grid.kw)
