"""Products and norms: matmul/mm/bmm/linear/addmm/einsum, torch.linalg norms, cosine
similarity, normalize, one_hot (zengrad/ops/linalg.py, special.py, zengrad/linalg.py)."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import F32, ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import (
    SHAPE_ERRORS,
    dim_error,
    errors,
    no_broadcast,
    ones,
    transpose_view,
)

# float32 products sum in another order than torch's MKL kernels
GEMM_TOL = {F32: (1e-5, 1e-5)}


def _matmul(m):
    return [
        Sample((m(2, 3), m(3, 4)), desc="2d"), Sample((m(3), m(3, 2)), desc="1d_2d"),
        Sample((m(2, 3), m(3)), desc="2d_1d"), Sample((m(3), m(3)), desc="dot"),
        Sample((m(2, 1, 2, 3), m(3, 3, 2)), desc="batch_bcast"),
        Sample((m(0, 3), m(3, 2)), desc="size0"), Sample((m(2, 0), m(0, 3)), desc="inner0"),
        Sample((transpose_view(m(2, 3)), transpose_view(m(3, 2))), desc="transposed"),
    ]


def _mm_errors():
    return [ErrorInput((np.ones((2, 3)), np.ones((2, 3))), exc=(RuntimeError, ValueError),
                       match="shape|size", desc="inner_mismatch"),
            ErrorInput((np.ones(()), np.ones(3)), exc=(RuntimeError, ValueError),
                       match="[Dd]im|matrix|2-D", desc="0d")]


def _mm(m):
    return [Sample((m(2, 3), m(3, 4))), Sample((m(0, 3), m(3, 1)), desc="size0"),
            Sample((transpose_view(m(3, 2)), m(2, 2)), desc="transposed")]


def _bmm(m):
    return [Sample((m(2, 2, 3), m(2, 3, 4))), Sample((m(0, 2, 3), m(0, 3, 1)), desc="size0")]


def _linear(m):
    return [
        Sample((m(2, 3), m(4, 3), m(4)), desc="bias"), Sample((m(2, 3), m(4, 3)), desc="no_bias"),
        Sample((m(2, 5, 3), m(4, 3), m(4)), desc="3d"), Sample((m(3), m(2, 3)), desc="1d"),
        Sample((m(0, 3), m(2, 3), m(2)), desc="size0"),
    ]


def _addmm(m):
    return [
        Sample((m(2, 4), m(2, 3), m(3, 4)), desc="plain"),
        Sample((m(4), m(2, 3), m(3, 4)), {"beta": 0.5, "alpha": 2.0}, "bcast_alpha_beta"),
        Sample((m(2, 4), m(2, 3), m(3, 4)), {"beta": 0}, "beta0"),
    ]


def _einsum(m):
    return [
        Sample(("ij,jk->ik", m(2, 3), m(3, 4)), desc="matmul"),
        Sample(("bij,bjk->bik", m(2, 2, 3), m(2, 3, 2)), desc="batched"),
        Sample(("ii->i", m(3, 3)), desc="diagonal"), Sample(("ij->", m(2, 3)), desc="sum"),
        Sample(("i,j->ij", m(3), m(2)), desc="outer"),
        Sample(("...ij,...jk", m(2, 2, 3), m(3, 1)), desc="ellipsis_implicit"),
        Sample(("ij,ij->i", m(0, 3), m(0, 3)), desc="size0"),
        Sample(("ij,jk", [m(2, 3), m(3, 2)]), desc="operand_list"),
    ]


def _einsum_errors():
    return [ErrorInput(("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2))),
                       exc=(RuntimeError, ValueError), desc="size_mismatch"),
            ErrorInput(("ij->ik", np.ones((2, 3))), exc=(RuntimeError, ValueError),
                       desc="unknown_output_label"),
            ErrorInput(("ij,jk", np.ones((2, 3))), exc=SHAPE_ERRORS, match="operand",
                       desc="too_few_operands")]


def _vector_norm(m):
    x = m.away(3, 4)
    return [
        Sample((x,), desc="2"), Sample((x, 1, 1), desc="1_dim"),
        Sample((x, float("inf")), desc="inf"), Sample((x, 3, (0, 1), True), desc="3_keepdim"),
        Sample((x, 0.5, -1), desc="half"), Sample((m.away(),), desc="0d"),
        Sample((transpose_view(m.away(3, 4)), 2, 0), desc="transposed"),
    ]


def _matrix_norm(m):
    x = m.away(2, 3, 4)
    return [Sample((x,), desc="fro"), Sample((x, "nuc"), desc="nuc"),
            Sample((x, 2), desc="2"), Sample((x, 1, (0, 2)), desc="1_dims"),
            Sample((x, float("-inf")), {"keepdim": True}, "neg_inf_keepdim")]


def _linalg_norm(m):
    return [Sample((m.away(3, 4),), desc="vector_all"), Sample((m.away(3, 4), "fro"), desc="fro"),
            Sample((m.away(3, 4), 3, 1), desc="vector_dim"),
            Sample((m.away(2, 3, 4), 1, (1, 2)), desc="matrix_dims")]


def _cosine(m):
    return [Sample((m.away(2, 3), m.away(2, 3)), desc="dim1"),
            Sample((m.away(2, 3), m.away(3)), {"dim": -1}, "bcast"),
            Sample((m.away(3, 2), m.away(3, 2), 0), desc="dim0"),
            Sample((m.away(2, 3), np.zeros((2, 3), m.dtype)), desc="zero_vector", grad=False)]


def _normalize(m):
    return [Sample((m.away(2, 3),), desc="default"), Sample((m.away(2, 3),), {"p": 1.0, "dim": 0},
                                                          "p1_dim0"),
            Sample((m.away(4),), {"dim": -1}, "1d"),
            Sample((np.zeros((2, 3), m.dtype),), desc="zeros", grad=False)]


def _one_hot(m):
    return [Sample((m.index(4, 2, 3),), desc="infer"), Sample((m.index(3, 5), 5), desc="classes"),
            Sample((np.zeros(0, np.int64), 3), desc="size0"),
            Sample((np.array(2, np.int64), 4), desc="0d")]


def _one_hot_errors():
    # torch: RuntimeError for both; zengrad: TypeError / ValueError naming the problem
    return [ErrorInput((np.array([1.0]), 3), exc=TypeError, match="int64", desc="float_input"),
            ErrorInput((np.array([3]), 3), exc=ValueError, match="num_classes", desc="too_big"),
            ErrorInput((np.array([-1]), 3), exc=ValueError, match="non-negative",
                       desc="negative")]


ENTRIES = [
    OpInfo("matmul", _matmul, tol=GEMM_TOL, errors=_mm_errors),
    OpInfo("mm", _mm, tol=GEMM_TOL, errors=_mm_errors),
    OpInfo("bmm", _bmm, tol=GEMM_TOL, errors=errors(ErrorInput(
        (ones(2, 3), ones(3, 2)), exc=SHAPE_ERRORS, match="3[-D]", desc="2d"))),
    OpInfo("F.linear", _linear, tol=GEMM_TOL, errors=errors(ErrorInput(
        (ones(2, 3), ones(4, 2)), exc=SHAPE_ERRORS, match="shape", desc="in_features"))),
    OpInfo("addmm", _addmm, tol=GEMM_TOL, errors=errors(ErrorInput(
        (ones(3, 3), ones(2, 3), ones(3, 2)), exc=SHAPE_ERRORS, match="size|shape",
        desc="input_shape"))),
    OpInfo("einsum", _einsum, tol=GEMM_TOL, errors=_einsum_errors, method=False),
    OpInfo("linalg.vector_norm", _vector_norm, errors=dim_error(ones(2, 3), 2, 2)),
    OpInfo("linalg.matrix_norm", _matrix_norm, tol={F32: (1e-4, 1e-5)}, errors=errors(
        ErrorInput((ones(3),), exc=SHAPE_ERRORS, match="2 dimensions", desc="1d"),
        ErrorInput((ones(3, 3), 3), exc=SHAPE_ERRORS, match="[Oo]rder 3", desc="bad_ord"))),
    OpInfo("linalg.norm", _linalg_norm),
    OpInfo("F.cosine_similarity", _cosine, errors=errors(no_broadcast())),
    OpInfo("F.normalize", _normalize, errors=lambda: [
        ErrorInput((ones(2, 3),), {"dim": 2}, IndexError, "[Dd]im", "dim_out_of_range")]),
    OpInfo("F.one_hot", _one_hot, grad=False, int_dtype=False, errors=_one_hot_errors),
]
