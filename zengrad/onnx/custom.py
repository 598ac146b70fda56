"""Custom autograd.Functions: their ONNX form, given by the class as torch.onnx's
`symbolic` staticmethod.

    class LeakyClamp(zengrad.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha): ...
        @staticmethod
        def backward(ctx, g): ...
        @staticmethod
        def symbolic(g, x, alpha):
            y = g.op("LeakyRelu", x, alpha_f=alpha)
            return g.op("Clip", y, g.constant(-1.0), g.constant(1.0))

symbolic(g, *args) receives the op's arguments as `apply` got them, each tensor replaced by
a Value (a name in the graph) and the rest (numbers, strings, tuples) as they are, and
returns the Value of the op's output. g.op(op_type, *inputs, **attributes) adds one ONNX
node: inputs are Values, None (an omitted optional input) or numbers/arrays (made
constants); attribute names may carry torch's type suffix (alpha_f, axis_i, perm_i,
mode_s, value_t), which is dropped; outputs=k returns k Values. g.constant(value, dtype)
makes an initializer; g.shape(v) and g.dtype(v) give a Value's traced shape (dynamic sizes
as strings) and NumPy dtype.

A custom Function without `symbolic` stops the export with an UnsupportedOperatorError
naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from zengrad.onnx.errors import ExportError
from zengrad.onnx.graph import GraphBuilder
from zengrad.onnx.trace import Const, Node, Ref, Varying

_SUFFIXES = ("_i", "_f", "_s", "_t", "_is", "_fs", "_ss", "_ts")


@dataclass(frozen=True, eq=False)
class Value:
    """A value in the graph under construction (its ONNX name), as symbolic sees it."""

    name: str
    arg: Any = None    # the traced argument it stands for (for shape and dtype)


class SymbolicContext:
    """The `g` a symbolic function receives (module docstring)."""

    def __init__(self, g: GraphBuilder, label: str) -> None:
        self._g, self._label = g, label

    def op(self, op_type: str, *inputs, outputs: int = 1, **attributes):
        names = [self._input(x) for x in inputs]
        attrs = {}
        for key, value in attributes.items():
            for suffix in _SUFFIXES:
                if key.endswith(suffix) and len(key) > len(suffix):
                    key = key[: -len(suffix)]
                    break
            if isinstance(value, np.ndarray):
                value = self._g.onnx.numpy_helper.from_array(value)
            attrs[key] = value
        try:
            out = self._g.node(op_type, names, outputs, **attrs)
        except (TypeError, ValueError) as e:
            raise ExportError(f"{self._label}.symbolic: g.op({op_type!r}, ...) failed: {e}") \
                from None
        if outputs == 1:
            return Value(out)
        return tuple(Value(o) for o in out)

    def constant(self, value, dtype=None) -> Value:
        arr = np.asarray(value, dtype=dtype)
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(np.float32)  # Python floats: the default float dtype
        return Value(self._g.const(arr, "symbolic_const"))

    def shape(self, v: Value) -> tuple:
        return tuple(d if isinstance(d, int) else str(d) for d in self._g.shape(v.arg))

    def dtype(self, v: Value) -> np.dtype:
        return self._g.dtype(v.arg)

    def _input(self, x) -> str:
        if x is None:
            return ""
        if isinstance(x, Value):
            return x.name
        if isinstance(x, (bool, int, float, np.ndarray, np.generic, list, tuple)):
            return self.constant(x).name
        raise ExportError(f"{self._label}.symbolic: g.op takes Values, None, numbers or "
                          f"arrays as inputs, got {type(x).__name__}")


def _wrap(g: GraphBuilder, a):
    if isinstance(a, (Ref, Const, Varying)):
        return Value(g.value(a), a)
    if isinstance(a, tuple):
        return tuple(_wrap(g, x) for x in a)
    if isinstance(a, list):
        return [_wrap(g, x) for x in a]
    return a


def symbolic(g: GraphBuilder, node: Node) -> str:
    """Call the class's symbolic(g, *args, **kwargs); its result is the op's output."""
    cls = node.module
    ctx = SymbolicContext(g, cls.__qualname__)
    out = cls.symbolic(ctx, *_wrap(g, node.args), **{k: _wrap(g, v)
                                                      for k, v in node.kwargs.items()})
    if isinstance(out, (tuple, list)) and len(out) == 1:
        out = out[0]
    if not isinstance(out, Value):
        raise ExportError(f"{cls.__qualname__}.symbolic returned {type(out).__name__}; it must "
                          "return the Value that g.op made for the op's output")
    return out.name
