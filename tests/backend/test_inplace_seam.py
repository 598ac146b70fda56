"""In-place methods on the fake 'cuda' (tests/backend/conftest.py) write the device array
and give the NumPy values; copy_ takes a source on another device, as torch."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import cuda  # noqa: F401  (the fixture)


def _pair(values):
    host = zg.tensor(values)
    return host, host.clone().to("cuda")


@pytest.mark.parametrize("op", [
    lambda t: t.add_(2.0), lambda t: t.sub_(1.0, alpha=2), lambda t: t.mul_(3.0),
    lambda t: t.div_(0.0), lambda t: t.fill_(7.0), lambda t: t.zero_(),
    lambda t: t.clamp_(-1.0, 1.0), lambda t: t.__setitem__(1, 5.0),
    lambda t: t.add_(t), lambda t: t.mul_(t[:1]),
])
def test_inplace_on_cuda_matches_numpy(cuda, op):  # noqa: F811
    host, dev = _pair([1.0, -2.0, 3.0])
    op(host)
    op(dev)
    assert dev.device.type == "cuda"
    np.testing.assert_array_equal(dev.cpu().numpy(), host.numpy())


def test_recorded_inplace_on_cuda_backpropagates(cuda):  # noqa: F811
    w = zg.tensor([1.0, 2.0, 3.0]).to("cuda").requires_grad_()
    y = w * 2
    y.mul_(y)
    y[0] = 0.0
    y.sum().backward()
    assert w.grad.device.type == "cuda"
    np.testing.assert_allclose(w.grad.cpu().numpy(), [0.0, 16.0, 24.0])


def test_copy_from_another_device_and_mixed_operands(cuda):  # noqa: F811
    dev = zg.zeros(3).to("cuda")
    dev.copy_(zg.tensor([1.0, 2.0, 3.0]))
    assert dev.device.type == "cuda"
    np.testing.assert_array_equal(dev.cpu().numpy(), [1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="same device"):
        dev.add_(zg.ones(3))
