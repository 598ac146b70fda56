"""Resampling (F.interpolate): nearest, nearest-exact, (bi/tri)linear, bicubic, separable per
axis; area by adaptive average pooling.

Every mode reads, for each output position o of an axis of length n -> m, input positions
given by a scale r:
    r = 1 / scale_factor (when given and not recomputed), else n / m
    nearest:        i(o) = min(floor(o r), n - 1)            (r, o r in float32, as PyTorch)
    nearest-exact:  i(o) = min(floor((o + 0.5) r), n - 1)
    linear:         src = max(r (o + 0.5) - 0.5, 0)          (align_corners=False)
                    src = o (n - 1) / (m - 1)                (align_corners=True; 0 if m = 1)
                    i0 = min(floor(src), n - 1), i1 = min(i0 + 1, n - 1), l1 = src - i0, l0 = 1 - l1
                    y(o) = l0 x[i0] + l1 x[i1]
    bicubic:        src as linear (no clamp at 0), four taps x[clamp(floor(src) - 1 + k)] with
                    Keys' cubic weights, a = -0.75 (see _cubic_taps)
    area:           adaptive average pooling to the output size (as torch)
    antialias:      bilinear/bicubic taps spread over the filter stretched by r when
                    downsampling, normalized (see _antialias_taps)
An N-D resample is these 1-D resamples applied to the last axes in turn (last axis first, as
PyTorch's kernels nest the weights), each one gather per tap, so work is O(output size);
short axes use the dense (m, n) matrix in one GEMM instead (see ResampleFn).
Backward undoes the axes in reverse order: dx[j] = sum over the o with i(o) = j of l(o) g[o].
The i(o) never decrease with o, so each input's outputs are one contiguous run: the r-th
members of all runs have distinct inputs, and the sum is a few plain fancy-index adds per tap
(as many as the longest run; no scatter with repeated indices).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.args import shape_str
from zengrad.ops.pool import adaptive_avg_pool2d

# F.interpolate only (torch has no torch.interpolate)
__all__: list[str] = []
# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {}

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}  # mode -> input rank
_NEAREST = ("nearest", "nearest-exact")
_REFUSED = ("lanczos",)
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic convolution constant
# axes with an (out x in) resample matrix up to this many entries use it in a GEMM
DENSE_MAX = 1 << 17
_ALL_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


# ----- per-axis plans -------------------------------------------------------------------------
def _nearest_index(n: int, m: int, scale, exact: bool) -> np.ndarray:  # host
    """i(o) for o in [0, m): PyTorch's float32 arithmetic, so the boundaries fall alike."""
    o = np.arange(m)
    if not exact and m == n:
        return o
    if not exact and m == 2 * n:  # torch special-cases doubling (exact, no float rounding)
        return o >> 1
    r = np.float32(1.0 / scale) if scale is not None else np.float32(n) / np.float32(m)
    if exact:
        # (o + 0.5) is a double times the float scale, rounded to float before floorf
        src = np.floor(((o + 0.5) * np.float64(r)).astype(np.float32))
    else:
        src = np.floor(o.astype(np.float32) * r)
    return np.minimum(src.astype(np.int64), n - 1)


def _linear_taps(n: int, m: int, scale, align_corners: bool, dtype):  # host
    """(i0, i1, l0, l1) for o in [0, m), computed in the input's float type as PyTorch."""
    o = np.arange(m)
    t = np.dtype(dtype).type
    if align_corners:
        r = t(n - 1) / t(m - 1) if m > 1 else t(0)
        src = r * o.astype(dtype)
    else:
        r = t(1.0 / scale) if scale is not None else t(n) / t(m)
        src = r * (o.astype(dtype) + t(0.5)) - t(0.5)
        src = np.maximum(src, t(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    l1 = np.clip(src - i0.astype(dtype), t(0), t(1)).astype(dtype)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, t(1) - l1, l1


def _cubic_taps(n: int, m: int, scale, align_corners: bool, dtype):  # host
    """Four taps (index, weight) per output, in the input's float type as PyTorch:
    src as for linear but not clamped at 0, i = floor(src), t = src - i, taps at
    clamp(i - 1 + k, 0, n - 1) with Keys' cubic weights (a = -0.75):
        w0 = c2(t + 1), w1 = c1(t), w2 = c1(1 - t), w3 = c2(2 - t)
        c1(x) = ((a + 2) x - (a + 3)) x^2 + 1,  c2(x) = ((a x - 5a) x + 8a) x - 4a."""
    o = np.arange(m)
    t = np.dtype(dtype).type
    if align_corners:
        r = t(n - 1) / t(m - 1) if m > 1 else t(0)
        src = r * o.astype(dtype)
    else:
        r = t(1.0 / scale) if scale is not None else t(n) / t(m)
        src = r * (o.astype(dtype) + t(0.5)) - t(0.5)
    i = np.minimum(np.floor(src).astype(np.int64), n - 1)
    lam = np.clip(src - i.astype(dtype), t(0), t(1)).astype(dtype)
    a = t(_CUBIC_A)

    def c1(x):
        return ((a + t(2)) * x - (a + t(3))) * x * x + t(1)

    def c2(x):
        return ((a * x - t(5) * a) * x + t(8) * a) * x - t(4) * a

    weights = (c2(lam + t(1)), c1(lam), c1(t(1) - lam), c2(t(1) - lam + t(1)))
    return [(np.clip(i - 1 + k, 0, n - 1), wk.astype(dtype)) for k, wk in enumerate(weights)]


def _antialias_taps(n: int, m: int, scale, align_corners: bool, dtype, cubic: bool):  # host
    """antialias=True (PyTorch's, after PIL): output o averages the inputs within `support`
    of its center c = r (o + 0.5) under a filter stretched by r when downsampling:
        support = (K / 2) max(r, 1)  (K = 2 bilinear, 4 bicubic),  taps j in
        [int(c - support + 0.5), int(c + support + 0.5)) clipped to the input,
        w_j = f((j - c + 0.5) / max(r, 1)) / sum of them,
    f the triangle 1 - |x| (bilinear) or Keys' cubic with a = -0.5 (bicubic)."""
    t = np.dtype(dtype).type
    if align_corners:
        r = t(n - 1) / t(m - 1) if m > 1 else t(0)
    else:
        r = t(1.0 / scale) if scale is not None else t(n) / t(m)
    size = 4 if cubic else 2
    support = t(size * 0.5) * r if r >= 1 else t(size * 0.5)
    k_max = int(math.ceil(support)) * 2 + 1
    inv = t(1) / r if r >= 1 else t(1)
    center = r * (np.arange(m).astype(dtype) + t(0.5))
    xmin = np.maximum((center - support + t(0.5)).astype(np.int64), 0)  # int(): truncation
    xsize = np.minimum((center + support + t(0.5)).astype(np.int64), n) - xmin
    xsize = np.clip(xsize, 0, k_max)
    j = np.arange(k_max)
    x = np.abs(((j[None, :] + xmin[:, None]).astype(dtype) - center[:, None] + t(0.5)) * inv)
    if cubic:
        a = t(-0.5)
        near = ((a + t(2)) * x - (a + t(3))) * x * x + t(1)
        far = ((a * x - t(5) * a) * x + t(8) * a) * x - t(4) * a
        w = np.where(x < 1, near, np.where(x < 2, far, t(0)))
    else:
        w = np.where(x < 1, t(1) - x, t(0))
    w = np.where(j[None, :] < xsize[:, None], w, t(0)).astype(dtype)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, t(1)), w).astype(dtype)
    # tap k reads xmin + k (clamped; its weight is 0 past xsize): non-decreasing in o
    return [(np.minimum(xmin + k, n - 1), w[:, k]) for k in range(k_max)]


def _weights(lam: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    return lam.reshape((-1,) + (1,) * (ndim - 1 - axis))


def _fold(g: np.ndarray, axis: int, idx: np.ndarray, n: int) -> np.ndarray:
    """dx with dx[..., j, ...] = sum of g[..., o, ...] over the o with idx[o] = j.

    idx never decreases, so the o reading one j form a run; pass r adds the r-th output of
    every run, whose targets are distinct: a plain fancy-index add. There are as many passes
    as the longest run (about the scale factor: 1 when downsampling)."""
    xp = backend.xp_of(g)
    shape = list(g.shape)
    shape[axis] = n
    dx = xp.zeros(shape, g.dtype)
    if idx.size == 0 or g.size == 0:
        return dx
    new_run = xp.concatenate(([True], idx[1:] != idx[:-1]))
    starts = xp.flatnonzero(new_run)
    rank = xp.arange(idx.size) - xp.repeat(starts, xp.diff(xp.append(starts, idx.size)))
    lead = (slice(None),) * axis
    for r in range(int(rank.max()) + 1):
        sel = xp.flatnonzero(rank == r)
        dx[lead + (idx[sel],)] += xp.take(g, sel, axis=axis)
    return dx


def _dense(m: int, n: int, taps, dtype) -> np.ndarray:  # host
    """The (m, n) matrix of an axis' resample: A[o, i(o)] = l(o) summed over the taps."""
    a = np.zeros((m, n), dtype)
    rows = np.arange(m)
    for idx, lam in taps:
        np.add.at(a, (rows, idx), 1 if lam is None else lam)
    return a


def _along(y: np.ndarray, a: np.ndarray, axis: int) -> np.ndarray:
    """a (m, n) applied to y's axis of length n (one GEMM, batched over the other axes)."""
    xp = backend.xp_of(y)
    if axis == y.ndim - 1:
        return y @ a.T
    if axis == y.ndim - 2:
        return xp.matmul(a, y)
    return xp.moveaxis(xp.moveaxis(y, axis, -1) @ a.T, -1, axis)


def _on_device(xp, plans: list) -> list:
    """The plans' index, weight and dense arrays (made on the host) on xp's device."""
    if xp is np:
        return plans

    def dev(a):
        return None if a is None else xp.asarray(a)

    return [(axis, n, [(dev(i), dev(w)) for i, w in taps], dev(dense))
            for axis, n, taps, dense in plans]


class ResampleFn(Function):
    """y = the per-axis resamples of x (see the module docstring); dL/dx = their adjoints,
    applied to g in reverse axis order.

    An axis short enough to have a small dense matrix A (m x n <= DENSE_MAX) is resampled by
    one GEMM with A (backward with A^T) when the array is finite: BLAS with the zeros beats
    NumPy's fancy-index adds 3-8x there (measured 16x64x32x32 bilinear x2: 138 -> ~20 ms
    forward+backward). Longer axes, and arrays holding inf/NaN (0 * inf would spread NaN
    along the row), use the taps: gathers forward, run passes backward."""

    @staticmethod
    def forward(ctx, x, plans):
        # plans: [(axis, n, taps, dense or None)], taps = [(index, weight or None)]
        xp = ctx.xp = backend.xp_of(x)
        ctx.plans = plans = _on_device(xp, plans)
        if not plans:
            return x.copy()
        y = x
        for axis, _, taps, dense in plans:
            # nearest keeps its exact gather (a copy of values; no arithmetic at all)
            if dense is not None and taps[0][1] is not None and xp.isfinite(y).all():
                y = _along(y, dense, axis)
                continue
            out = None
            for idx, lam in taps:
                part = xp.take(y, idx, axis=axis)
                if lam is not None:
                    with backend.errstate(xp, invalid="ignore"):  # 0 * inf = NaN silently, as torch
                        part *= _weights(lam, axis, y.ndim)
                if out is None:
                    out = part
                else:
                    out += part
            y = out
        return y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        for axis, n, taps, dense in reversed(ctx.plans):
            if dense is not None and xp.isfinite(g).all():
                g = _along(g, dense.T, axis)
                continue
            dx = None
            for idx, lam in taps:
                gl = g if lam is None else g * _weights(lam, axis, g.ndim)
                part = _fold(gl, axis, idx, n)
                if dx is None:
                    dx = part
                else:
                    dx += part
            g = dx
        return g, None


# ----- public function ------------------------------------------------------------------------
def _per_dim(value, dim: int, what: str, shape):
    if isinstance(value, (tuple, list)):
        if len(value) != dim:
            raise ValueError(
                f"interpolate: input and {what} must have the same number of spatial "
                f"dimensions, but got input of shape {shape_str(shape)} (spatial "
                f"{list(shape[2:])}) and {what}={value!r}"
            )
        return list(value)
    return [value] * dim


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample the spatial dims of input (N, C, *S) to size= or floor(S * scale_factor).

    mode: 'nearest' | 'nearest-exact' (3/4/5-D), 'linear' (3-D), 'bilinear' | 'bicubic'
    (4-D), 'trilinear' (5-D), 'area' (3/4-D); align_corners for the linear and cubic modes;
    antialias for bilinear/bicubic (see _antialias_taps).
    See the module docstring for the index/weight formulas (PyTorch's, including its float32
    scale for nearest).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: input must be a Tensor, got {type(input).__name__}")
    if not isinstance(mode, str):
        raise TypeError(f"interpolate: mode must be a string, got {mode!r}")
    shape = input.array.shape
    if mode in _REFUSED:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported (supported: 'nearest', "
            "'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area')"
        )
    if mode not in _NEAREST and mode not in _LINEAR and mode != "area":
        raise ValueError(f"interpolate: unknown mode {mode!r}, should be one of {_ALL_MODES}")
    if antialias and not (mode in ("bilinear", "bicubic") and len(shape) == 4):
        raise ValueError(
            "interpolate: anti-alias option is restricted to bilinear and bicubic modes and "
            f"requires a 4-D input, got mode={mode!r} and input of shape {shape_str(shape)}"
        )
    if mode in _NEAREST or mode == "area":
        if align_corners is not None:
            raise ValueError(
                "interpolate: align_corners option can only be set with the interpolating "
                f"modes: linear | bilinear | bicubic | trilinear (got mode={mode!r})"
            )
    elif align_corners is None:
        align_corners = False
    rank = len(shape)
    if rank not in (3, 4, 5):
        raise ValueError(
            f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial) for mode "
            f"{mode!r}, got input of shape {shape_str(shape)}"
        )
    if mode in _LINEAR and _LINEAR[mode] != rank:
        raise NotImplementedError(
            f"interpolate: got {rank}D input of shape {shape_str(shape)}, but {mode} mode "
            f"needs {_LINEAR[mode]}D input"
        )
    dim = rank - 2
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError(
            "interpolate: recompute_scale_factor is not meaningful with an explicit size"
        )
    spatial = list(shape[2:])
    if size is not None:
        sizes = _per_dim(size, dim, "size", shape)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got {size!r}")
        sizes = [int(s) for s in sizes]
        scales = [None] * dim
    else:
        scales = _per_dim(scale_factor, dim, "scale_factor", shape)
        if not all(isinstance(s, Real) and not isinstance(s, bool) for s in scales):
            raise TypeError(
                f"interpolate: scale_factor must be a number or a tuple of numbers, got "
                f"{scale_factor!r}"
            )
        scales = [float(s) for s in scales]
        sizes = [math.floor(n * s) for n, s in zip(spatial, scales)]
        if recompute_scale_factor:
            scales = [None] * dim  # the kernel uses n / m of the rounded size
    if any(n <= 0 for n in spatial) or any(m <= 0 for m in sizes):
        raise ValueError(
            f"interpolate: input and output sizes should be greater than 0, but got input of "
            f"shape {shape_str(shape)} and output size {tuple(sizes)}"
        )
    if shape[1] == 0:
        raise ValueError(f"interpolate: got an input with 0 channels, shape {shape_str(shape)}")
    dtype = input.array.dtype
    if dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got dtype {dtype}")
    if mode == "area":
        # torch's 'area' is adaptive average pooling to the output size
        if rank == 5:
            raise NotImplementedError("interpolate: mode 'area' is not supported for 5-D input")
        if rank == 3:
            return adaptive_avg_pool2d(input.unsqueeze(2), (1, sizes[0])).squeeze(2)
        return adaptive_avg_pool2d(input, tuple(sizes))
    plans = []
    for k in range(dim - 1, -1, -1):  # the last axis first
        axis, n, m, sc = 2 + k, spatial[k], sizes[k], scales[k]
        if m == n:  # every mode copies an axis it does not resize (as torch does)
            continue
        if mode in _NEAREST:
            taps = [(_nearest_index(n, m, sc, mode == "nearest-exact"), None)]
        elif antialias:
            taps = _antialias_taps(n, m, sc, align_corners, dtype, mode == "bicubic")
        elif mode == "bicubic":
            taps = _cubic_taps(n, m, sc, align_corners, dtype)
        else:
            i0, i1, l0, l1 = _linear_taps(n, m, sc, align_corners, dtype)
            taps = [(i0, l0), (i1, l1)]
        dense = _dense(m, n, taps, dtype) if m * n <= DENSE_MAX else None
        plans.append((axis, n, taps, dense))
    return ResampleFn.apply(input, plans)
