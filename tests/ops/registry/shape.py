"""Shape entries: views and copies that move values (reshape, permute, expand, cat, split,
getitem, pad ...), casts and the like-constructors (zengrad/ops/shape.py, Tensor methods)."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import F32, F64, I64, ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import (
    SHAPE_ERRORS,
    dim_error,
    errors,
    ones,
    strided_view,
    transpose_view,
)


def _reshape(m):
    return [
        Sample((m(2, 3), (3, 2)), desc="tuple"), Sample((m(2, 3), (-1,)), desc="infer"),
        Sample((m(), (1, 1)), desc="0d"), Sample((m(0, 3), (3, 0)), desc="size0"),
        Sample((transpose_view(m(3, 4)), (2, 6)), desc="transposed"),
        Sample((m(1, 4), (4,)), desc="size1"),
    ]


def _view(m):  # views need a compatible layout: contiguous inputs
    return [
        Sample((m(2, 3), (3, 2)), desc="tuple"), Sample((m(2, 3), -1), desc="infer"),
        Sample((m(), (1,)), desc="0d"), Sample((m(0, 3), (0, 1, 3)), desc="size0"),
    ]


def _bad_shape():
    return [ErrorInput((np.ones((2, 3)), (4, 2)), exc=RuntimeError, match="shape|size",
                       desc="wrong_numel")]


def _permute(m):
    return [
        Sample((m(2, 3, 4), (2, 0, 1)), desc="3d"), Sample((m(2, 3), (-1, 0)), desc="neg"),
        Sample((m(), ()), desc="0d"), Sample((m(0, 2), (1, 0)), desc="size0"),
        Sample((transpose_view(m(3, 4)), (1, 0)), desc="transposed"),
    ]


def _transpose(m):
    return [
        Sample((m(2, 3, 4), 0, 2)), Sample((m(2, 3), -1, -2), desc="neg"),
        Sample((m(), 0, -1), desc="0d"), Sample((m(0, 2), 0, 1), desc="size0"),
    ]


def _squeeze(m):
    return [
        Sample((m(2, 1, 3),), desc="all"), Sample((m(2, 1, 3), 1), desc="dim"),
        Sample((m(2, 1, 1), -1), desc="neg"), Sample((m(2, 1, 1), (1, 2)), desc="dims"),
        Sample((m(),), desc="0d"), Sample((m(0, 1), 1), desc="size0"),
        Sample((m(2, 3), 0), desc="not_size1"),
    ]


def _unsqueeze(m):
    return [Sample((m(2, 3), 0)), Sample((m(2, 3), -1), desc="neg"), Sample((m(), 0), desc="0d"),
            Sample((m(0, 3), 1), desc="size0")]


def _expand(m):
    return [
        Sample((m(3, 1), (3, 4)), desc="tuple"), Sample((m(1, 3), (2, -1)), desc="minus1"),
        Sample((m(), (2, 2)), desc="0d"), Sample((m(1, 3), (0, 3)), desc="size0"),
    ]


def _flatten(m):
    return [
        Sample((m(2, 3, 2),), desc="all"), Sample((m(2, 3, 2), 1), desc="start"),
        Sample((m(2, 3, 2), 0, -2), desc="neg_end"), Sample((m(),), desc="0d"),
        Sample((transpose_view(m(3, 4)),), desc="transposed"),
    ]


def _cat(m):
    return [
        Sample(([m(2, 3), m(1, 3)],), desc="dim0"), Sample(([m(2, 3), m(2, 1)], -1), desc="neg"),
        Sample(([m(0, 3), m(2, 3)],), desc="size0"), Sample(((m(2), m(3)),), desc="tuple"),
        Sample(([transpose_view(m(3, 2)), m(3, 2)], 1), desc="transposed"),
    ]


def _cat_errors():
    return [ErrorInput(([np.ones((2, 3)), np.ones((2, 4))],), exc=(RuntimeError, ValueError),
                       match="[Ss]ize", desc="mismatch"),
            ErrorInput(([],), exc=(RuntimeError, ValueError), desc="empty_list")]


def _stack(m):
    return [
        Sample(([m(2, 3), m(2, 3)],), desc="dim0"), Sample(([m(2, 3), m(2, 3)], -1), desc="neg"),
        Sample(([m(), m()],), desc="0d"), Sample(([m(0, 3)],), desc="size0"),
    ]


def _split(m):
    return [
        Sample((m(5, 2), 2), desc="size"), Sample((m(5, 2), [1, 4]), desc="sections"),
        Sample((m(2, 5), 3, -1), desc="neg_dim"), Sample((m(0, 2), 1), desc="size0"),
    ]


def _chunk(m):
    return [Sample((m(5, 2), 2)), Sample((m(2, 6), 3, -1), desc="neg_dim"),
            Sample((m(1, 2), 3), desc="more_chunks_than_rows")]


def _getitem(m):
    x = m(3, 4)
    return [
        Sample((x, (slice(None), 1)), desc="int"), Sample((x, (slice(0, 3, 2), -1)), desc="step"),
        Sample((x, (None, Ellipsis, 0)), desc="none_ellipsis"),
        Sample((x, np.array([2, 0, 2])), desc="advanced_repeat"),
        Sample((x, x > 0), desc="bool_mask"),
        Sample((m(), ()), desc="0d"), Sample((m(0, 2), slice(None)), desc="size0"),
        Sample((transpose_view(m(3, 4)), (slice(1, None), np.array([0, 3]))), desc="transposed"),
    ]


def _getitem_torch(x, index):
    return x[index]


def _repeat(m):
    return [Sample((m(2, 3), 2, 1)), Sample((m(3), 2, 2), desc="more_dims"),
            Sample((m(), 3), desc="0d"), Sample((m(0, 2), 2, 0), desc="size0")]


def _flip(m):
    return [Sample((m(2, 3), (0,))), Sample((m(2, 3, 2), (-1, 0)), desc="neg_dims"),
            Sample((m(), ()), desc="0d"), Sample((m(0, 3), [1]), desc="size0"),
            Sample((strided_view(m(5)), (0,)), desc="strided")]


def _narrow(m):
    return [Sample((m(4, 3), 0, 1, 2)), Sample((m(2, 5), -1, 3, 2), desc="neg_dim"),
            Sample((m(3, 2), 0, 1, 0), desc="length0")]


def _unflatten(m):
    return [Sample((m(2, 6), 1, (2, 3))), Sample((m(6, 2), 0, (-1, 2)), desc="infer"),
            Sample((m(2, 6), -1, (3, 2)), desc="neg_dim")]


def _pad(m):
    x = m(2, 3, 4)
    return [
        Sample((x, (1, 2)), desc="constant"), Sample((x, (1, 0, 0, 2)), {"value": 0.5}, "value"),
        Sample((x, (-1, 1)), desc="negative"), Sample((x, (2, 1)), {"mode": "reflect"}, "reflect"),
        Sample((x, (1, 2, 2, 0)), {"mode": "replicate"}, "replicate"),
        Sample((x, (3, 1)), {"mode": "circular"}, "circular"),
        Sample((m(1, 2, 3, 3), (1, 1, 2, 0)), {"mode": "reflect"}, "reflect2d"),
        Sample((m(0, 3), (1, 1)), desc="size0"),
    ]


def _pad_errors():
    return [ErrorInput((np.ones((2, 3)), (1, 2, 3)), exc=(ValueError, RuntimeError),
                       match="pad", desc="odd_length"),
            ErrorInput((np.ones((1, 2, 3)), (3, 3)), {"mode": "reflect"},
                       exc=(ValueError, RuntimeError), match="[Pp]ad", desc="reflect_too_big"),
            ErrorInput((np.ones((1, 2, 3)), (1, 1)), {"mode": "wrap"},
                       exc=(ValueError, NotImplementedError), match="mode", desc="bad_mode")]


def _as(m):  # x and another tensor whose shape/dtype the op takes
    return [Sample((m(2, 3), m(3, 2)), desc="2d"), Sample((m(0, 3), m(3, 0)), desc="size0"),
            Sample((m(), m(1)), desc="0d")]


def _expand_as(m):
    return [Sample((m(3, 1), m(3, 4))), Sample((m(), m(2, 2)), desc="0d"),
            Sample((m(1, 3), m(0, 3)), desc="size0")]


def _like(m):  # the new_* constructors take a shape and give the input's dtype
    return [Sample((m(2, 3), (2, 2)), desc="shape"), Sample((m(), ()), desc="0d"),
            Sample((m(1), (0, 3)), desc="size0")]


def _new_full(m):
    return [Sample((m(2, 3), (2, 2), 1.5)), Sample((m(1), (0,), 2.0), desc="size0")]


def _casts(m):
    return [Sample((m(2, 3),)), Sample((m(),), desc="0d"), Sample((m(0, 2),), desc="size0")]


def _to(m):
    # (a float32 result: float64 finite differences can't resolve its gradient)
    return [Sample((m(2, 3), F64), desc="float64"),
            Sample((m(2, 3), F32), desc="float32", gradcheck=False),
            Sample((m(2, 3), I64), desc="int64", grad=False),
            Sample((m(2, 3),), {"dtype": F64}, "kw"), Sample((m(0, 2), F64), desc="size0")]


def _contiguous(m):
    return [Sample((transpose_view(m(3, 4)),), desc="transposed"), Sample((m(2, 3),)),
            Sample((strided_view(m(4)),), desc="strided")]


def _tile(m):
    return [Sample((m(2, 3), (2, 1))), Sample((m(3), (2, 2)), desc="more_dims"),
            Sample((m(2, 3), (2,)), desc="fewer_dims"), Sample((m(), (3,)), desc="0d")]


def _roll(m):
    return [Sample((m(3, 4), 1)), Sample((m(3, 4), -1, 0), desc="dim"),
            Sample((m(3, 4), (1, 2), (0, -1)), desc="dims"), Sample((m(0, 3), 1, 1), desc="size0"),
            Sample((transpose_view(m(3, 4)), 5, 1), desc="transposed")]


def _unbind(m):
    return [Sample((m(2, 3),)), Sample((m(2, 3), -1), desc="neg"),
            Sample((m(0, 3), 1), desc="size0")]


def _t(m):
    return [Sample((m(2, 3),)), Sample((m(3),), desc="1d"), Sample((m(),), desc="0d")]


def _broadcast_to(m):
    return [Sample((m(3, 1), (2, 3, 4))), Sample((m(), (2,)), desc="0d"),
            Sample((m(1, 3), (0, 3)), desc="size0")]


ENTRIES = [
    OpInfo("reshape", _reshape, errors=_bad_shape),
    OpInfo("Tensor.view", _view, errors=_bad_shape, covers=("view",)),
    OpInfo("flatten", _flatten, errors=dim_error(ones(2, 3), 2)),
    OpInfo("unflatten", _unflatten, errors=errors(ErrorInput(
        (ones(2, 6), 1, (4, 2)), exc=RuntimeError, match="4, 2|size", desc="bad_sizes"))),
    OpInfo("permute", _permute, errors=errors(ErrorInput(
        (ones(2, 3), (0, 0)), exc=RuntimeError, match="dim", desc="repeated_dim"))),
    OpInfo("transpose", _transpose, errors=dim_error(ones(2, 3), 0, 2)), OpInfo("t", _t),
    OpInfo("squeeze", _squeeze, errors=dim_error(ones(2, 3), 2)),
    OpInfo("unsqueeze", _unsqueeze, errors=dim_error(ones(2, 3), 3)),
    OpInfo("Tensor.expand", _expand, covers=("expand",), errors=errors(ErrorInput(
        (ones(2, 3), (4, 3)), exc=RuntimeError, match="size", desc="not_size1"))),
    # torch has no function expand_as, view, expand or repeat: zengrad's are the methods' code
    OpInfo("Tensor.expand_as", _expand_as, covers=("expand_as",)),
    OpInfo("broadcast_to", _broadcast_to, errors=errors(ErrorInput(
        (ones(2, 3), (3, 3)), exc=RuntimeError, match="size", desc="not_size1"))),
    OpInfo("Tensor.repeat", _repeat, covers=("repeat",), errors=errors(ErrorInput(
        (ones(2, 3), 2), exc=RuntimeError, match="dims", desc="too_few_repeats"))),
    OpInfo("tile", _tile, errors=errors(ErrorInput(
        (ones(2), (-1,)), exc=RuntimeError, match="negative", desc="negative"))),
    OpInfo("flip", _flip, errors=dim_error(ones(2, 3), (2,))),
    OpInfo("roll", _roll, errors=dim_error(ones(2, 3), 1, 2)),
    OpInfo("narrow", _narrow, errors=errors(
        ErrorInput((ones(2, 3), 1, 2, 2), exc=RuntimeError, match="exceeds", desc="too_long"),
        ErrorInput((ones(2, 3), 1, -4, 1), exc=IndexError, match="start", desc="bad_start"))),
    OpInfo("unbind", _unbind, errors=dim_error(ones(2, 3), 2)),
    OpInfo("cat", _cat, errors=_cat_errors, covers=("concat", "concatenate")),
    OpInfo("stack", _stack, errors=errors(ErrorInput(
        ([ones(2), ones(3)],), exc=SHAPE_ERRORS, match="size", desc="mismatch"))),
    OpInfo("split", _split, errors=dim_error(ones(2, 3), 1, 2)),
    OpInfo("chunk", _chunk, errors=errors(ErrorInput(
        (ones(2, 3), 0), exc=SHAPE_ERRORS, match="chunks", desc="zero_chunks"))),
    OpInfo("getitem", _getitem, torch_fn=_getitem_torch, errors=errors(
        ErrorInput((ones(2, 3), 5), exc=IndexError, match="5", desc="out_of_bounds"),
        ErrorInput((ones(2, 3), (0, 0, 0)), exc=IndexError, match="indices|indexed",
                   desc="too_many_indices"))),
    OpInfo("F.pad", _pad, errors=_pad_errors),
    OpInfo("Tensor.view_as", _as, errors=errors(ErrorInput(
        (ones(2), ones(3)), exc=RuntimeError, match="shape", desc="numel"))),
    OpInfo("Tensor.reshape_as", _as),
    OpInfo("Tensor.type_as", errors=errors(ErrorInput((ones(2), 3), exc=TypeError,
                                                       match="other", desc="not_a_tensor")),
           samples=lambda m: [Sample((m(2, 3), np.zeros(2, np.float64)), desc="f64"),
                                        Sample((m(2, 3), np.zeros(2, np.int64)), desc="i64",
                                               grad=False)]),
    OpInfo("Tensor.to", _to), OpInfo("Tensor.contiguous", _contiguous),
    # float32/float16 results: float64 finite differences can't resolve their gradients
    *[OpInfo(f"Tensor.{n}", _casts, grad=n in ("float", "double", "half"),
             gradcheck=n == "double",
             tol={F32: (1e-3, 1e-3), F64: (1e-3, 1e-3)} if n == "half" else {})
      for n in ("float", "double", "half", "int", "long", "bool")],
    *[OpInfo(f"Tensor.{n}", _like, grad=False) for n in ("new_zeros", "new_ones")],
    OpInfo("Tensor.new_full", _new_full, grad=False, errors=errors(ErrorInput(
        (ones(2), (-1,), 1.0), exc=SHAPE_ERRORS, match="negative", desc="negative_size"))),
]
