"""Devices as torch has them, on the 'cuda' backend of tests/backend/conftest.py (the fake
CuPy unless ZENGRAD_TEST_CUDA=cupy): moves, device errors, factories, seeding, gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from zengrad import backend
from zengrad.nn import functional as F


def test_to_cuda_cpu_and_device_attributes(cuda):
    x = zg.arange(6.0).reshape(2, 3)
    y = x.to("cuda")
    assert type(y.array) is cuda.ndarray and y.device == zg.device("cuda", 0)
    assert y.is_cuda and not y.is_cpu and y.get_device() == 0
    assert x.cuda().device == y.device and zg.zeros(1).to(zg.device("cuda:0")).is_cuda
    assert y.to("cuda") is y and y.cuda() is y  # already there: itself, as torch
    back = y.cpu()
    assert type(back.array) is np.ndarray and back.device == zg.device("cpu")
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    z = x.to("cuda", zg.float64)
    assert z.dtype == np.float64 and z.is_cuda


def test_host_access_to_a_device_tensor_raises_as_torch(cuda):
    y = zg.ones(2).to("cuda")
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        y.numpy()
    with pytest.raises(TypeError, match="Tensor.cpu"):
        np.asarray(y)
    assert y.tolist() == [1.0, 1.0] and float(y.array[0]) == 1.0  # explicit host copies


def test_mixing_devices_names_both(cuda):
    a, b = zg.ones(2), zg.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="same device.*cpu and cuda:0|cuda:0 and cpu"):
        zg.cat([a, b])
    with pytest.raises(RuntimeError, match="two devices"):
        zg.ones(2, 2) @ zg.ones(2, 2).to("cuda")
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        a.to("cuda:1")


def test_gradients_flow_back_across_devices(cuda):
    x = zg.randn(3, 4, dtype=zg.float64, requires_grad=True)
    y = x.to("cuda")
    loss = (y.reshape(4, 3).flip(0) @ zg.ones(3, 1, dtype=zg.float64).to("cuda")).cpu()
    loss.sum().backward()
    assert type(x.grad.array) is np.ndarray
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 4)))


def test_factories_take_device(cuda):
    for t in (zg.zeros(2, 3, device="cuda"), zg.ones(2, device="cuda"),
              zg.full((2,), 3.0, device="cuda"), zg.arange(4, device="cuda"),
              zg.eye(2, device="cuda"), zg.linspace(0, 1, 5, device="cuda"),
              zg.rand(3, device="cuda"), zg.randn(3, device="cuda"),
              zg.randint(0, 5, (3,), device="cuda"), zg.randperm(4, device="cuda"),
              zg.tensor([1.0, 2.0], device="cuda"), zg.empty(2, device="cuda")):
        assert t.is_cuda, t
    y = zg.ones(2, 2).to("cuda")
    assert zg.zeros_like(y).is_cuda and zg.randn_like(y).is_cuda
    assert not zg.zeros_like(y, device="cpu").is_cuda
    assert zg.bernoulli(zg.full((3,), 0.5).to("cuda")).is_cuda


def test_manual_seed_seeds_the_device_draws(cuda):
    zg.manual_seed(5)
    a = zg.randn(4, device="cuda").cpu().numpy()
    drop_a = F.dropout(zg.ones(64).to("cuda"), 0.5).cpu().numpy()
    zg.manual_seed(5)
    b = zg.randn(4, device="cuda").cpu().numpy()
    drop_b = F.dropout(zg.ones(64).to("cuda"), 0.5).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(drop_a, drop_b)
    assert 0 < (drop_a == 0).sum() < 64


def test_cuda_module_answers_from_the_backend(cuda):
    assert zg.cuda.is_available() and zg.cuda.device_count() >= 1
    assert zg.cuda.is_initialized() and zg.cuda.current_device() == 0
    zg.cuda.synchronize()
    zg.cuda.manual_seed_all(3)
    assert isinstance(zg.cuda.get_device_name(), str)
    assert zg.cuda.memory_allocated() >= 0


def test_gradcheck_on_the_device(cuda):
    x = zg.randn(3, 2, dtype=zg.float64).to("cuda").requires_grad_(True)
    assert zg.gradcheck(lambda t: zg.cat([t, t.flip(1)], 1).reshape(2, 6), [x])


def test_foreign_arrays_are_refused():
    class Foreign:
        shape = (2,)

    with pytest.raises(TypeError, match="not an array of a zengrad backend"):
        backend.xp_of(Foreign())


def test_without_a_backend_cuda_is_torchs_cpu_only_error():
    assert backend.registered_module("cuda") is None or backend.device_count("cuda") > 0
    if backend.registered_module("cuda") is None:
        with pytest.raises(AssertionError, match="zengrad\\[cuda\\]"):
            zg.zeros(2).to("cuda")


def test_tensor_of_a_device_tensor_or_array_copies_where_asked(cuda):
    x = zg.arange(4.0).to("cuda")
    same = zg.tensor(x)  # a tensor's copy stays on its device
    assert same.device.type == "cuda" and same.array is not x.array
    back = zg.tensor(x, device="cpu")
    assert back.device.type == "cpu" and back.numpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    raw = zg.tensor(x.array)  # a bare device array is kept on its device
    assert raw.device.type == "cuda"
    assert zg.tensor([1.0, 2.0], device="cuda").device.type == "cuda"


@pytest.mark.parametrize("p", [0.5, 1.0])
def test_feature_dropout_masks_on_the_inputs_device(cuda, p):
    zg.manual_seed(0)
    x = zg.ones(4, 3, 5).to("cuda")
    y = F.dropout1d(x, p=p, training=True)
    assert y.device.type == "cuda"
    vals = set(np.unique(y.cpu().numpy()).tolist())
    assert vals <= ({0.0, 2.0} if p == 0.5 else {0.0})
    zg.manual_seed(0)
    ref = F.dropout1d(zg.ones(4, 3, 5), p=p, training=True)  # the same host draws
    np.testing.assert_array_equal(y.cpu().numpy(), ref.numpy())
