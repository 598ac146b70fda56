"""Reduction entries: sum, mean, prod, max/min (all three forms), amax/amin, arg*, var/std
(and their _mean twins), logsumexp, norm, all/any, count_nonzero (zengrad/ops/reduce.py)."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import F64, ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import dim_error, errors, ones, reduce, transpose_view


def _with(make, *extra):
    """make's samples plus those extra(m) returns."""

    def both(m):
        return make(m) + [s for f in extra for s in f(m)]

    return both


def _tuple_dims(m):
    return [Sample((m.distinct(2, 3, 2), (0, -1)), desc="dims_tuple"),
            Sample((m.distinct(2, 3), (0, 1)), {"keepdim": True}, "dims_tuple_keepdim")]


def _sum_dtype(m):
    return [Sample((m(2, 3),), {"dtype": F64}, "dtype_kw")]


def _max_binary(m):
    return [Sample((m.distinct(2, 3), m.distinct(3)), desc="binary")]


def _var_samples(m):
    x = m.distinct(3, 4)
    return [
        Sample((x,), desc="all"), Sample((x, 1), desc="dim1"),
        Sample((transpose_view(m.distinct(3, 4)), -1), {"keepdim": True}, "keepdim_transposed"),
        Sample((x, 0), {"correction": 0}, "correction0"),
        Sample((x, (0, 1)), {"correction": 2}, "dims_correction2"),
        Sample((x, False), desc="unbiased_positional"),
        Sample((m.distinct(1, 4), 1), desc="size1"),
    ]


def _logsumexp_samples(m):
    return [
        Sample((m(2, 3), 1), desc="dim1"), Sample((m(2, 3), -1), {"keepdim": True}, "keepdim"),
        Sample((m(2, 3, 2), (0, 2)), desc="dims_tuple"), Sample((m(), 0), desc="0d"),
        Sample((m(0, 3), 1), desc="size0"), Sample((transpose_view(m(3, 4)), 0), desc="transposed"),
    ]


def _norm_samples(m):
    x = m.away(3, 4)
    return [
        Sample((x,), desc="fro"), Sample((x, 1), desc="p1"), Sample((x, 3, 1), desc="p3_dim1"),
        Sample((x, float("inf"), -1), desc="inf_dim"), Sample((x, 2, (0, 1), True), desc="keep"),
        Sample((m.away(),), desc="0d"), Sample((m(0, 3),), desc="size0", grad=False),
    ]


def _logical(m):
    x = m.mask(2, 3)
    return [
        Sample((x,), desc="all"), Sample((x, 1), desc="dim1"),
        Sample((x, -1), {"keepdim": True}, "keepdim"), Sample((m.mask(),), desc="0d"),
        Sample((m.mask(0, 3), 1), desc="size0"), Sample((m(2, 3), 0), desc="float_input"),
    ]


def _prod_samples(m):
    return [
        Sample((m.away(2, 3),), desc="all"), Sample((m.away(2, 3), 1), desc="dim1"),
        Sample((m.away(2, 3), -1), {"keepdim": True}, "keepdim"),
        Sample((m.away(),), desc="0d"), Sample((m.away(0, 3), 1), desc="size0"),
        Sample((transpose_view(m.away(3, 4)), 0), desc="transposed"),
        Sample((m.away(2, 3), 1), {"dtype": F64}, "dtype_kw"),
        Sample((np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 1.0]]).astype(m.dtype), 1), desc="zeros"),
    ]


_DIM2 = dim_error(ones(2, 3), 2)  # dim 2 of a 2-d tensor

ENTRIES = [
    OpInfo("sum", _with(reduce("__call__"), _tuple_dims, _sum_dtype), errors=_DIM2),
    OpInfo("mean", _with(reduce("__call__"), _tuple_dims, _sum_dtype), errors=errors(
        ErrorInput((np.arange(3),), exc=(RuntimeError, TypeError), match="float|dtype",
                   desc="integer_input"))),
    OpInfo("prod", _prod_samples, errors=_DIM2),
    OpInfo("max", _with(reduce(empty=False), _max_binary), errors=errors(
        ErrorInput((ones(2, 3), 2), exc=IndexError, match="[Dd]im", desc="dim_out_of_range"),
        ErrorInput((ones(0, 3),), exc=(RuntimeError, ValueError, IndexError), match="empty|zero",
                   desc="empty"))),
    OpInfo("min", _with(reduce(empty=False), _max_binary), errors=_DIM2),
    OpInfo("amax", _with(reduce(), _tuple_dims), errors=_DIM2),
    OpInfo("amin", _with(reduce(), _tuple_dims), errors=_DIM2),
    OpInfo("argmax", reduce(empty=False), grad=False, errors=_DIM2),
    OpInfo("argmin", reduce(empty=False), grad=False, errors=_DIM2),
    OpInfo("var", _var_samples, errors=_DIM2), OpInfo("std", _var_samples, errors=_DIM2),
    OpInfo("var_mean", _var_samples, method=False, errors=_DIM2),
    OpInfo("std_mean", _var_samples, method=False, errors=_DIM2),
    OpInfo("logsumexp", _logsumexp_samples, errors=_DIM2),
    OpInfo("norm", _norm_samples),
    OpInfo("all", _logical, grad=False, errors=_DIM2),
    OpInfo("any", _logical, grad=False, errors=_DIM2),
    OpInfo("count_nonzero", lambda m: [
        Sample((m.mask(2, 3).astype(m.dtype),), desc="all"),
        Sample((m.mask(2, 3).astype(m.dtype), 1), desc="dim1"),
        Sample((m.mask(2, 3, 2).astype(m.dtype), (0, 2)), desc="dims"),
        Sample((m(0, 3), 0), desc="size0"),
    ], grad=False, errors=_DIM2),
]
