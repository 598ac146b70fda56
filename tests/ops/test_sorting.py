"""Scans, sorting and searching (cumsum, cumprod, cummax/cummin, logcumsumexp, sort, argsort,
msort, topk, kthvalue, unique, unique_consecutive, searchsorted, bucketize): one table entry
per op, from which parity with torch, float64 gradcheck and bad-input tests are made (the
runners are shared with tests/ops/test_indexing.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.ops.test_indexing import Bad, Case, _samples, _to, run_gradcheck, run_parity

R = np.random.default_rng(11)


def f(*shape):
    return R.uniform(-2.0, 2.0, size=shape)


def with_zeros(*shape, k=2):
    """Random values with k entries per row set to 0 (cumprod's hard case)."""
    x = f(*shape)
    flat = x.reshape(-1, shape[-1])
    for row in flat:  # test data only
        row[R.choice(shape[-1], size=min(k, shape[-1]), replace=False)] = 0.0
    return x


def ties(*shape):
    """Values from a few levels: many ties, for stable sorts."""
    return R.integers(0, 3, size=shape).astype(np.float64)


CASES: dict[str, Case] = {
    "cumsum": Case(lambda m, x: m.cumsum(x, 1), [(f(3, 4),), (f(2, 0),), (f(0, 2),), (f(1, 1),)]),
    "cumsum_neg_method": Case(lambda m, x: x.cumsum(-3), [(f(2, 3, 2),)]),
    "cumsum_0d": Case(lambda m, x: m.cumsum(x, dim=0), [(f(),)]),
    "cumsum_dtype": Case(lambda m, x: m.cumsum(x, 0, dtype=m.float64), [(f(4, 2),)]),
    "cumsum_int": Case(lambda m, x: m.cumsum(x, 0), [
        (R.integers(-5, 5, (4, 2)).astype(np.int32),), (np.array([True, False, True]),),
    ], grad=False),
    "cumsum_int_to_float": Case(lambda m, x: m.cumsum(x, 0, dtype=m.float32), [
        (np.array([1, 2, 3]),),
    ], grad=False),
    "cumprod": Case(lambda m, x: m.cumprod(x, 1), [
        (f(3, 4),), (with_zeros(4, 5, k=1),), (with_zeros(4, 5, k=2),), (f(2, 0),), (f(2, 1),),
        (f(0, 3),),
        (np.array([[0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 3.0, 0.0], [0.0, 1.0, 2.0, 3.0]]),),
    ]),
    "cumprod_neg_method": Case(lambda m, x: x.cumprod(dim=-2), [(with_zeros(3, 4, 2, k=1),)]),
    "cumprod_0d": Case(lambda m, x: m.cumprod(x, -1), [(f(),), (np.array(0.0),)]),
    "cumprod_dtype": Case(lambda m, x: m.cumprod(x, 0, dtype=m.float64), [(f(3, 2),)]),
    "cumprod_int": Case(lambda m, x: m.cumprod(x, 0), [
        (R.integers(-3, 4, (5, 2)).astype(np.int32),),
    ], grad=False),
    "sort": Case(lambda m, x: m.sort(x), [(f(3, 4),), (f(),), (f(2, 0),), (f(1),)]),
    "sort_dim_desc": Case(lambda m, x: m.sort(x, 0, True), [(f(4, 3),)]),
    "sort_kw_method": Case(lambda m, x: x.sort(dim=-2, descending=False), [(f(2, 3, 2),)]),
    "sort_stable_ties": Case(lambda m, x: m.sort(x, stable=True, dim=-1), [(ties(3, 8),)],
                             gradcheck=False),  # ties: not differentiable there
    "sort_stable_desc_ties": Case(lambda m, x: m.sort(x, descending=True, stable=True), [
        (ties(2, 9),), (R.integers(0, 3, (2, 9)),), (np.array([True, False, True, False]),),
    ], gradcheck=False),
    "sort_nan": Case(lambda m, x: m.sort(x, stable=True), [
        (np.array([1.0, np.nan, -1.0, np.nan, 0.5]),),
    ], grad=False),
    "sort_nan_desc": Case(lambda m, x: m.sort(x, descending=True, stable=True), [
        (np.array([1.0, np.nan, -1.0, np.nan, 0.5]),),
    ], grad=False),
    "argsort": Case(lambda m, x: m.argsort(x), [(f(3, 4),), (f(),), (f(0, 2),)], grad=False),
    "argsort_desc_dim": Case(lambda m, x: x.argsort(0, descending=True), [(f(4, 2),)],
                             grad=False),
    "argsort_stable": Case(lambda m, x: m.argsort(x, dim=1, stable=True), [(ties(3, 7),)],
                           grad=False),
    "topk": Case(lambda m, x: m.topk(x, 2), [(f(3, 5),), (f(4),), (f(2, 2),), (f(0, 3),)]),
    "topk_zero_k": Case(lambda m, x: m.topk(x, 0), [(f(3, 5),)]),
    "topk_smallest_dim": Case(lambda m, x: x.topk(3, dim=0, largest=False), [(f(4, 3),)]),
    "topk_kw": Case(lambda m, x: m.topk(x, k=1, dim=-2, largest=True, sorted=True), [
        (f(2, 3, 2),),
    ]),
    "topk_0d": Case(lambda m, x: m.topk(x, 1), [(f(),)]),
    "topk_int": Case(lambda m, x: m.topk(x, 2), [(np.array([4, 1, 9, 3]),)], grad=False),
    "unique": Case(lambda m, x: m.unique(x), [
        (R.integers(0, 4, (3, 4)),), (ties(5),), (np.array(2.0),), (np.zeros(0),),
        (np.array([True, False, True]),),
    ], grad=False),
    "unique_all": Case(
        lambda m, x: m.unique(x, sorted=True, return_inverse=True, return_counts=True),
        [(R.integers(-2, 3, (4, 3)),), (np.array(2),), (np.zeros(0, np.int64),)], grad=False),
    "unique_inverse_method": Case(lambda m, x: x.unique(return_inverse=True), [
        (R.integers(0, 3, (2, 5)),),
    ], grad=False),
    "unique_counts": Case(lambda m, x: m.unique(x, return_counts=True), [
        (np.array([3.0, np.nan, 1.0, 3.0, np.nan]),),
    ], grad=False),
    "unique_dim": Case(
        lambda m, x: m.unique(x, dim=0, return_inverse=True, return_counts=True), [
            (np.array([[1, 2], [0, 5], [1, 2], [0, 1]]),), (ties(6, 2),), (np.ones((0, 2)),),
            (R.integers(0, 2, (5, 2, 2)),),
        ], grad=False),
    "unique_dim_neg_method": Case(lambda m, x: x.unique(dim=-1, return_inverse=True), [
        (np.array([[1, 2, 1, 0], [0, 5, 0, 0]]),), (ties(2, 7),),
    ], grad=False),
    "unique_unsorted": Case(lambda m, x: m.unique(x, sorted=False), [
        (np.array([3, 1, 3, 2, 7, 5, 5, 0]),),
    ], grad=False),
    "cummax": Case(lambda m, x: m.cummax(x, 1), [(f(3, 5),), (f(2, 0),), (f(0, 3),), (f(1, 1),)]),
    "cummax_ties_method": Case(lambda m, x: x.cummax(dim=-1), [(ties(3, 7),)], gradcheck=False),
    "cummax_0d": Case(lambda m, x: m.cummax(x, 0), [(f(),)]),
    "cummax_nan": Case(lambda m, x: m.cummax(x, 0), [
        (np.array([1.0, np.nan, 2.0, np.nan, 0.5]),),
    ], grad=False),
    "cummax_int": Case(lambda m, x: m.cummax(x, 0), [(R.integers(0, 4, (6, 2)),)], grad=False),
    "cummin": Case(lambda m, x: m.cummin(x, -2), [(f(4, 3),)]),
    "cummin_ties": Case(lambda m, x: m.cummin(x, 0), [(ties(8),)], gradcheck=False),
    "logcumsumexp": Case(lambda m, x: m.logcumsumexp(x, 1), [
        (f(3, 4),), (f(2, 0),), (f(1, 1),), (np.array([[800.0, -800.0, 1.0, 900.0]]),),
    ]),
    "logcumsumexp_neginf": Case(lambda m, x: m.logcumsumexp(x, 1), [
        (np.array([[-np.inf, 0.5, -np.inf, 2.0], [0.5, -np.inf, 1.0, -np.inf]]),),
    ], gradcheck=False),  # finite differences at -inf are nan
    "logcumsumexp_method_neg": Case(lambda m, x: x.logcumsumexp(-3), [(f(3, 2, 2),)]),
    "logcumsumexp_0d": Case(lambda m, x: m.logcumsumexp(x, 0), [(f(),)]),
    "msort": Case(lambda m, x: m.msort(x), [(f(4, 3),), (f(5),), (f(0, 2),)]),
    "msort_method": Case(lambda m, x: x.msort(), [(f(3, 2),)]),
    "kthvalue": Case(lambda m, x: m.kthvalue(x, 2), [(f(3, 5),), (f(4),), (f(2, 1, 3),)]),
    "kthvalue_dim_keepdim": Case(lambda m, x: x.kthvalue(3, dim=0, keepdim=True), [
        (f(4, 3),),
    ]),
    "kthvalue_neg_dim": Case(lambda m, x: m.kthvalue(x, 1, -2), [(f(2, 3, 2),)]),
    "kthvalue_0d": Case(lambda m, x: m.kthvalue(x, 1), [(f(),)]),
    "kthvalue_0d_keepdim": Case(lambda m, x: m.kthvalue(x, 1, 0, True), [(f(),)]),
    "searchsorted": Case(lambda m, s, v: m.searchsorted(s, v), [
        (np.sort(f(6)), f(4)), (np.sort(f(6)), f(2, 3)), (np.array([1.0, 2.0, 2.0, 3.0]),
                                                         np.array([2.0, 0.0, 3.0, 9.0])),
        (np.sort(f(5)), f()), (np.zeros(0), f(3)), (np.sort(f(3)), np.zeros(0)),
    ], grad=False),
    "searchsorted_right": Case(lambda m, s, v: m.searchsorted(s, v, right=True), [
        (np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 0.0, 3.0, 9.0])),
    ], grad=False),
    "searchsorted_side_int32": Case(
        lambda m, s, v: m.searchsorted(s, v, side="right", out_int32=True), [
            (np.array([1, 2, 2, 3]), np.array([[2, 0], [3, 9]])),
        ], grad=False),
    "searchsorted_batched": Case(lambda m, s, v: m.searchsorted(s, v), [
        (np.sort(f(3, 5), axis=1), f(3, 4)), (np.sort(f(2, 2, 4), axis=-1), f(2, 2, 1)),
        (np.sort(ties(4, 6), axis=1), ties(4, 5)),  # ties between values and boundaries
    ], grad=False),
    "searchsorted_batched_right": Case(lambda m, s, v: m.searchsorted(s, v, right=True), [
        (np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 5.0]]), np.array([[2.0, 1.0], [0.0, 6.0]])),
        (np.sort(ties(2, 3, 6), axis=-1), ties(2, 3, 5)),
    ], grad=False),
    "searchsorted_scalar": Case(lambda m, s: m.searchsorted(s, 2.0), [
        (np.array([1.0, 2.0, 2.0, 3.0]),),
    ], grad=False),
    "searchsorted_sorter": Case(lambda m, s, o, v: m.searchsorted(s, v, sorter=o), [
        (np.array([3.0, 1.0, 2.0]), np.array([1, 2, 0]), np.array([1.5, 2.5, 0.0])),
    ], grad=False),
    "unique_consecutive": Case(
        lambda m, x: m.unique_consecutive(x, return_inverse=True, return_counts=True), [
            (np.array([[1, 1, 2], [2, 2, 2]]),), (ties(9),), (np.array(3.0),), (np.zeros(0),),
            (np.array([np.nan, np.nan, 1.0, 1.0]),), (np.array([True, True, False]),),
        ], grad=False),
    "unique_consecutive_plain": Case(lambda m, x: x.unique_consecutive(), [(ties(3, 4),)],
                                     grad=False),
    "unique_consecutive_dim": Case(
        lambda m, x: m.unique_consecutive(x, return_inverse=True, return_counts=True, dim=0), [
            (np.array([[1, 2], [1, 2], [0, 1], [1, 2]]),), (ties(6, 2),), (ties(5, 2, 2),),
            (np.ones((0, 2)),), (np.array([[1, 1, 2], [2, 2, 2]]),),
        ], grad=False),
    "unique_consecutive_neg_dim": Case(lambda m, x: m.unique_consecutive(x, dim=-1), [
        (ties(2, 7),),
    ], grad=False),
    "bucketize": Case(lambda m, v, b: m.bucketize(v, b), [
        (f(2, 3), np.sort(f(4))), (f(), np.sort(f(3))),
        (np.array([1.0, 2.0, 2.5]), np.array([1.0, 2.0, 3.0])),
    ], grad=False),
    "bucketize_right_int32": Case(lambda m, v, b: m.bucketize(v, b, right=True, out_int32=True),
                                  [(np.array([1.0, 2.0, 2.5]), np.array([1.0, 2.0, 3.0]))],
                                  grad=False),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,k", _samples(CASES))
def test_parity_with_torch(name, k, dtype):
    case = CASES[name]
    run_parity(case, case.samples[k], dtype)


@pytest.mark.parametrize(
    "name,k", _samples({n: c for n, c in CASES.items() if c.grad and c.gradcheck})
)
def test_gradcheck(name, k):
    case = CASES[name]
    run_gradcheck(case, case.samples[k])


BAD: dict[str, Bad] = {
    "cumsum_dim": Bad(lambda m, x: m.cumsum(x, 2), (f(2, 3),), IndexError,
                      "Dimension out of range"),
    "cumsum_0d_dim": Bad(lambda m, x: m.cumsum(x, 1), (f(),), IndexError,
                         "Dimension out of range"),
    "cumsum_no_dim": Bad(lambda m, x: m.cumsum(x), (f(2, 3),), TypeError, "dim"),
    "cumprod_dim": Bad(lambda m, x: m.cumprod(x, -3), (f(2, 3),), IndexError,
                       "Dimension out of range"),
    "sort_dim": Bad(lambda m, x: m.sort(x, 2), (f(2, 3),), IndexError, "Dimension out of range"),
    "argsort_dim": Bad(lambda m, x: m.argsort(x, -3), (f(2, 3),), IndexError,
                       "Dimension out of range"),
    "topk_k_large": Bad(lambda m, x: m.topk(x, 4), (f(2, 3),), RuntimeError,
                        "selected index k out of range"),
    "topk_k_negative": Bad(lambda m, x: m.topk(x, -1), (f(2, 3),), RuntimeError,
                           "selected index k out of range"),
    "topk_bool": Bad(lambda m, x: m.topk(x, 1), (np.array([True, False]),), RuntimeError,
                     "bool"),
    "topk_0d_dim": Bad(lambda m, x: m.topk(x, 1, dim=1), (f(),), IndexError,
                       "Dimension out of range"),
    "cummax_dim": Bad(lambda m, x: m.cummax(x, 2), (f(2, 3),), IndexError,
                      "Dimension out of range"),
    "logcumsumexp_int": Bad(lambda m, x: m.logcumsumexp(x, 0), (np.array([1, 2]),),
                            NotImplementedError, "not implemented"),
    "kthvalue_k": Bad(lambda m, x: m.kthvalue(x, 4), (f(2, 3),), RuntimeError,
                      "k out of range"),
    "kthvalue_k_zero": Bad(lambda m, x: m.kthvalue(x, 0), (f(2, 3),), RuntimeError,
                           "k out of range"),
    "searchsorted_shapes": Bad(lambda m, s, v: m.searchsorted(s, v),
                               (np.sort(f(2, 3), 1), f(3)), RuntimeError, "must match"),
    "searchsorted_side": Bad(lambda m, s, v: m.searchsorted(s, v, side="middle"),
                             (np.sort(f(3)), f(2)), RuntimeError, "side can only be"),
    "searchsorted_side_right": Bad(lambda m, s, v: m.searchsorted(s, v, side="left", right=True),
                                   (np.sort(f(3)), f(2)), RuntimeError, "opposites"),
    "bucketize_2d": Bad(lambda m, v, b: m.bucketize(v, b), (f(2), np.sort(f(2, 3), 1)),
                        RuntimeError, "must be 1 dimension"),
    "unique_consecutive_0d_dim": Bad(lambda m, x: m.unique_consecutive(x, dim=0), (f(),),
                                     IndexError, "no dimensions"),
    "unique_consecutive_empty_other": Bad(lambda m, x: m.unique_consecutive(x, dim=0),
                                          (np.ones((3, 0)),), RuntimeError, "0 sized"),
    "unique_dim_range": Bad(lambda m, x: m.unique(x, dim=2), (np.array([[1, 2], [1, 2]]),),
                            IndexError, "Dimension out of range"),
    "unique_dim_0d": Bad(lambda m, x: m.unique(x, dim=0), (np.array(3.0),), IndexError,
                         "no dimensions"),
    "unique_dim_empty_other": Bad(lambda m, x: m.unique(x, dim=0), (np.ones((2, 0)),),
                                  RuntimeError, "0 sized dimensions"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_raises_clearly(name):
    bad = BAD[name]
    with pytest.raises(bad.exc, match=bad.match):
        bad.fn(zg, *[_to(zg, a, True) for a in bad.inputs])
    if bad.torch:
        with pytest.raises(bad.exc):
            bad.fn(torch, *[_to(torch, a, True) for a in bad.inputs])


# ------------------------------------------------------------------ special rules


def test_return_types_are_named_tuples_like_torch():
    x = zg.tensor(f(2, 3))
    for fn, name in ((zg.sort, "sort"), (lambda t: zg.topk(t, 2), "topk"),
                     (lambda t: zg.cummax(t, 1), "cummax"), (lambda t: zg.cummin(t, 0), "cummin"),
                     (lambda t: zg.kthvalue(t, 1), "kthvalue")):
        out = fn(x)
        assert type(out).__name__ == name and isinstance(out, tuple)
        values, indices = out
        assert out.values is values and out.indices is indices
        assert indices.dtype == np.int64


def test_indices_are_cut_from_the_graph_values_are_not():
    x = zg.tensor(f(3, 4), requires_grad=True)
    for out in (zg.sort(x), zg.topk(x, 2)):
        assert out.values.requires_grad
        assert not out.indices.requires_grad and out.indices.grad_fn is None
    assert not zg.argsort(x).requires_grad
    for t in zg.unique(x, return_inverse=True, return_counts=True):
        assert not t.requires_grad


def test_topk_unsorted_returns_the_same_set():
    x = f(3, 6)
    v, i = zg.topk(zg.tensor(x), 3, sorted=False)
    tv, ti = torch.topk(torch.from_numpy(x), 3, sorted=False)
    np.testing.assert_allclose(np.sort(v.numpy(), 1), np.sort(tv.numpy(), 1))
    np.testing.assert_array_equal(np.sort(i.numpy(), 1), np.sort(ti.numpy(), 1))
    np.testing.assert_array_equal(np.take_along_axis(x, i.numpy(), 1), v.numpy())


def test_topk_ties_pick_the_lower_index_first():
    v, i = zg.topk(zg.tensor([1.0, 3.0, 3.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(i.numpy(), [1, 2])


def test_cumprod_gradient_with_zeros_is_exact():
    # y = [a, a*0, a*0*c]: dy/dx_1 (the zero) = g1 * a + g2 * a * c; entries after it get 0
    a, c = 1.5, -2.0
    x = zg.tensor([a, 0.0, c], dtype=zg.float64, requires_grad=True)
    zg.cumprod(x, 0).backward(zg.tensor([1.0, 1.0, 1.0], dtype=zg.float64))
    np.testing.assert_allclose(x.grad.numpy(), [1.0, a + a * c, 0.0])


def test_cumsum_of_large_dim_matches_torch():
    x = R.standard_normal((3, 500))
    assert_close = np.testing.assert_allclose
    assert_close(zg.cumsum(zg.tensor(x), 1).numpy(), torch.cumsum(torch.from_numpy(x), 1).numpy(),
                 rtol=1e-10, atol=1e-10)
