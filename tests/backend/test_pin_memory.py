"""Tensor.pin_memory / is_pinned: with CUDA (the 'cuda' backend of tests/backend/conftest.py)
pin_memory is a documented no-op returning the CPU tensor itself, since zengrad has no
page-locked memory; without CUDA, torch's error (tests/test_devices.py checks that one)."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg


def test_pin_memory_with_cuda_returns_the_cpu_tensor_itself(cuda):
    x = zg.arange(6.0).reshape(2, 3)
    pinned = x.pin_memory()
    assert pinned is x and pinned.device.type == "cpu"
    assert x.is_pinned() is pinned.is_pinned() is False  # nothing here is page-locked
    # the torch idiom still works: pin on the host, then copy to the device
    moved = pinned.to("cuda", non_blocking=True)
    assert moved.device.type == "cuda"
    np.testing.assert_array_equal(moved.cpu().numpy(), x.numpy())


def test_pin_memory_keeps_the_autograd_graph(cuda):
    w = zg.ones(3, requires_grad=True)
    y = (w * 2).pin_memory()
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])


def test_a_device_tensor_cannot_be_pinned(cuda):
    x = zg.ones(2, device="cuda")
    assert x.is_pinned() is False
    with pytest.raises(RuntimeError, match="cannot pin a tensor on cuda:0: only dense CPU"):
        x.pin_memory()
