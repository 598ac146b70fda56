"""The stateless API under the layers, as torch.nn.functional (import as F).

A thin re-export of the ops (their formulas and gradients live in zengrad.ops); layers
added later (conv, pooling, ...) put their functions here too.
"""

from zengrad.nn.dropout import dropout1d, dropout2d, dropout3d
from zengrad.nn.pixelshuffle import pixel_shuffle, pixel_unshuffle
from zengrad.ops.activation import (
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)
from zengrad.ops.attention import scaled_dot_product_attention
from zengrad.ops.batchnorm import batch_norm
from zengrad.ops.conv import conv1d, conv2d
from zengrad.ops.conv_transpose import conv_transpose1d, conv_transpose2d
from zengrad.ops.dropout import dropout
from zengrad.ops.embedding import embedding
from zengrad.ops.groupnorm import group_norm
from zengrad.ops.inplace import INPLACE_OPS, with_inplace
from zengrad.ops.interpolate import interpolate
from zengrad.ops.layernorm import layer_norm
from zengrad.ops.linalg import linear
from zengrad.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from zengrad.ops.multihead_attention import multi_head_attention_forward
from zengrad.ops.penalty import l1_penalty, l2_penalty
from zengrad.ops.pool import (
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_unpool1d,
    max_unpool2d,
)
from zengrad.ops.recurrent import gru_sequence, lstm_sequence, rnn_sequence
from zengrad.ops.shape import pad
from zengrad.ops.special import cosine_similarity, normalize, one_hot

# torch's inplace=True: the result is written into the input (recorded in the graph)
relu, relu6, silu, mish, hardswish, hardsigmoid = (
    with_inplace(f) for f in (relu, relu6, silu, mish, hardswish, hardsigmoid))
leaky_relu, elu = with_inplace(leaky_relu, 1), with_inplace(elu, 1)
hardtanh, dropout = with_inplace(hardtanh, 2), with_inplace(dropout, 2)
relu_, leaky_relu_, elu_, hardtanh_ = (
    INPLACE_OPS[n] for n in ("relu", "leaky_relu", "elu", "hardtanh"))

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "elu", "gelu", "huber_loss", "kl_div", "l1_loss", "leaky_relu", "linear", "log_softmax",
    "mse_loss", "nll_loss", "pad", "relu", "sigmoid", "silu", "smooth_l1_loss", "softmax",
    "softplus", "tanh",
    # convolutional networks
    "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm", "conv1d", "conv2d",
    "max_pool1d", "max_pool2d", "conv_transpose1d", "conv_transpose2d",
    "group_norm", "interpolate", "max_unpool1d", "max_unpool2d",
    "max_pool1d_with_indices", "max_pool2d_with_indices",
    # attention and sequences
    "embedding", "layer_norm", "multi_head_attention_forward", "scaled_dot_product_attention",
    # zengrad's fused recurrent layers (one layer, one direction, all time steps; no torch
    # counterpart in F): what nn.RNN / nn.LSTM / nn.GRU and their cells run
    "gru_sequence", "lstm_sequence", "rnn_sequence",
    # activations, similarity and encodings (issue 10)
    "cosine_similarity", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish",
    "normalize", "one_hot", "relu6", "softsign",
    # torch's in-place forms (issue 10)
    "elu_", "hardtanh_", "leaky_relu_", "relu_",
    # channel dropout and sub-pixel rearrangement (issue 11)
    "dropout1d", "dropout2d", "dropout3d", "pixel_shuffle", "pixel_unshuffle",
    # zengrad helpers (no torch counterpart): weight penalties, nn.utils.l1/l2_penalty's sums
    "l1_penalty", "l2_penalty",
]
