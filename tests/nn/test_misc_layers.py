"""Dropout1d/2d/3d (channel dropout), PixelShuffle/PixelUnshuffle and RNNBase.flatten_parameters
against torch 2.13."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import zengrad as zg
import zengrad.nn.functional as F
from tests.helpers import assert_parity, rand_array
from tests.nn.parity import assert_module_parity
from zengrad import nn

# ------------------------------------------------------------------ channel dropout


def _channel_mask_of(y: np.ndarray, x: np.ndarray, p: float) -> np.ndarray:
    """y = x m / (1 - p) with one m per (n, c): recover m and check it is constant per map."""
    ratio = y / x
    scale = 1.0 / (1.0 - p)
    assert np.all(np.isclose(ratio, 0) | np.isclose(ratio, scale))
    kept = ratio.reshape(*ratio.shape[:2], -1) > 0.5 * scale
    assert np.all(kept == kept[..., :1]), "the mask is not constant over a channel"
    return kept[..., 0]


@pytest.mark.parametrize(("fn", "shape"), [
    (F.dropout1d, (40, 30, 7)), (F.dropout2d, (40, 30, 3, 4)), (F.dropout3d, (40, 30, 2, 3, 2)),
])
def test_channel_dropout_zeroes_whole_channels(rng, fn, shape):
    x = rng.uniform(0.5, 2.0, shape)
    p = 0.3
    xt = zg.tensor(x, requires_grad=True)
    y = fn(xt, p, training=True)
    keep = _channel_mask_of(y.detach().numpy(), x, p)
    assert abs(keep.mean() - (1 - p)) < 0.06  # 1200 Bernoulli draws: sd 0.013
    g = rng.standard_normal(shape)
    y.backward(zg.tensor(g))
    expected = g * keep.reshape(keep.shape + (1,) * (len(shape) - 2)) / (1 - p)
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-12)


def test_channel_dropout_unbatched_and_eval(rng):
    x = rng.uniform(0.5, 2.0, (50, 6))  # dropout1d: (C, L)
    y = F.dropout1d(zg.tensor(x), 0.5).numpy()
    keep = _channel_mask_of(y[None], x[None], 0.5)
    assert keep.shape == (1, 50)
    x3 = rng.uniform(0.5, 2.0, (50, 2, 2, 2))  # dropout3d: (C, D, H, W)
    _channel_mask_of(F.dropout3d(zg.tensor(x3), 0.5).numpy()[None], x3[None], 0.5)
    for fn, shp in ((F.dropout1d, (2, 3, 4)), (F.dropout2d, (2, 3, 4, 5))):
        t = zg.tensor(rng.standard_normal(shp))
        assert fn(t, 0.5, training=False) is t and fn(t, 0.0) is t
        np.testing.assert_array_equal(fn(t, 1.0).numpy(), np.zeros(shp))
    m = nn.Dropout2d(0.5).eval()
    t = zg.tensor(rng.standard_normal((2, 3, 4, 5)))
    assert m(t) is t
    assert repr(m) == repr(torch.nn.Dropout2d(0.5)) == "Dropout2d(p=0.5, inplace=False)"


def test_dropout2d_on_3d_input_warns_and_drops_rows_as_torch(rng):
    """torch reads a 3-D input to dropout2d as (N, C, L) and warns; so does zengrad."""
    x = rng.uniform(0.5, 2.0, (30, 20, 5))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y = F.dropout2d(zg.tensor(x), 0.5).numpy()
    _channel_mask_of(y, x, 0.5)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        torch.nn.functional.dropout2d(torch.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        F.dropout2d(zg.ones(3, 4))


def test_channel_dropout_modules_match_torch_in_eval_and_p0(rng):
    x = rand_array(rng, (2, 3, 4, 5))
    for zm, tm, shape in ((nn.Dropout1d(0.4), torch.nn.Dropout1d(0.4), (2, 3, 4)),
                          (nn.Dropout2d(), torch.nn.Dropout2d(), (2, 3, 4, 5)),
                          (nn.Dropout3d(), torch.nn.Dropout3d(), (2, 3, 2, 2, 2))):
        assert_module_parity(zm.eval(), tm.eval(), rand_array(rng, shape))
    assert_module_parity(nn.Dropout2d(0.0), torch.nn.Dropout2d(0.0), x)  # train mode, p = 0


def test_channel_dropout_errors():
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout1d(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout2d(zg.ones(2, 3, 4, 4), -0.1)
    with pytest.raises(ValueError, match="Expected 2D or 3D input"):
        F.dropout1d(zg.ones(2, 3, 4, 5))
    with pytest.raises(TypeError, match="floating point"):
        F.dropout1d(zg.ones(2, 3, dtype=zg.int64))
    with pytest.raises(TypeError, match="expected a Tensor"):
        F.dropout2d(np.ones((2, 3, 4, 4)))


# ------------------------------------------------------------------ pixel shuffle


@pytest.mark.parametrize(("shape", "r"), [((2, 8, 3, 5), 2), ((18, 2, 3), 3), ((2, 1, 4, 2, 3), 2),
                                          ((1, 4, 1, 1), 1)])
def test_pixel_shuffle_parity(rng, shape, r):
    assert_parity(lambda x: F.pixel_shuffle(x, r),
                  lambda x: torch.nn.functional.pixel_shuffle(x, r), [rand_array(rng, shape)])


@pytest.mark.parametrize(("shape", "r"), [((2, 3, 4, 6), 2), ((2, 6, 9), 3), ((2, 1, 2, 4, 4), 2)])
def test_pixel_unshuffle_parity_and_inverse(rng, shape, r):
    x = rand_array(rng, shape)
    assert_parity(lambda t: F.pixel_unshuffle(t, r),
                  lambda t: torch.nn.functional.pixel_unshuffle(t, r), [x])
    back = F.pixel_shuffle(F.pixel_unshuffle(zg.tensor(x), r), r)
    np.testing.assert_array_equal(back.numpy(), x)


def test_pixel_shuffle_modules(rng):
    x = rand_array(rng, (2, 12, 3, 3), np.float32)
    assert_module_parity(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), x)
    assert_module_parity(nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3), x)
    assert repr(nn.PixelShuffle(2)) == repr(torch.nn.PixelShuffle(2))
    assert repr(nn.PixelUnshuffle(3)) == repr(torch.nn.PixelUnshuffle(3))


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(zg.ones(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        F.pixel_shuffle(zg.ones(4, 2), 2)
    with pytest.raises(ValueError, match="positive upscale_factor"):
        F.pixel_shuffle(zg.ones(1, 4, 2, 2), 0)
    with pytest.raises(TypeError, match="must be an int"):
        nn.PixelShuffle(2.0)(zg.ones(1, 4, 2, 2))
    with pytest.raises(ValueError, match="height to be divisible"):
        F.pixel_unshuffle(zg.ones(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="width to be divisible"):
        F.pixel_unshuffle(zg.ones(1, 1, 4, 3), 2)


# ------------------------------------------------------------------ RNN flatten_parameters


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_flatten_parameters_is_a_noop(rng, cls):
    tm = getattr(torch.nn, cls)(3, 4, num_layers=2, dtype=torch.float64)
    zm = getattr(nn, cls)(3, 4, num_layers=2, dtype=np.float64)
    before = [p.array for p in zm.parameters()]
    assert zm.flatten_parameters() is None
    tm.flatten_parameters()
    assert all(p.array is b for p, b in zip(zm.parameters(), before))

    class First(torch.nn.Module):  # the output of an RNN is a tuple: compare the sequence
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            self.m.flatten_parameters()
            return self.m(x)[0]

    class ZFirst(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            self.m.flatten_parameters()
            return self.m(x)[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_module_parity(ZFirst(zm), First(tm), rand_array(rng, (5, 2, 3)))


# ------------------------------------------------------------------ torch's module paths


def test_nn_modules_aliases_are_zengrads_classes():
    import importlib

    import zengrad.nn.modules as zmods
    from zengrad.nn.modules._alias import TORCH_NAMES

    assert "Linear" in zmods.__all__ and zmods.Linear is nn.Linear
    for file, names in TORCH_NAMES.items():
        zfile = importlib.import_module(f"zengrad.nn.modules.{file}")
        tfile = importlib.import_module(f"torch.nn.modules.{file}")
        for name in names:  # the table is torch's own layout
            assert isinstance(getattr(tfile, name), type), (file, name)
        for name in zfile.__all__:
            assert getattr(zfile, name) is getattr(nn, name), (file, name)
    from zengrad.nn.modules.conv import Conv2d
    from zengrad.nn.modules.linear import Linear
    from zengrad.nn.modules.module import Module
    assert (Linear, Conv2d, Module) == (nn.Linear, nn.Conv2d, nn.Module)
    assert zg.nn.modules.activation.MultiheadAttention is nn.MultiheadAttention  # torch's file
    assert zg.nn.modules.rnn.LSTM is nn.LSTM and zg.nn.modules.loss.MSELoss is nn.MSELoss
    assert zg.nn.modules.container.ParameterDict is nn.ParameterDict
    with pytest.raises(AttributeError, match="nn.Bilinear is not implemented in zengrad"):
        getattr(zg.nn.modules.linear, "Bilinear")  # noqa: B009
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        getattr(zg.nn.modules.linear, "Nope")  # noqa: B009
    with pytest.raises(ImportError):
        from zengrad.nn.modules.linear import Bilinear  # noqa: F401


def test_nn_modules_utils_as_torch():
    from torch.nn.modules import utils as tu

    from zengrad.nn.modules import utils as zu
    for name in ("_single", "_pair", "_triple", "_quadruple"):
        for value in (3, (1, 2), [4, 5, 6]):
            assert getattr(zu, name)(value) == getattr(tu, name)(value)
    assert zu._reverse_repeat_tuple((1, 2, 3), 2) == tu._reverse_repeat_tuple((1, 2, 3), 2)
    assert zu._ntuple(5, "five")(0) == (0,) * 5


def test_data_parallel_is_a_pass_through(rng):
    tm = torch.nn.DataParallel(torch.nn.Linear(4, 3))
    with pytest.warns(UserWarning, match="one device"):
        zm = nn.DataParallel(nn.Linear(4, 3), device_ids=[0, 1])
    assert nn.DataParallel is zg.nn.parallel.DataParallel
    assert list(zm.state_dict()) == list(tm.state_dict()) == ["module.weight", "module.bias"]
    assert zm.device_ids == tm.device_ids == []
    assert isinstance(zm.module, nn.Linear)
    assert_module_parity(zm, tm, rand_array(rng, (5, 4), np.float32))
    with pytest.raises(TypeError, match="must be a zengrad.nn.Module"):
        zg.nn.parallel.DataParallel(lambda x: x)
    with pytest.raises(ValueError, match="process group has not been initialized"):
        zg.nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="no GPUs"):
        zg.nn.parallel.data_parallel(nn.Linear(2, 2), zg.ones(1, 2))
