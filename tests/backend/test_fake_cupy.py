"""The fake CuPy refuses NumPy where CuPy would (so the seam tests can fail), and computes
what NumPy computes where CuPy would."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backend import fake_cupy as fc


def _dev(*shape):
    return fc.asarray(np.arange(np.prod(shape, dtype=int), dtype=np.float64).reshape(shape))


def test_no_implicit_conversion_to_numpy():
    a = _dev(2, 3)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.array([a, a])


@pytest.mark.parametrize("call", [
    lambda a: np.exp(a), lambda a: np.sum(a), lambda a: np.concatenate([a, a]),
    lambda a: np.where(a > 1, a, 0), lambda a: np.maximum(a, 1.0), lambda a: np.add.at(a, 0, 1),
    lambda a: np.ones(3) + a, lambda a: a * np.ones(3), lambda a: np.matmul(a, a.T),
])
def test_numpy_functions_and_host_operands_are_refused(call):
    with pytest.raises(TypeError, match="fake_cupy"):
        call(_dev(2, 3))


def test_module_functions_compute_as_numpy_on_device_arrays():
    h = np.random.default_rng(0).standard_normal((3, 4))
    a = fc.asarray(h)
    for name in ("exp", "tanh", "abs", "cumsum"):
        out = getattr(fc, name)(a)
        assert type(out) is fc.ndarray
        np.testing.assert_array_equal(fc.asnumpy(out), getattr(np, name)(h))
    np.testing.assert_array_equal(fc.asnumpy(fc.matmul(a, a.T)), h @ h.T)
    np.testing.assert_array_equal(fc.asnumpy(a.sum(axis=0)), h.sum(axis=0))
    np.testing.assert_array_equal(fc.asnumpy((a * 2 + 1) ** 2), (h * 2 + 1) ** 2)
    np.testing.assert_array_equal(fc.asnumpy(fc.concatenate([a, a], axis=1)),
                                  np.concatenate([h, h], axis=1))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fc.concatenate([a, h])


def test_scalars_are_zero_d_device_arrays_and_host_copies_are_explicit():
    a = _dev(2, 3)
    s = a.sum()
    assert type(s) is fc.ndarray and s.shape == ()
    assert type(a[0, 1]) is fc.ndarray
    assert float(s) == 15.0 and a.max().item() == 5.0 and a.tolist()[1] == [3.0, 4.0, 5.0]
    host = fc.asnumpy(a)
    host[0, 0] = 99  # a copy: the device array is unchanged
    assert float(a[0, 0]) == 0.0 and isinstance(a.get(), np.ndarray)


def test_views_in_place_ops_and_scatter_share_device_memory():
    a = fc.zeros((2, 3))
    a[0] += 1
    a[:, 1] = fc.asarray([5.0, 6.0])
    fc.add.at(a, (fc.asarray([1, 1]), fc.asarray([0, 0])), 1.0)
    np.testing.assert_array_equal(fc.asnumpy(a), [[1, 5, 1], [2, 6, 0]])
    idx = np.array([1, 0])  # host index arrays are accepted, as CuPy
    np.testing.assert_array_equal(fc.asnumpy(a[idx]), [[2, 6, 0], [1, 5, 1]])


def test_numpy_names_cupy_lacks_are_missing():
    for name in ("errstate", "broadcast_shapes", "seterr", "geomspace"):
        assert not hasattr(fc, name), name
    assert fc.float32 is np.float32 and fc.pi == np.pi and fc.newaxis is None


def test_submodules_random_linalg_stride_tricks_and_cuda():
    g1, g2 = fc.random.default_rng(3), fc.random.default_rng(3)
    a = g1.random((2, 2), dtype=np.float32)
    assert type(a) is fc.ndarray and a.dtype == np.float32
    np.testing.assert_array_equal(fc.asnumpy(a), fc.asnumpy(g2.random((2, 2), dtype=np.float32)))
    m = fc.asarray([[2.0, 0.0], [0.0, 4.0]])
    np.testing.assert_array_equal(fc.asnumpy(fc.linalg.inv(m)), [[0.5, 0], [0, 0.25]])
    v = fc.lib.stride_tricks.as_strided(fc.arange(4.0), shape=(3, 2), strides=(8, 8))
    np.testing.assert_array_equal(fc.asnumpy(v), [[0, 1], [1, 2], [2, 3]])
    assert fc.cuda.runtime.getDeviceCount() == 1 and a.device.id == 0
    with fc.cuda.Device(0):
        fc.cuda.Device().synchronize()
    with pytest.raises(RuntimeError, match="ordinal"):
        fc.cuda.Device(1)
    np.testing.assert_allclose(fc.asnumpy(fc.scipy_special.erf(fc.asarray([0.5]))), [0.5204998778])


def test_as_strided_has_cupys_signature():
    a = _dev(4)
    with pytest.raises(TypeError, match="writeable"):
        fc.lib.stride_tricks.as_strided(a, (2,), (16,), writeable=True)
    view = fc.lib.stride_tricks.as_strided(a, (2,), (16,))
    np.testing.assert_array_equal(fc.asnumpy(view), [0.0, 2.0])


def test_device_arrays_expose_cupys_memory_pointer():
    a = _dev(3, 4)
    assert not hasattr(a, "__array_interface__")
    assert a[1].data.ptr - a.data.ptr == 4 * 8
    iface = a.T.__cuda_array_interface__
    assert iface["shape"] == (4, 3) and iface["strides"] == (8, 32)
    assert iface["data"][0] == a.data.ptr and iface["version"] == 3
