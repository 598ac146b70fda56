"""ONNX mappings of the recorded functions: those that make tensors without an op (so the
op layer alone would not see them), wrapped while a trace runs (trace.py, the table's
FUNCTIONS). Comparisons and logic (masks built with tensor ops), argmax/argmin, max/min over
a dim (values and indices), casts, and the attention-mask builders of MultiheadAttention and
scaled_dot_product_attention (masks that follow the inputs: padding masks).

Same protocol as map_tensor.py: (GraphBuilder, Node) -> output name. A function's arguments
are as the caller passed them (positional or keyword), so each mapping binds them by name.
"""

from __future__ import annotations

import numpy as np

from zengrad.onnx.errors import ExportError
from zengrad.onnx.graph import GraphBuilder
from zengrad.onnx.map_tensor import _elem, operand, rank
from zengrad.onnx.trace import Const, Node, Ref, Varying


def bind(node: Node, names: tuple[str, ...], defaults: dict) -> dict:
    """The node's arguments by parameter name (positional first, then keywords)."""
    out = dict(defaults)
    out.update(zip(names, node.args))
    out.update(node.kwargs)
    return out


def _is_tensor(x) -> bool:
    return isinstance(x, (Ref, Const, Varying))


def _common_dtype(g: GraphBuilder, a, b) -> np.dtype:
    """The dtype both sides of a comparison are compared in: NumPy's promotion of the
    tensors' dtypes (a Python number takes the tensor's)."""
    tensors = [g.dtype(x) for x in (a, b) if _is_tensor(x)]
    if not tensors:
        return np.dtype(np.float32)
    dt = np.result_type(*tensors)
    if dt.kind in "biu" and any(isinstance(x, float) for x in (a, b)):
        return np.dtype(np.float32)
    return dt


# ----- comparisons and logic -------------------------------------------------------------------
def compare(op_type: str, negate: bool = False):
    def mapping(g: GraphBuilder, node: Node) -> str:
        a, b = bind(node, ("input", "other"), {}).values()
        dt = _common_dtype(g, a, b)
        if dt == np.bool_ and op_type != "Equal":
            dt = np.dtype(np.int64)  # ONNX orders numbers, not bools
        y = g.node(op_type, [operand(g, a, dt), operand(g, b, dt)])
        return g.node("Not", [y]) if negate else y

    mapping.__doc__ = f"elementwise {'not ' if negate else ''}{op_type} (a bool tensor)"
    return mapping


def _as_bool(g: GraphBuilder, x) -> str:
    """x != 0 as bool (torch's logical ops read any dtype that way)."""
    if _is_tensor(x) and g.dtype(x) == np.bool_:
        return g.value(x)
    if not _is_tensor(x):
        return g.scalar(bool(x), np.bool_)
    dt = g.dtype(x)
    return g.node("Not", [g.node("Equal", [g.value(x), g.scalar(0, dt)])])


def logical(op_type: str):
    def mapping(g: GraphBuilder, node: Node) -> str:
        a, b = bind(node, ("input", "other"), {}).values()
        return g.node(op_type, [_as_bool(g, a), _as_bool(g, b)])

    mapping.__doc__ = f"elementwise {op_type} of the inputs read as bools"
    return mapping


def logical_not(g, node):
    return g.node("Not", [_as_bool(g, bind(node, ("input",), {})["input"])])


def isfinite(g, node):
    """not (inf or NaN); every integer is finite."""
    x = bind(node, ("input",), {})["input"]
    if g.dtype(x).kind not in "fc":
        return g.node("Expand", [g.scalar(True, np.bool_, "true"),
                                 g.node("Shape", [g.value(x)])])
    xv = g.value(x)
    return g.node("Not", [g.node("Or", [g.node("IsInf", [xv]), g.node("IsNaN", [xv])])])


def cast(g, node):
    """Cast (the tensor's .to(dtype), .long(), ... on a tensor that requires grad)."""
    a = bind(node, ("input", "dtype"), {})
    return g.node("Cast", [g.value(a["input"])], to=_elem(g, np.dtype(a["dtype"])))


# ----- argmax / max over a dim -----------------------------------------------------------------
def _dim(node: Node, x_rank: int, dim) -> int:
    if not isinstance(dim, int):
        raise ExportError(f"{node.label}: dim must be an int, got {dim!r}")
    return dim % x_rank if x_rank else 0


def _arg(op_type: str, g: GraphBuilder, node: Node, x, dim, keepdim) -> str:
    """ArgMax/ArgMin (the first of tied extremes, as NumPy and torch): int64."""
    n = rank(g, x)
    if dim is None:  # over all elements: a 0-d index into the flattened tensor
        flat = g.node("Reshape", [g.value(x), g.ints([-1], "shape")])
        return g.node(op_type, [flat], axis=0, keepdims=0)
    if n == 0:
        return g.node("Identity", [g.const(np.zeros((), np.int64), "zero_index")])
    return g.node(op_type, [g.value(x)], axis=_dim(node, n, dim), keepdims=int(bool(keepdim)))


def argextreme(op_type: str):
    def mapping(g, node):
        a = bind(node, ("input", "dim", "keepdim"), {"dim": None, "keepdim": False})
        return _arg(op_type, g, node, a["input"], a["dim"], a["keepdim"])

    mapping.__doc__ = f"{op_type} along dim (over all elements when dim is None)"
    return mapping


def extreme(is_min: bool, part: int | None):
    """max/min: over all elements (part None), elementwise against a tensor, or the values
    (part 0) / indices (part 1) over one dim."""
    reduce_op, elem_op = ("ReduceMin", "Min") if is_min else ("ReduceMax", "Max")

    def mapping(g, node):
        a = bind(node, ("input", "dim", "keepdim"), {"dim": None, "keepdim": False})
        x, dim, keepdim = a["input"], a["dim"], bool(a["keepdim"])
        if _is_tensor(dim):  # torch.max(a, b): elementwise
            dt = g.trace.dtypes[node.out]
            return g.node(elem_op, [operand(g, x, dt), operand(g, dim, dt)])
        if part == 1:
            return _arg("ArgMin" if is_min else "ArgMax", g, node, x, dim, keepdim)
        if dim is None:
            return g.reduce(reduce_op, g.value(x), None, False)
        n = rank(g, x)
        if n == 0:
            return g.node("Identity", [g.value(x)])
        return g.reduce(reduce_op, g.value(x), [_dim(node, n, dim)], keepdim)

    return mapping


# ----- attention masks -------------------------------------------------------------------------
def _additive(g: GraphBuilder, m, dt, true_means_masked: bool) -> str:
    """A mask as added to attention scores: bool -> 0 / -inf, float -> itself (in dt)."""
    if g.dtype(m) == np.bool_:
        zero, ninf = g.scalar(0, dt, "zero"), g.scalar(-np.inf, dt, "neg_inf")
        return g.node("Where", [g.value(m), ninf, zero] if true_means_masked
                      else [g.value(m), zero, ninf])
    return operand(g, m, dt)


def mha_mask(g, node):
    """MultiheadAttention's merged mask: attn_mask (L, S) or (N heads, L, S) reshaped to
    (N, heads, L, S), plus key_padding_mask (N, S) as (N, 1, 1, S); bool True = masked out."""
    names = ("attn_mask", "key_padding_mask", "h", "n", "length", "src_len", "dt")
    a = bind(node, names, {})
    dt = np.dtype(a["dt"])
    mask = None
    if a["attn_mask"] is not None:
        mask = _additive(g, a["attn_mask"], dt, True)
        if rank(g, a["attn_mask"]) == 3:
            mask = g.node("Reshape", [mask, g.dims([a["n"], a["h"], a["length"],
                                                    a["src_len"]])])
    if a["key_padding_mask"] is not None:
        kpm = _additive(g, a["key_padding_mask"], dt, True)
        kpm = g.node("Reshape", [kpm, g.dims([a["n"], 1, 1, a["src_len"]])])
        mask = kpm if mask is None else g.node("Add", [mask, kpm])
    if mask is None:
        raise ExportError(f"{node.label}: a mask builder returned a mask without any input mask")
    return mask


def sdpa_mask(g, node):
    """scaled_dot_product_attention's attn_mask: bool True = take part (0), False = -inf;
    a float mask is added as it is."""
    a = bind(node, ("attn_mask", "dt", "scores_shape"), {})
    return _additive(g, a["attn_mask"], np.dtype(a["dt"]), False)
