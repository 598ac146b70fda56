"""The mapping table: which ONNX nodes each traced op (or module) becomes.

OPS is keyed by the op class's name without a trailing "Fn" (trace.op_key), so renames such
as Linear -> LinearFn keep their entry; MODULES by the module class's name (those modules are
traced as one node, see trace.py). An op missing here stops the export with an
UnsupportedOperatorError that names it.
"""

from __future__ import annotations

from collections.abc import Callable

from zengrad.onnx import map_layers as L
from zengrad.onnx import map_tensor as T
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
    # linear algebra and layers
    "MatMul": T.matmul, "Linear": L.linear, "Conv2d": L.conv2d, "MaxPool2d": L.max_pool2d,
    "AvgPool2d": L.avg_pool2d, "AdaptiveAvgPool2d": L.adaptive_avg_pool2d,
    "BatchNorm": L.batch_norm, "LayerNorm": L.layer_norm, "Embedding": L.embedding,
    "LSTMSequence": L.lstm, "GRUSequence": L.gru, "RNNSequence": L.rnn,
    "SelfAttentionPacked": L.self_attention_packed,
    "ScaledDotProductAttention": L.scaled_dot_product_attention,
}

MODULES: dict[str, Callable] = {
    "PositionalEncoding": L.positional_encoding,
}


def mapping_of(key: str, label: str) -> Callable:
    """The mapping of a traced node's key ("Linear", "module:PositionalEncoding")."""
    if key.startswith("module:"):
        fn = MODULES.get(key[len("module:"):])
    else:
        fn = OPS.get(key)
    if fn is None:
        raise UnsupportedOperatorError(
            f"{label} has no ONNX mapping in zengrad.onnx (the model ran it while being "
            f"traced); mapped ops: {', '.join(sorted(OPS))}")
    return fn
