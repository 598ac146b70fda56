"""Indexing entries: gather/scatter, index_*, masks, take, nonzero, triangles and diagonals,
outer, meshgrid, repeat_interleave (zengrad/ops/indexing.py)."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import errors, ones, transpose_view


def _perm_rows(m, rows, n, k):
    """rows x k indices, each row k distinct values of [0, n) (scatter without collisions)."""
    return np.argsort(m.rng.random((rows, n)), axis=1)[:, :k].astype(np.int64)


def _gather(m):
    return [
        Sample((m(3, 4), 1, m.index(4, 3, 2)), desc="dim1"),
        Sample((m(3, 4), -2, m.index(3, 2, 4)), desc="neg_dim"),
        Sample((m(), 0, np.zeros((), np.int64)), desc="0d"),
        Sample((m(3, 0), 1, m.index(1, 3, 0)), desc="size0"),
        Sample((transpose_view(m(3, 4)), 0, m.index(3, 2, 4)), desc="transposed"),
    ]


def _gather_errors():
    return [ErrorInput((np.ones((2, 3)), 1, np.array([[3]])), exc=IndexError,
                       desc="index_out_of_range"),
            ErrorInput((np.ones((2, 3)), 1, np.array([[0.5]])), exc=RuntimeError,
                       match="int", desc="float_index")]


def _scatter(m):
    return [
        Sample((m(3, 4), 1, _perm_rows(m, 3, 4, 2), m(3, 2)), desc="src"),
        Sample((m(3, 4), -1, _perm_rows(m, 2, 4, 3), m(2, 3)), desc="neg_dim"),
        Sample((m(3, 4), 1, _perm_rows(m, 3, 4, 2)), {"value": 1.5}, "value"),
        Sample((m(3, 4), 1, _perm_rows(m, 3, 4, 2), m(3, 2)), {"reduce": "add"}, "reduce_add",
               grad=False),
    ]


def _scatter_add(m):
    return [
        Sample((m(3, 4), 1, m.index(4, 3, 5), m(3, 5)), desc="collisions"),
        Sample((m(3, 4), 0, m.index(3, 2, 4), m(2, 4)), desc="dim0"),
        Sample((m(3), 0, np.zeros(0, np.int64), m(0)), desc="size0"),
    ]


def _scatter_reduce(m):
    idx = m.index(4, 3, 5)
    return [Sample((m(3, 4), 1, idx, m(3, 5), red), {"include_self": inc}, f"{red}_{inc}",
                   grad=red in ("sum", "mean"))
            for red, inc in (("sum", True), ("mean", False), ("amax", True), ("prod", True))]


def _index_select(m):
    return [
        Sample((m(3, 4), 0, np.array([2, 0, 2])), desc="repeat"),
        Sample((m(3, 4), -1, np.array([1])), desc="neg_dim"),
        Sample((m(3, 4), 1, np.zeros(0, np.int64)), desc="size0"),
        Sample((m(), 0, np.array([0])), desc="0d"),
        Sample((transpose_view(m(3, 4)), 1, np.array([3, 1])), desc="transposed"),
    ]


def _index_add(m):
    return [
        Sample((m(3, 4), 0, np.array([2, 0, 2]), m(3, 4)), desc="repeat"),
        Sample((m(3, 4), -1, np.array([1, 3]), m(3, 2)), {"alpha": 2.0}, "alpha"),
        Sample((m(3, 4), 1, np.zeros(0, np.int64), m(3, 0)), desc="size0"),
    ]


def _index_copy(m):
    return [Sample((m(3, 4), 0, np.array([2, 0]), m(2, 4)), desc="dim0"),
            Sample((m(3, 4), -1, np.array([3]), m(3, 1)), desc="neg_dim")]


def _index_fill(m):
    return [Sample((m(3, 4), 0, np.array([2, 0]), 1.5), desc="dim0"),
            Sample((m(3, 4), -1, np.array([3, 3]), -1.0), desc="neg_dim_repeat")]


def _masked(m, with_value: bool):
    extra = (0.5,) if with_value else ()
    return [
        Sample((m(2, 3), m.mask(2, 3), *extra), desc="same"),
        Sample((m(2, 3), m.mask(3), *extra), desc="bcast_mask"),
        Sample((m(3), m.mask(2, 3), *extra), desc="bcast_input"),
        Sample((m(), m.mask(), *extra), desc="0d"),
        Sample((m(0, 3), m.mask(0, 3), *extra), desc="size0"),
        Sample((transpose_view(m(3, 4)), m.mask(3, 4), *extra), desc="transposed"),
    ]


def _mask_errors(with_value: bool):
    extra = (0.5,) if with_value else ()

    def errors():
        return [ErrorInput((np.ones((2, 3)), np.ones((2, 3)), *extra), exc=RuntimeError,
                           match="bool", desc="float_mask")]
    return errors


def _take_along_dim(m):
    x = m.distinct(3, 4)
    return [
        Sample((x, np.argsort(x, axis=1)), {"dim": 1}, "argsort"),
        Sample((x, m.index(3, 2, 4), 0), desc="dim0"),
        Sample((x, m.index(12, 5)), desc="flat"),
        Sample((x, m.index(4, 3, 1), -1), desc="bcast"),
    ]


def _take(m):
    return [Sample((m(3, 4), m.index(12, 2, 3)), desc="2d"),
            Sample((m(3, 4), np.array([-1, 0])), desc="negative"),
            Sample((m(), np.zeros((), np.int64)), desc="0d")]


def _nonzero(m):
    x = m.mask(3, 4).astype(m.dtype)
    return [Sample((x,)), Sample((x,), {"as_tuple": True}, "as_tuple"),
            Sample((m.mask().astype(m.dtype),), desc="0d"), Sample((m(0, 3),), desc="size0")]


def _tri(m):
    return [
        Sample((m(3, 4),)), Sample((m(3, 4), 1), desc="diag1"),
        Sample((m(2, 3, 3), -1), desc="batched_neg"), Sample((m(0, 3),), desc="size0"),
        Sample((transpose_view(m(4, 3)), 2), desc="transposed"),
    ]


def _diag(m):
    return [Sample((m(3),)), Sample((m(3), -1), desc="1d_neg"), Sample((m(3, 4),), desc="2d"),
            Sample((m(3, 4), 2), desc="2d_offset"), Sample((m(0),), desc="size0")]


def _diagonal(m):
    return [Sample((m(3, 4),)), Sample((m(2, 3, 4), 1, 0, 2), desc="offset_dims"),
            Sample((m(3, 4), -1, -1, -2), desc="neg_dims"), Sample((m(0, 3),), desc="size0")]


def _diag_embed(m):
    return [Sample((m(2, 3),)), Sample((m(3), 1), desc="offset"),
            Sample((m(2, 3), 0, 0, 2), desc="dims")]


def _outer(m):
    return [Sample((m(3), m(4))), Sample((m(0), m(2)), desc="size0"),
            Sample((m(1), m(1)), desc="size1")]


def _meshgrid(m):
    return [Sample((m(3), m(2)), {"indexing": "ij"}, "ij"),
            Sample((m(3), m(2)), {"indexing": "xy"}, "xy"),
            Sample((m(3), m(0), m(2)), {"indexing": "ij"}, "three_size0")]


def _repeat_interleave(m):
    return [
        Sample((m(2, 3), 2), desc="int_flat"), Sample((m(2, 3), 2, 1), desc="int_dim"),
        Sample((m(2, 3), np.array([1, 0, 2]), -1), desc="tensor_repeats"),
        Sample((m(), 3), desc="0d"),
    ]


_TRI_1D = ErrorInput((ones(3),), exc=RuntimeError, match="2 dimensions", desc="1d")

ENTRIES = [
    OpInfo("gather", _gather, errors=_gather_errors),
    OpInfo("scatter", _scatter, errors=errors(ErrorInput(
        (ones(2, 3), 1, np.array([[3]]), ones(1, 1)), exc=IndexError, match="out of bounds",
        desc="index_out_of_range"))), OpInfo("scatter_add", _scatter_add, errors=errors(ErrorInput(
        (ones(2, 3), 1, np.array([0]), ones(1)), exc=RuntimeError, match="dimensions",
        desc="index_rank"))),
    OpInfo("scatter_reduce", _scatter_reduce, errors=errors(ErrorInput(
        (ones(2, 3), 1, np.array([[0]]), ones(1, 1), "median"), exc=RuntimeError,
        match="reduce", desc="bad_reduce"))),
    OpInfo("index_select", _index_select, errors=errors(
        ErrorInput((ones(2, 3), 0, np.array([0.5])), exc=RuntimeError, match="int",
                   desc="float_index"),
        ErrorInput((ones(2, 3), 0, np.array([2])), exc=IndexError, match="out of",
                   desc="index_out_of_range"))),
    OpInfo("index_add", _index_add, errors=errors(ErrorInput(
        (ones(2, 3), 0, np.array([2]), ones(1, 3)), exc=IndexError, match="out of bounds",
        desc="index_out_of_range"))),
    OpInfo("index_copy", _index_copy, errors=errors(ErrorInput(
        (ones(2, 3), 0, np.array([0]), ones(1, 2)), exc=RuntimeError, match="shape",
        desc="source_shape"))), OpInfo("index_fill", _index_fill, errors=errors(ErrorInput(
        (ones(2, 3), 0, np.array([5]), 1.0), exc=IndexError, match="out of bounds",
        desc="index_out_of_range"))),
    OpInfo("masked_select", lambda m: _masked(m, False), errors=_mask_errors(False)),
    OpInfo("masked_fill", lambda m: _masked(m, True), errors=_mask_errors(True)),
    OpInfo("take_along_dim", _take_along_dim, errors=errors(ErrorInput(
        (ones(2, 3), np.zeros(2, np.int64), 1), exc=RuntimeError, match="dimensions",
        desc="index_rank"))), OpInfo("take", _take, errors=errors(ErrorInput(
        (ones(2, 3), np.array([6])), exc=IndexError, match="out of range",
        desc="index_out_of_range"))),
    OpInfo("nonzero", _nonzero, grad=False),
    OpInfo("argwhere", lambda m: [s for s in _nonzero(m) if not s.kwargs], grad=False),
    OpInfo("tril", _tri, errors=errors(_TRI_1D)), OpInfo("triu", _tri, errors=errors(_TRI_1D)),
    OpInfo("diag", _diag, errors=errors(ErrorInput(
        (ones(2, 2, 2),), exc=RuntimeError, match="1D or 2D", desc="3d"))),
    OpInfo("diagonal", _diagonal, errors=errors(ErrorInput(
        (ones(2, 2), 0, 1, 1), exc=RuntimeError, match="identical", desc="same_dims"))),
    OpInfo("diag_embed", _diag_embed, errors=errors(ErrorInput(
        (ones(2, 3), 0, 0, 0), exc=RuntimeError, match="identical", desc="same_dims"))),
    OpInfo("outer", _outer, errors=errors(ErrorInput(
        (ones(2, 2), ones(2)), exc=RuntimeError, match="1-D", desc="2d"))),
    OpInfo("meshgrid", _meshgrid, method=False, errors=errors(ErrorInput(
        (ones(2, 2), ones(2)), {"indexing": "ij"}, RuntimeError, "1D", "2d"))),
    OpInfo("repeat_interleave", _repeat_interleave, errors=errors(ErrorInput(
        (ones(2), -1), exc=RuntimeError, match="negative", desc="negative_repeats"))),
]
