"""nn.functional layers' entries: convolutions, pooling and unpooling, resampling, norms,
embedding, dropout (eval / p=0) and attention (zengrad/ops/conv*.py, pool.py, ...)."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import F32, ErrorInput, NoGrad, OpInfo, Sample
from tests.ops.registry.samples import SHAPE_ERRORS, errors, ones

# float32 convolutions sum in another order than torch's kernels
CONV_TOL = {F32: (1e-4, 1e-5)}


def _conv1d(m):
    return [
        Sample((m(2, 3, 5), m(4, 3, 2), m(4)), desc="bias"),
        Sample((m(1, 4, 6), m(2, 2, 3)), {"stride": 2, "padding": 1, "groups": 2}, "groups"),
        Sample((m(1, 2, 7), m(3, 2, 2)), {"dilation": 2, "padding": "same"}, "same_dilation"),
        Sample((m(2, 5), m(3, 2, 3)), desc="unbatched"),
        Sample((m(0, 2, 4), m(3, 2, 2)), desc="size0"),
    ]


def _conv2d(m):
    return [
        Sample((m(2, 3, 4, 4), m(2, 3, 3, 3), m(2)), desc="bias"),
        Sample((m(1, 4, 5, 5), m(4, 2, 3, 2)), {"stride": (2, 1), "padding": (1, 0),
                                               "groups": 2}, "groups_stride"),
        Sample((m(1, 2, 5, 5), m(2, 2, 2, 2)), {"dilation": 2, "padding": "valid"}, "dilation"),
        Sample((m(2, 4, 4), m(1, 2, 3, 3)), {"padding": 1}, "unbatched"),
        Sample((m(1, 1, 3, 3).transpose(0, 1, 3, 2), m(1, 1, 2, 2)), desc="transposed_hw"),
    ]


def _conv_errors():
    return [ErrorInput((np.ones((1, 3, 4, 4)), np.ones((2, 2, 3, 3))), exc=(RuntimeError,
                       ValueError), match="channel", desc="channel_mismatch"),
            ErrorInput((np.ones((1, 2, 2, 2)), np.ones((1, 2, 3, 3))), exc=(RuntimeError,
                       ValueError), desc="kernel_larger_than_input")]


def _conv_transpose1d(m):
    return [
        Sample((m(2, 3, 4), m(3, 2, 3), m(2)), desc="bias"),
        Sample((m(1, 4, 3), m(4, 1, 2)), {"stride": 2, "padding": 1, "output_padding": 1,
                                           "groups": 2}, "stride_groups"),
        Sample((m(1, 2, 3), m(2, 2, 2)), {"dilation": 2}, "dilation"),
    ]


def _conv_transpose2d(m):
    return [
        Sample((m(1, 2, 3, 3), m(2, 3, 2, 2), m(3)), desc="bias"),
        Sample((m(2, 2, 2, 3), m(2, 1, 3, 3)), {"stride": 2, "padding": 1, "output_padding": 1},
               "stride_pad"),
        Sample((m(1, 4, 2, 2), m(4, 1, 2, 2)), {"groups": 2, "dilation": (1, 2)}, "groups"),
    ]


def _max_pool1d(m):
    return [
        Sample((m.distinct(2, 2, 6), 2), desc="k2"),
        Sample((m.distinct(1, 2, 7), 3), {"stride": 2, "padding": 1}, "stride_pad"),
        Sample((m.distinct(1, 1, 7), 2), {"ceil_mode": True, "dilation": 2}, "ceil_dilation"),
        Sample((m.distinct(1, 2, 6), 2), {"return_indices": True}, "return_indices"),
        Sample((m.distinct(2, 5), 2), desc="unbatched"),
    ]


def _max_pool2d(m):
    return [
        Sample((m.distinct(2, 2, 4, 4), 2), desc="k2"),
        Sample((m.distinct(1, 2, 5, 5), 3), {"stride": 2, "padding": 1}, "stride_pad"),
        Sample((m.distinct(1, 1, 5, 6), (2, 3)), {"ceil_mode": True}, "rect_ceil"),
        Sample((m.distinct(1, 2, 4, 4), 2), {"return_indices": True}, "return_indices"),
        Sample((m.distinct(2, 4, 4), 2), {"dilation": 2, "stride": 1}, "unbatched_dilation"),
    ]


def _without_indices_kw(make):
    return lambda m: [s for s in make(m) if "return_indices" not in s.kwargs]


def _unpool_indices(m, n, c, h, w):
    """Indices of one max in each 2x2 window of a (2h, 2w) plane: max_pool2d's kind."""
    di, dj = m.index(2, n, c, h, w), m.index(2, n, c, h, w)
    rows = 2 * np.arange(h)[:, None] + di
    cols = 2 * np.arange(w)[None, :] + dj
    return (rows * (2 * w) + cols).astype(np.int64)


def _max_unpool2d(m):
    return [Sample((m(1, 2, 2, 2), _unpool_indices(m, 1, 2, 2, 2), 2), desc="k2"),
            Sample((m(2, 1, 2, 3), _unpool_indices(m, 2, 1, 2, 3), 2), {"output_size": (5, 6)},
                   "output_size")]


def _max_unpool1d(m):
    idx = (2 * np.arange(3) + m.index(2, 2, 2, 3)).astype(np.int64)
    return [Sample((m(2, 2, 3), idx, 2), desc="k2")]


def _avg_pool1d(m):
    return [Sample((m(2, 2, 6), 2), desc="k2"),
            Sample((m(1, 2, 7), 3), {"stride": 2, "padding": 1, "count_include_pad": False},
                   "exclude_pad"),
            Sample((m(1, 1, 7), 2), {"ceil_mode": True}, "ceil")]


def _avg_pool2d(m):
    return [Sample((m(2, 2, 4, 4), 2), desc="k2"),
            Sample((m(1, 2, 5, 5), 3), {"stride": 2, "padding": 1, "count_include_pad": False},
                   "exclude_pad"),
            Sample((m(1, 1, 5, 5), 2), {"ceil_mode": True, "divisor_override": 3}, "divisor"),
            Sample((m(2, 4, 4), 2), desc="unbatched")]


def _adaptive(m):
    return [Sample((m(2, 2, 4, 4), 2), desc="divides"), Sample((m(1, 2, 5, 7), (3, 2)),
                                                               desc="uneven"),
            Sample((m(1, 2, 3, 3), (None, 2)), desc="none"), Sample((m(2, 4, 4), 1), desc="3d")]


def _interpolate(m):
    return [
        Sample((m(1, 2, 3, 3),), {"scale_factor": 2, "mode": "nearest"}, "nearest_x2"),
        Sample((m(1, 1, 4, 5),), {"size": (3, 7), "mode": "nearest"}, "nearest_size"),
        Sample((m(1, 2, 3, 3),), {"size": (5, 4), "mode": "bilinear"}, "bilinear"),
        Sample((m(1, 1, 3, 4),), {"scale_factor": 1.5, "mode": "bilinear",
                                  "align_corners": True}, "bilinear_align"),
        Sample((m(2, 1, 5),), {"size": 8, "mode": "linear"}, "linear"),
        Sample((m(1, 1, 4, 4),), {"size": (2, 3), "mode": "area"}, "area"),
        Sample((m(1, 1, 3, 3),), {"size": (5, 5), "mode": "bicubic"}, "bicubic"),
        Sample((m(1, 1, 3, 3),), {"scale_factor": 1.7, "mode": "nearest-exact"}, "nearest_exact"),
    ]


def _interp_errors():
    return [ErrorInput((np.ones((1, 1, 3, 3)),), {"size": 4, "scale_factor": 2},
                       exc=ValueError, match="size|scale", desc="size_and_scale"),
            ErrorInput((np.ones((1, 1, 3)),), {"size": 4, "mode": "bilinear"},
                       exc=(ValueError, NotImplementedError), desc="bilinear_on_3d")]


def _pixel_shuffle(m):
    return [Sample((m(1, 8, 2, 3), 2)), Sample((m(2, 1, 9, 2, 2), 3), desc="5d"),
            Sample((m(4, 1, 1), 2), desc="3d")]


def _pixel_unshuffle(m):
    return [Sample((m(1, 2, 4, 6), 2)), Sample((m(2, 3, 3), 3), desc="3d")]


def _batch_norm(m):
    rm, rv = m(3), m.pos(3)
    return [
        Sample((m(4, 3), NoGrad(rm), NoGrad(rv), m.pos(3), m(3)), desc="eval_affine"),
        Sample((m(2, 3, 4), NoGrad(rm), NoGrad(rv)), {"training": True, "momentum": 0.2},
               "train_3d"),
        Sample((m(2, 3, 2, 2), None, None, m.pos(3), m(3)), {"training": True, "eps": 1e-3},
               "train_no_stats"),
    ]


def _layer_norm(m):
    return [
        Sample((m(2, 3), (3,), m.pos(3), m(3)), desc="affine"),
        Sample((m(2, 3, 4), (3, 4)), desc="2_dims_plain"),
        Sample((m(2, 5), [5], None, m(5)), {"eps": 1e-3}, "bias_only"),
        Sample((m(0, 3), (3,)), desc="size0"),
    ]


def _group_norm(m):
    return [
        Sample((m(2, 4, 3), 2, m.pos(4), m(4)), desc="affine"),
        Sample((m(2, 6, 2, 2), 3), desc="plain_4d"), Sample((m(3, 2), 1), {"eps": 1e-3}, "2d"),
        Sample((m(1, 4, 2), 4, m.pos(4)), desc="instance"),
    ]


def _group_errors():
    return [ErrorInput((np.ones((2, 5, 3)), 2), exc=(ValueError, RuntimeError), match="group",
                       desc="channels_not_divisible")]


def _embedding(m):
    return [
        Sample((m.index(5, 2, 3), m(5, 3)), desc="2d"),
        # the padding row gets no gradient by definition: grad parity, no finite differences
        Sample((np.array([0, 2, 2]), m(4, 2)), {"padding_idx": 2}, "padding_idx",
               gradcheck=False),
        Sample((np.array(1), m(3, 2)), desc="0d"),
        Sample((np.zeros((0, 2), np.int64), m(3, 2)), desc="size0"),
    ]


def _embedding_errors():
    return [ErrorInput((np.array([3]), np.ones((3, 2))), exc=IndexError,
                       desc="index_out_of_range")]


def _dropout(m):
    return [Sample((m(2, 3),), {"p": 0.0}, "p0"), Sample((m(2, 3),), {"training": False}, "eval"),
            Sample((m(),), {"p": 0.0}, "0d")]


def _sdpa(m):
    return [
        Sample((m(2, 3, 4), m(2, 5, 4), m(2, 5, 2)), desc="plain"),
        Sample((m(1, 2, 3, 4), m(1, 2, 3, 4), m(1, 2, 3, 4)), {"is_causal": True}, "causal"),
        Sample((m(2, 3, 4), m(2, 3, 4), m(2, 3, 4), m.mask(3, 3) | np.eye(3, dtype=bool)),
               desc="bool_mask"),
        Sample((m(2, 3, 4), m(2, 3, 4), m(2, 3, 4), NoGrad(m(3, 3))), {"scale": 0.3},
               "float_mask_scale"),
    ]


def _mha(m):
    """L=3 queries, S=4 keys, batch 2, embed 4, 2 heads; eval mode (no dropout)."""
    e = 4

    def call(q, k, v, **kw):
        return (q, k, v, e, 2, m(3 * e, e), m(3 * e), None, None, False, 0.0, m(e, e), m(e))

    return [
        Sample(call(m(3, 2, e), m(4, 2, e), m(4, 2, e)), {"training": False}, "plain"),
        Sample(call(m(3, 2, e), m(4, 2, e), m(4, 2, e)),
               {"training": False, "key_padding_mask": m.mask(2, 4) & ~np.eye(2, 4, dtype=bool),
                "average_attn_weights": False}, "padding_mask_per_head"),
        Sample(call(m(3, e), m(3, e), m(3, e)),
               {"training": False, "attn_mask": np.triu(np.ones((3, 3), bool), 1),
                "need_weights": False}, "unbatched_causal_mask"),
    ]


# integer inputs: zengrad and torch draw the line in different places
INT_ACCEPTED = {"dtype": "accepts integer input; torch raises 'not implemented for Long'"}
INT_REFUSED = {"dtype": "refuses integer input (TypeError); torch computes it in int64"}

ENTRIES = [
    OpInfo("F.conv1d", _conv1d, tol=CONV_TOL, errors=errors(
        ErrorInput((ones(1, 2, 3, 3), ones(1, 2, 2)), exc=SHAPE_ERRORS, match="3-D|3D", desc="4d"),
        ErrorInput((ones(1, 3, 5), ones(2, 1, 2)), {"groups": 2}, SHAPE_ERRORS, "channels",
                   "groups_mismatch"))),
    OpInfo("F.conv2d", _conv2d, tol=CONV_TOL, errors=_conv_errors),
    OpInfo("F.conv_transpose1d", _conv_transpose1d, tol=CONV_TOL, xfail=INT_REFUSED,
           errors=errors(ErrorInput((ones(1, 3, 3), ones(2, 1, 2)), exc=SHAPE_ERRORS,
                                    match="channels", desc="channels"))),
    OpInfo("F.conv_transpose2d", _conv_transpose2d, tol=CONV_TOL, xfail=INT_REFUSED,
           errors=errors(ErrorInput((ones(1, 1, 3, 3), ones(1, 1, 2, 2)), {"output_padding": 1},
                                    SHAPE_ERRORS, "output padding", "output_padding"))),
    OpInfo("F.max_pool1d", _max_pool1d, xfail=INT_ACCEPTED, errors=errors(ErrorInput(
        (ones(1, 1, 2), 3), exc=SHAPE_ERRORS, match="output size|too small",
        desc="kernel_too_big"))),
    OpInfo("F.max_pool2d", _max_pool2d, errors=errors(ErrorInput(
        (ones(1, 1, 4, 4), 2), {"padding": 2}, SHAPE_ERRORS, "pad", "pad_too_big"))),
    OpInfo("F.max_pool1d_with_indices", _without_indices_kw(_max_pool1d)),
    OpInfo("F.max_pool2d_with_indices", _without_indices_kw(_max_pool2d)),
    OpInfo("F.max_unpool1d", _max_unpool1d, xfail=INT_ACCEPTED, errors=errors(ErrorInput(
        (ones(1, 1, 2), ones(1, 1, 2), 2), exc=(TypeError, RuntimeError), match="int64",
        desc="float_indices"))),
    OpInfo("F.max_unpool2d", _max_unpool2d, xfail=INT_ACCEPTED, errors=errors(ErrorInput(
        (ones(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int64), 2), {"output_size": (9, 9)},
        ValueError, "output_size", "bad_output_size"))),
    OpInfo("F.avg_pool1d", _avg_pool1d, xfail=INT_REFUSED, errors=errors(ErrorInput(
        (ones(1, 1, 4), 2), {"padding": 2}, SHAPE_ERRORS, "pad", "pad_too_big"))),
    OpInfo("F.avg_pool2d", _avg_pool2d, xfail=INT_REFUSED, errors=errors(ErrorInput(
        (ones(4, 4), 2), exc=(*SHAPE_ERRORS, IndexError), match="4-D|[Dd]im", desc="2d_input"))),
    OpInfo("F.adaptive_avg_pool2d", _adaptive, xfail=INT_ACCEPTED, errors=errors(ErrorInput(
        (ones(4), 2), exc=SHAPE_ERRORS, match="3-D|3D", desc="1d_input"))),
    OpInfo("F.interpolate", _interpolate, errors=_interp_errors),
    OpInfo("F.pixel_shuffle", _pixel_shuffle, errors=errors(ErrorInput(
        (ones(1, 3, 2, 2), 2), exc=SHAPE_ERRORS, match="divisible", desc="channels"))),
    OpInfo("F.pixel_unshuffle", _pixel_unshuffle, errors=errors(ErrorInput(
        (ones(1, 1, 3, 3), 2), exc=SHAPE_ERRORS, match="divisible", desc="height"))),
    OpInfo("F.batch_norm", _batch_norm, errors=errors(
        ErrorInput((ones(2, 3), ones(4), ones(4)), exc=SHAPE_ERRORS, match="running_mean",
                   desc="stats_size"),
        ErrorInput((ones(1, 3), None, None), {"training": True}, SHAPE_ERRORS, "more than 1",
                   "one_value_per_channel"))), OpInfo("F.layer_norm", _layer_norm, errors=errors(
        ErrorInput((ones(2, 3), (4,)), exc=SHAPE_ERRORS, match="normalized_shape", desc="shape"),
        ErrorInput((ones(2, 3), (3,), ones(4)), exc=SHAPE_ERRORS, match="weight", desc="weight"))),
    OpInfo("F.group_norm", _group_norm, errors=_group_errors),
    OpInfo("F.embedding", _embedding, errors=_embedding_errors),
    OpInfo("F.dropout", _dropout, errors=errors(ErrorInput(
        (ones(2),), {"p": 1.5}, ValueError, "probability", "p_above_1"))),
    OpInfo("F.scaled_dot_product_attention", _sdpa, tol=CONV_TOL, errors=errors(ErrorInput(
        (ones(2, 3, 4), ones(2, 3, 5), ones(2, 3, 4)), exc=SHAPE_ERRORS, match="5",
        desc="key_dim"))),
    OpInfo("F.multi_head_attention_forward", _mha, tol=CONV_TOL, int_dtype=False),
]
