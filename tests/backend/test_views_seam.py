"""Views and in-place writes through views on the fake 'cuda' (tests/backend/conftest.py):
the engine places a view in its base by the arrays' addresses (backend.address_of), which
device arrays give as `data.ptr` (they have no __array_interface__). Each program runs on
the CPU and on 'cuda'; values and gradients must agree."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend import fake_cupy
from tests.backend.conftest import (
    KIND,
    cuda,  # noqa: F401  (the fixture)
)
from zengrad import backend

# float64 on both devices: the fake computes with NumPy (equal); a GPU sums in its own order
TOL = 1e-12 if KIND == "fake" else 1e-9


def test_address_of_numpy_and_device_arrays(cuda):  # noqa: F811
    a = np.arange(12.0).reshape(3, 4)
    assert backend.address_of(a[1, 2:]) - backend.address_of(a) == (4 + 2) * 8
    d = cuda.asarray(a)
    assert not hasattr(d, "__array_interface__")
    assert backend.address_of(d[1, 2:]) - backend.address_of(d) == (4 + 2) * 8
    assert backend.address_of(d) == d.__cuda_array_interface__["data"][0]


def test_address_of_refuses_foreign_arrays():
    with pytest.raises(TypeError, match="not an array of a zengrad backend"):
        backend.address_of(memoryview(b"abc"))


def test_fake_views_keep_their_base_as_cupy():
    d = fake_cupy.asarray(np.arange(6.0))
    v = d[1:]
    assert v.base is d and v[1:].base is d and d.base is None
    assert fake_cupy.asarray(d) is d


def _write_through_view(w, x):
    y = w * 1.0
    v = y[1:, ::2]  # a strided view
    v.mul_(x)
    y.t()[0].add_(x[0, 0])  # a transposed view
    return (y * y).sum()


def _stale_alias(w, x):
    buf = zg.zeros(3, 4, device=w.device)
    alias = buf[1]  # taken before the write: it must read w's values through buf
    buf[1] = w[0]
    return (alias * x[0, 0]).sum() + buf.sum()


def _expanded_view(w, x):
    y = w[0].expand(3, 4)
    return (y * x[0, 0]).sum()


@pytest.mark.parametrize("program", [_write_through_view, _stale_alias, _expanded_view])
def test_view_programs_match_cpu(cuda, program):  # noqa: F811
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 2))
    results = {}
    for device in ("cpu", "cuda"):
        w = zg.tensor(w0).to(device).requires_grad_()
        x = zg.tensor(x0).to(device).requires_grad_()
        loss = program(w, x)
        loss.backward()
        assert w.grad.device.type == device
        results[device] = [loss.detach().cpu().numpy(), w.grad.cpu().numpy(), x.grad.cpu().numpy()]
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_saved_input_written_through_a_view_is_refused(cuda, device):  # noqa: F811
    w = zg.tensor([1.0, 2.0, 3.0]).to(device).requires_grad_()
    a = w * 1.0
    c = a.sin()  # saves a
    a[1:].mul_(2.0)  # a's storage written through a view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
