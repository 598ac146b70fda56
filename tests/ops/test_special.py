"""Special ops (erf, tan, log2, atan2, lerp, addmm, einsum), zengrad.linalg norms and
F.normalize / cosine_similarity / one_hot: one registry entry per op, generic tests for
torch parity (float64 and float32), float64 gradcheck and bad input."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
import zengrad.nn.functional as F
from tests.helpers import assert_parity, check_grad, rand_array

INF = float("inf")


def U(rng, *shape, low=-2.0, high=2.0):
    return rand_array(rng, shape, np.float64, low, high)


def P(rng, *shape):  # positive
    return rand_array(rng, shape, np.float64, 0.2, 3.0)


@dataclass
class Case:
    """zg(*inputs) vs th(*inputs) on each sample (a list of inputs: arrays or values)."""

    zg: object
    th: object
    samples: object  # rng -> list of input lists
    gradcheck: bool = True
    grad: bool = True
    kw: dict = field(default_factory=dict)  # assert_parity tolerances


def _same(fn):
    """One lambda serving both libraries (methods, operators)."""
    return fn, fn


EINSUM = {
    "matmul": ("ij,jk->ik", [(2, 3), (3, 4)]),
    "implicit": ("ij,jk", [(2, 3), (3, 4)]),
    "trace": ("ii", [(3, 3)]),
    "diag": ("ii->i", [(3, 3)]),
    "diag_3": ("iij->ji", [(3, 3, 2)]),
    "diag_twice": ("iji->j", [(2, 3, 2)]),
    "sum_all": ("ij->", [(2, 3)]),
    "sum_rows": ("ij->j", [(2, 3)]),
    "transpose_spaces": ("i j -> j i", [(2, 3)]),
    "implicit_sorted": ("ba", [(2, 3)]),
    "upper_first": ("ba,Ab,Bc", [(2, 3), (5, 2), (4, 6)]),
    "outer": ("i,j->ij", [(2,), (3,)]),
    "dot": ("i,i->", [(4,), (4,)]),
    "bcast_size1": ("i,i->i", [(1,), (3,)]),
    "bcast_contracted": ("ij,jk", [(2, 1), (3, 4)]),
    "batched": ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    "ellipsis_bcast": ("...ij,...jk", [(5, 1, 2, 3), (4, 3, 2)]),
    "ellipsis_summed": ("...ij,jk->ik", [(5, 2, 3), (3, 2)]),
    "ellipsis_middle": ("i...i", [(2, 3, 2)]),
    "ellipsis_elementwise": ("...,...->...", [(2, 3), (3,)]),
    "ellipsis_empty": ("ij->j...", [(2, 3)]),
    "three_operands": ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 5), (5, 2)]),
    "scalar_operand": (",i->i", [(), (3,)]),
    "0d_only": ("->", [()]),
    "size0_contracted": ("ij,jk->ik", [(2, 0), (0, 3)]),
    "size0_kept": ("ij,jk->ik", [(0, 2), (2, 3)]),
    "diag_bcast_other": ("ii,i->i", [(3, 3), (1,)]),
    "same_operand_twice": ("ij,ij->", [(2, 3), (2, 3)]),
    # large enough for the BLAS (optimize) path of two operands; parity only
    "large_batched": ("bij,bjk->bik", [(4, 40, 30), (4, 30, 40)]),
    "large_transposed_out": ("ij,kj->ki", [(60, 50), (40, 50)]),
}


def _einsum_case(eq, shapes):
    return Case(
        lambda *t: zg.einsum(eq, *t),
        lambda *t: torch.einsum(eq, *t),
        lambda rng: [[U(rng, *s) for s in shapes]],
        gradcheck=all(0 < np.prod(s, dtype=int) < 100 for s in shapes),
    )


CASES: dict[str, Case] = {
    "erf": Case(zg.erf, torch.erf, lambda r: [[U(r, 3, 4)], [U(r)], [U(r, 0, 2)], [U(r, 1)]]),
    "erfc": Case(zg.erfc, torch.erfc, lambda r: [[U(r, 5)], [U(r)]]),
    "erf_method": Case(*_same(lambda x: x.erf() + x.erfc()), lambda r: [[U(r, 2, 3)]]),
    "tan": Case(zg.tan, torch.tan, lambda r: [[U(r, 3, 4, low=-1.2, high=1.2)], [U(r)]]),
    "tan_method": Case(*_same(lambda x: x.tan()), lambda r: [[U(r, 4, low=-1, high=1)]]),
    "log2": Case(zg.log2, torch.log2, lambda r: [[P(r, 3, 4)], [P(r)], [P(r, 0)]]),
    "log10": Case(zg.log10, torch.log10, lambda r: [[P(r, 3, 4)], [P(r, 1, 1)]]),
    "log_methods": Case(*_same(lambda x: x.log2() * x.log10()), lambda r: [[P(r, 5)]]),
    "atan2": Case(zg.atan2, torch.atan2, lambda r: [
        [U(r, 3, 4), U(r, 3, 4)], [U(r, 3, 1), U(r, 4)], [U(r), U(r, 2)], [U(r, 0, 3), U(r, 3)],
    ]),
    "atan2_method": Case(*_same(lambda a, b: a.atan2(b) + a.arctan2(b)),
                         lambda r: [[U(r, 2, 3), U(r, 1, 3)]]),
    "arctan2": Case(zg.arctan2, torch.arctan2, lambda r: [[U(r, 4), U(r, 4)]]),
    "lerp_tensor_weight": Case(zg.lerp, torch.lerp, lambda r: [
        [U(r, 3, 4), U(r, 3, 4), U(r, 3, 4)], [U(r, 3, 1), U(r, 4), U(r, 1, 4)],
        [U(r), U(r), U(r)], [U(r, 2, 0), U(r, 1), U(r)],
    ]),
    "lerp_scalar_weight": Case(lambda a, b: zg.lerp(a, b, 0.3),
                               lambda a, b: torch.lerp(a, b, 0.3),
                               lambda r: [[U(r, 3, 4), U(r, 4)], [U(r), U(r, 2)]]),
    "lerp_int_weight_method": Case(*_same(lambda a, b: a.lerp(b, 2)),
                                   lambda r: [[U(r, 2, 3), U(r, 2, 3)]]),
    "lerp_weight_kw": Case(lambda a, b, w: zg.lerp(a, b, weight=w),
                           lambda a, b, w: torch.lerp(a, b, weight=w),
                           lambda r: [[U(r, 3), U(r, 3), U(r, 3)]]),
    "addmm": Case(zg.addmm, torch.addmm, lambda r: [
        [U(r, 3, 4), U(r, 3, 2), U(r, 2, 4)], [U(r, 4), U(r, 3, 2), U(r, 2, 4)],
        [U(r, 3, 1), U(r, 3, 2), U(r, 2, 4)], [U(r), U(r, 1, 2), U(r, 2, 1)],
        [U(r, 3, 4), U(r, 3, 0), U(r, 0, 4)], [U(r, 0, 4), U(r, 0, 2), U(r, 2, 4)],
    ]),
    "addmm_beta_alpha": Case(lambda c, a, b: zg.addmm(c, a, b, beta=0.5, alpha=-2),
                             lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=-2),
                             lambda r: [[U(r, 3, 4), U(r, 3, 2), U(r, 2, 4)]]),
    "addmm_method_beta0": Case(*_same(lambda c, a, b: c.addmm(a, b, beta=0, alpha=3)),
                               lambda r: [[U(r, 1, 4), U(r, 3, 2), U(r, 2, 4)]]),
    "einsum_list": Case(lambda a, b: zg.einsum("i,j", [a, b]),
                        lambda a, b: torch.einsum("i,j", [a, b]), lambda r: [[U(r, 2), U(r, 3)]]),
    "einsum_sublist": Case(lambda a, b: zg.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                           lambda a, b: torch.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                           lambda r: [[U(r, 2, 3), U(r, 3, 4)]]),
    "einsum_sublist_ellipsis": Case(
        lambda a, b: zg.einsum(a, [Ellipsis, 1], b, [1], [Ellipsis]),
        lambda a, b: torch.einsum(a, [Ellipsis, 1], b, [1], [Ellipsis]),
        lambda r: [[U(r, 2, 3, 4), U(r, 4)]]),
    "cosine_similarity": Case(zg.cosine_similarity, torch.cosine_similarity, lambda r: [
        [U(r, 3, 4), U(r, 3, 4)], [U(r, 3, 4), U(r, 4)], [U(r, 2, 3, 4), U(r, 1, 3, 1)],
    ]),
    "cosine_similarity_dims": Case(
        lambda a, b: F.cosine_similarity(a, b, dim=-1) + F.cosine_similarity(a, b, 0, 1e-3),
        lambda a, b: TF.cosine_similarity(a, b, dim=-1) + TF.cosine_similarity(a, b, 0, 1e-3),
        lambda r: [[U(r, 3, 3), U(r, 3, 3)], [U(r, 1, 1), U(r, 1, 1)]]),
    "cosine_similarity_0d": Case(lambda a, b: F.cosine_similarity(a, b, dim=0),
                                 lambda a, b: TF.cosine_similarity(a, b, dim=0),
                                 lambda r: [[U(r), U(r)], [U(r, 4), U(r, 4)]]),
    "cosine_similarity_small_norms": Case(
        # norms below eps: torch clamps each one and the clamp is invisible to the gradient
        lambda a, b: F.cosine_similarity(a * 1e-5, b, eps=1e-3),
        lambda a, b: TF.cosine_similarity(a * 1e-5, b, eps=1e-3),
        lambda r: [[U(r, 2, 3), U(r, 2, 3)]], gradcheck=False),
    "cosine_similarity_size0": Case(F.cosine_similarity, TF.cosine_similarity,
                                    lambda r: [[U(r, 2, 0), U(r, 2, 0)], [U(r, 0, 3), U(r, 0, 3)]],
                                    gradcheck=False),
    "normalize": Case(F.normalize, TF.normalize, lambda r: [[U(r, 3, 4)], [U(r, 2, 3, 2)],
                                                            [U(r, 2, 0)]]),
    "normalize_p_dim": Case(
        lambda x: F.normalize(x, p=1, dim=-1) + F.normalize(x, 3.0, 0)
        + F.normalize(x, dim=(0, 1)),
        lambda x: TF.normalize(x, p=1, dim=-1) + TF.normalize(x, 3.0, 0)
        + TF.normalize(x, dim=(0, 1)),
        lambda r: [[U(r, 3, 4)]]),
    "normalize_eps": Case(lambda x: F.normalize(x * 1e-3, eps=0.1),
                          lambda x: TF.normalize(x * 1e-3, eps=0.1), lambda r: [[U(r, 3, 4)]]),
    "normalize_0d": Case(lambda x: F.normalize(x, dim=0), lambda x: TF.normalize(x, dim=0),
                         lambda r: [[U(r)]]),
}
for _name, (_eq, _shapes) in EINSUM.items():
    CASES["einsum_" + _name] = _einsum_case(_eq, _shapes)

VECTOR_ORDS = [2, 1, 3, 0.5, 1.5, INF, -INF, 0, -1, -2.5]
for _p in VECTOR_ORDS:
    CASES[f"vector_norm_{_p}"] = Case(
        lambda x, p=_p: zg.linalg.vector_norm(x, p) + zg.linalg.vector_norm(x, p, dim=-1).sum()
        + zg.linalg.vector_norm(x, ord=p, dim=(0, -1), keepdim=True).sum(),
        lambda x, p=_p: torch.linalg.vector_norm(x, p)
        + torch.linalg.vector_norm(x, p, dim=-1).sum()
        + torch.linalg.vector_norm(x, ord=p, dim=(0, -1), keepdim=True).sum(),
        lambda r: [[U(r, 3, 4)], [U(r, 2, 1, 3)]],
    )
CASES["vector_norm_shapes"] = Case(
    lambda x: zg.linalg.vector_norm(x), lambda x: torch.linalg.vector_norm(x),
    lambda r: [[U(r)], [U(r, 1)], [U(r, 0, 3)], [U(r, 5)]])
CASES["vector_norm_0d_dim"] = Case(
    lambda x: zg.linalg.vector_norm(x, 3, dim=0, keepdim=True),
    lambda x: torch.linalg.vector_norm(x, 3, dim=0, keepdim=True), lambda r: [[U(r)]])
CASES["vector_norm_empty_dim"] = Case(
    lambda x: zg.linalg.vector_norm(x, dim=()), lambda x: torch.linalg.vector_norm(x, dim=()),
    lambda r: [[U(r, 2, 3)]])
CASES["vector_norm_size0_axis_kept"] = Case(
    lambda x: zg.linalg.vector_norm(x, INF, dim=1),
    lambda x: torch.linalg.vector_norm(x, INF, dim=1),
    lambda r: [[U(r, 0, 3)]], gradcheck=False)
CASES["vector_norm_dtype"] = Case(
    lambda x: zg.linalg.vector_norm(x.float(), dtype=zg.float64),
    lambda x: torch.linalg.vector_norm(x.float(), dtype=torch.float64),
    lambda r: [[U(r, 3, 4)]], gradcheck=False, kw={"rtol": 1e-6})

MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, INF, -INF]
for _o in MATRIX_ORDS:
    CASES[f"matrix_norm_{_o}"] = Case(
        lambda x, o=_o: zg.linalg.norm(x[0], o) + zg.linalg.matrix_norm(x, o).sum()
        + zg.linalg.norm(x, o, dim=(2, 0), keepdim=True).sum(),
        lambda x, o=_o: torch.linalg.norm(x[0], o) + torch.linalg.matrix_norm(x, o).sum()
        + torch.linalg.norm(x, o, dim=(2, 0), keepdim=True).sum(),
        lambda r: [[U(r, 2, 3, 4)], [U(r, 3, 4, 2)], [U(r, 1, 1, 1)]],
    )
    # an empty matrix: 0, except where a minimum runs over nothing (a bad-input case)
    _empty = {-2: [], -1: [(2, 0, 3), (0, 3)], -INF: [(2, 3, 0), (3, 0)]}.get(
        _o, [(2, 0, 3), (0, 0), (3, 0)])
    if _empty:
        CASES[f"matrix_norm_{_o}_empty"] = Case(
            lambda x, o=_o: zg.linalg.matrix_norm(x, o),
            lambda x, o=_o: torch.linalg.matrix_norm(x, o),
            lambda r, e=tuple(_empty): [[U(r, *s)] for s in e], gradcheck=False)
CASES["norm_defaults"] = Case(
    lambda x: zg.linalg.norm(x) + zg.linalg.norm(x, dim=1).sum()
    + zg.linalg.norm(x, dim=(0, 1)) + zg.linalg.norm(x[0], 3),
    lambda x: torch.linalg.norm(x) + torch.linalg.norm(x, dim=1).sum()
    + torch.linalg.norm(x, dim=(0, 1)) + torch.linalg.norm(x[0], 3),
    lambda r: [[U(r, 3, 4)]])
CASES["norm_nd_and_0d"] = Case(
    lambda x: zg.linalg.norm(x, keepdim=True), lambda x: torch.linalg.norm(x, keepdim=True),
    lambda r: [[U(r, 2, 3, 2)], [U(r)]])


def _gradcheck_ok(inputs) -> bool:
    arrays = [x for x in inputs if isinstance(x, np.ndarray)]
    return bool(arrays) and all(x.size for x in arrays)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_parity(name, dtype, rng):
    case = CASES[name]
    for inputs in case.samples(rng):
        cast = [x.astype(dtype) if isinstance(x, np.ndarray) else x for x in inputs]
        kw = dict(case.kw)
        svd = name.startswith(("matrix_norm_nuc", "matrix_norm_2", "matrix_norm_-2"))
        if dtype == np.float32 and svd:
            kw.setdefault("rtol", 1e-4)  # SVD in float32: LAPACKs differ in the last bits
        assert_parity(case.zg, case.th, cast, grad=case.grad, **kw)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.gradcheck))
def test_gradcheck(name, rng):
    case = CASES[name]
    checked = 0
    for inputs in case.samples(rng):
        if _gradcheck_ok(inputs):
            assert check_grad(case.zg, *inputs)
            checked += 1
    assert checked, "no sample could be gradchecked"


def test_atan2_gradient_at_origin_is_zero_like_torch():
    assert_parity(zg.atan2, torch.atan2, [np.array([0.0, 0.0, 1.0, 0.0]),
                                          np.array([0.0, -1.0, 0.0, 2.0])])


def test_addmm_beta0_ignores_nan_input():
    c = np.full((3, 4), np.nan)
    r = np.random.default_rng(0)
    assert_parity(lambda c, a, b: zg.addmm(c, a, b, beta=0),
                  lambda c, a, b: torch.addmm(c, a, b, beta=0), [c, U(r, 3, 2), U(r, 2, 4)])


def test_integer_inputs():
    x = np.array([[1, 2], [3, 4]])
    for zf, tf in [(zg.erf, torch.erf), (zg.tan, torch.tan), (zg.log2, torch.log2),
                   (zg.log10, torch.log10), (zg.erfc, torch.erfc)]:
        assert_parity(zf, tf, [x])
    assert_parity(zg.atan2, torch.atan2, [x, x.T.copy()])
    assert_parity(zg.atan2, torch.atan2, [x.astype(np.float32), x])
    assert_parity(lambda a, b: zg.einsum("ij,jk", a, b),
                  lambda a, b: torch.einsum("ij,jk", a, b), [x, x])
    assert_parity(lambda c, a, b: zg.addmm(c, a, b, beta=2, alpha=3),
                  lambda c, a, b: torch.addmm(c, a, b, beta=2, alpha=3), [x, x, x])
    assert_parity(lambda a, b: F.cosine_similarity(a, b),
                  lambda a, b: TF.cosine_similarity(a, b), [x, x.astype(np.float32)])


@pytest.mark.parametrize("num_classes", [-1, 5])
def test_one_hot(num_classes):
    samples = [np.array([0, 2, 1]), np.array([[3, 0], [1, 1]]), np.array(2),
               np.zeros((2, 0), np.int64)]
    for x in samples:
        if x.size == 0 and num_classes == -1:
            continue
        zo = F.one_hot(zg.tensor(x), num_classes)
        to = TF.one_hot(torch.from_numpy(x), num_classes)
        assert zo.dtype == zg.int64 and tuple(zo.shape) == tuple(to.shape)
        np.testing.assert_array_equal(zo.numpy(), to.numpy())
    assert tuple(F.one_hot(zg.tensor([1, 0]), num_classes=3).shape) == (2, 3)


def test_no_warnings_at_extreme_inputs():
    big = np.array([0.0, 1e-300, -1e-300, 1e300, -1e300, 1e4, -1e4, np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            for fn in (zg.erf, zg.erfc, zg.tan, zg.log2, zg.log10):
                x = zg.tensor(big, requires_grad=True)
                fn(x).sum().backward()
            a = zg.tensor(big[:7], requires_grad=True)
            b = zg.tensor(big[:7][::-1].copy(), requires_grad=True)
            zg.atan2(a, b).sum().backward()
            assert np.all(np.isfinite(a.grad.numpy())) and np.all(np.isfinite(b.grad.numpy()))
            a = zg.tensor([np.inf, 1.0, -np.inf], requires_grad=True)
            zg.atan2(a, zg.tensor([np.inf, np.inf, 2.0])).sum().backward()
            for dt in (np.float32, np.float64):
                x = zg.tensor(np.array([[1e30, -1e30], [0.0, 0.0], [1e-30, 0.0]], dt),
                              requires_grad=True)
                zg.linalg.vector_norm(x, dim=1).sum().backward()
                F.normalize(x).sum().backward()
                F.cosine_similarity(x, x * 2).sum().backward()
                zg.linalg.vector_norm(x, INF).backward()
                zg.linalg.vector_norm(x, -1, dim=1).sum().backward()
                zg.linalg.vector_norm(x, 0.5, dim=1).sum().backward()
    # torch's values at these points, including inf where the norm overflows (torch's
    # gradients there are nan in places, so only the values are compared)
    x = np.array([[1e30, -1e30], [0.0, 0.0], [3e-30, 4e-30]], np.float32)
    for p in (2, -1, INF):
        assert_parity(lambda t, p=p: zg.linalg.vector_norm(t, p, dim=1),
                      lambda t, p=p: torch.linalg.vector_norm(t, p, dim=1), [x], grad=False)
    assert_parity(lambda t: F.normalize(t[1:]), lambda t: TF.normalize(t[1:]), [x], grad=False)
    assert_parity(lambda t: F.normalize(t[1:2]), lambda t: TF.normalize(t[1:2]), [x])
    inf = np.array([np.inf, 1.0, -np.inf, 0.0])
    assert_parity(zg.atan2, torch.atan2, [inf, np.array([np.inf, np.inf, 2.0, -np.inf])])

BAD = {
    "erf_not_tensor": (lambda: zg.erf([1.0]), TypeError, "expected a Tensor"),
    "atan2_shapes": (lambda: zg.atan2(zg.ones(2, 3), zg.ones(4)), ValueError,
                     r"atan2: shapes \(2, 3\) and \(4,\) cannot be broadcast"),
    "lerp_int": (lambda: zg.lerp(zg.tensor([1, 2]), zg.tensor([3, 4]), 0.5), TypeError,
                 "floating point"),
    "lerp_dtypes": (lambda: zg.lerp(zg.ones(2), zg.ones(2, dtype=zg.float64), 0.5), TypeError,
                    "expected dtype float32 for end"),
    "lerp_weight_dtype": (lambda: zg.lerp(zg.ones(2), zg.ones(2), zg.ones(2, dtype=zg.float64)),
                          TypeError, "for weight"),
    "lerp_weight_str": (lambda: zg.lerp(zg.ones(2), zg.ones(2), "a"), TypeError, "weight must"),
    "lerp_shapes": (lambda: zg.lerp(zg.ones(2), zg.ones(3), 0.5), ValueError, "lerp: shapes"),
    "addmm_1d": (lambda: zg.addmm(zg.ones(3, 2), zg.ones(4), zg.ones(4, 2)), ValueError,
                 "mat1 must be a matrix, got 1-D"),
    "addmm_inner": (lambda: zg.addmm(zg.ones(3, 2), zg.ones(3, 4), zg.ones(5, 2)), ValueError,
                    r"cannot be multiplied \(3x4 and 5x2\)"),
    "addmm_input_shape": (lambda: zg.addmm(zg.ones(3, 1, 2), zg.ones(3, 4), zg.ones(4, 2)),
                          ValueError, r"input of shape \(3, 1, 2\) does not broadcast"),
    "addmm_dtypes": (lambda: zg.addmm(zg.ones(3, 2, dtype=zg.float64), zg.ones(3, 4),
                                      zg.ones(4, 2)), TypeError, "one dtype"),
    "addmm_int_beta": (lambda: zg.addmm(zg.tensor([[1]]), zg.tensor([[1]]), zg.tensor([[1]]),
                                        beta=0.5), TypeError, "beta must be an integer"),
    "einsum_dims": (lambda: zg.einsum("ij", zg.ones(2)), ValueError,
                    r"name 2 dims but it has 1 \(shape \(2,\)\)"),
    "einsum_out_missing": (lambda: zg.einsum("i,j->k", zg.ones(2), zg.ones(3)), ValueError,
                           "output subscript k does not appear"),
    "einsum_out_repeated": (lambda: zg.einsum("i,j->ii", zg.ones(2), zg.ones(3)), ValueError,
                            "appears more than once"),
    "einsum_count": (lambda: zg.einsum("i,j", zg.ones(2)), ValueError, "names 2 operand"),
    "einsum_bad_char": (lambda: zg.einsum("i1", zg.ones(2, 3)), ValueError, r"\[a-zA-Z\]"),
    "einsum_dot": (lambda: zg.einsum("i.j", zg.ones(2, 3)), ValueError, "not part of an ellipsis"),
    "einsum_diag_sizes": (lambda: zg.einsum("ii->i", zg.ones(2, 3)), ValueError,
                          "subscript i is repeated for operand 0 but the sizes don't match"),
    "einsum_broadcast": (lambda: zg.einsum("i,i", zg.ones(2), zg.ones(3)), ValueError,
                         "operands do not broadcast"),
    "einsum_scalar": (lambda: zg.einsum("ij->", 3.0), TypeError, "operand 0 must be a Tensor"),
    "einsum_sublist": (lambda: zg.einsum(zg.ones(2), ["a"]), ValueError, "sublist subscripts"),
    "einsum_arrow": (lambda: zg.einsum("i->i->i", zg.ones(2)), ValueError, "more than one"),
    "vector_norm_int": (lambda: zg.linalg.vector_norm(zg.tensor([1, 2])), TypeError,
                        "floating point"),
    "vector_norm_str": (lambda: zg.linalg.vector_norm(zg.ones(2), "fro"), TypeError,
                        "ord must be a number"),
    "vector_norm_narrow": (lambda: zg.linalg.vector_norm(zg.ones(2, dtype=zg.float64),
                                                         dtype=zg.float32), TypeError, "narrowing"),
    "vector_norm_empty_inf": (lambda: zg.linalg.vector_norm(zg.ones(0, 3), INF), ValueError,
                              "inf norm on an empty tensor"),
    "vector_norm_empty_neg": (lambda: zg.linalg.vector_norm(zg.ones(0, 3), -1, dim=0),
                              ValueError, "size 0"),
    "vector_norm_dim": (lambda: zg.linalg.vector_norm(zg.ones(2), dim=1), IndexError,
                        "Dimension out of range"),
    "vector_norm_repeated": (lambda: zg.linalg.vector_norm(zg.ones(2, 2), dim=(0, 0)),
                             ValueError, "multiple times"),
    "norm_3d_ord": (lambda: zg.linalg.norm(zg.ones(2, 3, 4), 2), ValueError, "1-D or 2-D, got 3-D"),
    "norm_dim_len": (lambda: zg.linalg.norm(zg.ones(2, 3, 4), 2, dim=(0, 1, 2)), ValueError,
                     "length 1 or 2"),
    "matrix_norm_order": (lambda: zg.linalg.norm(zg.ones(2, 3), 3), ValueError,
                          "order 3 not supported"),
    "matrix_norm_same_dims": (lambda: zg.linalg.norm(zg.ones(2, 3), "nuc", dim=(1, 1)),
                              ValueError, "dims must be different"),
    "matrix_norm_1d": (lambda: zg.linalg.matrix_norm(zg.ones(3)), ValueError,
                       "at least 2 dimensions"),
    "matrix_norm_empty_min": (lambda: zg.linalg.matrix_norm(zg.ones(3, 0), -1), ValueError,
                              "minimum over no columns"),
    "matrix_norm_empty_sv": (lambda: zg.linalg.matrix_norm(zg.ones(0, 3), -2), ValueError,
                             "minimum over no singular values"),
    "matrix_norm_int": (lambda: zg.linalg.matrix_norm(zg.tensor([[1, 2]])), TypeError,
                        "floating point"),
    "cosine_int": (lambda: F.cosine_similarity(zg.tensor([[1, 2]]), zg.tensor([[1, 2]])),
                   TypeError, "floating point"),
    "cosine_shapes": (lambda: F.cosine_similarity(zg.ones(2, 3), zg.ones(4, 3)), ValueError,
                      "cannot be broadcast"),
    "cosine_dim": (lambda: F.cosine_similarity(zg.ones(3), zg.ones(3)), IndexError,
                   "Dimension out of range"),
    "normalize_int": (lambda: F.normalize(zg.tensor([[1, 2]])), TypeError, "floating point"),
    "normalize_out": (lambda: F.normalize(zg.ones(2, 2), out=zg.ones(2, 2)), TypeError, "out="),
    "one_hot_float": (lambda: F.one_hot(zg.tensor([0.0, 1.0])), TypeError, "int64"),
    "one_hot_int32": (lambda: F.one_hot(zg.tensor([0, 1]).int()), TypeError, "int64"),
    "one_hot_negative": (lambda: F.one_hot(zg.tensor([0, -1])), ValueError, "non-negative"),
    "one_hot_too_big": (lambda: F.one_hot(zg.tensor([0, 2]), 2), ValueError,
                        "smaller than num_classes=2"),
    "one_hot_empty": (lambda: F.one_hot(zg.tensor(np.zeros(0, np.int64))), ValueError,
                      "empty tensor"),
    "one_hot_num_classes": (lambda: F.one_hot(zg.tensor([1]), 1.5), TypeError, "must be an int"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input(name):
    fn, exc, match = BAD[name]
    with pytest.raises(exc, match=match):
        fn()


def test_linalg_namespace():
    assert zg.linalg.norm is not None and zg.linalg.__name__ == "zengrad.linalg"
    assert zg.matmul is not None  # the ops keep their own home
