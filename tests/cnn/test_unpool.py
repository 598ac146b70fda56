"""max_pool1d/2d(return_indices=True), max_unpool1d/2d and nn.MaxUnpool1d/2d: torch's flat
per-plane int64 indices (ties, -inf, NaN), gradcheck, parity, layers, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from zengrad.nn import functional as F
from zengrad.nn.pooling import MaxPool1d, MaxPool2d, MaxUnpool1d, MaxUnpool2d

# kernel_size, stride, padding, dilation, ceil_mode
CASES_2D = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 2, 0, 1, True),
    (3, 2, 1, 1, True),
    ((2, 3), (1, 2), (1, 1), (2, 1), False),
    (2, 1, 0, 1, False),  # overlapping windows share maxima
    (1, 2, 0, 1, False),
]
CASES_1D = [(2, None, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False)]


def _distinct(rng, shape):
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 + rng.uniform(0, 0.01, shape)


@pytest.mark.parametrize("case", CASES_2D)
def test_max_pool2d_indices_parity(rng, case):
    k, s, p, d, c = case
    for x in (
        rng.standard_normal((2, 3, 7, 6)),
        np.round(rng.standard_normal((2, 3, 7, 6))),  # many ties: the first maximum wins
    ):
        assert_parity(
            lambda x: F.max_pool2d(x, k, s, p, d, c, return_indices=True),
            lambda x: TF.max_pool2d(x, k, s, p, d, c, return_indices=True),
            [x],
        )


@pytest.mark.parametrize("case", CASES_1D)
def test_max_pool1d_indices_parity(rng, case):
    k, s, p, d, c = case
    x = np.round(rng.standard_normal((2, 3, 9)) * 2)
    assert_parity(
        lambda x: F.max_pool1d(x, k, s, p, d, c, return_indices=True),
        lambda x: TF.max_pool1d(x, k, s, p, d, c, return_indices=True),
        [x],
    )


def test_indices_with_inf_and_nan(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    x[0, 0, :2, :2] = -np.inf  # a window of -inf beside -inf padding: its first real element
    x[0, 1, 1, 1] = np.nan
    x[0, 1, 2, 2] = np.nan  # two NaN in one window: the last one
    x[0, 0, 4, 4] = np.inf
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
        y, i = F.max_pool2d(zg.tensor(x), k, s, p, return_indices=True)
        yt, it = TF.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
        np.testing.assert_array_equal(i.numpy(), it.numpy())
        np.testing.assert_array_equal(y.numpy(), yt.numpy())


@pytest.mark.parametrize("case", CASES_2D)
def test_max_pool2d_indices_gradcheck(rng, case):
    k, s, p, d, c = case
    x = _distinct(rng, (2, 2, 7, 6))
    assert check_grad(lambda x: F.max_pool2d(x, k, s, p, d, c, return_indices=True)[0], x)


def test_indices_dtype_unbatched_and_grad_flag(rng):
    x = zg.tensor(rng.standard_normal((3, 6, 6)).astype(np.float32), requires_grad=True)
    y, i = F.max_pool2d(x, 2, return_indices=True)
    assert i.dtype == zg.int64 and i.shape == (3, 3, 3) and not i.requires_grad
    assert y.dtype == zg.float32 and y.requires_grad


# pool arguments, unpool output_size
UNPOOL_2D = [
    ((2, None, 0), None, (7, 6)),
    ((2, None, 0), (7, 7), (7, 7)),  # odd size restored with output_size
    ((3, 2, 1), (7, 6), (7, 6)),
    ((3, 2, 1), None, (7, 5)),
    ((3, 2, 1), (1, 2, 8, 7), (8, 7)),
    ((2, 1, 0), None, (5, 4)),  # overlapping windows: a repeated index
    (((2, 3), (2, 1), (1, 1)), [7, 6], (7, 6)),
]


@pytest.mark.parametrize("pool, size, in_hw", UNPOOL_2D)
def test_max_unpool2d_parity_and_gradcheck(rng, pool, size, in_hw):
    k, s, p = pool
    x = _distinct(rng, (2, 3, *in_hw))
    y, i = TF.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    yv, iv = y.numpy(), i.numpy()
    iz = zg.tensor(iv)
    assert_parity(
        lambda v: F.max_unpool2d(v, iz, k, s, p, size),
        lambda v: TF.max_unpool2d(v, torch.from_numpy(iv), k, s, p, size),
        [yv],
    )
    # where overlapping windows share a maximum, the unpool writes that index twice and
    # keeps the last value, yet its backward (torch's, matched above) reads g into both: a
    # finite difference sees only the last, so gradcheck runs where the indices are distinct
    if all(np.unique(plane).size == plane.size for plane in iv.reshape(6, -1)):
        assert check_grad(lambda v: F.max_unpool2d(v, iz, k, s, p, size), yv)


def test_max_unpool1d_and_pool_roundtrip(rng):
    x = _distinct(rng, (2, 3, 9))
    y, i = F.max_pool1d(zg.tensor(x), 3, 2, 1, return_indices=True)
    yt, it = TF.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert_parity(
        lambda v: F.max_unpool1d(v, i, 3, 2, 1),
        lambda v: TF.max_unpool1d(v, it, 3, 2, 1),
        [y.numpy()],
    )
    # end to end: pool, unpool, backward into the input
    assert_parity(
        lambda x: F.max_unpool1d(*F.max_pool1d(x, 2, return_indices=True), 2, output_size=[9]),
        lambda x: TF.max_unpool1d(*TF.max_pool1d(x, 2, return_indices=True), 2, output_size=[9]),
        [x],
    )
    y2, i2 = F.max_pool1d(zg.tensor(x), 2, return_indices=True)  # distinct indices
    assert check_grad(lambda v: F.max_unpool1d(v, i2, 2), y2.numpy())


def test_layers_match_torch(rng):
    pool, tpool = MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    unpool, tunpool = MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(unpool) == repr(tunpool) and repr(pool) == repr(tpool)
    assert repr(MaxUnpool2d((2, 3), 1, 1)) == repr(torch.nn.MaxUnpool2d((2, 3), 1, 1))
    assert repr(MaxUnpool1d(3, 2)) == repr(torch.nn.MaxUnpool1d(3, 2))
    x = rng.standard_normal((2, 3, 5, 4))
    assert_parity(
        lambda x: unpool(*pool(x), output_size=x.shape),
        lambda x: tunpool(*tpool(x), output_size=x.shape),
        [x],
    )
    x1 = rng.standard_normal((3, 8))  # unbatched 1-D
    p1, u1 = MaxPool1d(2, return_indices=True), MaxUnpool1d(2)
    tp1, tu1 = torch.nn.MaxPool1d(2, return_indices=True), torch.nn.MaxUnpool1d(2)
    assert_parity(lambda x: u1(*p1(x)), lambda x: tu1(*tp1(x)), [x1])
    assert zg.nn.MaxUnpool2d is MaxUnpool2d and zg.nn.MaxUnpool1d is MaxUnpool1d


def test_unpool_errors():
    y, i = F.max_pool2d(zg.zeros(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"invalid max index 710 .*4x4"):
        F.max_unpool2d(y, i + 700, 2)
    with pytest.raises(ValueError, match=r"invalid max index -1 "):
        F.max_unpool2d(y, i - 1, 2)
    with pytest.raises(ValueError, match=r"indices of the input's shape \(1, 1, 2, 2\)"):
        F.max_unpool2d(y, i[..., :1], 2)
    with pytest.raises(TypeError, match="indices must be int64"):
        F.max_unpool2d(y, i.to(zg.float32), 2)
    with pytest.raises(ValueError, match=r"invalid output_size \(6, 6\).*between 2 and 6"):
        F.max_unpool2d(y, i, 2, output_size=(6, 6))
    with pytest.raises(ValueError, match="output_size should be a sequence of 2 or 4"):
        F.max_unpool2d(y, i, 2, output_size=(4, 4, 4))
    with pytest.raises(ValueError, match=r"4-D \(batched\) or 3-D.*\(2, 2\)"):
        F.max_unpool2d(zg.zeros(2, 2), zg.zeros(2, 2).to(zg.int64), 2)
    with pytest.raises(TypeError, match="indices must be a Tensor"):
        F.max_unpool2d(y, i.numpy(), 2)


def test_max_pool_gradient_of_nan_and_inf_windows_as_torch(rng):
    """Without return_indices too: a NaN window's gradient goes to its last NaN, an all -inf
    window beside the padding to its first real element (torch's indices)."""
    x = rng.standard_normal((1, 2, 5, 5))
    x[0, 0, :2, :2] = -np.inf
    x[0, 1, 1, 1] = x[0, 1, 2, 2] = np.nan
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
        xz = zg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        F.max_pool2d(xz, k, s, p).sum().backward()
        TF.max_pool2d(xt, k, s, p).sum().backward()
        np.testing.assert_array_equal(xz.grad.numpy(), xt.grad.numpy())


def test_window_between_dilated_taps(rng):
    """A dilated window can hold only padding (L = 1, kernel 2, dilation 2, padding 1): torch
    gives -inf and its scan's start index (past the input); that window passes no gradient."""
    x = np.array([[[5.0], [-np.inf]]])  # (1, 2, 1)
    for ri in (True, False):
        xz = zg.tensor(x, requires_grad=True)
        out = F.max_pool1d(xz, 2, 3, 1, 2, return_indices=ri)
        ref = TF.max_pool1d(torch.tensor(x), 2, 3, 1, 2, return_indices=ri)
        for a, b in zip(out if ri else (out,), ref if ri else (ref,)):
            np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
        (out[0] if ri else out).sum().backward()
        np.testing.assert_array_equal(xz.grad.numpy(), 0)


def test_window_between_dilated_taps_2d():
    # W = 1: the torch start index of an empty window reads as the next row's element
    x = np.arange(5.0).reshape(1, 1, 5, 1)
    args = ((2, 2), (2, 1), (0, 1), (2, 2), False, True)
    assert_parity(lambda x: F.max_pool2d(x, *args), lambda x: TF.max_pool2d(x, *args), [x],
                  grad=False)
    xz = zg.tensor(x, requires_grad=True)
    F.max_pool2d(xz, *args)[0].sum().backward()
    np.testing.assert_array_equal(xz.grad.numpy(), 0)


def test_unpool_random_configs_match_torch():
    """Seeded sweep over pool geometry and output_size (valid, off by up to 2, empty)."""
    rng = np.random.default_rng(9)
    checked = refused = 0
    for _ in range(200):
        nd = int(rng.integers(1, 3))
        sp, k, s, p = (
            tuple(int(v) for v in rng.integers(lo, hi, size=nd))
            for lo, hi in ((2, 8), (1, 4), (1, 4), (0, 2))
        )
        x = rng.standard_normal((2, 2, *sp))
        pool_t = TF.max_pool1d if nd == 1 else TF.max_pool2d
        try:
            yt, it = pool_t(torch.tensor(x), k, s, p, 1, False, True)
        except RuntimeError:
            continue
        size = [v + int(rng.integers(-2, 3)) for v in sp] if rng.random() < 0.6 else None
        unpool_z = F.max_unpool1d if nd == 1 else F.max_unpool2d
        unpool_t = TF.max_unpool1d if nd == 1 else TF.max_unpool2d
        iz = zg.tensor(it.numpy())
        try:
            empty = unpool_t(yt, it, k, s, p, size).numel() == 0
        except (RuntimeError, ValueError):
            with pytest.raises(ValueError, match=f"max_unpool{nd}d"):
                unpool_z(zg.tensor(yt.numpy()), iz, k, s, p, size)
            refused += 1
            continue
        assert_parity(
            lambda v, a=(iz, k, s, p, size), f=unpool_z: f(v, *a),
            lambda v, a=(it, k, s, p, size), f=unpool_t: f(v, *a),
            [yt.numpy()],
            # torch's backward of an empty output fails (index 0 out of bounds); ours gives 0
            grad=not empty,
        )
        checked += 1
    assert checked > 50 and refused > 30


def test_integer_inputs():
    x = np.arange(-20, 16).reshape(1, 1, 6, 6) * 3
    for kw in (dict(), dict(padding=1), dict(padding=1, return_indices=True)):
        assert_parity(
            lambda x, kw=kw: F.max_pool2d(x, 3, **kw),
            lambda x, kw=kw: TF.max_pool2d(x, 3, **kw),
            [x],
            grad=False,
        )
    with pytest.raises(TypeError, match=r"avg_pool2d\(kernel_size=\(3, 3\)\): expected a floating"):
        F.avg_pool2d(zg.tensor(x), 3)


def test_with_indices_names(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    assert_parity(
        lambda x: F.max_pool2d_with_indices(x, 3, 2, 1),
        lambda x: TF.max_pool2d_with_indices(x, 3, 2, 1),
        [x],
    )
    assert_parity(
        lambda x: F.max_pool1d_with_indices(x, 2),
        lambda x: TF.max_pool1d_with_indices(x, 2),
        [x[:, :, 0]],
    )
