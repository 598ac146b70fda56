"""ONNX mappings of the image ops: transposed convolution, group norm, resampling
(F.interpolate) and border padding (reflect / replicate / circular). Same protocol as
map_tensor.py; the table is table.py.
"""

from __future__ import annotations

import numpy as np

from zengrad.onnx.errors import ExportError
from zengrad.onnx.graph import GraphBuilder
from zengrad.onnx.map_tensor import rank
from zengrad.onnx.symbolic import Sym
from zengrad.onnx.trace import Node


def _output_padding(node: Node, size, out, k: int, s: int, p: int, d: int) -> int:
    """out - ((size - 1) s - 2 p + d (k - 1) + 1): the extra rows ONNX's output_padding adds
    (constant even when size and out follow a dynamic axis)."""
    base = -s - 2 * p + d * (k - 1) + 1
    if isinstance(size, int) and isinstance(out, int):
        return out - (size * s + base)
    if isinstance(size, Sym) and isinstance(out, Sym):
        extra = out.minus(Sym(size.coef * s, size.axes, size.const * s + base))
        if extra is not None:
            return extra
    raise ExportError(f"{node.label}: the transposed convolution's output size {out} is not "
                      f"a fixed offset from its input size {size}")


def conv_transpose2d(g: GraphBuilder, node: Node) -> str:
    """ConvTranspose with strides, pads, dilations, group and output_padding; a 3-D input is
    conv_transpose1d (zengrad runs it as a height-1 image: the last entry of each pair)."""
    x, w, b, stride, padding, out_size, dilation, groups = node.args[:8]
    nd = rank(g, x) - 2
    stride, padding = list(stride)[-nd:], list(padding)[-nd:]
    dilation, out_size = list(dilation)[-nd:], list(out_size)[-nd:]
    kernel = list(g.shape(w)[2:])
    sizes = g.shape(x)[2:]
    extra = [_output_padding(node, n, o, k, s, p, d) for n, o, k, s, p, d in
             zip(sizes, out_size, kernel, stride, padding, dilation)]
    ins = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
    return g.node("ConvTranspose", ins, strides=stride, dilations=dilation,
                  group=int(groups), pads=padding + padding, kernel_shape=kernel,
                  output_padding=extra)


def group_norm(g, node):
    """(x - mean) / sqrt(var + eps) per (sample, group of C/G channels), then w, b per
    channel: Reshape to (N, G, -1), ReduceMean twice, Reshape back (runs on every runtime;
    ONNX's GroupNormalization changed its scale's meaning in opset 21)."""
    x, w, b, groups, eps = node.args[:5]
    dt, n = g.dtype(x), rank(g, x)
    xv = g.value(x)
    rows = g.node("Reshape", [xv, g.ints([0, int(groups), -1], "shape")])
    mean = g.reduce("ReduceMean", rows, [2], True)
    d = g.node("Sub", [rows, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [d, d]), [2], True)
    xhat = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dt, "eps")])])])
    y = g.node("Reshape", [xhat, g.node("Shape", [xv])])
    per_channel = [int(g.shape(x)[1])] + [1] * (n - 2)
    if w is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.value(w), g.ints(per_channel, "shape")])])
    if b is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.value(b), g.ints(per_channel, "shape")])])
    return y


def resample(g, node):
    """F.interpolate's per-axis resamples, as zengrad computes them: each output position a
    weighted sum of input positions (Gather per tap, times its weights), so every mode
    (nearest, linear, bicubic, area-free antialias) exports with zengrad's exact indices."""
    x, plans = node.args[:2]
    y = g.value(x)
    n = rank(g, x)
    if not plans:
        return g.node("Identity", [y])
    dt = g.dtype(x)
    for axis, _size, taps, _dense in plans:
        out = None
        for idx, lam in taps:
            part = g.node("Gather", [y, g.value(idx)], axis=int(axis))
            if lam is not None:
                weights = lam.array.astype(dt).reshape((-1,) + (1,) * (n - 1 - int(axis)))
                part = g.node("Mul", [part, g.const(weights, "resample_weights")])
            out = part if out is None else g.node("Add", [out, part])
        y = out
    return y


def _positions(sl: slice, n: int) -> np.ndarray:
    for part in (sl.start, sl.stop, sl.step):
        if part is not None and not isinstance(part, int):
            raise ExportError("border padding along a dynamic axis is not supported by the "
                              "exporter")
    return np.arange(n)[sl]


def _border_indices(node: Node, in_shape, out_shape, blocks) -> dict[int, np.ndarray]:
    """{axis: index}: output position j of a padded axis reads input position index[j]."""
    out = {}
    for axis in range(len(in_shape)):
        runs = [(dst[axis], src[axis]) for dst, src, _ in blocks
                if not (dst[axis] == slice(None) and src[axis] == slice(None))]
        if not runs:
            continue
        n, m = in_shape[axis], out_shape[axis]
        if not (isinstance(n, int) and isinstance(m, int)):
            raise ExportError(f"{node.label}: border padding along a dynamic axis is not "
                              "supported by the exporter")
        index = np.full(m, -1, np.int64)
        for dst, src in runs:
            index[_positions(dst, m)] = _positions(src, n)
        if (index < 0).any():
            raise ExportError(f"{node.label}: the padding's blocks don't cover its output")
        out[axis] = index
    return out


def _pad_mode(index: np.ndarray, n: int):
    """('reflect' | 'edge', before, after) when index is that ONNX Pad mode's, else None."""
    extra = len(index) - n
    for lo in range(max(extra, -1) + 1):
        pos = np.arange(-lo, n + extra - lo)
        reflect = np.abs(pos)
        reflect = np.where(reflect > n - 1, 2 * (n - 1) - reflect, reflect)
        if np.array_equal(index, reflect):
            return "reflect", lo, extra - lo
        if np.array_equal(index, np.clip(pos, 0, n - 1)):
            return "edge", lo, extra - lo
    return None


def border_pad(g, node):
    """Reflect / replicate padding as ONNX Pad (modes reflect, edge); circular padding and
    negative widths (crops) as one Gather per padded axis, with zengrad's exact indices."""
    x, out_shape, blocks = node.args[:3]
    in_shape = g.shape(x)
    indices = _border_indices(node, in_shape, tuple(out_shape), blocks)
    modes = {a: _pad_mode(ix, in_shape[a]) for a, ix in indices.items()}
    kinds = {m[0] if m else None for m in modes.values()}
    y = g.value(x)
    if len(kinds) == 1 and None not in kinds:
        mode = kinds.pop()
        n = len(in_shape)
        pads = [0] * (2 * n)
        for a, (_, lo, hi) in modes.items():
            pads[a], pads[n + a] = lo, hi
        return g.node("Pad", [y, g.ints(pads, "pads")], mode=mode)
    for axis, index in indices.items():
        y = g.node("Gather", [y, g.ints(index, "pad_index")], axis=axis)
    return y
