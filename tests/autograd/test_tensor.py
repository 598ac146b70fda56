"""Tensor: dtypes, conversions, properties, repr and the errors a user meets first."""

import numpy as np
import pytest
import torch

import zengrad as zg


def test_default_dtypes_follow_pytorch():
    assert zg.tensor([1.0, 2.0]).dtype == zg.float32
    assert zg.tensor(1.5).dtype == zg.float32
    assert zg.tensor([1, 2]).dtype == zg.int64
    assert zg.tensor([True, False]).dtype == zg.bool
    assert zg.Tensor([1.0]).dtype == zg.float32
    assert zg.tensor(np.zeros(2, np.float64)).dtype == zg.float64
    assert zg.tensor([1, 2], dtype=zg.float64).dtype == zg.float64
    assert zg.tensor([1.0], dtype=zg.float16).dtype == zg.float16


@pytest.mark.parametrize("np_dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16])
def test_integer_arrays_become_int64_but_from_numpy_keeps_dtype(np_dtype):
    a = np.arange(4, dtype=np_dtype)
    assert zg.tensor(a).dtype == zg.int64
    assert zg.Tensor(a).dtype == zg.float32  # torch's legacy constructor: always float
    f = zg.from_numpy(a)
    assert f.dtype == np.dtype(np_dtype)
    a[0] = 3  # from_numpy shares memory, tensor() copies
    assert f.data[0] == 3 and zg.tensor(a).data[0] == 3


def test_tensor_copies_from_numpy_shares():
    a = np.ones(3, np.float32)
    t, f = zg.tensor(a), zg.from_numpy(a)
    a[0] = 7.0
    assert t.data[0] == 1.0 and f.data[0] == 7.0
    with pytest.raises(TypeError, match="np.ndarray"):
        zg.from_numpy([1.0, 2.0])


def test_dtype_aliases():
    assert zg.float32 == np.float32 and zg.float64 == np.float64 and zg.float16 == np.float16
    assert zg.int64 == np.int64 and zg.int32 == np.int32 and zg.bool == np.bool_
    assert zg.double == zg.float64 and zg.long == zg.int64 and zg.half == zg.float16


def test_conversions_and_casts():
    x = zg.tensor([1.7, -2.2], requires_grad=True)
    assert x.double().dtype == zg.float64
    assert x.float() is x
    assert x.long().dtype == zg.int64
    np.testing.assert_array_equal(x.long().numpy(), [1, -2])  # truncation, as torch
    assert x.to(zg.float16).dtype == zg.float16
    assert x.to("cpu") is x
    assert x.to(dtype=zg.float64).dtype == zg.float64
    # casts are differentiable back to the source dtype
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == zg.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    # an integer cast is cut from the graph
    assert not x.long().requires_grad
    with pytest.raises(RuntimeError, match="not available"):
        x.to("cuda")


def test_properties_and_python_protocol():
    x = zg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size() == (2, 3) and x.size(-1) == 3
    assert x.numel() == 6 and len(x) == 2 and x.dim() == 2
    np.testing.assert_array_equal(x.T.numpy(), np.arange(6.0).reshape(2, 3).T)
    assert zg.tensor(3.5).item() == 3.5 and isinstance(zg.tensor(3).item(), int)
    assert float(zg.tensor([2.0])) == 2.0 and int(zg.tensor(4)) == 4
    assert zg.tensor([[1.5]]).item() == 1.5
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert isinstance(x.numpy(), np.ndarray)
    assert [r.shape for r in x] == [(3,), (3,)]
    with pytest.raises(TypeError, match="0-d"):
        len(zg.tensor(1.0))


def test_repr_shows_values_dtype_and_grad_fn():
    assert repr(zg.tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    y = (x * 2).sum()
    assert "grad_fn=<SumBackward0>" in repr(y) and "6." in repr(y)
    assert "dtype=zengrad.float64" in repr(zg.tensor([1.0], dtype=zg.float64))
    assert repr(zg.tensor([1, 2])) == "tensor([1, 2])"


def test_requires_grad_detach_and_requires_grad_():
    x = zg.ones(2)
    assert not x.requires_grad and x.grad is None and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 3
    assert y.requires_grad and not y.is_leaf
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.data[0] = 10.0  # detach shares the data, as in torch
    assert y.data[0] == 10.0
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype"):
        zg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        zg.tensor([1, 2], requires_grad=True)


def test_numpy_of_tensor_requiring_grad_raises():
    x = zg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    assert x.detach().numpy().shape == (2,)


def test_item_of_many_elements_raises():
    with pytest.raises(ValueError, match=r"6 elements.*shape \(2, 3\)"):
        zg.ones(2, 3).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(zg.ones(2))


def test_ragged_data_raises():
    # NumPy 2 refuses ragged nesting itself (ValueError, as torch); older NumPy builds an
    # object array that as_array turns into a TypeError
    with pytest.raises((ValueError, TypeError), match="inhomogeneous|ragged"):
        zg.tensor([[1.0, 2.0], [3.0]])


def test_operators_with_numpy_on_the_left_use_tensor():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], np.float32) * x
    assert isinstance(y, zg.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    w = zg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w.add_(1.0)
    with zg.no_grad():
        w.add_(1.0).mul_(2.0).sub_(zg.ones(3))
    np.testing.assert_array_equal(w.detach().numpy(), [3.0, 3.0, 3.0])
    with pytest.raises(RuntimeError, match=r"\[2\] does not broadcast to \[3\]"):
        with zg.no_grad():
            w.copy_(np.ones(2))


def test_values_match_torch_for_a_mixed_expression():
    a = np.linspace(-1, 1, 12).reshape(3, 4)
    x, t = zg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for v in (x, t):
        ((v.exp() * v).sum(1) / v.abs().max()).pow(2).mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_inplace_on_a_graph_tensor_is_recorded_as_torch():
    # y = x * 2; y.mul_(3): x.grad = 6, as torch
    x = zg.ones(3, requires_grad=True)
    y = x * 2
    y.mul_(3.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 6.0])
    with zg.no_grad():
        y.mul_(3.0)  # allowed where the user opts out of autograd
    z = (x * 2).detach()
    z.mul_(3.0)  # detached: not part of the graph
    np.testing.assert_array_equal(z.numpy(), [6.0, 6.0, 6.0])
