"""Reductions: every dim form (None, int, negative, tuple), keepdim; gradcheck and torch parity."""

import warnings

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array

DTYPES = [np.float64, np.float32]
SHAPE = (3, 4, 5)
# dim forms; torch.sum(x, dim=None) means all dims for the ops below
DIMS = [None, 0, -1, 1, (0, 2), (-1, -3), (0, 1, 2)]
SMALL = (2, 3, 2)  # gradcheck: few elements, every dim form


def _multi_dim_ops():
    """name -> (zengrad fn(x, dim, keepdim), torch fn(x, dim, keepdim))."""

    def t_dims(d):
        return tuple(range(3)) if d is None else d

    return {
        "sum": (
            lambda x, d, k: zg.sum(x, d, k),
            lambda x, d, k: torch.sum(x, t_dims(d), k),
        ),
        "mean": (
            lambda x, d, k: x.mean(d, keepdim=k),
            lambda x, d, k: x.mean(t_dims(d), keepdim=k),
        ),
        "amax": (
            lambda x, d, k: zg.amax(x, () if d is None else d, k),
            lambda x, d, k: torch.amax(x, () if d is None else d, k),
        ),
        "amin": (
            lambda x, d, k: x.amin(() if d is None else d, keepdim=k),
            lambda x, d, k: x.amin(() if d is None else d, keepdim=k),
        ),
        "var": (
            lambda x, d, k: zg.var(x, d, keepdim=k),
            lambda x, d, k: torch.var(x, d, keepdim=k),
        ),
        "var_biased": (
            lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
            lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
        ),
        "std": (
            lambda x, d, k: zg.std(x, d, keepdim=k),
            lambda x, d, k: torch.std(x, d, keepdim=k),
        ),
        "std_correction0": (
            lambda x, d, k: x.std(d, keepdim=k, correction=0),
            lambda x, d, k: x.std(d, keepdim=k, correction=0),
        ),
        "logsumexp": (
            lambda x, d, k: zg.logsumexp(x, t_dims(d), k),
            lambda x, d, k: torch.logsumexp(x, t_dims(d), k),
        ),
        "norm2": (
            lambda x, d, k: zg.norm(x, 2, d, k),
            lambda x, d, k: torch.norm(x, 2, d, k),
        ),
        "norm1": (
            lambda x, d, k: x.norm(1, d, k),
            lambda x, d, k: x.norm(1, d, k),
        ),
        "norm3": (
            lambda x, d, k: zg.norm(x, 3, d, k),
            lambda x, d, k: torch.norm(x, 3, d, k),
        ),
        "norm_inf": (
            lambda x, d, k: zg.norm(x, float("inf"), d, k),
            lambda x, d, k: torch.linalg.vector_norm(x, float("inf"), d, k),
        ),
    }


MULTI = _multi_dim_ops()


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", sorted(MULTI))
def test_multi_dim_reduction_gradcheck(name, keepdim, rng):
    zfn, _ = MULTI[name]
    x = rand_array(rng, SMALL)
    for d in DIMS:
        assert check_grad(lambda t, d=d: zfn(t, d, keepdim), x), (name, d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MULTI))
def test_multi_dim_reduction_parity(name, dtype, rng):
    zfn, tfn = MULTI[name]
    for keepdim in (False, True):
        for d in DIMS:
            x = rand_array(rng, SHAPE, dtype)
            assert_parity(
                lambda t, d=d, k=keepdim: zfn(t, d, k),
                lambda t, d=d, k=keepdim: tfn(t, d, k),
                [x],
            )


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_of_0d_and_size1(dtype, rng):
    for shape in [(), (1,), (1, 1), (4, 1)]:
        x = rand_array(rng, shape, dtype)
        assert_parity(lambda t: t.sum(), lambda t: t.sum(), [x])
        assert_parity(lambda t: t.mean(), lambda t: t.mean(), [x])
        assert_parity(lambda t: t.amax(), lambda t: t.amax(), [x])
        assert_parity(lambda t: t.max(), lambda t: t.max(), [x])
        assert_parity(lambda t: t.prod(), lambda t: t.prod(), [x])
        assert_parity(lambda t: t.logsumexp(-1), lambda t: t.logsumexp(-1), [x])
        assert_parity(lambda t: t.sum(-1, keepdim=True), lambda t: t.sum(-1, keepdim=True), [x])
        if dtype == np.float64:
            assert check_grad(lambda t: t.sum(-1) * t.mean(), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prod(dtype, rng):
    for d in [None, 0, -1, 1]:
        for keepdim in (False, True):
            x = rand_array(rng, SHAPE, dtype, 0.5, 1.5)
            if d is None:
                assert_parity(lambda t: t.prod(), lambda t: t.prod(), [x])
            else:
                assert_parity(
                    lambda t, d=d, k=keepdim: zg.prod(t, d, k),
                    lambda t, d=d, k=keepdim: torch.prod(t, d, k),
                    [x],
                )


def test_prod_gradient_with_zeros(rng):
    x = rand_array(rng, (3, 4))
    x[0, 1] = 0.0
    x[2, 0] = x[2, 3] = 0.0  # two zeros in a row: every gradient in that row is 0
    assert_parity(lambda t: t.prod(1), lambda t: t.prod(1), [x])
    assert_parity(lambda t: t.prod(), lambda t: t.prod(), [x[:2]])
    for d in (None, 0, -1):
        assert check_grad(lambda t, d=d: zg.prod(t, d), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_values_and_indices(op, dtype, rng):
    for d in (0, 1, -1, -3):
        for keepdim in (False, True):
            x = rand_array(rng, SHAPE, dtype)
            assert_parity(
                lambda t, d=d, k=keepdim: getattr(zg, op)(t, d, k),
                lambda t, d=d, k=keepdim: getattr(torch, op)(t, d, k),
                [x],
            )
            if dtype == np.float64:
                assert check_grad(lambda t, d=d, k=keepdim: getattr(t, op)(d, k)[0], x)
    out = getattr(zg, op)(zg.tensor(rand_array(rng, SHAPE)), 1)
    assert out.values.shape == (3, 5) and out.indices.dtype == zg.int64


def test_max_over_all_and_elementwise(rng):
    x, y = rand_array(rng, (3, 4)), rand_array(rng, (3, 4))
    assert_parity(zg.max, torch.max, [x])
    assert_parity(zg.min, torch.min, [x])
    assert_parity(zg.max, torch.max, [x, y])
    assert_parity(zg.min, torch.min, [x, y])


def test_max_with_dim_sends_tie_gradient_to_returned_index():
    x = zg.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    v, i = x.max(1)
    v.sum().backward()
    t = torch.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    tv, ti = t.max(1)
    tv.sum().backward()
    assert i.item() == ti.item()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_amax_ties_split_gradient_evenly():
    x = zg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    t = torch.tensor(x.detach().numpy().tolist(), requires_grad=True)
    x.amax(1).sum().backward()
    t.amax(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0, 0.5]])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, rng):
    x = rand_array(rng, SHAPE)
    for d in (None, 0, -1):
        for keepdim in (False, True):
            if d is None and keepdim:
                continue
            assert_parity(
                lambda t, d=d, k=keepdim: getattr(zg, op)(t, d, k),
                lambda t, d=d, k=keepdim: getattr(torch, op)(t, d, k),
                [x],
                grad=False,
            )


def test_integer_sum_is_int64_and_mean_of_int_raises():
    x = zg.tensor([[1, 2], [3, 4]])
    s = x.sum(0)
    assert s.dtype == zg.int64
    np.testing.assert_array_equal(s.numpy(), [4, 6])
    assert zg.tensor([True, True, False]).sum().item() == 2
    with pytest.raises(TypeError, match="floating point"):
        x.mean()


def test_var_of_a_single_element_with_correction_is_nan_like_torch():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        v = zg.var(zg.tensor([2.0]))
    with pytest.warns(UserWarning, match="degrees of freedom"):
        expected = torch.var(torch.tensor([2.0])).item()
    assert np.isnan(v.item()) and np.isnan(expected)


def test_logsumexp_is_stable_for_large_inputs():
    x = np.array([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4, -1e4]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_parity(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [x])


def test_logsumexp_handles_minus_inf_rows():
    x = zg.tensor([[-np.inf, -np.inf], [0.0, -np.inf]])
    t = torch.tensor([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(x.logsumexp(1).numpy(), t.logsumexp(1).numpy())


def test_norm_fro_and_zero_vector_gradient():
    x = zg.zeros(3, dtype=zg.float64, requires_grad=True)
    x.norm().backward()
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    t.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    y = np.arange(6.0).reshape(2, 3)
    assert_parity(lambda a: a.norm("fro"), lambda a: a.norm("fro"), [y])


def test_bad_dims_raise_index_error_naming_range():
    x = zg.ones(2, 3)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\].*got 2"):
        x.sum(2)
    with pytest.raises(IndexError, match="got -3"):
        x.max(-3)
    with pytest.raises(ValueError, match="multiple times"):
        x.sum((0, -2))


def test_std_gradient_of_a_constant_slice_is_zero_like_torch():
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    x = zg.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    x.std(1).sum().backward()
    xt.std(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_array_equal(x.grad.numpy()[0], 0.0)
    x32 = zg.tensor(a.astype(np.float32), requires_grad=True)
    x32.std(correction=0).backward()
    assert x32.grad.dtype == np.float32
    xt.grad = None
    xt.float().std(correction=0).backward()
    np.testing.assert_allclose(x32.grad.numpy(), xt.grad.numpy(), rtol=1e-5)


# ------------------------------------------------------------------ variants (issue 10)


@pytest.mark.parametrize("op", ["all", "any"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (-1, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any_dim_keepdim(op, dim, keepdim, rng):
    a = (rng.random((3, 4, 2)) < 0.7).astype(np.float32)
    a[0] = 1
    for x in (a, a.astype(np.int64), a.astype(bool), a.astype(np.uint8)):
        if dim is None:  # torch: all(input) or all(input, dim) (no keepdim without dim)
            zo, to = getattr(zg, op)(zg.from_numpy(x)), getattr(torch, op)(torch.from_numpy(x))
        else:
            zo = getattr(zg.from_numpy(x), op)(dim, keepdim=keepdim)
            to = getattr(torch.from_numpy(x), op)(dim, keepdim=keepdim)
        assert str(zo.dtype) == str(to.dtype).split(".")[-1]  # uint8 stays uint8, as torch
        np.testing.assert_array_equal(zo.numpy(), to.numpy())


def test_all_any_0d_and_empty():
    for x in (np.array(0.0), np.array(2.0), np.zeros((0, 3)), np.ones((2, 0))):
        for op in ("all", "any"):
            for args in ((), (0,), (-1, True)):
                zo = getattr(zg, op)(zg.from_numpy(x), *args)
                to = getattr(torch, op)(torch.from_numpy(x), *args)
                np.testing.assert_array_equal(zo.numpy(), to.numpy())


@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
@pytest.mark.parametrize("dtype", [zg.float64, zg.float32])
def test_reduction_dtype_argument(name, dtype, rng):
    tdt = torch.float64 if dtype == zg.float64 else torch.float32
    ints = rng.integers(-3, 4, (3, 4))
    for dim in (None, 0, -1) if name == "prod" else (None, 0, (0, 1)):
        zargs = () if dim is None else (dim,)
        assert_parity(lambda t, a=zargs: getattr(t, name)(*a, dtype=dtype),
                      lambda t, a=zargs: getattr(t, name)(*a, dtype=tdt), [ints])
    # a float input cast differentiably: gradients come back in the input's dtype
    x = rand_array(rng, (3, 4), np.float32)
    assert_parity(lambda t: getattr(zg, name)(t, dtype=dtype),
                  lambda t: getattr(torch, name)(t, dtype=tdt), [x], rtol=1e-5, atol=1e-5)
    assert check_grad(lambda t: getattr(zg, name)(t, 0, dtype=zg.float64), rand_array(rng, (2, 3)))


def test_reduction_dtype_refusals(rng):
    x = zg.tensor([1.5, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot carry a gradient"):
        zg.sum(x, dtype=zg.int64)
    with pytest.raises(RuntimeError):
        torch.tensor([1.5, 2.0], requires_grad=True).sum(dtype=torch.int64)
    with pytest.raises(TypeError, match="floating point or complex"):
        zg.mean(zg.tensor([1.0, 2.0]), dtype=zg.int64)
    with pytest.raises(TypeError, match="pass dtype="):
        zg.mean(zg.tensor([1, 2]))
    with pytest.raises(TypeError, match="one dim"):
        zg.prod(zg.ones(2, 3), (0, 1))
    assert_parity(lambda t: t.sum(dtype=zg.bool), lambda t: t.sum(dtype=torch.bool),
                  [np.array([True, False])])
    assert_parity(lambda t: t.prod(), lambda t: t.prod(), [np.array([True, True])])
    assert_parity(lambda t: t.prod(0), lambda t: t.prod(0), [np.array([2, 3], np.int32)])
    assert_parity(lambda t: t.mean(dtype=zg.float32), lambda t: t.mean(dtype=torch.float32),
                  [np.array([True, False, True])])


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_var_mean_std_mean(name, dtype, rng):
    x = rand_array(rng, (3, 4, 2), dtype)
    calls = [
        ((), {}), ((1,), {}), ((-1, False), {}), (((0, 2),), {"keepdim": True}),
        ((True,), {}), ((False,), {}), ((None,), {"correction": 0.5}),
        ((0,), {"correction": 2, "keepdim": True}),
    ]
    for args, kw in calls:
        assert_parity(lambda t, a=args, k=kw: getattr(zg, name)(t, *a, **k),
                      lambda t, a=args, k=kw: getattr(torch, name)(t, *a, **k), [x])
        zo = getattr(zg, name)(zg.from_numpy(x), *args, **kw)
        assert isinstance(zo, tuple) and len(zo) == 2
    assert check_grad(lambda t: getattr(zg, name)(t, 1)[0] + getattr(zg, name)(t, 1)[1],
                      rand_array(rng, (3, 4)))
    assert_parity(lambda t: getattr(t, name)(0), lambda t: getattr(torch, name)(t, 0), [x])


def test_var_mean_0d_and_size1(rng):
    for shape in ((), (1,), (3, 1)):
        x = rand_array(rng, shape)
        assert_parity(lambda t: zg.var_mean(t, correction=0), lambda t: torch.var_mean(
            t, correction=0), [x])
        assert_parity(lambda t: zg.std_mean(t, -1, correction=0), lambda t: torch.std_mean(
            t, -1, correction=0), [x])


@pytest.mark.parametrize("p", [0, -1, -2.5, float("-inf"), 0.5, 4])
@pytest.mark.parametrize("dim", [None, 1, (0, -1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_zero_and_negative_p(p, dim, keepdim, rng):
    x = rand_array(rng, (3, 4, 2))
    for dtype in DTYPES:
        assert_parity(lambda t: zg.norm(t, p, dim, keepdim), lambda t: torch.norm(t, p, dim,
                      keepdim), [x.astype(dtype)])
    assert check_grad(lambda t: zg.norm(t, p, dim, keepdim), x)


def test_norm_negative_p_with_zeros_and_empty_inf():
    x = np.array([[0.0, 1.0, -2.0], [3.0, 0.5, 1.5]])
    for p in (-1, float("-inf"), 0):
        assert_parity(lambda t, p=p: zg.norm(t, p, 1), lambda t, p=p: torch.norm(t, p, 1), [x])
    with pytest.raises(ValueError, match="empty tensor"):
        zg.norm(zg.zeros(0), float("inf"))
    with pytest.raises(RuntimeError):
        torch.norm(torch.zeros(0), float("inf"))
    with pytest.raises(ValueError, match="nan"):
        zg.norm(zg.ones(3), float("nan"))


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "logsumexp", "norm"])
def test_float16_reductions_accumulate_in_float32_as_torch(name, rng):
    # a float16 running sum loses digits; torch accumulates in float32 and rounds once
    x = np.asarray(rng.uniform(-4, 4, (64, 300)), np.float16)
    zf, tf = getattr(zg, name), getattr(torch, name)
    zo, to = zf(zg.from_numpy(x), 1), tf(torch.from_numpy(x), 1)
    assert zo.dtype == zg.float16
    np.testing.assert_array_equal(zo.numpy(), to.numpy())
    xg = zg.from_numpy(x).requires_grad_()
    zf(xg, 1).sum().backward()
    assert xg.grad.dtype == zg.float16


@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
def test_zero_degrees_of_freedom_warn_as_torch(name):
    for shape, kw in (((1,), {}), ((3,), {"correction": 3}), ((0, 2), {"dim": 0}),
                      ((2, 3), {"dim": 1, "correction": 3.5})):
        x = np.ones(shape)
        with pytest.warns(UserWarning, match="degrees of freedom"):
            zo = getattr(zg, name)(zg.from_numpy(x), **kw)
        with pytest.warns(UserWarning, match="degrees of freedom"):
            to = getattr(torch, name)(torch.from_numpy(x), **kw)
        zs, ts = (zo, to) if isinstance(zo, tuple) else ([zo], [to])
        for z, t in zip(zs, ts):
            np.testing.assert_array_equal(z.numpy(), t.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(zg, name)(zg.ones(2, 3), 1)


@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((0, 3), 1), ((0,), None), ((2, 0, 3), (0, 1))])
def test_mean_var_of_empty_slices_without_runtime_warnings(shape, dim):
    x = np.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # torch's (and zengrad's) dof warning
        for name in ("mean", "var", "std", "var_mean", "std_mean"):
            assert_parity(lambda t, n=name: getattr(zg, n)(t, dim),
                          lambda t, n=name: getattr(torch, n)(t, dim), [x])
