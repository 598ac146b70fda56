"""The mapping table: which ONNX nodes each traced op (or module) becomes.

OPS is keyed by the op class's name without a trailing "Fn" (trace.op_key), so renames such
as Linear -> LinearFn keep their entry; MODULES by the module class's name (those modules are
traced as one node, see trace.py). FUNCTIONS names the functions that make tensors without an
op (comparisons, argmax, max over a dim, the attention-mask builders): where each lives
(owner, attribute; a missing one is skipped) and its mapping; a call is traced as one node
keyed "fn:<name>" ("fn:<name>.<i>" for the i-th of several outputs). A custom
autograd.Function maps through its own `symbolic` (custom.py). An op missing here stops the
export with an UnsupportedOperatorError that names it.
"""

from __future__ import annotations

from collections.abc import Callable

from zengrad.onnx import map_functions as FN
from zengrad.onnx import map_layers as L
from zengrad.onnx import map_spatial as S
from zengrad.onnx import map_tensor as T
from zengrad.onnx.custom import symbolic
from zengrad.onnx.errors import UnsupportedOperatorError

OPS: dict[str, Callable] = {
    # elementwise
    "Add": T.binary("Add"), "Sub": T.binary("Sub"), "Mul": T.binary("Mul"),
    "Div": T.binary("Div"), "Pow": T.binary("Pow"), "Maximum": T.binary("Max"),
    "Minimum": T.binary("Min"),
    "Neg": T.unary("Neg"), "Exp": T.unary("Exp"), "Log": T.unary("Log"),
    "Sqrt": T.unary("Sqrt"), "Abs": T.unary("Abs"), "Sign": T.unary("Sign"),
    "Sin": T.unary("Sin"), "Cos": T.unary("Cos"), "Tan": T.unary("Tan"),
    "Erf": T.unary("Erf"), "Clone": T.unary("Identity"), "Rsqrt": T.rsqrt,
    "Log1p": T.log1p, "Clamp": T.clamp, "Hardtanh": T.clamp, "Where": T.where, "Cast": T.cast,
    # activations
    "ReLU": T.unary("Relu"), "Sigmoid": T.unary("Sigmoid"), "Tanh": T.unary("Tanh"),
    "LeakyReLU": T.leaky_relu, "ELU": T.elu, "GELU": T.gelu, "SiLU": T.silu,
    "Softplus": T.softplus, "Softmax": T.softmax("Softmax"),
    "LogSoftmax": T.softmax("LogSoftmax"), "LogSigmoid": T.log_sigmoid, "Mish": T.mish,
    "Hardswish": T.unary("HardSwish"), "Hardsigmoid": T.hardsigmoid,
    "Softsign": T.unary("Softsign"), "Dropout": T.dropout,
    # reductions
    "Sum": T.reduce("ReduceSum"), "Mean": T.reduce("ReduceMean"),
    "LogSumExp": T.reduce("ReduceLogSumExp"), "AMax": T.amax, "Var": T.var, "Std": T.std,
    "CumSum": T.cumsum,
    # shape and indexing
    "Reshape": T.reshape, "Permute": T.permute, "Expand": T.expand, "Repeat": T.repeat,
    "Cat": T.cat, "Stack": T.stack, "Pad": T.pad, "Flip": T.flip, "GetItem": T.getitem,
    "Contiguous": T.identity, "MaskedFill": T.masked_fill, "KeepWhere": T.keep_where,
    "IndexSelect": T.index_select, "BorderPad": S.border_pad,
    # linear algebra and layers
    "MatMul": T.matmul, "Linear": L.linear, "FeedForwardReLU": L.feed_forward_relu,
    "Conv2d": L.conv2d, "MaxPool2d": L.max_pool2d,
    "AvgPool2d": L.avg_pool2d, "AdaptiveAvgPool2d": L.adaptive_avg_pool2d,
    "BatchNorm": L.batch_norm, "LayerNorm": L.layer_norm,
    "AddLayerNorm": L.add_layer_norm, "Embedding": L.embedding,
    "LSTMSequence": L.lstm, "GRUSequence": L.gru, "RNNSequence": L.rnn,
    "SelfAttentionPacked": L.self_attention_packed,
    "ScaledDotProductAttention": L.scaled_dot_product_attention,
    "ConvTranspose2d": S.conv_transpose2d, "GroupNorm": S.group_norm,
    "Resample": S.resample,
}

MODULES: dict[str, Callable] = {
    "PositionalEncoding": L.positional_encoding,
}


_TENSOR_FN = [("zengrad", None), ("zengrad.ops", None)]
_WITH_METHOD = [("Tensor", None)] + _TENSOR_FN


def _at(places, name: str) -> list[tuple[str, str]]:
    return [(owner, attr or name) for owner, attr in places]


# name -> ([(owner, attribute)], {node key: mapping})
_FUNCTIONS: dict[str, tuple[list, dict[str, Callable]]] = {
    **{name: (_at(_WITH_METHOD, name), {f"fn:{name}": FN.compare(op, neg)})
       for name, op, neg in (("eq", "Equal", False), ("ne", "Equal", True),
                             ("lt", "Less", False), ("le", "LessOrEqual", False),
                             ("gt", "Greater", False), ("ge", "GreaterOrEqual", False))},
    **{name: (_at(_WITH_METHOD, name), {f"fn:{name}": FN.logical(op)})
       for name, op in (("logical_and", "And"), ("logical_or", "Or"),
                        ("logical_xor", "Xor"))},
    "logical_not": (_at(_WITH_METHOD, "logical_not"), {"fn:logical_not": FN.logical_not}),
    "cast": ([("zengrad.ops", "cast")], {"fn:cast": FN.cast}),
    "isfinite": (_at(_WITH_METHOD, "isfinite"), {"fn:isfinite": FN.isfinite}),
    "argmax": (_at(_WITH_METHOD, "argmax"), {"fn:argmax": FN.argextreme("ArgMax")}),
    "argmin": (_at(_WITH_METHOD, "argmin"), {"fn:argmin": FN.argextreme("ArgMin")}),
    **{name: (_at(_WITH_METHOD, name), {f"fn:{name}": FN.extreme(is_min, None),
                                        f"fn:{name}.0": FN.extreme(is_min, 0),
                                        f"fn:{name}.1": FN.extreme(is_min, 1)})
       for name, is_min in (("max", False), ("min", True))},
    # the additive masks MultiheadAttention and scaled_dot_product_attention build from
    # their mask arguments (in NumPy): traced so that a mask that is an input, or made by
    # tensor ops from one (a padding mask), stays a graph value
    "mha_mask": ([("zengrad.ops.multihead_attention", "_merged_mask")],
                 {"fn:mha_mask": FN.mha_mask}),
    "sdpa_mask": ([("zengrad.ops.attention", "_sdpa_mask")], {"fn:sdpa_mask": FN.sdpa_mask}),
}

FUNCTIONS: dict[str, list[tuple[str, str]]] = {k: v[0] for k, v in _FUNCTIONS.items()}
FUNCTION_MAPPINGS: dict[str, Callable] = {
    key: fn for _, maps in _FUNCTIONS.values() for key, fn in maps.items()}


def mapping_of(key: str, label: str) -> Callable:
    """The mapping of a traced node's key ("Linear", "module:PositionalEncoding",
    "fn:argmax", "symbolic", "custom:MyFunction")."""
    if key == "symbolic":
        return symbolic
    if key.startswith("custom:"):
        raise UnsupportedOperatorError(
            f"the custom autograd.Function {label} has no ONNX mapping: give the class a "
            "`symbolic(g, *args)` staticmethod that builds its ONNX nodes (see "
            "zengrad/onnx/custom.py and docs/onnx.md)")
    if key.startswith("module:"):
        fn = MODULES.get(key[len("module:"):])
    elif key.startswith("fn:"):
        fn = FUNCTION_MAPPINGS.get(key)
    else:
        fn = OPS.get(key)
    if fn is None:
        raise UnsupportedOperatorError(
            f"{label} has no ONNX mapping in zengrad.onnx (the model ran it while being "
            f"traced); mapped ops: {', '.join(sorted(OPS))}")
    return fn
