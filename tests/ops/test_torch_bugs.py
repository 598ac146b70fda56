"""Regressions for bugs that PyTorch's own OpInfo sample inputs found (issue 10).

Each test runs the same call in zengrad and torch (the oracle) and compares results,
dtypes and gradients, or checks that both refuse the input.
"""

import warnings

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array

RNG = np.random.default_rng(10)


# ----------------------------------------------------------------------------- var / std


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_var_std_positional_bool_is_unbiased(name, unbiased):
    # torch's var(input, unbiased) overload: x.var(False) is the biased variance, not dim 0
    x = rand_array(RNG, (3, 4))
    assert_parity(lambda t: getattr(t, name)(unbiased), lambda t: getattr(t, name)(unbiased), [x])
    assert_parity(
        lambda t: getattr(zg, name)(t, unbiased), lambda t: getattr(torch, name)(t, unbiased), [x]
    )


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_dim_then_unbiased_then_keepdim(name):
    x = rand_array(RNG, (3, 4))
    for args in [(0, True), (1, False), (-1, False, True), ((0, 1), True, True), (None, False)]:
        assert_parity(
            lambda t, a=args: getattr(t, name)(*a), lambda t, a=args: getattr(t, name)(*a), [x]
        )


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("correction", [0.5, 1.5, 2.25, 0, 3])
def test_var_std_fractional_correction(name, correction):
    x = rand_array(RNG, (4, 5))
    for dim in (None, 0, -1):
        assert_parity(
            lambda t, d=dim: getattr(zg, name)(t, d, correction=correction),
            lambda t, d=dim: getattr(torch, name)(t, d, correction=correction),
            [x],
        )
    assert check_grad(lambda t: getattr(zg, name)(t, 1, correction=correction), x)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_bad_arguments(name):
    x = zg.ones(3, 4)
    fn = getattr(zg, name)
    with pytest.raises(TypeError, match="either unbiased or correction"):
        fn(x, 1, True, correction=1)
    with pytest.raises(TypeError, match="both dim and unbiased"):
        fn(x, True, True)
    with pytest.raises(TypeError, match="floating point"):
        fn(zg.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="correction"):
        fn(x, correction="1")
    with pytest.raises(TypeError):
        getattr(torch, name)(torch.ones(3, 4), 1, True, correction=1)
    with pytest.raises(RuntimeError):
        getattr(torch, name)(torch.tensor([1, 2, 3]))


# ----------------------------------------------------------------------------- remainder


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)), ((2, 1), ())])
def test_remainder_is_differentiable(dtype, sa, sb):
    # torch: d/da = 1, d/db = -floor(a / b); zengrad used to cut the result from the graph
    a = rand_array(RNG, sa, dtype, -5, 5)
    b = np.asarray(RNG.uniform(0.6, 2.0, sb) * RNG.choice([-1, 1], sb), dtype)
    assert_parity(zg.remainder, torch.remainder, [a, b])
    assert_parity(lambda x, y: x % y, lambda x, y: x % y, [a, b])
    assert_parity(lambda x: x % 0.7, lambda x: x % 0.7, [a])
    assert_parity(lambda y: 5.5 % y, lambda y: 5.5 % y, [b], grad=False)
    y = 5.5 % zg.from_numpy(b).requires_grad_()
    with pytest.raises(RuntimeError, match="not implemented"):
        y.sum().backward()  # as torch: no derivative for remainder(Scalar, Tensor)


def test_remainder_gradcheck():
    # away from the jumps of floor(a / b): a / b not near an integer
    a = np.array([0.3, -1.2, 2.6, -3.3])
    b = np.array([0.7, 0.9, -1.1, 1.6])
    assert check_grad(zg.remainder, a, b)


# ----------------------------------------------------------------------------- clamp dtype


@pytest.mark.parametrize(
    "x_dtype,lo,hi",
    [
        (np.float32, np.array(0), np.array([1, 2, 3])),  # float32 with int tensor bounds
        (np.float32, np.array(-0.5), None),  # 0-d float64 bound: float32 wins
        (np.float32, np.zeros(3), None),  # dimensioned float64 bound: float64
        (np.float64, None, np.full(3, 0.5, np.float32)),
        (np.int64, np.array(0.5, np.float32), None),  # int input, float bound: float
        (np.int32, np.array([0, 1, 2]), None),  # int32 with int64 bound: int64
    ],
)
def test_clamp_promotes_as_torch(x_dtype, lo, hi):
    x = np.asarray(RNG.uniform(-3, 3, 3), x_dtype)
    inputs = [x] + [v for v in (lo, hi) if v is not None]

    def call(mod):
        def f(t, *bounds):
            it = iter(bounds)
            return mod.clamp(t, next(it) if lo is not None else None,
                             next(it) if hi is not None else None)
        return f

    assert_parity(call(zg), call(torch), inputs)


def test_clamp_number_bounds_and_broadcast_grad():
    x = rand_array(RNG, (3,), np.float32)
    assert_parity(lambda t: zg.clamp(t, 1, 2.5), lambda t: torch.clamp(t, 1, 2.5), [x])
    xi = np.array([1, 5, 3])
    assert_parity(lambda t: zg.clamp(t, 1.5), lambda t: torch.clamp(t, 1.5), [xi])
    # a bound of a larger shape than the input: x's gradient summed back to x's shape
    lo = rand_array(RNG, (2, 3))
    assert_parity(lambda t, b: zg.clamp(t, b), lambda t, b: torch.clamp(t, b), [x.astype(
        np.float64), lo])
    with pytest.raises(ValueError, match="clamp: shapes"):
        zg.clamp(zg.ones(3), zg.ones(4))
    with pytest.raises(ValueError, match="at least one"):
        zg.clamp(zg.ones(3))


# ----------------------------------------------------------------------------- logsumexp


@pytest.mark.parametrize("shape,dim", [((3, 0), 1), ((3, 0), 0), ((0,), 0), ((2, 0, 3), (1, 2))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_over_size_zero(shape, dim, keepdim):
    x = np.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_parity(
            lambda t: zg.logsumexp(t, dim, keepdim), lambda t: torch.logsumexp(t, dim, keepdim), [x]
        )


# ----------------------------------------------------------------------------- matmul k = 0


@pytest.mark.parametrize(
    "sa,sb",
    [((2, 3, 0), (0, 4)), ((3, 0), (0, 4)), ((0,), (0,)), ((2, 0), (0,)), ((2, 3, 4), (4, 0)),
     ((2, 3, 0), (2, 0, 5)), ((0, 3), (3, 2))],
)
def test_matmul_backward_with_size_zero_dims(sa, sb):
    assert_parity(zg.matmul, torch.matmul, [np.zeros(sa), np.zeros(sb)])


def test_linear_with_zero_in_features():
    x, w, b = np.zeros((2, 3, 0)), np.zeros((4, 0)), rand_array(RNG, (4,))
    import torch.nn.functional as TF

    assert_parity(zg.nn.functional.linear, TF.linear, [x, w, b])


# ----------------------------------------------------------------------------- norm fro/nuc


@pytest.mark.parametrize(
    "shape,dim", [((3, 4), None), ((2, 3, 4), (1, 2)), ((2, 3, 4), (0, -1)), ((3, 3), (1, 0))]
)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("p", ["fro", "nuc"])
def test_norm_fro_and_nuc(shape, dim, keepdim, p):
    x = rand_array(RNG, shape)
    assert_parity(lambda t: zg.norm(t, p, dim, keepdim), lambda t: torch.norm(t, p, dim, keepdim),
                  [x])
    assert check_grad(lambda t: zg.norm(t, p, dim, keepdim), x)


def test_norm_fro_defaults_and_refusals():
    x = rand_array(RNG, (2, 3, 4))
    assert_parity(lambda t: zg.norm(t), lambda t: torch.norm(t), [x])
    assert_parity(lambda t: t.norm(p="fro", dim=1), lambda t: t.norm(p="fro", dim=1), [x])
    with pytest.raises(ValueError, match="must be 2-D"):
        zg.norm(zg.ones(2, 3, 4), p="nuc")
    with pytest.raises(ValueError, match="two dims"):
        zg.norm(zg.ones(2, 3, 4), p="nuc", dim=1)
    with pytest.raises(ValueError, match="one dim or two"):
        zg.norm(zg.ones(2, 3, 4), p="fro", dim=(0, 1, 2))
    with pytest.raises(ValueError, match="'fro' or 'nuc'"):
        zg.norm(zg.ones(3), p="max")
    with pytest.raises(RuntimeError):
        torch.norm(torch.ones(2, 3, 4), p="nuc")


def test_norm_nuc_empty_matrix():
    assert_parity(lambda t: zg.norm(t, "nuc"), lambda t: torch.norm(t, "nuc"), [np.zeros((0, 3))])


# ----------------------------------------------------------------------------- integer / 0


def test_integer_true_division_by_zero_is_inf_nan():
    a, b = np.array([5, -5, 0, 7]), np.array([0, 0, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_parity(zg.div, torch.div, [a, b])
        assert_parity(lambda x: 5 / x, lambda x: 5 / x, [b])
        assert_parity(zg.div, torch.div, [a.astype(np.float32), b.astype(np.float32)])


@pytest.mark.parametrize(
    "zfn,tfn",
    [
        (zg.floor_divide, torch.floor_divide),
        (zg.remainder, torch.remainder),
        (lambda a, b: a // b, lambda a, b: a // b),
        (lambda a, b: a % b, lambda a, b: a % b),
        (lambda a, b: zg.div(a, b, rounding_mode="trunc"),
         lambda a, b: torch.div(a, b, rounding_mode="trunc")),
        (lambda a, b: zg.div(a, b, rounding_mode="floor"),
         lambda a, b: torch.div(a, b, rounding_mode="floor")),
    ],
)
def test_integer_floor_and_remainder_by_zero_raise(zfn, tfn):
    a, b = np.array([5, -5, 7]), np.array([1, 0, 2])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tfn(torch.from_numpy(a), torch.from_numpy(b))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        zfn(zg.from_numpy(a), zg.from_numpy(b))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        zfn(zg.from_numpy(a), 0)
    # float operands give inf / nan, as torch, without RuntimeWarnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_parity(zfn, tfn, [np.array([5.0, -5.0, 0.0]), np.array([0.0, 0.0, 0.0])],
                      grad=False)


def test_floor_divide_values_dtypes_and_no_derivative():
    a = np.array([7, -7, 6, -6, 0]), np.array([2, 2, -4, -4, 3])
    assert_parity(zg.floor_divide, torch.floor_divide, list(a))
    assert_parity(lambda x: x // 1.5, lambda x: x // 1.5, [a[0]])
    x = zg.tensor([1.5, -2.5], requires_grad=True)
    y = zg.floor_divide(x, 0.7)
    assert y.requires_grad  # as torch, whose backward then raises
    with pytest.raises(RuntimeError, match="derivative for 'floor_divide' is not implemented"):
        y.sum().backward()
    with pytest.raises(NotImplementedError):
        zg.floor_divide(zg.tensor([True]), zg.tensor([True]))


# ----------------------------------------------------------------------------- linspace


def test_linspace_tensor_start_computes_in_requested_dtype():
    for start, end in [(torch.tensor(0.1), 1), (0.1, torch.tensor(1.7, dtype=torch.float32))]:
        expected = torch.linspace(start, end, 7, dtype=torch.float64)
        zs = zg.tensor(start.item(), dtype=zg.float32) if isinstance(start, torch.Tensor) else start
        ze = zg.tensor(end.item(), dtype=zg.float32) if isinstance(end, torch.Tensor) else end
        got = zg.linspace(zs, ze, 7, dtype=zg.float64)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- add(alpha, other)


def test_deprecated_alpha_other_order():
    a, b = rand_array(RNG, (3,)), rand_array(RNG, (3,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for name in ("add", "sub"):
            assert_parity(lambda x, y, n=name: getattr(zg, n)(x, 2, y),
                          lambda x, y, n=name: getattr(torch, n)(x, 2, y), [a, b])
            assert_parity(lambda x, y, n=name: getattr(x, n)(2.5, y),
                          lambda x, y, n=name: getattr(x, n)(2.5, y), [a, b])
        for name in ("add_", "sub_"):
            zx, tx = zg.from_numpy(a.copy()), torch.from_numpy(a.copy())
            getattr(zx, name)(3, zg.from_numpy(b))
            getattr(tx, name)(3, torch.from_numpy(b))
            np.testing.assert_allclose(zx.numpy(), tx.numpy())
    with pytest.warns(UserWarning, match="deprecated"):
        zg.ones(3).add_(2, zg.ones(3))


def test_alpha_is_keyword_only_and_a_number():
    x = zg.ones(3)
    with pytest.raises(TypeError, match="alpha is keyword-only"):
        zg.add(x, x, 2)
    with pytest.raises(TypeError, match="alpha is keyword-only"):
        x.add_(x, 2)
    with pytest.raises(TypeError, match="must be a Number"):
        zg.add(x, x, alpha=zg.ones(3))
    with pytest.raises(TypeError, match="must be a Number"):
        x.add_(x, alpha=zg.ones(3))
    with pytest.raises(TypeError, match="integral"):
        zg.add(zg.tensor([1, 2]), zg.tensor([1, 2]), alpha=0.5)
    with pytest.raises(TypeError):
        torch.ones(3).add(torch.ones(3), 2)
    with pytest.raises(RuntimeError):
        torch.add(torch.tensor([1, 2]), torch.tensor([1, 2]), alpha=0.5)


# ----------------------------------------------------------------------------- promotion


@pytest.mark.parametrize(
    "da,db,sb",
    [
        (np.float32, np.float64, ()),  # 0-d float64 does not widen float32 (torch)
        (np.float32, np.float64, (3,)),  # a dimensioned one does
        (np.float16, np.float32, ()),
        (np.float64, np.float32, (1,)),
        (np.int32, np.int64, ()),  # int32 with a 0-d int64: int32
        (np.int32, np.float64, ()),  # int with a 0-d float64: float64
    ],
)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum"])
def test_binary_promotion_of_mixed_dtype_tensors(da, db, sb, op):
    a = np.asarray(RNG.uniform(1, 3, (2, 3)), da)
    b = np.asarray(RNG.uniform(1, 3, sb), db)
    grad = np.dtype(da).kind == "f" and np.dtype(db).kind == "f"
    # the computation runs in the narrower float: compare at its precision
    tol = {"rtol": 1e-3, "atol": 1e-3} if np.float16 in (da, db) else {"rtol": 1e-5, "atol": 1e-6}
    assert_parity(getattr(zg, op), getattr(torch, op), [a, b], grad=grad, **tol)
    assert_parity(getattr(zg, op), getattr(torch, op), [b, a], grad=grad, **tol)


@pytest.mark.parametrize("da,db,sb", [(np.float32, np.float64, ()), (np.float32, np.float64, (3,)),
                                      (np.int64, np.float64, ()), (np.int32, np.int64, (3,))])
def test_where_promotion_of_mixed_dtype_tensors(da, db, sb):
    cond = RNG.random((2, 3)) < 0.5
    a = np.asarray(RNG.uniform(1, 3, (2, 3)), da)
    b = np.asarray(RNG.uniform(1, 3, sb), db)
    grad = np.dtype(da).kind == "f"
    assert_parity(lambda x, y: zg.where(zg.from_numpy(cond), x, y),
                  lambda x, y: torch.where(torch.from_numpy(cond), x, y), [a, b], grad=grad)


# ----------------------------------------------------------------------------- dim=()


@pytest.mark.parametrize("empty", [(), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_empty_dim_list_reduces_every_dim(empty, keepdim):
    # torch: sum/mean/var/std/norm over dim=() or [] reduce all dims (zengrad reduced none)
    x = rand_array(RNG, (2, 3))
    for name in ("sum", "mean", "var", "std", "var_mean", "std_mean"):
        # torch 2.13's var/std backward over dim=() is inf everywhere (its own bug: the
        # backward reduces nothing); zengrad's gradient is the full reduction's, gradchecked
        exact_grad = name in ("sum", "mean")
        assert_parity(lambda t, n=name: getattr(zg, n)(t, empty, keepdim=keepdim),
                      lambda t, n=name: getattr(torch, n)(t, empty, keepdim=keepdim), [x],
                      grad=exact_grad)
        assert check_grad(lambda t, n=name: getattr(zg, n)(t, empty, keepdim=keepdim), x)
        full = getattr(zg, name)(zg.from_numpy(x), None, keepdim=keepdim)
        got = getattr(zg, name)(zg.from_numpy(x), empty, keepdim=keepdim)
        for f, g in zip(full if isinstance(full, tuple) else [full],
                        got if isinstance(got, tuple) else [got]):
            np.testing.assert_array_equal(f.numpy(), g.numpy())
    assert_parity(lambda t: zg.norm(t, 2, empty, keepdim), lambda t: torch.norm(t, 2, empty,
                  keepdim), [x])
    for name in ("all", "any"):  # these reduce nothing, also as torch
        zo = getattr(zg, name)(zg.from_numpy(x), empty)
        np.testing.assert_array_equal(zo.numpy(), getattr(torch, name)(torch.from_numpy(x),
                                                                       empty).numpy())
    with pytest.raises(ValueError, match="reduces nothing"):
        zg.logsumexp(zg.ones(2, 3), empty)


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_in_torch_result_type(op):
    a = np.array([0.1, 0.2, 0.30000001], np.float32)
    for b in (np.array(0.1), np.array(0.30000001), np.array([0.1, 0.2, 0.3])):
        zo = getattr(zg, op)(zg.from_numpy(a), zg.from_numpy(b))
        to = getattr(torch, op)(torch.from_numpy(a), torch.from_numpy(b))
        np.testing.assert_array_equal(zo.numpy(), to.numpy())


def test_inplace_arithmetic_dtype_and_shape_errors():
    for call in (lambda t: t.mul_(1.5), lambda t: t.div_(2), lambda t: t.add_(0.5)):
        with pytest.raises(RuntimeError, match="can't be cast"):
            call(torch.tensor([1, 2]))
        with pytest.raises(RuntimeError, match="can't be cast"):
            call(zg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="does not broadcast"):
        zg.ones(2).add_(zg.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, t = zg.tensor([1.0, -1.0, 0.0]), torch.tensor([1.0, -1.0, 0.0])
        x.div_(0)
        t.div_(0)
        np.testing.assert_array_equal(x.numpy(), t.numpy())
        x, t = zg.tensor([1, 2]), torch.tensor([1, 2])
        x.add_(zg.tensor([3, 4]), alpha=2).mul_(3).sub_(1)
        t.add_(torch.tensor([3, 4]), alpha=2).mul_(3).sub_(1)
        np.testing.assert_array_equal(x.numpy(), t.numpy())


# ----------------------------------------------------------------------------- OpInfo sweep


@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)), ((0, 1, 3),
                                   (0, 4, 3))])
def test_fmod_values_and_gradients(sa, sb):
    a = rand_array(RNG, sa, np.float64, -5, 5)
    b = np.asarray(RNG.uniform(0.6, 2.0, sb) * RNG.choice([-1, 1], sb))
    assert_parity(zg.fmod, torch.fmod, [a, b])
    assert_parity(lambda x, y: x.fmod(y), lambda x, y: x.fmod(y), [a, b])
    assert_parity(lambda x: zg.fmod(x, -0.7), lambda x: torch.fmod(x, -0.7), [a])
    ai, bi = np.array([7, -7, 7, -7]), np.array([3, 3, -3, -3])
    assert_parity(zg.fmod, torch.fmod, [ai, bi])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        zg.fmod(zg.from_numpy(ai), 0)
    assert check_grad(zg.fmod, np.array([0.3, -1.2, 2.6, -3.3]), np.array([0.7, 0.9, -1.1, 1.6]))


def test_max_min_of_empty_tensors_elementwise():
    a, b = np.zeros((0, 1, 3)), np.zeros((0, 4, 3))
    assert_parity(zg.max, torch.max, [a, b])
    assert_parity(zg.min, torch.min, [a, b])
    with pytest.raises(RuntimeError, match="non-empty"):
        zg.max(zg.zeros(0))


def test_norm_of_integers_is_refused_as_torch():
    with pytest.raises(TypeError, match="floating point"):
        zg.norm(zg.tensor([3, 4]))
    with pytest.raises(RuntimeError):
        torch.norm(torch.tensor([3, 4]))
    assert_parity(lambda t: zg.norm(t, dtype=zg.float64), lambda t: torch.norm(
        t.double()), [np.array([3, 4])])


@pytest.mark.parametrize("start,end,steps", [(0, 10, 11), (4.3, -3, 50), (-7.9, 13.2, 9),
                                             (5, 5, 3), (3, -3, 1), (0.5, 1, 0)])
def test_linspace_integer_dtype_and_device(start, end, steps):
    for zdt, tdt in ((zg.int64, torch.int64), (zg.float64, torch.float64)):
        got = zg.linspace(start, end, steps, dtype=zdt, device="cpu")
        want = torch.linspace(start, end, steps, dtype=tdt, device="cpu")
        assert str(got.dtype) == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match="not available"):
        zg.linspace(0, 1, 3, device="cuda")


@pytest.mark.parametrize("name", ["sum", "prod"])
@pytest.mark.parametrize("zdt,tdt", [(zg.int32, torch.int32), (zg.bool, torch.bool),
                                     (zg.int64, torch.int64)])
def test_integer_dtype_reductions_keep_the_dtype(name, zdt, tdt):
    x = np.asarray(RNG.integers(0, 3, (3, 4)))
    for args in ((), (1,), (0, True)):
        zo = getattr(zg.from_numpy(x), name)(*args, dtype=zdt)
        to = getattr(torch.from_numpy(x), name)(*args, dtype=tdt)
        assert str(zo.dtype) == str(to.dtype).split(".")[-1]
        np.testing.assert_array_equal(zo.numpy(), to.numpy())


def test_bool_tensors_refused_or_handled_as_torch():
    b = np.array([True, False, True])
    for call in [
        lambda m, t: m.pow(t, t), lambda m, t: m.matmul(t, t), lambda m, t: m.argmax(t),
        lambda m, t: m.round(t), lambda m, t: m.floor(t), lambda m, t: m.clamp(t, t, t),
        lambda m, t: m.clamp(t, True),
    ]:
        with pytest.raises((RuntimeError, NotImplementedError)):
            call(torch, torch.from_numpy(b))
        with pytest.raises(TypeError, match="bool"):
            call(zg, zg.from_numpy(b))
    other = np.array([False, False, True])
    for f in (lambda m, t, o: m.clamp(t, o), lambda m, t, o: m.clamp(t, None, o),
              lambda m, t, o: m.clamp_min(t, o), lambda m, t, o: m.clamp_max(t, o),
              lambda m, t, o: m.sign(t)):
        assert_parity(lambda t, o, f=f: f(zg, t, o), lambda t, o, f=f: f(torch, t, o), [b, other])


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_float16_with_numbers_out_of_its_range(op):
    x = np.array([1.0, -2.0, 0.5], np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for v in (1e6, -1e6, 3, 1e-9):
            assert_parity(lambda t, v=v: getattr(zg, op)(t, v), lambda t, v=v: getattr(torch, op)(
                t, v), [x], rtol=1e-3, atol=1e-3)
            assert_parity(lambda t, v=v: getattr(zg, op)(v, t), lambda t, v=v: getattr(torch, op)(
                torch.tensor(v, dtype=torch.float16), t), [x], rtol=1e-3, atol=1e-3)


# ----------------------------------------------------------------- found by tests/ops/registry


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_sigmoid_tanh_promote_integer_input(name, dtype):
    # torch computes them in the default float dtype; zengrad raised TypeError
    x = np.array([[-2, 0, 1], [3, 1, 0]]).astype(dtype)
    assert_parity(getattr(zg, name), getattr(torch, name), [x], grad=False)
    assert_parity(getattr(zg.nn.functional, name), getattr(torch.nn.functional, name), [x],
                  grad=False)


def test_integer_pow_with_negative_tensor_exponents():
    # torch: 1 / a^|b| truncated (1 at a = 1, +-1 at a = -1, else 0); NumPy raised ValueError
    a = np.array([1, 2, -1, -1, 0, 3, -2])
    b = np.array([-1, -2, -3, -2, -1, 2, 0])
    assert_parity(zg.pow, torch.pow, [a, b], grad=False)
    assert_parity(lambda x, y: x ** y, lambda x, y: x ** y, [a[:, None], b], grad=False)
    assert_parity(lambda y: 2 ** y, lambda y: 2 ** y, [b], grad=False)


def test_integer_pow_with_negative_scalar_exponent_raises_as_torch():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.pow(torch.tensor([2, 3]), -1)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        zg.pow(zg.tensor([2, 3]), -1)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        zg.tensor([2, 3]) ** -2
    assert_parity(lambda x: x ** -1, lambda x: x ** -1, [np.array([2.0, 4.0])])


@pytest.mark.parametrize("name", ["abs", "neg", "isnan", "isinf", "isfinite", "logical_not"])
def test_unary_ops_refuse_strings_with_their_own_error(name):
    # these reached NumPy's ufuncs, whose UFuncTypeError names no zengrad op
    with pytest.raises(TypeError):
        getattr(torch, name)("a")
    with pytest.raises(TypeError) as info:
        getattr(zg, name)("a")
    assert "ufunc" not in str(info.value)


@pytest.mark.parametrize("start,length", [(2, 2), (-4, 1), (0, -1), (4, 0)])
def test_narrow_refuses_a_window_outside_the_dim(start, length):
    # zengrad sliced silently, returning fewer than length elements
    with pytest.raises((RuntimeError, IndexError)):
        torch.narrow(torch.ones(2, 3), 1, start, length)
    with pytest.raises((RuntimeError, IndexError), match="narrow"):
        zg.narrow(zg.ones(2, 3), 1, start, length)


@pytest.mark.parametrize("start,length", [(-2, 2), (3, 0), (0, 3), (-3, 1)])
def test_narrow_in_range_as_torch(start, length):
    x = rand_array(RNG, (2, 3))
    assert_parity(lambda t: zg.narrow(t, 1, start, length),
                  lambda t: torch.narrow(t, 1, start, length), [x])


def test_gradcheck_perturbs_non_contiguous_inputs():
    # gradcheck perturbed x.reshape(-1), a copy for a transposed x: every numerical
    # derivative came out 0 and a correct gradient failed the check
    x = zg.from_numpy(np.ones((4, 3)).T).requires_grad_()
    assert not x.array.flags.c_contiguous
    assert zg.gradcheck(lambda v: (v * v).sum(0), [x])
    assert zg.gradcheck(lambda v: v.exp(), [zg.from_numpy(np.ones((5, 2))[::2]).requires_grad_()])


def test_view_of_a_non_contiguous_tensor_refuses_as_torch():
    """view never copies: a shape the strides can't give raises (writes would be lost)."""
    import torch

    z = zg.arange(6.0).reshape(2, 3).t()
    t = torch.arange(6.0).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(-1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        z.view(-1)
    assert tuple(z.view(3, 1, 2).shape) == tuple(t.view(3, 1, 2).shape)
    v = zg.arange(12.0).reshape(3, 4)[:, :2].view(3, 2, 1)  # compatible strides: a view
    assert v.shape == (3, 2, 1)


def test_contiguous_copies_a_strided_tensor_so_view_works():
    import torch

    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    z = zg.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    zy = z.transpose(1, 2).contiguous().view(2, 12)
    ty = t.transpose(1, 2).contiguous().view(2, 12)
    assert zy.is_contiguous() and not z.transpose(1, 2).is_contiguous()
    np.testing.assert_array_equal(zy.detach().numpy(), ty.detach().numpy())
    w = np.arange(24.0).reshape(2, 12)
    (zy * zg.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), t.grad.numpy())
    assert z.contiguous() is z  # already C-ordered: the tensor itself, as torch
