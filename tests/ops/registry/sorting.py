"""Scan and sort entries: cumulative ops, sort/argsort/topk/kthvalue, unique, searchsorted
(zengrad/ops/sorting.py). Values are distinct (no ties) so indices are well defined."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import F64, ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import dim_error, errors, ones, transpose_view


def _scan(draw="__call__", dtype_kw=True):
    def make(m):
        d = getattr(m, draw)
        out = [
            Sample((d(2, 3), 1), desc="dim1"), Sample((d(2, 3), -2), desc="neg_dim"),
            Sample((d(), 0), desc="0d"), Sample((d(0, 3), 1), desc="size0"),
            Sample((transpose_view(d(3, 4)), 1), desc="transposed"),
        ]
        if dtype_kw:
            out.append(Sample((d(2, 3), 0), {"dtype": F64}, "dtype_kw"))
        return out

    return make


def _sort(m):
    x = m.distinct(3, 4)
    return [
        Sample((x,), desc="last"), Sample((x, 0), desc="dim0"),
        Sample((x, -1, True), desc="descending"), Sample((x,), {"stable": True}, "stable"),
        Sample((m.distinct(),), desc="0d"), Sample((m(0, 3),), desc="size0"),
        Sample((transpose_view(m.distinct(3, 4)), 0), desc="transposed"),
    ]


def _argsort(m):
    return [s for s in _sort(m) if s.desc != "0d"] + [Sample((m.distinct(),), desc="0d")]


def _topk(m):
    x = m.distinct(3, 5)
    return [
        Sample((x, 2), desc="largest"), Sample((x, 2, 0), desc="dim0"),
        Sample((x, 3), {"largest": False}, "smallest"), Sample((x, 0), desc="k0"),
        Sample((m.distinct(), 1), desc="0d"),
        Sample((transpose_view(m.distinct(4, 3)), 2, -2), desc="transposed"),
    ]


def _topk_errors():
    return [ErrorInput((np.ones((2, 3)), 4), exc=(RuntimeError, ValueError, IndexError),
                       match="k|range", desc="k_too_big")]


def _kthvalue(m):
    x = m.distinct(3, 5)
    return [Sample((x, 2), desc="last"), Sample((x, 1, 0), desc="dim0"),
            Sample((x, 3, -1, True), desc="keepdim"), Sample((m.distinct(), 1), desc="0d")]


def _unique(m):
    x = np.round(m(3, 4) * 2).astype(m.dtype)
    return [
        Sample((x,), desc="flat"), Sample((x,), {"return_inverse": True}, "inverse"),
        Sample((x,), {"return_counts": True}, "counts"),
        Sample((x,), {"dim": 0, "return_inverse": True}, "dim0"),
        Sample((m(0, 3),), desc="size0"),
    ]


def _unique_consecutive(m):
    x = np.round(m(8)).astype(m.dtype)
    return [Sample((x,)), Sample((x,), {"return_inverse": True, "return_counts": True}, "all")]


def _searchsorted(m):
    seq = np.sort(m.distinct(5))
    return [
        Sample((seq, m(2, 3)), desc="left"), Sample((seq, m(4)), {"right": True}, "right"),
        Sample((np.sort(m.distinct(2, 5), axis=1), m(2, 3)), desc="batched"),
        Sample((seq, 0.5), desc="scalar"),
    ]


def _bucketize(m):
    return [Sample((m(2, 3), np.sort(m.distinct(4))), desc="left"),
            Sample((m(4), np.sort(m.distinct(4))), {"right": True}, "right")]


_DIM2 = dim_error(ones(2, 3), 2)  # dim 2 of a 2-d tensor

ENTRIES = [
    OpInfo("cumsum", _scan(), errors=_DIM2), OpInfo("cumprod", _scan("away"), errors=_DIM2),
    OpInfo("cummax", _scan("distinct", False), errors=_DIM2),
    OpInfo("cummin", _scan("distinct", False)),
    OpInfo("logcumsumexp", _scan(dtype_kw=False), errors=_DIM2),
    OpInfo("sort", _sort, errors=_DIM2), OpInfo("argsort", _argsort, grad=False, errors=_DIM2),
    OpInfo("msort", lambda m: [Sample((m.distinct(3, 4),)), Sample((m(0, 2),), desc="size0")]),
    OpInfo("topk", _topk, errors=_topk_errors),
    OpInfo("kthvalue", _kthvalue, errors=errors(ErrorInput(
        (ones(2, 3), 4), exc=RuntimeError, match="out of range", desc="k_too_big"))),
    # unique: outputs cut from the graph (README deviation), compare the forward
    OpInfo("unique", _unique, grad=False, errors=errors(ErrorInput(
        (ones(2, 3),), {"dim": 2}, IndexError, "[Dd]im", "dim_out_of_range"))),
    OpInfo("unique_consecutive", _unique_consecutive, grad=False),
    OpInfo("searchsorted", _searchsorted, grad=False, method=False, errors=errors(ErrorInput(
        (ones(2, 3), ones(3, 3)), exc=RuntimeError, match="boundaries", desc="batch_mismatch"))),
    OpInfo("bucketize", _bucketize, grad=False, method=False, errors=errors(ErrorInput(
        (ones(2), ones(2, 2)), exc=RuntimeError, match="1 dimension", desc="2d_boundaries"))),
]
