"""GraphBuilder: the ONNX graph under construction, with the helpers the mappings share.

Values get names (the inputs' and outputs' from the caller, the rest from the op that made
them); constants become initializers (a parameter or buffer under its state_dict key, so the
file reads like the model); sizes of dynamic axes are computed in the graph from the inputs'
Shape, so a Reshape or Slice that depends on the batch size follows it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zengrad.onnx.errors import ExportError
from zengrad.onnx.patterns import explain
from zengrad.onnx.symbolic import Dim, Sym
from zengrad.onnx.trace import Const, Node, Ref, Trace, Varying

INT64_MAX = np.iinfo(np.int64).max


def _onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("zengrad.onnx needs the onnx package: pip install 'zengrad[onnx]' "
                          "(or pip install onnx)") from e
    return onnx


class GraphBuilder:
    """Nodes, initializers and value names of one export."""

    def __init__(self, trace: Trace, input_names: list[str], opset: int) -> None:
        self.onnx = _onnx()
        self.trace, self.opset = trace, opset
        self.nodes: list = []
        self.initializers: dict[str, Any] = {}
        self.names: dict[int, str] = dict(enumerate(input_names))
        self._consts: dict[int, str] = {}   # id(array) -> initializer name
        self._keep: list = []
        self._used: set[str] = set(input_names)
        self._axis_sizes: dict[str, str] = {}
        self.node_label = "export"

    # ----- names ---------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        base = hint.replace("/", "_") or "v"
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def name_of(self, vid: int, hint: str) -> str:
        if vid not in self.names:
            self.names[vid] = self.fresh(hint)
        return self.names[vid]

    # ----- nodes ---------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1,
             **attrs) -> Any:
        """Add a node; returns its output name (a list of names when outputs > 1)."""
        outs = outputs if isinstance(outputs, list) else [
            self.fresh(f"{self.node_label}/{op_type}") for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(
            op_type, inputs, outs, name=self.fresh(f"{self.node_label}/{op_type}_node"),
            **{k: v for k, v in attrs.items() if v is not None}))
        return outs[0] if len(outs) == 1 and not isinstance(outputs, list) else outs

    # ----- constants -----------------------------------------------------------------
    def const(self, array: np.ndarray, hint: str = "const") -> str:
        """An initializer holding array (the same array object gives the same one)."""
        key = id(array)
        if key in self._consts:
            return self._consts[key]
        name = self.fresh(hint)
        arr = np.asarray(array)
        # not np.ascontiguousarray: it turns a 0-d array into a 1-d one
        arr = arr if arr.flags.c_contiguous else arr.copy(order="C")
        self.initializers[name] = self.onnx.numpy_helper.from_array(arr, name)
        self._consts[key] = name
        self._keep.append(array)
        return name

    def ints(self, values, hint: str = "ints") -> str:
        return self.const(np.asarray(values, np.int64).reshape(-1), hint)

    def scalar(self, value, dtype, hint: str = "scalar") -> str:
        return self.const(np.asarray(value, dtype), hint)

    # ----- arguments -----------------------------------------------------------------
    def value(self, arg, like: Any = None, hint: str = "const") -> str:
        """The ONNX name of a traced argument: a value, a constant (dtype of `like` for
        Python numbers), or "" for None (an omitted optional input)."""
        if arg is None:
            return ""
        if isinstance(arg, Ref):
            return self.names[arg.vid]
        if isinstance(arg, Const):
            return self.const(arg.array, arg.name or hint)
        if isinstance(arg, Varying):
            rebuilt = explain(self, arg)
            if rebuilt is not None:
                return rebuilt
            raise ExportError(
                f"{arg.where}: an argument (shape {arg.array.shape}) changes with the inputs "
                "but was computed outside zengrad's ops (a NumPy expression, a mask from a "
                "comparison, a table slice), so the exported graph would hold a constant "
                "from the example; compute it with tensor ops, or pass it as an input")
        if isinstance(arg, (bool, int, float)):
            dt = self.dtype(like) if like is not None else np.dtype(np.float32)
            return self.scalar(arg, dt)
        raise ExportError(f"{self.node_label}: can't use {type(arg).__name__} {arg!r} as a "
                          "tensor input")

    def shape(self, arg) -> tuple[Dim, ...]:
        if isinstance(arg, Ref):
            return self.trace.shapes[arg.vid]
        if isinstance(arg, Varying) and arg.shape is not None:
            return arg.shape
        if isinstance(arg, (Const, Varying)):
            return tuple(arg.array.shape)
        return ()

    def dtype(self, arg) -> np.dtype:
        if isinstance(arg, Ref):
            return self.trace.dtypes[arg.vid]
        if isinstance(arg, (Const, Varying)):
            return arg.array.dtype
        if isinstance(arg, bool):
            return np.dtype(bool)
        if isinstance(arg, int):
            return np.dtype(np.int64)
        return np.dtype(np.float32)

    # ----- sizes of dynamic axes -----------------------------------------------------
    def axis_size(self, name: str) -> str:
        """1-D int64 [size of dynamic axis `name`], read from the input that has it."""
        if name not in self._axis_sizes:
            i, axis = self.trace.axes[name]
            self._axis_sizes[name] = self.node(
                "Shape", [self.names[i]], start=axis, end=axis + 1)
        return self._axis_sizes[name]

    def dim(self, d: Dim) -> str:
        """1-D int64 [d]."""
        if isinstance(d, int):
            return self.ints([d], "dim")
        out = self.axis_size(d.axes[0])
        for a in d.axes[1:]:
            out = self.node("Mul", [out, self.axis_size(a)])
        if d.coef != 1:
            out = self.node("Mul", [out, self.ints([d.coef], "coef")])
        if d.const:
            out = self.node("Add", [out, self.ints([d.const], "offset")])
        return out

    def dims(self, dims) -> str:
        """1-D int64 tensor of dims (ints, -1, Syms); one Concat when some are dynamic."""
        dims = list(dims)
        if all(isinstance(d, int) for d in dims):
            return self.ints(dims, "shape")
        return self.node("Concat", [self.dim(d) for d in dims], axis=0)

    def reshape_target(self, out_shape) -> str:
        """A Reshape's shape input for an output of out_shape: the static dims as they are
        and one dynamic dim as -1 (Reshape infers it), or all of them computed."""
        dyn = [i for i, d in enumerate(out_shape) if isinstance(d, Sym)]
        if len(dyn) <= 1:
            return self.ints([-1 if isinstance(d, Sym) else d for d in out_shape], "shape")
        return self.dims(out_shape)

    def unsqueeze(self, x: str, axes: list[int]) -> str:
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")])

    def squeeze(self, x: str, axes: list[int]) -> str:
        return self.node("Squeeze", [x, self.ints(axes, "axes")])

    def reduce(self, op: str, x: str, axes, keepdims: bool) -> str:
        """Reduce<op> over axes (None: all), in the opset's form (axes an input from 18 for
        the ReduceMean family, from 13 for ReduceSum)."""
        as_input = op == "ReduceSum" or self.opset >= 18
        if axes is None:
            return self.node(op, [x], keepdims=int(keepdims))
        axes = [int(a) for a in axes]
        if as_input:
            return self.node(op, [x, self.ints(axes, "axes")], keepdims=int(keepdims))
        return self.node(op, [x], axes=axes, keepdims=int(keepdims))


def value_info(onnx, name: str, dtype: np.dtype, shape, names: dict[tuple[int, int], str],
               index: int):
    """A graph input/output's type: static dims as numbers, dynamic ones by name."""
    dims = []
    for a, d in enumerate(shape):
        label = names.get((index, a))
        if isinstance(d, Sym):
            dims.append(label or (d.axes[0] if d.coef == 1 and len(d.axes) == 1
                                  and not d.const else str(d)))
        else:
            dims.append(label if label else int(d))
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def emit(g: GraphBuilder, node: Node, handler) -> None:
    """Run one node's mapping and name its output."""
    g.node_label = node.key
    out = handler(g, node)
    if not isinstance(out, str):
        raise ExportError(f"mapping of {node.label} returned no output name")
    g.names[node.out] = out
