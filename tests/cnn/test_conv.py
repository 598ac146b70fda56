"""conv1d/conv2d and nn.Conv1d/Conv2d: gradcheck, parity with torch, init, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad
from zengrad.nn.conv import Conv1d, Conv2d
from zengrad.ops.conv import conv1d, conv2d

# torch warns that even kernels with padding='same' need a padded copy
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

# (N, C, H, W, OC, kernel, stride, padding, dilation, groups)
CASES_2D = [
    (2, 3, 5, 5, 4, 3, 1, 0, 1, 1),
    (2, 3, 6, 5, 4, 3, 1, 1, 1, 1),
    (1, 2, 7, 6, 3, (3, 2), (2, 1), (1, 0), 1, 1),
    (2, 4, 7, 7, 6, 3, 2, 1, 2, 2),
    (1, 3, 5, 6, 3, 3, 1, 1, 1, 3),  # depthwise
    (1, 2, 5, 5, 4, 3, 1, 1, 1, 2),  # depthwise with channel multiplier 2
    (2, 3, 4, 5, 2, 1, 1, 0, 1, 1),  # 1x1
    (2, 2, 5, 5, 3, 1, 2, 1, 1, 1),  # strided 1x1 with padding
    (1, 2, 6, 7, 3, (2, 4), 1, "same", 1, 1),  # asymmetric 'same'
    (1, 2, 6, 7, 2, 3, 1, "same", 2, 1),
    (1, 2, 5, 6, 2, 2, 3, "valid", 1, 1),  # stride skips the last row/column
]

CASES_1D = [
    (2, 3, 7, 4, 3, 1, 0, 1, 1),
    (2, 4, 9, 6, 3, 2, 2, 2, 2),
    (1, 3, 6, 3, 1, 1, 0, 1, 3),
    (1, 2, 8, 3, 4, 1, "same", 1, 1),
]


def _kernel(k):
    return k if isinstance(k, tuple) else (k, k)


def _inputs_2d(rng, case, dtype=np.float64):
    n, c, h, w, oc, k, _, _, _, g = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((oc, c // g, *_kernel(k))).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    return x, wt, b


@pytest.mark.parametrize("case", CASES_2D)
def test_conv2d_gradcheck(rng, case):
    *_, s, p, d, g = case
    x, w, b = _inputs_2d(rng, case)
    assert check_grad(lambda x, w, b: conv2d(x, w, b, s, p, d, g), x, w, b)


@pytest.mark.parametrize("case", CASES_1D)
def test_conv1d_gradcheck(rng, case):
    n, c, length, oc, k, s, p, d, g = case
    x = rng.standard_normal((n, c, length))
    w = rng.standard_normal((oc, c // g, k))
    b = rng.standard_normal(oc)
    assert check_grad(lambda x, w, b: conv1d(x, w, b, s, p, d, g), x, w, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES_2D)
def test_conv2d_parity(rng, case, dtype):
    *_, s, p, d, g = case
    x, w, b = _inputs_2d(rng, case, dtype)
    # float32: a different summation order than torch's kernels; 1e-5 of the result's scale
    assert_parity(
        lambda x, w, b: conv2d(x, w, b, s, p, d, g),
        lambda x, w, b: TF.conv2d(x, w, b, s, p, d, g),
        [x, w, b],
        rtol=1e-4 if dtype == np.float32 else None,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES_1D)
def test_conv1d_parity(rng, case, dtype):
    n, c, length, oc, k, s, p, d, g = case
    x = rng.standard_normal((n, c, length)).astype(dtype)
    w = rng.standard_normal((oc, c // g, k)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    assert_parity(
        lambda x, w, b: conv1d(x, w, b, s, p, d, g),
        lambda x, w, b: TF.conv1d(x, w, b, s, p, d, g),
        [x, w, b],
        rtol=1e-4 if dtype == np.float32 else None,
    )


def test_conv2d_no_bias_and_unbatched(rng):
    x = rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    assert_parity(
        lambda x, w: conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), [x, w]
    )


def test_conv2d_larger_float32_batch(rng):
    """A LeNet-sized layer in float32: outputs and grads within 1e-4 relative, 1e-5 x scale."""
    x = rng.standard_normal((16, 6, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((16, 6, 5, 5)) * 0.1).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    assert_parity(conv2d, TF.conv2d, [x, w, b], rtol=1e-4)


def test_output_is_float32_and_input_grad_skipped_when_not_needed(rng):
    x = zg.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    layer = Conv2d(1, 3, 3)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (2, 3, 6, 6)
    y.sum().backward()
    assert x.grad is None and layer.weight.grad.dtype == np.float32


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
            dilation=(1, 2),
            groups=2,
            bias=False,
        ),
        dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", groups=4),
    ],
)
def test_module_conv2d_parity(rng, kwargs):
    layer = Conv2d(**kwargs).double()
    twin = torch.nn.Conv2d(**kwargs).double()
    twin.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in layer.state_dict().items()}
    )
    assert list(layer.state_dict()) == list(twin.state_dict())
    x = rng.standard_normal((2, kwargs["in_channels"], 7, 6))
    xz, xt = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = layer(xz), twin(xt)
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(yt.shape)
    y.backward(zg.tensor(cot))
    yt.backward(torch.from_numpy(cot))
    np.testing.assert_allclose(xz.grad.array, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in layer.named_parameters():
        tp = dict(twin.named_parameters())[name]
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(layer) == repr(twin)


def test_module_conv1d_parity(rng):
    layer = Conv1d(4, 6, 3, stride=2, padding=1, groups=2).double()
    twin = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2).double()
    twin.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in layer.state_dict().items()}
    )
    x = rng.standard_normal((3, 4, 10))
    assert_parity(lambda x: layer(x), lambda x: twin(x), [x])
    assert layer.weight.shape == (6, 2, 3)


def test_default_init_bounds():
    zg.manual_seed(0)
    layer = Conv2d(8, 32, 5, groups=2)
    bound = 1 / math.sqrt(4 * 25)  # fan_in = in/groups * kH * kW
    w, b = layer.weight.array, layer.bias.array
    assert w.shape == (32, 4, 5, 5) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-a, a) has std a / sqrt 3
    assert np.abs(b).max() <= bound


def test_errors_name_layer_and_shape():
    layer = Conv2d(3, 16, 3)
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(3, 16, kernel_size=\(3, 3\)\): expected input "
        r"with 3 channels, got input of shape \(8, 1, 28, 28\)",
    ):
        layer(zg.zeros(8, 1, 28, 28))
    with pytest.raises(ValueError, match=r"Conv2d.*4-D.*\(2, 3\)"):
        layer(zg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"kernel size \(5, 5\).*padded input size \(4, 4\)"):
        Conv2d(1, 1, 5)(zg.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="stride must be positive"):
        Conv2d(3, 6, 3, stride=0)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d\(3, 6, .*padding=\(4, 4\).*less than"):
        Conv2d(3, 6, 3, padding=4, padding_mode="reflect")(zg.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        Conv2d(3, 6, 3, padding_mode="mirror")
    with pytest.raises(
        ValueError,
        match=r"conv2d\(weight of shape \(4, 2, 3, 3\)\): expected "
        r"input with 2 channels",
    ):
        conv2d(zg.zeros(1, 3, 5, 5), zg.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match="stride must be positive"):
        conv1d(zg.zeros(1, 2, 5), zg.zeros(4, 2, 3), stride=-1)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv2d(zg.zeros(1, 2, 5, 5), zg.zeros(4, 2, 3, 3), zg.zeros(3))


@pytest.mark.parametrize("padding,stride", [(1, 1), (0, 1), (1, 2)])
def test_conv2d_backward_on_an_empty_batch_as_torch(padding, stride):
    import torch

    w = zg.randn(4, 3, 3, 3, requires_grad=True)
    x = zg.zeros(0, 3, 8, 8, requires_grad=True)
    y = zg.nn.functional.conv2d(x, w, padding=padding, stride=stride)
    y.sum().backward()
    tw = torch.tensor(w.detach().numpy(), requires_grad=True)
    ty = torch.nn.functional.conv2d(torch.zeros(0, 3, 8, 8), tw, padding=padding, stride=stride)
    ty.sum().backward()
    assert y.shape == tuple(ty.shape) and x.grad.shape == (0, 3, 8, 8)
    assert (w.grad.numpy() == 0).all() and (tw.grad.numpy() == 0).all()
