"""conv_transpose1d/2d and nn.ConvTranspose1d/2d: gradcheck, parity with torch, init, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from zengrad.nn import functional as F
from zengrad.nn.conv import ConvTranspose1d, ConvTranspose2d
from zengrad.ops.conv_transpose import conv_transpose1d, conv_transpose2d

# (N, C_in, H, W, C_out, kernel, stride, padding, output_padding, groups, dilation)
CASES_2D = [
    (2, 3, 4, 5, 4, 3, 1, 0, 0, 1, 1),
    (2, 4, 5, 4, 6, 3, 2, 1, 1, 2, 1),
    (1, 2, 3, 4, 3, (2, 3), (2, 1), (0, 1), (1, 0), 1, (1, 2)),
    (2, 4, 3, 3, 4, 3, 1, 1, 0, 4, 2),  # depthwise, dilated
    (1, 3, 1, 1, 2, 1, 1, 0, 1, 1, 2),  # 1x1, output_padding < dilation
    (1, 2, 4, 4, 2, 1, 2, 0, 1, 1, 1),  # strided 1x1
    (2, 2, 5, 3, 3, 4, 3, 2, 2, 1, 1),  # output_padding = stride - 1
    (1, 1, 1, 1, 1, 2, 1, 0, 0, 1, 1),  # size-1 everything
    (1, 2, 6, 6, 2, 3, 1, 1, 0, 1, 1),  # stride 1 (conv.py's flat col2im path)
    (0, 2, 3, 3, 2, 3, 2, 0, 0, 1, 1),  # empty batch
    (0, 1, 3, 1, 2, 2, 1, 0, 0, 1, 1),  # empty batch, stride 1 (conv.py's flat grid)
]
# (N, C_in, L, C_out, kernel, stride, padding, output_padding, groups, dilation)
CASES_1D = [
    (2, 3, 5, 4, 3, 1, 0, 0, 1, 1),
    (2, 4, 6, 6, 3, 2, 1, 1, 2, 2),
    (1, 3, 4, 3, 2, 3, 0, 2, 3, 1),
    (1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
    (0, 1, 3, 2, 2, 1, 0, 0, 1, 1),  # empty batch
]


def _kernel(k):
    return k if isinstance(k, tuple) else (k, k)


def _inputs_2d(rng, case, dtype=np.float64):
    n, ci, h, w, co, k, *_, g, _ = case
    x = rng.standard_normal((n, ci, h, w)).astype(dtype)
    wt = rng.standard_normal((ci, co // g, *_kernel(k))).astype(dtype)
    b = rng.standard_normal(co).astype(dtype)
    return x, wt, b


def _inputs_1d(rng, case, dtype=np.float64):
    n, ci, length, co, k, *_, g, _ = case
    x = rng.standard_normal((n, ci, length)).astype(dtype)
    wt = rng.standard_normal((ci, co // g, k)).astype(dtype)
    b = rng.standard_normal(co).astype(dtype)
    return x, wt, b


@pytest.mark.parametrize("case", [c for c in CASES_2D if c[0] > 0])
def test_conv_transpose2d_gradcheck(rng, case):
    s, p, op, g, d = case[6:]
    x, w, b = _inputs_2d(rng, case)
    assert check_grad(lambda x, w, b: conv_transpose2d(x, w, b, s, p, op, g, d), x, w, b)


@pytest.mark.parametrize("case", [c for c in CASES_1D if c[0] > 0])
def test_conv_transpose1d_gradcheck(rng, case):
    s, p, op, g, d = case[5:]
    x, w, b = _inputs_1d(rng, case)
    assert check_grad(lambda x, w, b: conv_transpose1d(x, w, b, s, p, op, g, d), x, w, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES_2D)
def test_conv_transpose2d_parity(rng, case, dtype):
    s, p, op, g, d = case[6:]
    x, w, b = _inputs_2d(rng, case, dtype)
    assert_parity(
        lambda x, w, b: conv_transpose2d(x, w, b, s, p, op, g, d),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, s, p, op, g, d),
        [x, w, b],
        rtol=1e-4 if dtype == np.float32 else None,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES_1D)
def test_conv_transpose1d_parity(rng, case, dtype):
    s, p, op, g, d = case[5:]
    x, w, b = _inputs_1d(rng, case, dtype)
    assert_parity(
        lambda x, w, b: conv_transpose1d(x, w, b, s, p, op, g, d),
        lambda x, w, b: TF.conv_transpose1d(x, w, b, s, p, op, g, d),
        [x, w, b],
        rtol=1e-4 if dtype == np.float32 else None,
    )


def test_random_configs_match_torch():
    """A seeded sweep over ranks, channels, groups, kernel, stride, padding, dilation and
    output_padding: where torch accepts the call, outputs and all gradients match; where it
    refuses (batch >= 1), so do we, with a ValueError naming conv_transpose."""
    rng = np.random.default_rng(6)
    checked = refused = 0
    for _ in range(150):
        nd, g = int(rng.integers(1, 3)), int(rng.choice([1, 2]))
        ci, co = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        sp, k, s, p, d, op = (
            tuple(int(v) for v in rng.integers(lo, hi, size=nd))
            for lo, hi in ((1, 6), (1, 4), (1, 4), (0, 3), (1, 3), (0, 3))
        )
        x = rng.standard_normal((int(rng.integers(1, 3)), ci, *sp))
        w = rng.standard_normal((ci, co // g, *k))
        b = rng.standard_normal(co)
        zf = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
        tf = TF.conv_transpose1d if nd == 1 else TF.conv_transpose2d
        try:
            tf(torch.tensor(x), torch.tensor(w), None, s, p, op, g, d)
        except RuntimeError:
            with pytest.raises(ValueError, match=f"conv_transpose{nd}d"):
                zf(zg.tensor(x), zg.tensor(w), None, s, p, op, g, d)
            refused += 1
            continue
        assert_parity(
            lambda x, w, b, a=(s, p, op, g, d), f=zf: f(x, w, b, *a),
            lambda x, w, b, a=(s, p, op, g, d), f=tf: f(x, w, b, *a),
            [x, w, b],
        )
        checked += 1
    assert checked > 60 and refused > 20


def test_no_bias_unbatched_and_keywords(rng):
    x = rng.standard_normal((3, 4, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    assert_parity(
        lambda x, w: F.conv_transpose2d(x, w, stride=2, dilation=2, output_padding=1),
        lambda x, w: TF.conv_transpose2d(x, w, stride=2, dilation=2, output_padding=1),
        [x, w],
    )
    x1 = rng.standard_normal((3, 5))
    w1 = rng.standard_normal((3, 2, 2))
    assert_parity(
        lambda x, w: zg.conv_transpose1d(x, w, stride=2),
        lambda x, w: torch.conv_transpose1d(x, w, stride=2),
        [x1, w1],
    )


def test_is_the_adjoint_of_conv2d(rng):
    """<conv2d(u, W), v> == <u, conv_transpose2d(v, W)> for the same stride/padding/dilation."""
    w = rng.standard_normal((4, 3, 3, 2))  # conv: (OC=4, C=3); transposed: (C_in=4, C_out=3)
    u = rng.standard_normal((2, 3, 9, 8))
    y = F.conv2d(zg.tensor(u), zg.tensor(w), stride=2, padding=1, dilation=(1, 2))
    v = rng.standard_normal(y.shape)
    op = tuple(
        n - ((m - 1) * 2 - 2 + d * (k - 1) + 1)
        for n, m, k, d in zip(u.shape[2:], y.shape[2:], w.shape[2:], (1, 2))
    )
    back = F.conv_transpose2d(
        zg.tensor(v), zg.tensor(w), stride=2, padding=1, output_padding=op, dilation=(1, 2)
    )
    assert back.shape == u.shape
    np.testing.assert_allclose((y.numpy() * v).sum(), (u * back.numpy()).sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=3, out_channels=8, kernel_size=3),
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=(3, 2),
            stride=2,
            padding=(1, 0),
            output_padding=(1, 0),
            dilation=(1, 2),
            groups=2,
            bias=False,
        ),
        dict(in_channels=4, out_channels=4, kernel_size=3, stride=2, groups=4),
    ],
)
def test_module_conv_transpose2d_parity(rng, kwargs):
    layer = ConvTranspose2d(**kwargs).double()
    twin = torch.nn.ConvTranspose2d(**kwargs).double()
    assert list(layer.state_dict()) == list(twin.state_dict())
    for k, v in layer.state_dict().items():
        assert tuple(v.shape) == tuple(twin.state_dict()[k].shape), k
    # a torch state_dict loads into the zengrad twin
    layer.load_state_dict({k: v.numpy().copy() for k, v in twin.state_dict().items()})
    x = rng.standard_normal((2, kwargs["in_channels"], 5, 4))
    assert_parity(lambda x: layer(x), lambda x: twin(x), [x])
    for name, p in layer.named_parameters():
        tp = dict(twin.named_parameters())[name]
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(layer) == repr(twin)


def test_module_conv_transpose1d_parity_and_output_size(rng):
    layer = ConvTranspose1d(4, 6, 3, stride=3, padding=1, groups=2).double()
    twin = torch.nn.ConvTranspose1d(4, 6, 3, stride=3, padding=1, groups=2).double()
    layer.load_state_dict({k: v.numpy().copy() for k, v in twin.state_dict().items()})
    assert layer.weight.shape == (4, 3, 3)
    x = rng.standard_normal((3, 4, 5))
    for size in ([13], [14], [15], (3, 6, 15)):
        assert_parity(
            lambda x, s=size: layer(x, output_size=s), lambda x, s=size: twin(x, s), [x]
        )
    with pytest.raises(ValueError, match=r"requested an output size of \(16,\).*\(13,\) to \(15,"):
        layer(zg.tensor(x), output_size=[16])
    assert repr(layer) == repr(twin)


def test_module_conv_transpose2d_output_size(rng):
    layer = ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    twin = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    layer.load_state_dict({k: v.numpy().copy() for k, v in twin.state_dict().items()})
    x = rng.standard_normal((1, 2, 4, 5))
    assert_parity(lambda x: layer(x, (8, 10)), lambda x: twin(x, (8, 10)), [x])
    assert layer(zg.tensor(x), output_size=(1, 3, 7, 9)).shape == (1, 3, 7, 9)


def test_default_init_bounds():
    zg.manual_seed(0)
    layer = ConvTranspose2d(8, 32, 5, groups=2)
    bound = 1 / math.sqrt(16 * 25)  # fan_in from weight dims 1..: out/groups * kH * kW
    w, b = layer.weight.array, layer.bias.array
    assert w.shape == (8, 16, 5, 5) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.8 * bound
    assert zg.nn.ConvTranspose2d is ConvTranspose2d and zg.nn.ConvTranspose1d is ConvTranspose1d


def test_errors():
    layer = ConvTranspose2d(3, 16, 3)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 16.*expected input with 3 "):
        layer(zg.zeros(8, 1, 28, 28))
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*4-D.*\(2, 3\)"):
        layer(zg.zeros(2, 3))
    with pytest.raises(ValueError, match="output padding must be smaller than either stride"):
        ConvTranspose2d(3, 6, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output padding must be smaller than either stride"):
        conv_transpose2d(zg.zeros(1, 2, 3, 3), zg.zeros(2, 2, 3, 3), output_padding=1)
    with pytest.raises(ValueError, match="divisible by groups"):
        ConvTranspose2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="divisible by groups"):
        conv_transpose2d(zg.zeros(1, 3, 3, 3), zg.zeros(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match='only "zeros" padding mode'):
        ConvTranspose2d(3, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding must be an int"):
        ConvTranspose2d(3, 6, 3, padding="same")
    with pytest.raises(ValueError, match="negative padding"):
        conv_transpose2d(zg.zeros(1, 2, 3, 3), zg.zeros(2, 2, 3, 3), padding=-1)
    with pytest.raises(ValueError, match="stride must be positive"):
        conv_transpose1d(zg.zeros(1, 2, 5), zg.zeros(2, 2, 3), stride=0)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv_transpose2d(zg.zeros(1, 2, 5, 5), zg.zeros(2, 4, 3, 3), zg.zeros(2))
    with pytest.raises(ValueError, match=r"weight must be 4-D"):
        conv_transpose2d(zg.zeros(1, 2, 5, 5), zg.zeros(2, 4, 3))
    with pytest.raises(ValueError, match=r"output size .* too small"):
        conv_transpose2d(zg.zeros(1, 2, 1, 1), zg.zeros(2, 4, 1, 1), padding=1)
    with pytest.raises(TypeError, match="weight has dtype float64 but the input has float32"):
        conv_transpose2d(zg.zeros(1, 2, 3, 3), zg.zeros(2, 2, 3, 3).double())
    with pytest.raises(TypeError, match="floating-point input"):
        conv_transpose2d(zg.zeros(1, 2, 3, 3).to(zg.int64), zg.zeros(2, 2, 3, 3))
    with pytest.raises(TypeError, match="must be Tensors"):
        conv_transpose2d(np.zeros((1, 2, 3, 3)), zg.zeros(2, 2, 3, 3))
