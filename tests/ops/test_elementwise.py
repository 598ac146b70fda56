"""Elementwise ops: gradcheck (float64) and parity with torch (float64 and float32)."""

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.helpers import assert_parity, away_from_zero, check_grad, rand_array

DTYPES = [np.float64, np.float32]

# shapes of (a, b): equal, trailing broadcast, both sides stretched, 0-d, size-1 dims
BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((1,), (5,)),
    ((4, 1), (1, 1)),
    ((), ()),
]


def _positive(rng, shape, dtype):
    return np.asarray(rng.uniform(0.5, 2.0, size=shape), dtype=dtype)


# name -> (zengrad fn, torch fn, sampler of valid inputs)
UNARY = {
    "neg": (zg.neg, torch.neg, rand_array),
    "exp": (zg.exp, torch.exp, rand_array),
    "log": (zg.log, torch.log, _positive),
    "log1p": (zg.log1p, torch.log1p, lambda r, s, d: np.asarray(r.uniform(-0.5, 2, s), d)),
    "sqrt": (zg.sqrt, torch.sqrt, _positive),
    "rsqrt": (zg.rsqrt, torch.rsqrt, _positive),
    "abs": (zg.abs, torch.abs, away_from_zero),
    "sign": (zg.sign, torch.sign, away_from_zero),
    "sin": (zg.sin, torch.sin, rand_array),
    "cos": (zg.cos, torch.cos, rand_array),
    "square": (zg.square, torch.square, rand_array),
    "reciprocal": (zg.reciprocal, torch.reciprocal, away_from_zero),
    "method_exp": (lambda x: x.exp(), lambda x: x.exp(), rand_array),
    "abs_operator": (lambda x: abs(x), lambda x: abs(x), away_from_zero),
}

BINARY = {
    "add": (zg.add, torch.add, rand_array),
    "sub": (zg.sub, torch.sub, rand_array),
    "mul": (zg.mul, torch.mul, rand_array),
    "div": (zg.div, torch.div, away_from_zero),
    "pow": (zg.pow, torch.pow, _positive),
    "maximum": (zg.maximum, torch.maximum, rand_array),
    "minimum": (zg.minimum, torch.minimum, rand_array),
    "add_alpha": (
        lambda a, b: zg.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), rand_array
    ),
    "sub_alpha": (
        lambda a, b: zg.sub(a, b, alpha=-3), lambda a, b: torch.sub(a, b, alpha=-3), rand_array
    ),
    "operators": (
        lambda a, b: (a + b) * a - b / 2 - (1 - a) ** 2,
        lambda a, b: (a + b) * a - b / 2 - (1 - a) ** 2,
        rand_array,
    ),
}

UNARY_SHAPES = [(), (1,), (5,), (2, 3), (2, 1, 3)]


@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name, shape, rng):
    zfn, _, sample = UNARY[name]
    assert check_grad(zfn, sample(rng, shape, np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_parity(name, dtype, rng):
    zfn, tfn, sample = UNARY[name]
    for shape in UNARY_SHAPES + [(4, 5, 6)]:
        assert_parity(zfn, tfn, [sample(rng, shape, dtype)])


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name, shapes, rng):
    zfn, _, sample = BINARY[name]
    a, b = (sample(rng, s, np.float64) for s in shapes)
    assert check_grad(zfn, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_parity(name, dtype, rng):
    zfn, tfn, sample = BINARY[name]
    for sa, sb in BROADCAST_PAIRS + [((6, 1, 5), (7, 5))]:
        assert_parity(zfn, tfn, [sample(rng, sa, dtype), sample(rng, sb, dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [2, 3, 0.5, -1.5, 0, 2.0])
def test_pow_scalar_exponent_and_base(scalar, dtype, rng):
    x = _positive(rng, (3, 4), dtype)
    assert_parity(lambda t: t**scalar, lambda t: t**scalar, [x])
    assert_parity(lambda t: zg.pow(t, scalar), lambda t: torch.pow(t, scalar), [x])
    if scalar > 0:  # scalar base: d(c^x)/dx = c^x ln c
        assert_parity(lambda t: scalar**t, lambda t: scalar**t, [x])
    if dtype == np.float64:
        assert check_grad(lambda t: t**scalar, x)


def test_pow_negative_base_integer_exponent(rng):
    x = away_from_zero(rng, (2, 5))
    assert_parity(lambda t: t**3, lambda t: t**3, [x])
    assert check_grad(lambda t: t**3, x)


def test_pow_gradient_of_exponent_at_zero_base_is_zero():
    a = zg.tensor([0.0, 2.0], dtype=zg.float64)
    b = zg.tensor([2.0, 3.0], dtype=zg.float64, requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 8 * np.log(2)])


def test_pow_zero_exponent_has_zero_gradient_at_zero_base_like_torch():
    a = np.array([0.0, 1.0, -2.0])
    e = np.array([0.0, 2.0, 0.0])
    for exp_z, exp_t in ((0, 0), (zg.tensor(e), torch.tensor(e))):
        x = zg.tensor(a, requires_grad=True)
        xt = torch.tensor(a, requires_grad=True)
        (x**exp_z).sum().backward()
        (xt**exp_t).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
        assert not np.isnan(x.grad.numpy()).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_operands_keep_tensor_dtype(dtype, rng):
    x = rand_array(rng, (3,), dtype)
    for f in (
        lambda t: t + 1.5, lambda t: 2 * t, lambda t: t / 3, lambda t: 1 - t,
        lambda t: 2.0 / (t + 5), lambda t: t * np.float64(2.0), lambda t: np.float32(2) - t,
    ):
        assert_parity(f, f, [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_number_bounds(dtype, rng):
    x = rand_array(rng, (4, 5), dtype)
    for lo, hi in [(-0.5, 0.5), (None, 0.3), (-0.3, None), (1.0, -1.0)]:
        assert_parity(
            lambda t, lo=lo, hi=hi: zg.clamp(t, lo, hi),
            lambda t, lo=lo, hi=hi: torch.clamp(t, lo, hi),
            [x],
        )
    assert_parity(lambda t: t.clip(-1, 1), lambda t: t.clip(-1, 1), [x])
    assert_parity(lambda t: zg.clip(t, max=0.0), lambda t: torch.clip(t, max=0.0), [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_tensor_bounds(dtype, rng):
    x = rand_array(rng, (4, 5), dtype)
    lo = rand_array(rng, (5,), dtype, -1.5, 0.0)
    hi = rand_array(rng, (4, 1), dtype, 0.0, 1.5)
    assert_parity(zg.clamp, torch.clamp, [x, lo, hi])
    assert_parity(lambda t, m: zg.clamp(t, min=m), lambda t, m: torch.clamp(t, min=m), [x, lo])
    assert_parity(lambda t, m: zg.clamp(t, max=m), lambda t, m: torch.clamp(t, max=m), [x, hi])
    if dtype == np.float64:
        assert check_grad(zg.clamp, x, lo, hi)


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="at least one of min and max"):
        zg.clamp(zg.ones(2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_where(dtype, rng):
    for sc, sa, sb in [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), (3, 4)), ((4,), (), (2, 4))]:
        cond = rng.random(sc) < 0.5
        a, b = rand_array(rng, sa, dtype), rand_array(rng, sb, dtype)
        assert_parity(lambda c, x, y: zg.where(c, x, y), torch.where, [cond, a, b])
        if dtype == np.float64:
            assert check_grad(lambda x, y, c=cond: zg.where(c, x, y), a, b)
    x = rand_array(rng, (3, 4), dtype)
    assert_parity(lambda t: zg.where(t > 0, t, 0.0), lambda t: torch.where(t > 0, t, 0.0), [x])
    assert_parity(lambda t: t.masked_fill(t < 0, 1.0), lambda t: t.masked_fill(t < 0, 1.0), [x])


def test_maximum_minimum_ties_split_the_gradient():
    a = zg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = zg.tensor([1.0, 5.0, 0.0], requires_grad=True)
    zg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])


def test_abs_and_sign_gradient_at_zero_is_zero():
    x = zg.zeros(3, requires_grad=True)
    (x.abs() + x.sign()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0])


@pytest.mark.parametrize(
    "name", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"]
)
def test_comparisons_and_logic_have_no_grad(name, rng):
    a = rng.integers(0, 3, (3, 4)).astype(np.float64)
    b = rng.integers(0, 3, (4,)).astype(np.float64)
    zfn, tfn = getattr(zg, name), getattr(torch, name)
    assert_parity(zfn, tfn, [a, b], grad=False)
    out = zfn(zg.tensor(a, requires_grad=True), zg.tensor(b))
    assert out.dtype == zg.bool and not out.requires_grad and out.grad_fn is None


def test_comparison_operators_and_logical_not(rng):
    a = rand_array(rng, (5,), np.float32)
    x, t = zg.tensor(a), torch.from_numpy(a)
    for f in (
        lambda u: u > 0, lambda u: u <= 0.5, lambda u: u == u, lambda u: u != 0,
        lambda u: ~(u > 0), lambda u: (u > 0) & (u < 1), lambda u: (u > 0) | (u < -1),
        lambda u: (u > 0) ^ (u < 1),
    ):
        np.testing.assert_array_equal(f(x).numpy(), f(t).numpy())
    np.testing.assert_array_equal(zg.logical_not(x > 0).numpy(), ~(a > 0))


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_no_grad_unary(name):
    a = np.array([np.nan, np.inf, -np.inf, 1.5, -2.5, 0.4])
    out = getattr(zg, name)(zg.tensor(a, requires_grad=True))
    np.testing.assert_array_equal(out.numpy(), getattr(torch, name)(torch.from_numpy(a)).numpy())
    assert out.grad_fn is None


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "fix", "frac"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rounding_values_and_zero_gradient(name, dtype):
    # torch records these (the output requires grad) with gradient 0 (frac: 1)
    a = np.array([np.nan, np.inf, -np.inf, 1.5, -2.5, 0.4, 2.5, -0.5, 3.0], dtype)
    if name == "frac":
        a = a[3:]
    assert_parity(getattr(zg, name), getattr(torch, name), [a])
    assert_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [a])


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_rounding_integers_unchanged(name):
    a = np.array([3, -7, 0])
    assert_parity(getattr(zg, name), getattr(torch, name), [a])


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, -1, -2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_decimals(decimals, dtype):
    a = np.asarray(np.random.default_rng(3).uniform(-500, 500, 40), dtype)
    a[:4] = [0.125, 0.135, 1.005, 250.0]
    assert_parity(lambda t: zg.round(t, decimals=decimals),
                  lambda t: torch.round(t, decimals=decimals), [a])
    assert_parity(lambda t: t.round(decimals=decimals),
                  lambda t: t.round(decimals=decimals), [a])
    # (the first values sit on rounding jumps: no finite difference there)
    assert check_grad(lambda t: zg.round(t, decimals=decimals) + t, a[4:].astype(np.float64))


def test_round_decimals_refusals():
    with pytest.raises(NotImplementedError, match="integer"):
        zg.round(zg.tensor([125, 135]), decimals=-1)
    with pytest.raises(NotImplementedError):
        torch.round(torch.tensor([125, 135]), decimals=-1)
    with pytest.raises(TypeError, match="decimals"):
        zg.round(zg.ones(2), decimals=1.5)


def test_integer_and_float_promotion():
    i = zg.tensor([1, 2, 3])
    f = zg.tensor([0.5, 0.5, 0.5])
    assert i.dtype == zg.int64
    assert (i + f).dtype == zg.float32
    assert (i * 2).dtype == zg.int64
    assert (i * 2.5).dtype == zg.float32
    assert (i / 2).dtype == zg.float32
    assert (f.double() + i).dtype == zg.float64
    np.testing.assert_allclose((i / 2).numpy(), [0.5, 1.0, 1.5])


def test_float32_stays_float32_through_ops_and_backward(rng):
    x = zg.tensor(rand_array(rng, (3, 4), np.float32), requires_grad=True)
    y = ((x * 2.5 + 1) ** 2 / 3).exp().log().sqrt().sin().sum()
    assert y.dtype == zg.float32
    y.backward()
    assert x.grad.dtype == zg.float32


def test_binary_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5,\)"):
        zg.ones(3, 4) + zg.ones(5)
    with pytest.raises(ValueError, match=r"where.*\(2,\)"):
        zg.where(zg.ones(2) > 0, zg.ones(3), 0.0)


# ------------------------------------------------------------------ variants (issue 10)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
def test_div_rounding_mode_float(mode, dtype, sa, sb):
    rng = np.random.default_rng(7)
    a, b = rand_array(rng, sa, dtype, -6, 6), away_from_zero(rng, sb, dtype)
    assert_parity(lambda x, y: zg.div(x, y, rounding_mode=mode),
                  lambda x, y: torch.div(x, y, rounding_mode=mode), [a, b])
    assert_parity(lambda x, y: x.div(y, rounding_mode=mode),
                  lambda x, y: x.div(y, rounding_mode=mode), [a, b])
    assert_parity(lambda x: zg.div(x, -0.7, rounding_mode=mode),
                  lambda x: torch.div(x, -0.7, rounding_mode=mode), [a])
    assert_parity(lambda y: zg.div(5, y, rounding_mode=mode),
                  lambda y: torch.div(5, y, rounding_mode=mode), [b])


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_mode_integers(mode):
    a = np.array([7, -7, 7, -7, 0, 9, -9], np.int64)
    b = np.array([2, 2, -2, -2, 3, 3, 4], np.int64)
    assert_parity(lambda x, y: zg.div(x, y, rounding_mode=mode),
                  lambda x, y: torch.div(x, y, rounding_mode=mode), [a, b])
    assert_parity(lambda x: zg.div(x, 3, rounding_mode=mode),
                  lambda x: torch.div(x, 3, rounding_mode=mode), [a])
    assert_parity(lambda x: zg.div(x, 2.5, rounding_mode=mode),
                  lambda x: torch.div(x, 2.5, rounding_mode=mode), [a])
    assert_parity(lambda y: zg.div(10, y, rounding_mode=mode),
                  lambda y: torch.div(10, y, rounding_mode=mode), [b])
    i32 = a.astype(np.int32)
    assert_parity(lambda x, y: zg.div(x, y, rounding_mode=mode),
                  lambda x, y: torch.div(x, y, rounding_mode=mode), [i32, b.astype(np.int32)])


def test_div_rounding_mode_refusals():
    with pytest.raises(ValueError, match="rounding_mode"):
        zg.div(zg.ones(2), 2, rounding_mode="round")
    with pytest.raises(ValueError, match="cannot be broadcast"):
        zg.div(zg.ones(2), zg.ones(3), rounding_mode="floor")
    with pytest.raises(NotImplementedError, match="bool"):
        zg.div(zg.tensor([True]), zg.tensor([True]), rounding_mode="trunc")


@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_min_max(name, dtype):
    rng = np.random.default_rng(8)
    x, bound = rand_array(rng, (3, 4), dtype), rand_array(rng, (4,), dtype)
    assert_parity(getattr(zg, name), getattr(torch, name), [x, bound])
    assert_parity(lambda t, b: getattr(t, name)(b), lambda t, b: getattr(t, name)(b), [x, bound])
    assert_parity(lambda t: getattr(zg, name)(t, 0.3), lambda t: getattr(torch, name)(t, 0.3), [x])
    assert_parity(lambda t: getattr(t, name)(1), lambda t: getattr(t, name)(1),
                  [np.array([0, 1, 2])])
    assert check_grad(getattr(zg, name), x.astype(np.float64), bound.astype(np.float64) + 0.01)


@pytest.mark.parametrize("equal_nan", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_isclose(equal_nan, dtype):
    nan, inf = np.nan, np.inf
    a = np.array([1.0, 1.0, nan, inf, -inf, inf, 0.0, 1e-9, 100.0], dtype)
    b = np.array([1.0 + 1e-6, 1.1, nan, inf, -inf, -inf, 1e-9, 0.0, 100.001], dtype)
    for kw in ({}, {"rtol": 0.2}, {"atol": 1e-3}, {"rtol": 0.0, "atol": 0.0}):
        zo = zg.isclose(zg.from_numpy(a), zg.from_numpy(b), equal_nan=equal_nan, **kw)
        to = torch.isclose(torch.from_numpy(a), torch.from_numpy(b), equal_nan=equal_nan, **kw)
        assert zo.dtype == zg.bool
        np.testing.assert_array_equal(zo.numpy(), to.numpy())
    zo = zg.from_numpy(a).isclose(zg.from_numpy(b[:1]))  # broadcasting, as a method
    np.testing.assert_array_equal(
        zo.numpy(), torch.from_numpy(a).isclose(torch.from_numpy(b[:1])).numpy()
    )


def test_isclose_integers_and_refusals():
    a, b = np.array([1, 2, 10]), np.array([1, 3, 12])
    zo = zg.isclose(zg.from_numpy(a), zg.from_numpy(b), rtol=0, atol=1)
    to = torch.isclose(torch.from_numpy(a), torch.from_numpy(b), rtol=0, atol=1)
    np.testing.assert_array_equal(zo.numpy(), to.numpy())
    with pytest.raises(TypeError, match="same dtype"):
        zg.isclose(zg.tensor([1, 2]), zg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="two tensors"):
        zg.isclose(zg.tensor([1.0]), 1.0)
    with pytest.raises(ValueError, match="greater than or equal to zero"):
        zg.isclose(zg.ones(1), zg.ones(1), rtol=-1)


def test_tensor_shape_and_new_methods():
    x = zg.tensor(np.arange(6.0), requires_grad=True)
    t = torch.tensor(np.arange(6.0), requires_grad=True)
    other_z, other_t = zg.zeros(2, 3, dtype=zg.int32), torch.zeros(2, 3, dtype=torch.int32)
    for meth in ("view_as", "reshape_as"):
        zo, to = getattr(x, meth)(other_z), getattr(t, meth)(other_t)
        assert zo.shape == tuple(to.shape) and zo.requires_grad
    assert x.type_as(other_z).dtype == zg.int32
    assert zg.ones(1, 3).expand_as(other_z).shape == (2, 3)
    assert x.nelement() == x.numel() == 6 and other_z.ndimension() == other_z.dim() == 2
    y = zg.tensor([1.0], dtype=zg.float64)
    ty = torch.tensor([1.0], dtype=torch.float64)
    cases = [
        ("new_zeros", (2, 3), {}), ("new_ones", ((2, 3),), {"dtype": "int32"}),
        ("new_empty", (4,), {}), ("new_full", ((2,), 3.7), {}),
        ("new_full", ([2], 3), {"dtype": "int32"}), ("new_tensor", ([1, 2],), {}),
        ("new_tensor", (np.array([1, 2], np.int32),), {}), ("new_ones", ([],), {}),
    ]
    for meth, args, kw in cases:
        zo = getattr(y, meth)(*args, **{k: getattr(zg, v) for k, v in kw.items()})
        to = getattr(ty, meth)(*args, **{k: getattr(torch, v) for k, v in kw.items()})
        assert zo.shape == tuple(to.shape) and str(zo.dtype) == str(to.dtype).split(".")[-1]
        if meth != "new_empty":
            np.testing.assert_array_equal(zo.numpy(), to.numpy())
    z = y.new_full((2,), 3, requires_grad=True)
    assert z.requires_grad and z.is_leaf
    assert zg.tensor([1]).new_tensor([1.5]).dtype == zg.int64
    with pytest.raises(RuntimeError, match="not available"):
        y.new_zeros(2, device="cuda")
    with pytest.raises(TypeError, match="must be a Tensor"):
        x.view_as((2, 3))
    with pytest.raises(TypeError, match="must be a Tensor"):
        x.type_as(np.float32)


SIZE0_PAIRS = [((0,), (0,)), ((2, 0), (0,)), ((3, 1), (1, 0)), ((0, 3), ())]


@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS + SIZE0_PAIRS)
def test_remainder_clamp_div_modes_broadcast_and_size0(sa, sb):
    rng = np.random.default_rng(11)
    for dtype in DTYPES:
        a = rand_array(rng, sa, dtype, -4, 4)
        b = away_from_zero(rng, sb, dtype, 0.6, 2.0)
        assert_parity(zg.remainder, torch.remainder, [a, b])
        assert_parity(lambda x, y: x.remainder(y), lambda x, y: x.remainder(y), [a, b])
        for mode in ("trunc", "floor"):
            assert_parity(lambda x, y, m=mode: zg.div(x, y, rounding_mode=m),
                          lambda x, y, m=mode: torch.div(x, y, rounding_mode=m), [a, b])
        lo, hi = rand_array(rng, sb, dtype, -2, 0), rand_array(rng, sb, dtype, 0, 2)
        assert_parity(zg.clamp, torch.clamp, [a, lo, hi])
        assert_parity(lambda x, y: x.floor_divide(y), lambda x, y: x.floor_divide(y), [a, b],
                      grad=False)
    # gradcheck away from the kinks: clamp bounds apart from x, remainder away from jumps
    a = rand_array(rng, sa, np.float64, -4, 4)
    lo = np.full(sb, -1.03)
    hi = np.full(sb, 1.07)
    assert check_grad(zg.clamp, a, lo, hi)
    # x = k/10 + 0.033 is never a multiple of 0.7: no jump of floor(x / 0.7) within eps
    assert check_grad(lambda x: zg.remainder(x, 0.7) * x, np.round(a, 1) + 0.033)


def test_scalar_first_floor_divide_and_clamp_inplace():
    b = np.array([1.5, -2.0, 4.0])
    assert_parity(lambda y: 5 // y, lambda y: 5 // y, [b], grad=False)
    assert_parity(lambda y: 5 % y, lambda y: 5 % y, [b], grad=False)
    x, t = zg.tensor([-2.0, 0.5, 3.0]), torch.tensor([-2.0, 0.5, 3.0])
    x.clamp_(zg.tensor([-1.0, 1.0, 0.0]), zg.tensor(2.0))
    t.clamp_(torch.tensor([-1.0, 1.0, 0.0]), torch.tensor(2.0))
    x.clamp_(max=1.5)
    t.clamp_(max=1.5)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    with pytest.raises(ValueError, match="at least one"):
        x.clamp_()
