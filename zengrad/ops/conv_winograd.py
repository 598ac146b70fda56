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
dropped: 6% more product columns). The planes are gathered in one loop over a table of
offsets into x (_Source), y gathered from the output transform's rows and dY's tile rows
likewise: loops of an image's length, where loops over one image row (16-17 floats at
32 x 32) cost their setup (session 11, bench/README_all.md). V's 16 planes lie 256 bytes
apart modulo 4 KiB: 16 store streams 4 KiB apart share one L1 set (12 ways), and the input
transform took 37 ms, not 3.
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

import numpy as np

from zengrad.ops import jit_cache, kernels, threads
from zengrad.ops.blas_threads import one_blas_thread, over_threads
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
    4 a + b of the 4x4 transform (the products' left operands): one product
    U = (G (x) G) (16, 9) @ w's filters as columns (9, OC C). (4096 batched 4x3 @ 3x3
    products took 0.8 ms for the BasicBlock's 64 x 64 filters.)"""
    oc, c = w.shape[:2]
    with one_blas_thread():  # (a shared product wakes OpenBLAS's workers: see blas_threads)
        return (_kron_g(w.dtype) @ w.reshape(oc * c, 9).T).reshape(16, oc, c)  # host


def input_grad_filter(w):
    """U of the input gradient's kernel: dx = dY (padded by 2 - p) correlated with
    W'[c, o] = W[o, c] turned by 180 degrees: U[k, c, o] = sum_m (G (x) G)[k, 8 - m]
    w[o, c, m] (m = 3 i + j; turning maps it to 8 - m)."""
    oc, c = w.shape[:2]
    with one_blas_thread():
        u = (_kron_g(w.dtype)[:, ::-1] @ w.reshape(oc * c, 9).T).reshape(16, oc, c)  # host
    return np.ascontiguousarray(u.transpose(0, 2, 1))  # host


def _kron_g(dtype):
    """G (x) G (16, 9): [4 a + b, 3 i + j] = G[a, i] G[b, j] (products of 0, 1 and +-1/2:
    exact)."""
    g = np.asarray(_G, dtype)  # host: the transform's constants
    return np.kron(g, g)  # host


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
    yf = y.reshape(-1)
    place = _output_places(oh, ow, tw, length)
    src = _Source.of(x, pads, (th, tw))
    per = max(1, CHUNK_FLOATS // (16 * (c + oc) * length))
    out_tf = _compiled()[1]

    def run(y_part, images):
        n0, n1 = int(images[0]), int(images[-1]) + 1
        cols = per * length
        v = _transformed_input(src, n0, n1, cols, (th, tw), ("wino", "v"))
        m, mb, mpitch = _planes16(oc, cols, dtype, ("wino", "m"))
        sums = scratch(np, (8, length), dtype, ("wino", "sums"))
        ends = scratch(np, (4, length), dtype, ("wino", "ends"))
        used = (n1 - n0) * length
        np.matmul(u, v[:, :, :used], out=m[:, :, :used])  # host
        out_tf(mb, mpitch, cols, yf, oc, n, n0, n1, length, sums, ends, ends.reshape(-1),
               place)

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
    # dY's tile rows as the planes of an unpadded input: plane 2 i + cp at f = ty (tw + 1) + tx
    # is dY[2 ty + i, 2 tx + cp] (zero beyond the outputs and in the column tx = tw)
    dys = _Source.of(gy, ((0, 0), (0, 0)), (th, tw))
    dy_offsets, dy_inside = (a.reshape(4, -1) for a in (dys.offsets, dys.inside))
    grad_tf = _compiled_grad()
    zero = np.dtype(dtype).type(0)

    def run(part, first):
        n0 = int(first[0])
        n1 = min(n, n0 + per)
        cols = per * length
        v = _transformed_input(src, n0, n1, cols, (th, tw), ("wino", "dw v"))
        m, mb, mpitch = _planes16(oc, cols, dtype, ("wino", "dw m"))
        sums = scratch(np, (8, length), dtype, ("wino", "sums"))
        odd = scratch(np, (2, length), dtype, ("wino", "odd"))
        grad_tf(dys.flat, dys.geom, dy_offsets, dy_inside, mb, mpitch, cols, n0, n1, length,
                sums, odd, zero)
        used = (n1 - n0) * length
        np.matmul(m[:, :, :used], v[:, :, :used].transpose(0, 2, 1), out=part[0])  # host

    over_threads(run, [parts, firsts], 1, threads.PARALLEL_MIN)
    du = parts.sum(axis=0).reshape(16, oc * c)  # dU[4 a + b, (o, c)]
    # dW[o, c, i, j] = sum_ab G[a, i] G[b, j] dU[4 a + b, o, c]: one product with G (x) G
    with one_blas_thread():
        return (du.T @ _kron_g(dtype)).reshape(oc, c, 3, 3)  # host


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


@functools.lru_cache(maxsize=16)  # (a 224 x 224 image: 0.5 MB of table)
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


def _output_transform(mb, pitch, cols, yf, oc, n_all, n0, n1, length, sums,  # pragma: no cover
                      ends, flat_ends, place):
    """y[o, n] = A^T M A per tile for images n0..n1-1, M[k, o, t] at mb[k pitch + o cols + t]
    (as V); yf: y (oc, n_all, OH, OW) C-ordered, flat. sums (8, th (tw + 1)): A^T along the rows;
    ends (4, th (tw + 1)), flat_ends its 1-D view: each tile's even and odd output columns of
    rows i = 0, 1 (A along the columns); then every output of the image gathered from its
    place in ends (_output_places), in one loop of OH OW (stores of each tile's two columns
    into y's rows ran in loops of OW / 2)."""
    plane = np.uint64(place.size)
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
                even, odd = ends[2 * i], ends[2 * i + 1]
                for f in range(length):
                    even[f] = s0[f] + s1[f] + s2[f]
                for f in range(length):
                    odd[f] = s1[f] - s2[f] - s3[f]
            base = np.uint64(o * n_all + n) * plane
            for q in range(plane):
                yf[base + q] = flat_ends[place[q]]


@functools.lru_cache(maxsize=16)  # (a 224 x 224 image: 0.5 MB of table)
def _output_places(oh: int, ow: int, tw: int, length: int):
    """For each output (r, q) of an image, row-major, its place in the output transform's
    ends: row 2 (r mod 2) + (q mod 2), tile (r // 2)(tw + 1) + q // 2 (read-only, unsigned)."""
    r, q = np.divmod(np.arange(oh * ow), max(1, ow))  # host: geometry
    place = ((2 * (r % 2) + q % 2) * length + (r // 2) * (tw + 1) + q // 2).astype(np.uint64)
    place.flags.writeable = False
    return place


def _grad_transform(gf, geom, offsets, inside, mb, pitch, cols, n0, n1, length,  # pragma: no cover
                    sums, odd, zero):
    """dM = A dY A^T per 2x2 tile of dY (OC, N, OH, OW) for images n0..n1-1, dM[k, o, t] at
    mb[k pitch + o cols + t] (as V); dY read through gf, geom, offsets, inside (a _Source of
    dY unpadded: rows 2 i, 2 i + 1 of offsets and inside give each tile's row i, its even and
    odd column). sums (8, th (tw + 1)): row i of each tile times A^T, [p, p + q, p - q, -q]
    with p, q its two values, [p, p, p, 0] where q is not an output (p gathered as 0 where
    it is not one either); then the rows combined the same way. odd (2, th (tw + 1)): the q
    of rows 0 and 1. (Gathers of whole rows: loops of OW / 2 ran at their setup's cost.)"""
    oc, so, sn = geom
    for o in range(oc):
        for n in range(n0, n1):
            base = np.uint64(o * so + n * sn)
            for i in range(2):
                p, q = sums[4 * i], odd[i]
                p_at, p_in = offsets[2 * i], inside[2 * i]
                q_at, q_in = offsets[2 * i + 1], inside[2 * i + 1]
                for f in range(length):
                    p[f] = gf[base + p_at[f]] if p_in[f] else zero
                for f in range(length):
                    q[f] = gf[base + q_at[f]] if q_in[f] else zero
                s1, s2, s3 = sums[4 * i + 1], sums[4 * i + 2], sums[4 * i + 3]
                for f in range(length):
                    s1[f] = p[f] + q[f] if q_in[f] else p[f]
                for f in range(length):
                    s2[f] = p[f] - q[f] if q_in[f] else p[f]
                for f in range(length):
                    s3[f] = -q[f] if q_in[f] else zero
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
    jit = functools.partial(jit_cache.compile_function, nogil=True, error_model="numpy")
    return jit(_grad_transform)


@functools.cache
def _compiled():
    """The two transforms compiled (on the first call: Numba imported, ~1 s per dtype); the
    input transform's copy sees the compiled _cols."""
    jit = functools.partial(jit_cache.compile_function, nogil=True, error_model="numpy")
    namespace = {**globals(), "_cols": jit(_cols)}
    return jit(_input_transform, namespace), jit(_output_transform)
