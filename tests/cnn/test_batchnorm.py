"""batch_norm and nn.BatchNorm1d/2d: gradcheck, parity with torch over several train steps
(outputs, grads, running stats, num_batches_tracked), eval mode, options, errors."""

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.helpers import check_grad
from zengrad.nn.norm import BatchNorm1d, BatchNorm2d
from zengrad.ops.batchnorm import batch_norm


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 3, 4)])
def test_batch_norm_gradcheck_train_and_eval(rng, shape):
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    assert check_grad(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), x, w, b)
    rm = zg.tensor(rng.standard_normal(c))
    rv = zg.tensor(rng.uniform(0.5, 2, c))
    assert check_grad(lambda x, w, b: batch_norm(x, rm, rv, w, b, training=False), x, w, b)
    assert check_grad(lambda x: batch_norm(x, None, None, training=True), x)  # no affine


def _twin(zm, tm, rng):
    """Give both the same random affine parameters."""
    c = zm.num_features
    with torch.no_grad():
        if zm.affine:
            w, b = rng.standard_normal(c), rng.standard_normal(c)
            zm.weight.data[...] = w
            tm.weight.copy_(torch.from_numpy(w))
            if zm.bias is not None:
                zm.bias.data[...] = b
                tm.bias.copy_(torch.from_numpy(b))


CONFIGS = [
    (BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6), {}),
    (BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6), {"momentum": None}),
    (BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6), {"affine": False, "eps": 1e-3}),
    (BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 6), {"track_running_stats": False}),
    (BatchNorm2d, torch.nn.BatchNorm2d, (2, 3, 2, 3), {"bias": False}),
    (BatchNorm1d, torch.nn.BatchNorm1d, (8, 3), {"momentum": 0.3}),
    (BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 7), {}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS)
def test_batchnorm_module_parity_over_steps(rng, config, dtype):
    zcls, tcls, shape, kwargs = config
    zm, tm = zcls(3, **kwargs), tcls(3, **kwargs)
    if dtype == np.float64:
        zm.double()
        tm.double()
    _twin(zm, tm, rng)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for step in range(4):
        if step == 3:
            zm.eval()
            tm.eval()
        x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
        xz = zg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        y, yt = zm(xz), tm(xt)
        assert y.dtype == dtype
        np.testing.assert_allclose(y.data, yt.detach().numpy(), **tol)
        cot = rng.standard_normal(shape).astype(dtype)
        y.backward(zg.tensor(cot))
        yt.backward(torch.from_numpy(cot))
        np.testing.assert_allclose(xz.grad.data, xt.grad.numpy(), **tol)
        for name, p in zm.named_parameters():
            tp = dict(tm.named_parameters())[name]
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), **tol)
            p.grad, tp.grad = None, None
        zsd, tsd = zm.state_dict(), tm.state_dict()
        assert list(zsd) == list(tsd)
        for k in zsd:
            np.testing.assert_allclose(zsd[k].data, tsd[k].numpy(), **tol, err_msg=k)


def test_running_stats_values_and_buffers():
    zm = BatchNorm2d(2)
    x = np.arange(2 * 2 * 2 * 2, dtype=np.float32).reshape(2, 2, 2, 2)
    zm(zg.tensor(x))
    xc = x.transpose(1, 0, 2, 3).reshape(2, -1)
    np.testing.assert_allclose(zm.running_mean.data, 0.1 * xc.mean(1), rtol=1e-6)
    np.testing.assert_allclose(zm.running_var.data, 0.9 + 0.1 * xc.var(1, ddof=1), rtol=1e-6)
    assert int(zm.num_batches_tracked.item()) == 1
    assert [n for n, _ in zm.named_buffers()] == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert zm.running_mean.dtype == np.float32 and zm.num_batches_tracked.dtype == np.int64
    assert repr(zm) == repr(torch.nn.BatchNorm2d(2))


def test_load_torch_state_dict_then_eval(rng):
    tm = torch.nn.BatchNorm2d(3)
    tm.train()
    for _ in range(3):
        tm(torch.randn(4, 3, 5, 5) * 2 + 1)
    zm = BatchNorm2d(3)
    zm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    zm.eval()
    tm.eval()
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(
        zm(zg.tensor(x)).data, tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_batchnorm_errors():
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d\(3\): expected input of shape "
        r"\(N, C, H, W\) with C = 3, got input of shape \(2, 4, 5, 5\)",
    ):
        BatchNorm2d(3)(zg.zeros(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\).*\(2, 3, 4, 4\)"):
        BatchNorm1d(3)(zg.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(zg.zeros(1, 3))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        batch_norm(zg.zeros(2, 3), zg.zeros(4), zg.ones(3))
    with pytest.raises(ValueError, match="num_features must be positive"):
        BatchNorm2d(0)
