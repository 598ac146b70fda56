"""F.interpolate (nearest, nearest-exact, linear, bilinear, trilinear, bicubic, area) and
nn.Upsample:
gradcheck, parity with torch (values and gradients) over random configs, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
import zengrad.ops.interpolate as interp
from tests.helpers import assert_parity, check_grad
from zengrad.nn import functional as F
from zengrad.nn.upsampling import Upsample

# (input shape, mode, kwargs)
CASES = [
    ((2, 3, 4, 5), "nearest", dict(scale_factor=2)),
    ((1, 2, 5, 4), "nearest", dict(size=(7, 3))),
    ((2, 1, 10, 3), "nearest", dict(size=(6, 8))),  # 10/6: float32 boundary rounding
    ((1, 2, 6, 6), "nearest", dict(scale_factor=(1 / 3, 0.5))),  # downsampling
    ((2, 3, 7), "nearest", dict(scale_factor=2.5)),
    ((2, 3, 7), "nearest", dict(size=4)),
    ((1, 2, 5, 4), "nearest-exact", dict(size=(8, 3))),
    ((2, 2, 4, 5), "bilinear", dict(scale_factor=2)),
    ((2, 2, 4, 5), "bilinear", dict(scale_factor=2, align_corners=True)),
    ((1, 3, 5, 7), "bilinear", dict(size=(3, 11))),
    ((1, 3, 5, 7), "bilinear", dict(size=(3, 11), align_corners=True)),
    ((1, 1, 1, 1), "bilinear", dict(size=(3, 2))),  # size-1 input
    ((1, 1, 4, 4), "bilinear", dict(size=(1, 1), align_corners=True)),  # size-1 output
    ((2, 2, 6, 5), "bilinear", dict(scale_factor=(1.7, 0.6))),
    ((2, 2, 6, 5), "bilinear", dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((2, 3, 6), "linear", dict(scale_factor=1.5)),
    ((2, 3, 6), "linear", dict(size=13, align_corners=True)),
    ((1, 2, 9), "linear", dict(size=4)),
    ((1, 2, 3, 4, 2), "trilinear", dict(scale_factor=2)),
    ((1, 2, 3, 4, 2), "nearest", dict(size=(2, 5, 3))),
    ((0, 2, 3, 4), "bilinear", dict(scale_factor=2)),  # empty batch
    ((1, 2, 3, 4), "bilinear", dict(size=(3, 4))),  # same size: a copy
    ((2, 2, 4, 5), "bicubic", dict(scale_factor=2)),
    ((1, 2, 5, 4), "bicubic", dict(size=(3, 9), align_corners=True)),
    ((1, 1, 1, 3), "bicubic", dict(size=(4, 2))),  # size-1 input: clamped taps
    ((2, 2, 6, 7), "bicubic", dict(scale_factor=(0.5, 1.7))),
    ((2, 3, 6, 7), "area", dict(size=(4, 3))),
    ((2, 3, 9), "area", dict(scale_factor=0.5)),
    ((1, 2, 4, 4), "area", dict(size=(6, 5))),  # (area upsampling: overlapping windows)
    ((2, 2, 9, 8), "bilinear", dict(size=(4, 3), antialias=True)),
    ((1, 2, 7, 12), "bilinear", dict(scale_factor=(0.4, 1.5), antialias=True)),
    ((1, 2, 9, 8), "bilinear", dict(size=(3, 5), antialias=True, align_corners=True)),
    ((2, 2, 10, 7), "bicubic", dict(size=(4, 3), antialias=True)),
    ((1, 1, 5, 6), "bicubic", dict(scale_factor=(2.0, 0.5), antialias=True)),
]


@pytest.mark.parametrize("shape, mode, kwargs", [c for c in CASES if c[0][0] > 0])
def test_interpolate_gradcheck(rng, shape, mode, kwargs):
    x = rng.standard_normal(shape)
    assert check_grad(lambda x: F.interpolate(x, mode=mode, **kwargs), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, mode, kwargs", CASES)
def test_interpolate_parity(rng, shape, mode, kwargs, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    assert_parity(
        lambda x: F.interpolate(x, mode=mode, **kwargs),
        lambda x: TF.interpolate(x, mode=mode, **kwargs),
        [x],
    )


@pytest.mark.parametrize("shape, mode, kwargs", CASES[::2])
def test_interpolate_tap_path(rng, monkeypatch, shape, mode, kwargs):
    """Long axes skip the dense matrix (gathers forward, run passes backward): the same
    results, forced here on small inputs."""
    monkeypatch.setattr(interp, "DENSE_MAX", 0)
    x = rng.standard_normal(shape)
    assert_parity(
        lambda x: F.interpolate(x, mode=mode, **kwargs),
        lambda x: TF.interpolate(x, mode=mode, **kwargs),
        [x],
    )
    if shape[0]:
        assert check_grad(lambda x: F.interpolate(x, mode=mode, **kwargs), x)


def test_bilinear_with_inf_uses_the_taps(rng):
    """An inf must not spread along its row through the dense matrix's zeros (0 * inf)."""
    x = rng.standard_normal((1, 2, 4, 5))
    x[0, 1, 2, 3] = np.inf
    assert_parity(
        lambda x: F.interpolate(x, size=(7, 9), mode="bilinear"),
        lambda x: TF.interpolate(x, size=(7, 9), mode="bilinear"),
        [x],
        grad=False,
    )


def test_interpolate_random_configs_match_torch():
    """A seeded sweep: random ranks, sizes, scales and modes; outputs and gradients."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        rank = int(rng.integers(3, 5))
        spatial = tuple(int(v) for v in rng.integers(1, 10, size=rank - 2))
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        x = rng.standard_normal((int(rng.integers(1, 3)), 2, *spatial)).astype(dtype)
        linear = "linear" if rank == 3 else "bilinear"
        mode = str(rng.choice(["nearest", "nearest-exact", linear]))
        if rng.random() < 0.5:
            kw = dict(size=tuple(int(v) for v in rng.integers(1, 20, size=rank - 2)))
        else:
            choices = [0.5, 1.5, 2.0, 3.0, 1 / 3, 2.7, 1.25]
            factors = tuple(float(f) for f in rng.choice(choices, size=rank - 2))
            if any(int(n * f) == 0 for n, f in zip(spatial, factors)):
                continue
            kw = dict(scale_factor=factors, recompute_scale_factor=bool(rng.random() < 0.3))
        if mode == linear:
            kw["align_corners"] = bool(rng.random() < 0.5)
        assert_parity(
            lambda x, kw=kw, mode=mode: F.interpolate(x, mode=mode, **kw),
            lambda x, kw=kw, mode=mode: TF.interpolate(x, mode=mode, **kw),
            [x],
        )
        checked += 1
    assert checked > 40


def test_antialias_random_configs_match_torch():
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(60):
        spatial = tuple(int(v) for v in rng.integers(1, 14, size=2))
        x = rng.standard_normal((2, 2, *spatial))
        mode = str(rng.choice(["bilinear", "bicubic"]))
        size = tuple(int(v) for v in rng.integers(1, 16, size=2))
        if size[1] == 1 and size[0] != spatial[0]:
            continue  # torch's bug there: see test_antialias_width_one_output
        kw = dict(size=size, antialias=True, align_corners=bool(rng.random() < 0.3))
        assert_parity(
            lambda x, kw=kw, m=mode: F.interpolate(x, mode=m, **kw),
            lambda x, kw=kw, m=mode: TF.interpolate(x, mode=m, **kw),
            [x],
        )
        checked += 1
    assert checked > 40


def test_antialias_width_one_output(rng):
    """torch 2.13's antialiased resize to width 1 while resizing the height returns one value
    repeated down the column (a bug); ours equals the two one-axis resizes done in turn,
    which torch gets right one at a time."""
    x = rng.standard_normal((1, 2, 10, 3))
    ours = F.interpolate(zg.tensor(x), size=(7, 1), mode="bilinear", antialias=True)
    step = TF.interpolate(torch.tensor(x), size=(7, 3), mode="bilinear", antialias=True)
    step = TF.interpolate(step, size=(7, 1), mode="bilinear", antialias=True)
    np.testing.assert_allclose(ours.numpy(), step.numpy(), rtol=1e-12, atol=1e-12)
    broken = TF.interpolate(torch.tensor(x), size=(7, 1), mode="bilinear", antialias=True)
    assert not np.allclose(broken.numpy(), step.numpy())  # fails once torch fixes it


def test_nearest_keeps_infinities(rng):
    x = rng.standard_normal((1, 1, 3, 3))
    x[0, 0, 1, 1] = np.inf
    assert_parity(
        lambda x: F.interpolate(x, scale_factor=3), lambda x: TF.interpolate(x, scale_factor=3),
        [x], grad=False,
    )


def test_upsample_layer(rng):
    for kwargs in (
        dict(scale_factor=2),
        dict(size=(5, 7), mode="bilinear"),
        dict(scale_factor=(2, 3), mode="bilinear", align_corners=True),
    ):
        layer, twin = Upsample(**kwargs), torch.nn.Upsample(**kwargs)
        assert repr(layer) == repr(twin)
        assert list(layer.state_dict()) == []
        x = rng.standard_normal((2, 3, 4, 3))
        assert_parity(lambda x, m=layer: m(x), lambda x, m=twin: m(x), [x])
    assert zg.nn.Upsample is Upsample
    x = rng.standard_normal((1, 2, 3, 4))
    for name, kwargs in (
        ("UpsamplingNearest2d", dict(scale_factor=2)),
        ("UpsamplingBilinear2d", dict(size=(5, 7))),
    ):
        layer, twin = getattr(zg.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
        assert repr(layer) == repr(twin)
        assert_parity(lambda x, m=layer: m(x), lambda x, m=twin: m(x), [x])


def test_errors():
    x4, x3 = zg.zeros(1, 2, 4, 4), zg.zeros(1, 2, 4)
    with pytest.raises(NotImplementedError, match="mode 'lanczos' is not supported"):
        F.interpolate(x4, scale_factor=2, mode="lanczos")
    with pytest.raises(NotImplementedError, match="mode 'area' is not supported for 5-D"):
        F.interpolate(zg.zeros(1, 1, 2, 2, 2), size=1, mode="area")
    with pytest.raises(NotImplementedError, match=r"got 3D input.*bicubic mode needs 4D"):
        F.interpolate(x3, size=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x4, size=2, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="unknown mode 'foo'"):
        F.interpolate(x4, size=2, mode="foo")
    with pytest.raises(NotImplementedError, match=r"got 4D input.*linear mode needs 3D input"):
        F.interpolate(x4, size=2, mode="linear")
    with pytest.raises(NotImplementedError, match=r"got 3D input.*bilinear mode needs 4D"):
        F.interpolate(x3, size=2, mode="bilinear")
    with pytest.raises(ValueError, match=r"3-D, 4-D or 5-D input.*\(2, 4\)"):
        F.interpolate(zg.zeros(2, 4), size=2)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x4, size=2, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x4, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x4)
    with pytest.raises(ValueError, match=r"same number of spatial dimensions.*size=\(2, 3, 4\)"):
        F.interpolate(x4, size=(2, 3, 4))
    with pytest.raises(TypeError, match="size must be an int"):
        F.interpolate(x4, size=2.0)
    with pytest.raises(ValueError, match=r"greater than 0.*output size \(0, 0\)"):
        F.interpolate(x4, scale_factor=0.1)
    with pytest.raises(ValueError, match=r"greater than 0.*\(1, 2, 0\)"):
        F.interpolate(zg.zeros(1, 2, 0), size=3)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(x4, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="anti-alias option is restricted to bilinear"):
        F.interpolate(x4, size=3, mode="nearest", antialias=True)
    with pytest.raises(ValueError, match="anti-alias option .* 4-D input"):
        F.interpolate(x3, size=3, mode="linear", antialias=True)
