"""F.pad modes reflect / replicate / circular, negative (cropping) constant padding, and
transpose on 0-d tensors: gradcheck, parity with torch, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from zengrad.nn import functional as F

# (input shape, pad, mode)
CASES = [
    ((2, 3, 5), (2, 1), "reflect"),
    ((3, 5), (4, 4), "reflect"),  # unbatched, pad = n - 1
    ((2, 2, 4, 5), (1, 2, 3, 0), "reflect"),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2), "reflect"),
    ((2, 3, 5), (-1, 2), "reflect"),  # crop one side, pad the other
    ((2, 3, 5), (3, 1), "replicate"),
    ((2, 2, 4, 5), (0, 3, 2, 2), "replicate"),
    ((2, 2, 1, 1), (2, 2, 1, 3), "replicate"),  # size-1 dims
    ((2, 3, 2, 3), (1, 1, 1, 1, 1, 1), "replicate"),  # 4-D input, 3 padded dims
    ((2, 3, 5), (-2, 2), "replicate"),
    ((2, 3, 5), (5, 2), "circular"),  # pad = n
    ((2, 2, 4, 5), (1, 2, 4, 0), "circular"),
    ((1, 2, 2, 3, 4), (1, 1, 1, 1, 1, 1), "circular"),
    ((2, 3, 5), (-1, 2), "circular"),  # torch wraps what the crop leaves
    ((2, 3, 6), (2, -3), "circular"),
    ((3, 4), (0, 0), "reflect"),  # nothing padded: a copy
    ((0, 2, 4), (1, 1), "reflect"),  # empty batch
    ((2, 3, 6), (-2, -1), "constant"),
    ((2, 3, 4, 5), (1, -2, -3, 2), "constant"),
    ((2, 3, 4), (-2, -2), "constant"),  # crops to size 0
    ((2, 3, 4), (2, -3, 0, 1, -1, 1), "constant"),
]


@pytest.mark.parametrize("shape, pads, mode", [c for c in CASES if 0 not in c[0]])
def test_pad_gradcheck(rng, shape, pads, mode):
    x = rng.standard_normal(shape)
    assert check_grad(lambda x: F.pad(x, pads, mode=mode), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, pads, mode", CASES)
def test_pad_parity(rng, shape, pads, mode, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    assert_parity(lambda x: F.pad(x, pads, mode), lambda x: TF.pad(x, pads, mode), [x])


def test_pad_random_configs_match_torch():
    rng = np.random.default_rng(3)
    for _ in range(80):
        mode = str(rng.choice(["reflect", "replicate", "circular", "constant"]))
        k = int(rng.integers(1, 4))
        rank = k + int(rng.integers(1, 3))
        shape = tuple(int(v) for v in rng.integers(1, 6, size=rank))
        pads = []
        for n in shape[::-1][:k]:
            limit = {"reflect": n - 1, "circular": n}.get(mode, 3)
            lo, hi = (int(rng.integers(-min(n - 1, 2) if n > 1 else 0, limit + 1)) for _ in "lr")
            if mode == "circular" and max(lo, hi) > n - max(-lo, 0) - max(-hi, 0):
                lo, hi = max(lo, 0), max(hi, 0)  # torch reads garbage there (we refuse)
            pads += [lo, hi]
        if any(n + lo + hi < 1 for n, lo, hi in zip(shape[::-1], pads[::2], pads[1::2])):
            continue
        x = rng.standard_normal(shape)
        assert_parity(
            lambda x, p=tuple(pads), m=mode: F.pad(x, p, m),
            lambda x, p=tuple(pads), m=mode: TF.pad(x, p, m),
            [x],
        )


def test_constant_value_and_keyword(rng):
    x = rng.standard_normal((2, 3))
    assert_parity(
        lambda x: F.pad(x, (1, -1, 2, 0), value=3.5),
        lambda x: TF.pad(x, (1, -1, 2, 0), value=3.5),
        [x],
    )


def test_transpose_of_0d():
    for dims in ((0, 0), (-1, 0), (0, -1), (-1, -1)):
        x = zg.tensor(2.5, requires_grad=True)
        y = x.transpose(*dims)
        assert y.shape == () and y.item() == 2.5
        (y * 3).backward()
        assert x.grad.item() == 3.0
        assert zg.transpose(zg.tensor(1.0), *dims).shape == torch.tensor(1.0).transpose(*dims).shape
    with pytest.raises(IndexError, match=r"range of \[-1, 0\], but got 1"):
        zg.tensor(1.0).transpose(1, 0)


def test_errors():
    x = zg.zeros(1, 3, 4)
    with pytest.raises(ValueError, match=r"should be less than.*reflect.*\(4, 0\) at dim 2"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="wrapping around more than once"):
        F.pad(x, (5, 0), mode="circular")
    with pytest.raises(ValueError, match=r"more than once.*\(2 elements left after cropping"):
        F.pad(x, (-2, 3), mode="circular")
    with pytest.raises(ValueError, match=r"crops more than the 4 elements of dim 2"):
        F.pad(x, (-3, -3))
    with pytest.raises(ValueError, match=r"too small.*output size -1"):
        F.pad(x, (-4, -1), mode="replicate")
    with pytest.raises(ValueError, match="unrecognised padding mode 'foo'"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(ValueError, match="doesn't take in value"):
        F.pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(NotImplementedError, match=r"length 6 is not supported for a 3-D input"):
        F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate")
    with pytest.raises(NotImplementedError, match=r"length 2 is not supported for a 1-D input"):
        F.pad(zg.zeros(4), (1, 1), mode="circular")
    with pytest.raises(ValueError, match=r"non-empty dims.*\(1, 0, 4\)"):
        F.pad(zg.zeros(1, 0, 4), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="padding length must be even"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="3 dims padded but the input has only 2"):
        F.pad(zg.zeros(2, 2), (1, 1, 1, 1, 1, 1))
    with pytest.raises(TypeError, match="pad must be a tuple of ints"):
        F.pad(x, (1.5, 1))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "nd, kwargs",
    [
        (2, dict(kernel_size=3, padding=1)),
        (2, dict(kernel_size=(3, 2), padding=(2, 1), stride=2, dilation=(1, 2))),
        (2, dict(kernel_size=(4, 3), padding="same")),  # uneven 'same': one more on the right
        (1, dict(kernel_size=3, padding=2, groups=2)),
    ],
)
def test_conv_padding_modes_match_torch(rng, mode, nd, kwargs):
    """nn.Conv1d/2d(padding_mode=...) pads with F.pad in that mode, then convolves, as torch."""
    make = (zg.nn.Conv1d, torch.nn.Conv1d) if nd == 1 else (zg.nn.Conv2d, torch.nn.Conv2d)
    layer = make[0](2, 4, padding_mode=mode, **kwargs).double()
    twin = make[1](2, 4, padding_mode=mode, **kwargs).double()
    layer.load_state_dict({k: v.numpy().copy() for k, v in twin.state_dict().items()})
    x = rng.standard_normal((2, 2, 6) if nd == 1 else (2, 2, 6, 5))
    assert_parity(lambda x: layer(x), lambda x: twin(x), [x])
    assert repr(layer) == repr(twin)
