"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray 2016).

Each 2x2 block of outputs (a tile) comes from the 4x4 block d of the padded input under it:

    Y = A^T [ sum_c (G g_c G^T) * (B^T d_c B) ] A     (* elementwise over the 4x4 positions)

    B^T = [1  0 -1  0]    G = [ 1    0    0 ]    A^T = [1  1  1  0]
          [0  1  1  0]        [1/2  1/2  1/2]          [0  1 -1 -1]
          [0 -1  1  0]        [1/2 -1/2  1/2]
          [0  1  0 -1]        [ 0    0    1 ]

So the sum over channels is 16 products U_k (OC, C) @ V_k (C, tiles), k the 4x4 positions,
with U = G g G^T (the filter transform, once per call) and V = B^T d B (the input transform):
16 multiplies per tile and channel pair where the direct sum takes 36 (2.25x fewer).
The transforms are adds and subtracts, compiled by Numba (they are the cost NumPy's passes
could not pay: 20+ ms over the BasicBlock's 4x larger V, session 5). Measured, 1 thread,
BasicBlock conv 64 -> 64 channels, 32x32, batch 32, float32: the shifted-view correlation
(ops.conv_implicit) 27 ms, this 19-20 ms (products 10.5, input transform 3.5 with the
planes, output transform 1.9). The weight gradient (weight_grad) runs the forward backwards,
dU_k = sum over tiles dM_k V_k^T with dM = A dY A^T: on a machine with AVX-512 OpenBLAS
kernels (session 9) 15-17 ms against the shifted views' 19-23 (chunks of two images: the
products' inner dimension is 544 tiles; four images, 9 MB of V and dM, leave L2 and the
transforms take twice as long). On session 8's AVX2 machine, chunks of one image: 29 ms
against 25 (products of 64 x 272 x 64 at 76 GFLOP/s).

Layout. Per image and channel the padded input's rows and columns split by parity into four
planes, P[rp][cp][ry (tw + 1) + cx] = xpad[2 ry + rp, 2 cx + cp]: tile (ty, tx) then reads
every plane at f = ty (tw + 1) + tx and at f + 1, f + tw + 1, f + tw + 2, so the transform is
a loop over f over shifted views (vectorized). The column tx = tw is not a tile (computed and
dropped: 6% more product columns). V's 16 planes lie 256 bytes apart modulo 4 KiB: 16 store
streams 4 KiB apart share one L1 set (12 ways), and the input transform took 37 ms, not 3.
In the loops an array is indexed by the loop variable only (an index like f + s keeps LLVM
from vectorizing: Numba's negative-index check), and the per-row code takes no slices (each
view costs two reference-count calls: the output transform 5.7 -> 1.9 ms without them).

Accuracy: float64 within ~1e-15 of the direct sum's scale; float32 within a few units in the
last place of the output's largest value (the transforms' sums of four terms). Where the
direct sum cancels to near zero, the relative difference can be larger (as for any change of
summation order). Taken where Numba runs (ops.conv decides); elsewhere the shifted-view path.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from zengrad.ops import kernels, threads
from zengrad.ops.blas_threads import over_threads
from zengrad.ops.scratch import scratch

# Where the path is taken, measured (1 thread, conv forward + backward against the shifted-view
# path, which keeps the weight gradient): both channel counts 32-128 and outputs of at least
# 16x16, N OH OW >= 4096: 0.88-0.98 of its time (BasicBlock 64ch 32x32 batch 32: 0.88). Out
# of it: 16 channels 1.10, 256 channels 1.07 (16x16), every 8x8 output 0.97-1.20, 2 images
# of 32x32 1.08, one 8x8 image 4.5 (the transforms' setup and thin products).
MIN_CHANNELS = 32
MAX_CHANNELS = 128
MIN_SIDE = 16
MIN_POSITIONS = 4096
# a chunk's V and M (16 planes each) and the planes of its images: about this many floats
CHUNK_FLOATS = 640 * 1024
# ... and the weight gradient's chunk (V, dM): its products (OC, T) @ (T, C) sum over the
# chunk's tiles T, which must be long for BLAS to run near its peak
DW_CHUNK_FLOATS = 1280 * 1024
_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def winograd_ok(xshape, wshape, stride, pads, dilation, groups, dtype) -> bool:
    """Whether a conv2d takes this path: a 3x3 kernel, stride 1, dilation 1, one group, pads
    of at most 2 (so that the input gradient, a correlation padded by 2 - p, takes it too),
    host float32/64 with Numba on, enough channels and tiles."""
    n, c, h, w = xshape
    oc, _, kh, kw = wshape
    if (kh, kw) != (3, 3) or stride != (1, 1) or dilation != (1, 1) or groups != 1:
        return False
    if np.dtype(dtype) not in (np.float32, np.float64) or not kernels.numba_enabled():
        return False
    (pt, pb), (pl, pr) = pads
    if max(pt, pb, pl, pr) > 2 or min(c, oc) < MIN_CHANNELS or max(c, oc) > MAX_CHANNELS:
        return False
    oh, ow = h + pt + pb - 2, w + pl + pr - 2
    return min(oh, ow) >= MIN_SIDE and n * oh * ow >= MIN_POSITIONS


def filter_transform(w):
    """U (16, OC, C) = G g G^T for every (OC, C) filter g of w (OC, C, 3, 3), position k =
    4 a + b of the 4x4 transform (the products' left operands)."""
    g = np.asarray(_G, w.dtype)  # host: the transform's constants
    u = np.matmul(g, np.matmul(w, g.T))  # host: (OC, C, 4, 4); NumPy only (ops.conv)
    return np.ascontiguousarray(u.transpose(2, 3, 0, 1)).reshape(16, *w.shape[:2])  # host


def input_grad_filter(w):
    """U of the input gradient's kernel: dx = dY (padded by 2 - p) correlated with
    W'[c, o] = W[o, c] turned by 180 degrees."""
    turned = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return filter_transform(np.ascontiguousarray(turned))  # host


def correlate(x, u, pads, out_hw: tuple[int, int]):
    """y (OC, N, OH, OW) = the 3x3 correlation of x (C, N, H, W) (any strides), zero-padded by
    pads ((top, bottom), (left, right)), with the filters whose transform is u (16, OC, C).
    Chunks of whole images (each output is the same sum whichever thread computes it)."""
    c, n, h, w = x.shape
    oc = u.shape[1]
    oh, ow = out_hw
    th, tw, length = _tiles(oh, ow)
    dtype = np.result_type(x.dtype, u.dtype)
    x = x.astype(dtype, copy=False)
    u = u.astype(dtype, copy=False)
    y = np.empty((oc, n, oh, ow), dtype)  # host: this path is NumPy's
    src = _Source.of(x, pads, (th, tw))
    per = max(1, CHUNK_FLOATS // (16 * (c + oc) * length))
    out_tf = _compiled()[1]

    def run(y_part, images):
        n0, n1 = int(images[0]), int(images[-1]) + 1
        cols = per * length
        v = _transformed_input(src, n0, n1, cols, (th, tw), ("wino", "v"))
        m, mb, mpitch = _planes16(oc, cols, dtype, ("wino", "m"))
        sums = scratch(np, (8, length), dtype, ("wino", "sums"))
        used = (n1 - n0) * length
        np.matmul(u, v[:, :, :used], out=m[:, :, :used])  # host
        out_tf(mb, mpitch, cols, y, n0, n1, th, tw, sums)

    images = np.arange(n)  # host: image numbers
    over_threads(run, [y.transpose(1, 0, 2, 3), images], per, threads.PARALLEL_MIN)
    return y


def weight_grad(x, gy, pads):
    """dW (OC, C, 3, 3) of y = correlate(x, filter_transform(W), pads, gy's (OH, OW)) for the
    output gradient gy (OC, N, OH, OW); x (C, N, H, W), any strides.

    With U = G g G^T and Y = A^T M A, M_k = U_k V_k per tile, the chain rule runs the forward
    backwards: dM = A dY A^T per 2x2 tile of dY (zero beyond the outputs and in the column
    tx = tw that is not a tile), dU_k = sum over tiles dM_k V_k^T (16 products
    (OC, T) @ (T, C) per chunk of images), dW = G^T dU G. Each chunk's dU has its own slot,
    summed in chunk order: the same result at any thread count."""
    c, n, h, w = x.shape
    oc, _, oh, ow = gy.shape
    th, tw, length = _tiles(oh, ow)
    dtype = np.result_type(x.dtype, gy.dtype)
    x = x.astype(dtype, copy=False)
    gy = gy.astype(dtype, copy=False)
    per = max(1, min(n, DW_CHUNK_FLOATS // (16 * (c + oc) * length)))
    firsts = np.arange(0, n, per)  # host: each chunk's first image
    parts = np.empty((len(firsts), 16, oc, c), dtype)  # host: this path is NumPy's
    src = _Source.of(x, pads, (th, tw))
    grad_tf = _compiled_grad()
    zero = np.dtype(dtype).type(0)

    def run(part, first):
        n0 = int(first[0])
        n1 = min(n, n0 + per)
        cols = per * length
        v = _transformed_input(src, n0, n1, cols, (th, tw), ("wino", "dw v"))
        m, mb, mpitch = _planes16(oc, cols, dtype, ("wino", "dw m"))
        sums = scratch(np, (8, length), dtype, ("wino", "sums"))
        grad_tf(gy, mb, mpitch, cols, n0, n1, th, tw, sums, zero)
        used = (n1 - n0) * length
        np.matmul(m[:, :, :used], v[:, :, :used].transpose(0, 2, 1), out=part[0])  # host

    over_threads(run, [parts, firsts], 1, threads.PARALLEL_MIN)
    du = parts.sum(axis=0).reshape(4, 4, oc, c).transpose(2, 3, 0, 1)  # (OC, C, 4, 4)
    g = np.asarray(_G, dtype)  # host: the transform's constants
    return np.matmul(g.T, np.matmul(du, g))  # host


def _tiles(oh: int, ow: int) -> tuple[int, int, int]:
    """(th, tw, length): tile rows and columns of an (OH, OW) output, and V's columns per
    image, th (tw + 1) (one column per row that is not a tile)."""
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    return th, tw, th * (tw + 1)


def _transformed_input(src: _Source, n0: int, n1: int, cols: int, grid: tuple[int, int],
                       slot):
    """V = B^T d B (16, C, cols) of images n0..n1-1 of src's x (C, N, H, W) zero-padded, in
    this thread's planes `slot` (columns past the images' tiles hold what they held)."""
    th, tw = grid
    x = src.flat
    c = src.geom[0]
    v, vb, vpitch = _planes16(c, cols, x.dtype, slot)
    rows = scratch(np, (4, (th + 1) * (tw + 1) + 1), x.dtype, ("wino", "rows"))
    one = x.dtype.type(1)  # the row combinations' signs, in the arrays' dtype
    _compiled()[0](x, src.geom, src.offsets, src.inside, vb, vpitch, cols, n0, n1, th, tw,
                   rows, rows.reshape(-1), one, -one, x.dtype.type(0))
    return v


class _Source:
    """The input transform's view of x (C, N, H, W) zero-padded by pads: its memory as a 1-D
    array from its first element (flat), geom = (C, x's strides along C and N in elements),
    and for each position f of one image and channel's four parity planes (P floats each,
    P = (th + 1)(tw + 1) + 1) the element it holds, as an offset from the image's first
    element (offsets, unsigned) and whether it lies in x (inside; else it is a zero of the
    padding). One gather loop over the 4 P positions fills the planes: 0.62 ms against 1.42
    for a loop per plane row (rows of 16-17 floats: the loops' setup was the cost), the
    BasicBlock's 64 channels x 32 images."""

    __slots__ = ("flat", "geom", "offsets", "inside")

    @staticmethod
    def of(x, pads, grid: tuple[int, int]) -> _Source:
        item = x.itemsize
        if x.size == 0 or any(st < 0 or st % item for st in x.strides):
            x = np.ascontiguousarray(x)  # host: (empty or reversed views, not a model's)
        strides = [st // item for st in x.strides]
        span = 1 + sum((d - 1) * st for d, st in zip(x.shape, strides)) if x.size else 0
        src = _Source()
        src.flat = np.lib.stride_tricks.as_strided(x, (span,), (item,))  # host
        src.geom = (x.shape[0], strides[0], strides[1])
        (pt, _), (pl, _) = pads
        src.offsets, src.inside = _plane_table(*x.shape[2:], *strides[2:], pt, pl, *grid)
        return src


@functools.lru_cache(maxsize=64)
def _plane_table(h: int, w: int, sh: int, sw: int, pt: int, pl: int, th: int, tw: int):
    """(offsets, inside) of _Source: plane p = 2 rp + cp at f = ry (tw + 1) + cx holds the
    padded input's [2 ry + rp, 2 cx + cp], x's [2 ry + rp - pt, 2 cx + cp - pl] (read-only
    arrays of 4 P; the last position of each plane is padding)."""
    pw = tw + 1
    size = (th + 1) * pw + 1
    offsets = np.zeros((4, size), np.uint64)  # host: geometry
    inside = np.zeros((4, size), np.bool_)  # host: geometry
    ry, cx = np.divmod(np.arange((th + 1) * pw), pw)  # host: geometry
    for rp in range(2):
        for cp in range(2):
            r, q = 2 * ry + rp - pt, 2 * cx + cp - pl
            ok = (r >= 0) & (r < h) & (q >= 0) & (q < w)
            inside[2 * rp + cp, :-1] = ok
            offsets[2 * rp + cp, :-1] = np.where(ok, r * sh + q * sw, 0)  # host
    offsets, inside = offsets.reshape(-1), inside.reshape(-1)
    offsets.flags.writeable = inside.flags.writeable = False
    return offsets, inside


def _planes16(rows: int, cols: int, dtype, slot):
    """This thread's (16, rows, cols) work array whose planes start 256 bytes apart modulo
    4 KiB (see the module docstring), with its flat buffer and plane pitch (elements)."""
    size = rows * cols
    pitch = size + (-size) % 1024 + 256 // np.dtype(dtype).itemsize
    buf = scratch(np, (16 * pitch,), dtype, slot)
    item = buf.itemsize
    shape, strides = (16, rows, cols), (pitch * item, cols * item, item)
    view = np.lib.stride_tricks.as_strided(buf, shape, strides)  # host
    return view, buf, pitch


# The kernels below index their arrays by the loop variable only (views shifted beforehand;
# see the module docstring).

def _cols(pe, po, qe, qo, sign, vb, at, pitch, n):  # pragma: no cover - compiled by Numba
    """Tile row p + sign q of the padded input (sign +-1; planes of even and odd columns),
    times B along the columns: four of V's planes from vb[at], pitch apart. (p + (-1) q is
    p - q exactly.)"""
    w0, w1, w2, w3 = vb[at:], vb[at + pitch:], vb[at + 2 * pitch:], vb[at + 3 * pitch:]
    pe1, po1, qe1, qo1 = pe[1:], po[1:], qe[1:], qo[1:]
    for f in range(n):
        a0 = pe[f] + sign * qe[f]
        a1 = po[f] + sign * qo[f]
        a2 = pe1[f] + sign * qe1[f]
        a3 = po1[f] + sign * qo1[f]
        w0[f] = a0 - a2
        w1[f] = a1 + a2
        w2[f] = a2 - a1
        w3[f] = a1 - a3


def _input_transform(xf, geom, offsets, inside, vb, pitch, cols, n0, n1, th, tw,  # pragma: no cover
                     rows, flat_rows, plus, minus, zero):
    """V = B^T d B for images n0..n1-1 of x (see _Source: xf, geom, offsets, inside):
    V[k, c, t] at vb[k pitch + c cols + t], t = ((n - n0) th + ty)(tw + 1) + tx. rows (4,
    (th + 1)(tw + 1) + 1), flat_rows its 1-D view: one image and channel's parity planes,
    gathered here (unsigned indices: a signed one makes Numba check for negative ones on
    every access). plus, minus, zero: 1, -1 and 0 in the arrays' dtype (no literals: see
    ops.kernels)."""
    c_in, sc, sn = geom
    pw = tw + 1
    length = th * pw
    size = np.uint64(flat_rows.size)
    for c in range(c_in):
        for n in range(n0, n1):
            base = np.uint64(c * sc + n * sn)
            for f in range(size):  # (read only inside x: an empty x has no memory)
                flat_rows[f] = xf[base + offsets[f]] if inside[f] else zero
            e0, o0, e1, o1 = rows[0], rows[1], rows[2], rows[3]
            e0d, o0d, e1d, o1d = e0[pw:], o0[pw:], e1[pw:], o1[pw:]
            b = c * cols + (n - n0) * length
            _cols(e0, o0, e0d, o0d, minus, vb, b, pitch, length)  # rows 0 - 2
            _cols(e1, o1, e0d, o0d, plus, vb, b + 4 * pitch, pitch, length)  # 1 + 2
            _cols(e0d, o0d, e1, o1, minus, vb, b + 8 * pitch, pitch, length)  # 2 - 1
            _cols(e1, o1, e1d, o1d, minus, vb, b + 12 * pitch, pitch, length)  # 1 - 3


def _output_transform(mb, pitch, cols, y, n0, n1, th, tw, sums):  # pragma: no cover
    """y[o, n] = A^T M A per tile for images n0..n1-1, M[k, o, t] at mb[k pitch + o cols + t]
    (as V). sums (8, th (tw + 1)): A^T along the rows, then A along the columns into y."""
    oc, _, oh, ow = y.shape
    pw = tw + 1
    length = th * pw
    for o in range(oc):
        for n in range(n0, n1):
            b = o * cols + (n - n0) * length
            for j in range(4):
                m0, m1 = mb[b + j * pitch:], mb[b + (4 + j) * pitch:]
                m2, m3 = mb[b + (8 + j) * pitch:], mb[b + (12 + j) * pitch:]
                s0, s1 = sums[j], sums[4 + j]
                for f in range(length):
                    s0[f] = m0[f] + m1[f] + m2[f]
                for f in range(length):
                    s1[f] = m1[f] - m2[f] - m3[f]
            for i in range(2):
                s0, s1, s2, s3 = sums[4 * i], sums[4 * i + 1], sums[4 * i + 2], sums[4 * i + 3]
                for ty in range(th):
                    r = 2 * ty + i
                    if r < oh:
                        at = ty * pw
                        for tx in range(ow // 2):
                            f = at + tx
                            y[o, n, r, 2 * tx] = s0[f] + s1[f] + s2[f]
                            y[o, n, r, 2 * tx + 1] = s1[f] - s2[f] - s3[f]
                        if ow % 2:  # the last tile's second column is not an output
                            f = at + tw - 1
                            y[o, n, r, ow - 1] = s0[f] + s1[f] + s2[f]


def _grad_transform(gy, mb, pitch, cols, n0, n1, th, tw, sums, zero):  # pragma: no cover
    """dM = A dY A^T per 2x2 tile of gy (OC, N, OH, OW) for images n0..n1-1, dM[k, o, t] at
    mb[k pitch + o cols + t] (as V). sums (8, th (tw + 1)): row i of each tile times A^T,
    [p, p + q, p - q, -q] (zero beyond the outputs); then the rows combined the same way."""
    oc, _, oh, ow = gy.shape
    pw = tw + 1
    length = th * pw
    for o in range(oc):
        for n in range(n0, n1):
            for i in range(2):
                s0, s1, s2, s3 = sums[4 * i], sums[4 * i + 1], sums[4 * i + 2], sums[4 * i + 3]
                for ty in range(th):
                    r = 2 * ty + i
                    at = ty * pw
                    if r < oh:
                        for tx in range(ow // 2):
                            f = at + tx
                            p = gy[o, n, r, 2 * tx]
                            q = gy[o, n, r, 2 * tx + 1]
                            s0[f] = p
                            s1[f] = p + q
                            s2[f] = p - q
                            s3[f] = -q
                        if ow % 2:  # the last tile's second column is not an output
                            f = at + tw - 1
                            p = gy[o, n, r, ow - 1]
                            s0[f] = p
                            s1[f] = p
                            s2[f] = p
                            s3[f] = zero
                        f = at + tw  # the column that is not a tile
                        s0[f] = zero
                        s1[f] = zero
                        s2[f] = zero
                        s3[f] = zero
                    else:
                        for f in range(at, at + pw):
                            s0[f] = zero
                            s1[f] = zero
                            s2[f] = zero
                            s3[f] = zero
            b = o * cols + (n - n0) * length
            for j in range(4):
                t0, t1 = sums[j], sums[4 + j]
                d0, d1 = mb[b + j * pitch:], mb[b + (4 + j) * pitch:]
                d2, d3 = mb[b + (8 + j) * pitch:], mb[b + (12 + j) * pitch:]
                for f in range(length):
                    d0[f] = t0[f]
                for f in range(length):
                    d1[f] = t0[f] + t1[f]
                for f in range(length):
                    d2[f] = t0[f] - t1[f]
                for f in range(length):
                    d3[f] = -t1[f]


@functools.cache
def _compiled_grad():
    """The weight gradient's transform of dY, compiled on its first call."""
    jit = functools.partial(kernels.numba_module().njit, nogil=True, error_model="numpy")
    return jit(_grad_transform)


@functools.cache
def _compiled():
    """The two transforms compiled (on the first call: Numba imported, ~1 s per dtype); the
    input transform's copy sees the compiled _cols."""
    jit = functools.partial(kernels.numba_module().njit, nogil=True, error_model="numpy")
    namespace = {**globals(), "_cols": jit(_cols)}
    in_tf = types.FunctionType(_input_transform.__code__, namespace, "_input_transform")
    return jit(in_tf), jit(_output_transform)
