"""Constants that follow the dynamic axes, recognized as functions of their shape.

A mask made in NumPy from a size (`generate_square_subsequent_mask(L)`, `is_causal=True`,
`torch.triu(torch.ones(L, L))`) is not an op, so the trace sees a constant that is
different in each run (a trace.Varying). When, in every run, it is

    M[..., i, j] = a  if  j - i <= k  else  b        (a triangle; k may follow the axes too)

or one value everywhere (a fill), it is rebuilt in the graph from its dynamic dims:
Range(L) and Range(S) give i and j, Where picks a or b, Expand adds the leading dims. Any
other varying constant stays an error (graph.py says why).
"""

from __future__ import annotations

import numpy as np

from zengrad.onnx.symbolic import Sym, fit
from zengrad.onnx.trace import Varying


def _triangle(m: np.ndarray):
    """(a, b, k) when the (L, S) matrix m is where(j - i <= k, a, b) with a != b, else None."""
    if m.size == 0:
        return None
    length, src = m.shape
    diff = np.arange(src)[None, :] - np.arange(length)[:, None]
    flat = m.reshape(-1)
    others = flat[~_same(flat, flat[0])]
    if not others.size:
        return None
    for a in (flat[0], others[0]):
        inside = _same(m, a)
        rest = m[~inside]
        k = int(diff[inside].max())
        if np.array_equal(inside, diff <= k) and np.all(_same(rest, rest[0])):
            return a, rest[0], k
    return None


def _same(x: np.ndarray, v) -> np.ndarray:
    """x == v, NaN equal to NaN."""
    if x.dtype.kind in "fc" and np.isnan(v):
        return np.isnan(x)
    return x == v


def _leading_uniform(x: np.ndarray) -> np.ndarray | None:
    """The (L, S) matrix every leading index of x holds, or None when they differ."""
    if x.ndim < 2:
        return None
    rows = x.reshape(-1, *x.shape[-2:])
    if rows.shape[0] == 0:
        return None
    first = rows[0]
    if not all(np.array_equal(r, first, equal_nan=x.dtype.kind in "fc") for r in rows[1:]):
        return None
    return first


def explain(g, arg: Varying) -> str | None:
    """The graph value rebuilding arg (module docstring), or None."""
    if arg.shape is None or not arg.arrays or any(a.dtype != arg.array.dtype
                                                  for a in arg.arrays):
        return None
    dt = arg.array.dtype
    arrays = arg.arrays
    flat = [a.reshape(-1) for a in arrays]
    if all(f.size for f in flat) and all(np.all(_same(f, flat[0][0])) for f in flat):
        return g.node("Expand", [g.scalar(flat[0][0], dt, "fill"), g.dims(arg.shape)])
    found = []
    for a in arrays:
        m = _leading_uniform(a)
        tri = None if m is None else _triangle(m)
        if tri is None:
            return None
        found.append(tri)
    (a0, b0, _), ks = found[0], [k for _, _, k in found]
    if any(not (_same(np.asarray(a), a0) and _same(np.asarray(b), b0)) for a, b, _ in found):
        return None
    k = fit(ks, g.trace.envs)
    if k is None:
        return None
    return _emit_triangle(g, arg.shape, a0, b0, k, dt)


def _emit_triangle(g, shape, a, b, k, dt) -> str:
    def scalar_dim(d):
        return g.node("Squeeze", [g.dim(d)]) if isinstance(d, Sym) else g.scalar(d, np.int64)

    zero, one = g.scalar(0, np.int64, "zero"), g.scalar(1, np.int64, "one")
    rows = g.node("Range", [zero, scalar_dim(shape[-2]), one])
    cols = g.node("Range", [zero, scalar_dim(shape[-1]), one])
    diff = g.node("Sub", [g.unsqueeze(cols, [0]), g.unsqueeze(rows, [1])])
    kk = g.node("Squeeze", [g.dim(k)]) if isinstance(k, Sym) else g.scalar(k, np.int64, "k")
    inside = g.node("LessOrEqual", [diff, kk])
    if dt == np.bool_:  # onnxruntime has no bool Where: the condition is the mask
        out = inside if bool(a) else g.node("Not", [inside])
    else:
        out = g.node("Where", [inside, g.scalar(a, dt, "inside"), g.scalar(b, dt, "outside")])
    if len(shape) > 2:
        out = g.node("Expand", [out, g.dims(shape)])
    return out
