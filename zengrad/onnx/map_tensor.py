"""ONNX mappings of the tensor ops: elementwise math, activations, reductions, shape and
indexing. Each mapping takes (GraphBuilder, traced Node) and returns its output's name; the
table that names them is table.py.

An op's arguments are as traced (trace.py): tensors as Ref / Const, ints possibly Syms (sizes
of dynamic axes).
"""

from __future__ import annotations

import math

import numpy as np

from zengrad.onnx.errors import ExportError
from zengrad.onnx.graph import INT64_MAX, GraphBuilder
from zengrad.onnx.symbolic import Sym
from zengrad.onnx.trace import Const, Node, Ref


def operand(g: GraphBuilder, x, dtype: np.dtype) -> str:
    """x as an input of dtype: Python numbers and constants converted here, values Cast."""
    if isinstance(x, (bool, int, float)) and not isinstance(x, Sym):
        return g.scalar(x, dtype)
    if isinstance(x, Const) and x.array.dtype != dtype:
        return g.const(x.array.astype(dtype), (x.name or "const") + f".{dtype}")
    name = g.value(x)
    if isinstance(x, Ref) and g.dtype(x) != dtype:
        name = g.node("Cast", [name], to=_elem(g, dtype))
    return name


def _elem(g: GraphBuilder, dtype) -> int:
    return g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def out_dtype(g: GraphBuilder, node: Node) -> np.dtype:
    return g.trace.dtypes[node.out]


def rank(g: GraphBuilder, x) -> int:
    return len(g.shape(x))


def _axes(axes, ndim: int) -> list[int]:
    axes = [axes] if isinstance(axes, int) else list(axes)
    return [a % ndim if ndim else 0 for a in axes]


# ----- elementwise ---------------------------------------------------------------------------
def binary(op_type: str):
    def mapping(g: GraphBuilder, node: Node) -> str:
        dt = out_dtype(g, node)
        a, b = node.args[:2]
        return g.node(op_type, [operand(g, a, dt), operand(g, b, dt)])

    mapping.__doc__ = f"elementwise {op_type}, NumPy broadcasting (as ONNX's)"
    return mapping


def unary(op_type: str):
    def mapping(g: GraphBuilder, node: Node) -> str:
        return g.node(op_type, [g.value(node.args[0])])

    mapping.__doc__ = f"y = {op_type}(x)"
    return mapping


def rsqrt(g, node):
    """1 / sqrt(x)."""
    return g.node("Reciprocal", [g.node("Sqrt", [g.value(node.args[0])])])


def log1p(g, node):
    """log(1 + x)."""
    x = node.args[0]
    return g.node("Log", [g.node("Add", [g.value(x), g.scalar(1, g.dtype(x))])])


def silu(g, node):
    """x sigmoid(x)."""
    x = g.value(node.args[0])
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def softplus_of(g: GraphBuilder, x: str, dtype, beta: float, threshold: float) -> str:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    bx = x if beta == 1 else g.node("Mul", [x, g.scalar(beta, dtype)])
    sp = g.node("Softplus", [bx])
    if beta != 1:
        sp = g.node("Div", [sp, g.scalar(beta, dtype)])
    over = g.node("Greater", [bx, g.scalar(threshold, dtype)])
    return g.node("Where", [over, x, sp])


def softplus(g, node):
    x, beta, threshold = node.args[:3]
    return softplus_of(g, g.value(x), g.dtype(x), float(beta), float(threshold))


def log_sigmoid(g, node):
    """log sigmoid(x) = -softplus(-x)."""
    x = g.value(node.args[0])
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [x])])])


def mish(g, node):
    """x tanh(softplus(x)); ONNX Mish from opset 18."""
    x = g.value(node.args[0])
    if g.opset >= 18:
        return g.node("Mish", [x])
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])


def hardsigmoid(g, node):
    """clip(x / 6 + 1/2, 0, 1)."""
    return g.node("HardSigmoid", [g.value(node.args[0])], alpha=1.0 / 6, beta=0.5)


def leaky_relu(g, node):
    return g.node("LeakyRelu", [g.value(node.args[0])], alpha=float(node.args[1]))


def elu(g, node):
    return g.node("Elu", [g.value(node.args[0])], alpha=float(node.args[1]))


def gelu(g, node):
    """x Phi(x) (exact) or the tanh form; ONNX Gelu from opset 20, else spelled out."""
    x, approximate = node.args[:2]
    dt, xv = g.dtype(x), g.value(x)
    if g.opset >= 20:
        return g.node("Gelu", [xv], approximate=approximate)
    if approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [xv, xv]), xv])
        inner = g.node("Add", [xv, g.node("Mul", [cube, g.scalar(0.044715, dt)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), dt)])])
    else:
        t = g.node("Erf", [g.node("Mul", [xv, g.scalar(1 / math.sqrt(2), dt)])])
    half = g.node("Mul", [xv, g.scalar(0.5, dt)])
    return g.node("Mul", [half, g.node("Add", [t, g.scalar(1, dt)])])


def clamp(g, node):
    """max(x, lo) then min(., hi); either bound None, a number or a tensor."""
    x, lo, hi = node.args[:3]
    dt = out_dtype(g, node)
    y = operand(g, x, dt)
    if lo is not None:
        y = g.node("Max", [y, operand(g, lo, dt)])
    if hi is not None:
        y = g.node("Min", [y, operand(g, hi, dt)])
    return y


def softmax(op_type: str):
    def mapping(g, node):
        x, axis = node.args[:2]
        return g.node(op_type, [g.value(x)], axis=int(axis))

    mapping.__doc__ = f"{op_type} along one axis"
    return mapping


def where(g, node):
    cond, a, b = node.args[:3]
    dt = out_dtype(g, node)
    return g.node("Where", [operand(g, cond, np.dtype(bool)), operand(g, a, dt),
                            operand(g, b, dt)])


def cast(g, node):
    x, dtype = node.args[:2]
    return g.node("Cast", [g.value(x)], to=_elem(g, np.dtype(dtype)))


def dropout(g, node):
    """Dropout is the identity in an exported (inference) graph, as torch.onnx's in eval."""
    return g.node("Identity", [g.value(node.args[0])])


# ----- reductions ----------------------------------------------------------------------------
def reduce(op_type: str):
    def mapping(g, node):
        x, axes, keepdim = node.args[:3]
        n = rank(g, x)
        return g.reduce(op_type, g.value(x), None if axes is None else _axes(axes, n),
                        bool(keepdim))

    mapping.__doc__ = f"{op_type} over the given axes (all when None)"
    return mapping


def amax(g, node):
    x, axes, keepdim, is_min = node.args[:4]
    axes = None if axes is None else _axes(axes, rank(g, x))
    return g.reduce("ReduceMin" if is_min else "ReduceMax", g.value(x), axes, bool(keepdim))


def _count(g: GraphBuilder, x, axes) -> int:
    shape = g.shape(x)
    axes = range(len(shape)) if axes is None else _axes(axes, len(shape))
    n = 1
    for a in axes:
        if isinstance(shape[a], Sym):
            raise ExportError(f"{g.node_label}: a variance over a dynamic axis is not "
                              "supported by the exporter")
        n *= shape[a]
    return n


def var(g, node, std: bool = False):
    """sum((x - mean)^2) / (n - correction) over the axes; std is its square root."""
    x, axes, correction, keepdim = node.args[:4]
    dt = g.dtype(x)
    ax = None if axes is None else _axes(axes, rank(g, x))
    xv = g.value(x)
    mean = g.reduce("ReduceMean", xv, ax, True)
    d = g.node("Sub", [xv, mean])
    ss = g.reduce("ReduceSum", g.node("Mul", [d, d]), ax, bool(keepdim))
    denom = max(_count(g, x, axes) - float(correction), 0.0)
    out = g.node("Div", [ss, g.scalar(denom, dt)])
    return g.node("Sqrt", [out]) if std else out


def std(g, node):
    return var(g, node, std=True)


def cumsum(g, node):
    x, axis = node.args[:2]
    return g.node("CumSum", [g.value(x), g.scalar(int(axis), np.int64, "axis")])


# ----- shape ---------------------------------------------------------------------------------
def reshape(g, node):
    """Reshape to the traced output shape (dynamic sizes computed, or -1 for one of them)."""
    return g.node("Reshape", [g.value(node.args[0]), g.reshape_target(g.trace.shapes[node.out])])


def permute(g, node):
    x, axes = node.args[:2]
    return g.node("Transpose", [g.value(x)], perm=_axes(axes, rank(g, x)))


def expand(g, node):
    return g.node("Expand", [g.value(node.args[0]), g.dims(g.trace.shapes[node.out])])


def repeat(g, node):
    """Tile; reps longer than x's rank add leading axes first, as torch's repeat."""
    x, reps = node.args[:2]
    xv, extra = g.value(x), len(reps) - rank(g, x)
    if extra > 0:
        xv = g.unsqueeze(xv, list(range(extra)))
    return g.node("Tile", [xv, g.dims(reps)])


def cat(g, node):
    axis, *xs = node.args
    n = rank(g, xs[0])
    return g.node("Concat", [g.value(x) for x in xs], axis=int(axis) % max(n, 1))


def stack(g, node):
    axis, *xs = node.args
    axis = int(axis) % (rank(g, xs[0]) + 1)
    return g.node("Concat", [g.unsqueeze(g.value(x), [axis]) for x in xs], axis=axis)


def pad(g, node):
    """Constant padding; widths [(before, after)] per dim."""
    x, widths, value = node.args[:3]
    pads = [w[0] for w in widths] + [w[1] for w in widths]
    return g.node("Pad", [g.value(x), g.dims(pads), g.scalar(value, g.dtype(x))],
                  mode="constant")


def flip(g, node):
    x, axes = node.args[:2]
    ax = _axes(axes, rank(g, x))
    k = len(ax)
    return g.node("Slice", [g.value(x), g.ints([-1] * k), g.ints([-INT64_MAX - 1] * k),
                            g.ints(ax), g.ints([-1] * k)])


def matmul(g, node):
    a, b = node.args[:2]
    return g.node("MatMul", [g.value(a), g.value(b)])


# ----- indexing ------------------------------------------------------------------------------
def _position(g: GraphBuilder, i, size, default: int | None = None):
    """An index or slice bound along a dim of `size`: a static int (negative from the end
    when it follows a dynamic size), or a 1-D int64 tensor name when it must be computed."""
    if i is None:
        return default
    if isinstance(i, int):
        return i
    if isinstance(size, Sym):
        off = i.minus(size)
        if off is not None:
            return off if off < 0 or default is None else INT64_MAX
    return g.dim(i)


def _as_tensor(g: GraphBuilder, values: list) -> str:
    if all(isinstance(v, int) for v in values):
        return g.ints(values)
    return g.node("Concat", [v if isinstance(v, str) else g.ints([v]) for v in values],
                  axis=0)


def getitem(g, node):
    """x[index] for ints, slices, None, Ellipsis and one integer array (Gather)."""
    x, index, advanced = node.args[:3]
    shape = g.shape(x)
    parts = list(index) if isinstance(index, tuple) else [index]
    arrays = [p for p in parts if isinstance(p, (Const, Ref))]
    if any(isinstance(p, Const) and p.array.dtype == np.bool_ for p in arrays):
        raise ExportError(f"{node.label}: boolean-mask indexing (a data-dependent shape) has "
                          "no ONNX export")
    if len(arrays) > 1:
        raise ExportError(f"{node.label}: indexing with several index arrays is not "
                          "supported by the exporter (index one axis at a time)")
    if arrays and any(isinstance(p, (int, Sym)) for p in parts):
        raise ExportError(f"{node.label}: an index array together with integer indices "
                          "(NumPy's combined advanced indexing) is not supported by the "
                          "exporter")
    used = sum(1 for p in parts if p is not None and p is not Ellipsis)
    if Ellipsis in parts:
        k = parts.index(Ellipsis)
        parts[k:k + 1] = [slice(None)] * (len(shape) - used)
    parts += [slice(None)] * (len(shape) - sum(1 for p in parts if p is not None))
    y = g.value(x)
    starts, ends, axes, steps = [], [], [], []
    picks, news = [], []  # (axis in x, index) and output positions of None
    d = out_pos = 0
    for p in parts:
        if p is None:
            news.append(out_pos)
            out_pos += 1
            continue
        size = shape[d]
        if isinstance(p, slice):
            step = 1 if p.step is None else p.step
            if not isinstance(step, int):
                raise ExportError(f"{node.label}: a slice step that depends on a dynamic axis")
            if not (p.start in (None, 0) and p.stop is None and step == 1):
                lo, hi = (0, INT64_MAX) if step > 0 else (INT64_MAX, -INT64_MAX - 1)
                starts.append(_position(g, p.start, size, lo))
                ends.append(_position(g, p.stop, size, hi))
                axes.append(d)
                steps.append(step)
            out_pos += 1
        else:
            picks.append((d, p))
            if not isinstance(p, int) and not isinstance(p, Sym):
                out_pos += len(g.shape(p))
        d += 1
    if axes:
        y = g.node("Slice", [y, _as_tensor(g, starts), _as_tensor(g, ends), g.ints(axes),
                             g.ints(steps)])
    # integer picks remove their axis: from the last, so earlier axis numbers stay right
    for axis, p in sorted(picks, key=lambda t: -t[0]):
        if isinstance(p, (Const, Ref)):
            y = g.node("Gather", [y, g.value(p)], axis=axis)
            continue
        pos = _position(g, p, shape[axis])
        if isinstance(pos, int):
            y = g.node("Gather", [y, g.scalar(pos, np.int64, "index")], axis=axis)
        else:
            y = g.squeeze(g.node("Gather", [y, pos], axis=axis), [axis])
    if news:
        y = g.unsqueeze(y, news)
    return y if y != g.value(x) else g.node("Identity", [y])


# ----- masks and selections ------------------------------------------------------------------
def masked_fill(g, node):
    """value where mask else x (mask broadcast)."""
    x, mask, value = node.args[:3]
    dt = out_dtype(g, node)
    return g.node("Where", [operand(g, mask, np.dtype(bool)), operand(g, value, dt),
                            operand(g, x, dt)])


def keep_where(g, node):
    """x where mask else 0 (tril / triu: the mask a triangle, rebuilt from a dynamic size
    by patterns.py when it follows one)."""
    x, mask = node.args[:2]
    dt = out_dtype(g, node)
    return g.node("Where", [operand(g, mask, np.dtype(bool)), g.value(x), g.scalar(0, dt)])


def index_select(g, node):
    x, idx, axis = node.args[:3]
    return g.node("Gather", [g.value(x), operand(g, idx, np.dtype(np.int64))], axis=int(axis))


def identity(g, node):
    """An op that changes no value in the graph (contiguous: a memory layout)."""
    return g.node("Identity", [g.value(node.args[0])])
