"""ONNX mappings of the layer ops: linear, convolution, pooling, normalization, embedding,
the recurrent sequences (as ONNX's LSTM / GRU / RNN), attention (MatMul + Softmax), and the
module-level PositionalEncoding. Same protocol as map_tensor.py; the table is table.py.
"""

from __future__ import annotations

import math

import numpy as np

from zengrad.onnx.errors import ExportError
from zengrad.onnx.graph import GraphBuilder
from zengrad.onnx.map_tensor import rank
from zengrad.onnx.trace import Const, Node


# ----- linear and convolution -----------------------------------------------------------------
def linear(g: GraphBuilder, node: Node) -> str:
    """y = x W^T + b: Gemm for a matrix x, MatMul (+ Add) for more dims."""
    x, w, b = node.args[:3]
    return _dense(g, g.value(x), rank(g, x) == 2 and rank(g, w) == 2, w, b)


def feed_forward_relu(g: GraphBuilder, node: Node) -> str:
    """The fused feed-forward block: linear, Relu, linear."""
    x, w1, b1, w2, b2 = node.args[:5]
    matrix = rank(g, x) == 2
    h = g.node("Relu", [_dense(g, g.value(x), matrix, w1, b1)])
    return _dense(g, h, matrix, w2, b2)


def _dense(g: GraphBuilder, x: str, matrix: bool, w, b) -> str:
    if matrix:
        ins = [x, g.value(w)] + ([g.value(b)] if b is not None else [])
        return g.node("Gemm", ins, transB=1)
    y = g.node("MatMul", [x, g.node("Transpose", [g.value(w)], perm=[1, 0])])
    return y if b is None else g.node("Add", [y, g.value(b)])


def conv2d(g, node):
    """Conv with strides, pads [begins, ends], dilations and group; a 3-D input is conv1d
    (zengrad runs it as a height-1 conv2d, so the last entry of each pair applies)."""
    x, w, b, stride, pads, dilation, groups = node.args[:7]
    nd = rank(g, x) - 2
    stride, dilation, pads = list(stride)[-nd:], list(dilation)[-nd:], list(pads)[-nd:]
    ins = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
    return g.node("Conv", ins, strides=stride, dilations=dilation, group=int(groups),
                  pads=[p[0] for p in pads] + [p[1] for p in pads],
                  kernel_shape=list(g.shape(w)[2:]))


def _pool_pads(padding, nd):
    padding = list(padding)[-nd:]
    return padding + padding


def max_pool2d(g, node):
    x, kernel, stride, padding, dilation, ceil_mode = node.args[:6]
    nd = rank(g, x) - 2
    return g.node("MaxPool", [g.value(x)], kernel_shape=list(kernel)[-nd:],
                  strides=list(stride)[-nd:], pads=_pool_pads(padding, nd),
                  dilations=list(dilation)[-nd:], ceil_mode=int(ceil_mode))


def avg_pool2d(g, node):
    x, kernel, stride, padding, ceil_mode, count_include_pad, override = node.args[:7]
    if override is not None:
        raise ExportError(f"{node.label}: avg_pool2d's divisor_override has no ONNX "
                          "AveragePool equivalent")
    nd = rank(g, x) - 2
    return g.node("AveragePool", [g.value(x)], kernel_shape=list(kernel)[-nd:],
                  strides=list(stride)[-nd:], pads=_pool_pads(padding, nd),
                  ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad))


def adaptive_avg_pool2d(g, node):
    """GlobalAveragePool for a 1x1 output; an AveragePool when the sides divide evenly."""
    x, out_size = node.args[:2]
    if tuple(out_size) == (1, 1):
        return g.node("GlobalAveragePool", [g.value(x)])
    h, w = g.shape(x)[2:]
    if not all(isinstance(s, int) and s % o == 0 for s, o in zip((h, w), out_size)):
        raise ExportError(f"{node.label}: adaptive average pooling from {(h, w)} to "
                          f"{tuple(out_size)} has uneven windows, which ONNX's pools can't "
                          "express (use sizes that divide evenly)")
    k = [h // out_size[0], w // out_size[1]]
    return g.node("AveragePool", [g.value(x)], kernel_shape=k, strides=k)


# ----- normalization -------------------------------------------------------------------------
def _affine(g: GraphBuilder, p, fill: float, n, dtype, hint: str) -> str:
    if p is not None:
        return g.value(p)
    return g.const(np.full(n, fill, dtype), hint)


def batch_norm(g, node):
    """BatchNormalization with the running statistics (eval mode)."""
    x, w, b, mean, var, training, _momentum, eps = node.args[:8]
    if training or mean is None or var is None:
        raise ExportError(f"{node.label}: batch norm with batch statistics (training mode, "
                          "or track_running_stats=False) can't be exported; export calls "
                          "model.eval(), so a module forced into training mode did this")
    c, dt = g.shape(mean)[0], g.dtype(x)
    return g.node("BatchNormalization", [
        g.value(x), _affine(g, w, 1.0, c, dt, "bn_scale"), _affine(g, b, 0.0, c, dt, "bn_bias"),
        g.value(mean), g.value(var)], epsilon=float(eps))


def layer_norm(g, node):
    """LayerNormalization over the last len(normalized_shape) axes (opset 17)."""
    x, w, b, normalized_shape, eps = node.args[:5]
    return _layer_norm(g, g.value(x), g.dtype(x), w, b, normalized_shape, eps)


def add_layer_norm(g, node):
    """LayerNormalization of x + r (the post-LN residual block's fused add and norm)."""
    x, r, w, b, normalized_shape, eps = node.args[:6]
    s = g.node("Add", [g.value(x), g.value(r)])
    return _layer_norm(g, s, g.dtype(x), w, b, normalized_shape, eps)


def _layer_norm(g, x, dt, w, b, normalized_shape, eps):
    shape = tuple(normalized_shape)
    ins = [x, _affine(g, w, 1.0, shape, dt, "ln_scale")]
    if b is not None:
        ins.append(g.value(b))
    return g.node("LayerNormalization", ins, axis=-len(shape), epsilon=float(eps))


def embedding(g, node):
    """Gather rows of the weight."""
    weight, idx = node.args[:2]
    return g.node("Gather", [g.value(weight), g.value(idx)], axis=0)


# ----- recurrent -----------------------------------------------------------------------------
def _weight(g: GraphBuilder, node: Node, w, order, suffix: str):
    """A recurrent weight or bias (a constant) with its gate blocks in ONNX's order, with a
    leading direction axis."""
    if w is None:
        return None
    if not isinstance(w, Const):
        raise ExportError(f"{node.label}: the recurrent weights must be parameters (constants "
                          "at export time); a computed weight has no ONNX LSTM/GRU mapping")
    blocks = np.split(w.array, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)[None], (w.name or "rnn") + suffix


def _recurrent(g: GraphBuilder, node: Node, op_type: str, order, x, states, w_ih, w_hh, b_ih,
               b_hh, reverse, **attrs):
    """One ONNX recurrent node; returns (Y squeezed to (L, N, H), Y_h, Y_c names)."""
    wi = _weight(g, node, w_ih, order, ".onnx_W")
    wh = _weight(g, node, w_hh, order, ".onnx_R")
    bi = _weight(g, node, b_ih, order, "")
    bh = _weight(g, node, b_hh, order, "")
    hidden = wh[0].shape[-1]
    bias = ""
    if bi is not None or bh is not None:
        zeros = np.zeros((1, len(order) * hidden), wi[0].dtype)
        b = np.concatenate([zeros if bi is None else bi[0], zeros if bh is None else bh[0]], 1)
        bias = g.const(b, (bi or bh)[1] + ".onnx_B")
    ins = [g.value(x), g.const(wi[0], wi[1]), g.const(wh[0], wh[1]), bias, ""]
    ins += ["" if s is None else g.unsqueeze(g.value(s), [0]) for s in states]
    while ins and ins[-1] == "":
        ins.pop()
    n_out = 3 if op_type == "LSTM" else 2
    outs = g.node(op_type, ins, [g.fresh(f"{op_type}/{k}") for k in ("Y", "Y_h", "Y_c")[:n_out]],
                  hidden_size=int(hidden), direction="reverse" if reverse else "forward",
                  **attrs)
    return (g.squeeze(outs[0], [1]), *outs[1:])


def lstm(g, node):
    """ONNX LSTM (gates i, o, f, c from torch's i, f, g, o); the op's output is
    [h_1 .. h_L; c_last] (L + 1, N, H): Y and Y_c joined."""
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = node.args[:7]
    reverse = node.kwargs.get("reverse", node.args[7] if len(node.args) > 7 else False)
    y, _h, c = _recurrent(g, node, "LSTM", (0, 3, 1, 2), x, (h0, c0), w_ih, w_hh, b_ih, b_hh,
                          reverse)
    return g.node("Concat", [y, c], axis=0)


def gru(g, node):
    """ONNX GRU with linear_before_reset=1 (torch's n gate; gates z, r, h from r, z, n)."""
    x, h0, w_ih, w_hh, b_ih, b_hh = node.args[:6]
    reverse = node.kwargs.get("reverse", node.args[6] if len(node.args) > 6 else False)
    y, _h = _recurrent(g, node, "GRU", (1, 0, 2), x, (h0,), w_ih, w_hh, b_ih, b_hh, reverse,
                       linear_before_reset=1)
    return y


def rnn(g, node):
    """ONNX RNN with tanh or relu."""
    x, h0, w_ih, w_hh, b_ih, b_hh = node.args[:6]
    rest = dict(zip(("nonlinearity", "reverse"), node.args[6:]), **node.kwargs)
    act = {"tanh": "Tanh", "relu": "Relu"}[rest.get("nonlinearity", "tanh")]
    y, _h = _recurrent(g, node, "RNN", (0,), x, (h0,), w_ih, w_hh, b_ih, b_hh,
                       rest.get("reverse", False), activations=[act])
    return y


# ----- attention -----------------------------------------------------------------------------
def _attend(g: GraphBuilder, node: Node, q: str, k: str, v: str, mask, scale: float, dt):
    """softmax(q k^T scale + mask) v on (..., L, d) heads."""
    kt = g.node("Transpose", [k], perm=[0, 1, 3, 2])
    scores = g.node("Mul", [g.node("MatMul", [q, kt]), g.scalar(scale, dt)])
    if mask is not None:
        scores = g.node("Add", [scores, g.value(mask)])
    return g.node("MatMul", [g.node("Softmax", [scores], axis=-1), v])


def self_attention_packed(g, node):
    """The fused multi-head self-attention on qkv (rows, 3E) -> (rows, E): reshape to
    (a, b, 3, heads, d), one (N, heads, L, d) tensor per q, k, v, attend, and back."""
    qkv, mask, heads, batch_first, _p, rows = node.args[:6]
    scale = node.args[6] if len(node.args) > 6 else None  # 1: folded into q's projection
    e3 = g.shape(qkv)[-1]
    e, dt = e3 // 3, g.dtype(qkv)
    d = e // heads
    q5 = g.node("Reshape", [g.value(qkv), g.dims([rows[0], rows[1], 3, heads, d])])
    # (3, N, heads, L, d)
    q5 = g.node("Transpose", [q5], perm=[2, 0, 3, 1, 4] if batch_first else [2, 1, 3, 0, 4])
    q, k, v = (g.node("Gather", [q5, g.scalar(i, np.int64, "index")], axis=0)
               for i in range(3))
    o = _attend(g, node, q, k, v, mask, 1.0 / math.sqrt(d) if scale is None else scale,
                dt)  # (N, heads, L, d)
    o = g.node("Transpose", [o], perm=[0, 2, 1, 3] if batch_first else [2, 0, 1, 3])
    return g.node("Reshape", [o, g.ints([-1, e], "shape")])


def scaled_dot_product_attention(g, node):
    """softmax(q k^T scale + mask) v, any leading dims."""
    q, k, v, mask, scale = node.args[:5]
    kt_perm = list(range(rank(g, k)))
    kt_perm[-2:] = kt_perm[-1], kt_perm[-2]
    dt = g.dtype(q)
    kt = g.node("Transpose", [g.value(k)], perm=kt_perm)
    scores = g.node("Mul", [g.node("MatMul", [g.value(q), kt]), g.scalar(scale, dt)])
    if mask is not None:
        scores = g.node("Add", [scores, g.value(mask)])
    return g.node("MatMul", [g.node("Softmax", [scores], axis=-1), g.value(v)])


def positional_encoding(g, node):
    """x + pe[:L] with L read from x's shape (so a dynamic sequence axis works); the module's
    dropout is the identity in eval."""
    module, x = node.module, node.args[0]
    pe = module.pe.array
    pe = pe[:, 0] if module.batch_first else pe
    if pe.dtype != g.dtype(x):
        pe = pe.astype(g.dtype(x))
    axis = 1 if module.batch_first else 0
    length = g.node("Shape", [g.value(x)], start=axis, end=axis + 1)
    table = g.const(pe, "pe" if pe is module.pe.array else "pe_table")
    part = g.node("Slice", [table, g.ints([0]), length, g.ints([0])])
    return g.node("Add", [g.value(x), part])
