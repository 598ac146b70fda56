"""The engine: chain rule in topological order, accumulation, freeing, grad modes, leaves."""

import threading

import numpy as np
import pytest
import torch

import zengrad as zg


def test_diamond_graph_accumulates_across_uses():
    # y = x*x + exp(x) uses x three times; the shared node a = x*2 feeds two branches
    x = zg.tensor([0.5, -1.0], dtype=zg.float64, requires_grad=True)
    a = x * 2
    y = (a * a + a.exp() + x * x).sum()
    y.backward()
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 8 * xv + 2 * np.exp(2 * xv) + 2 * xv)


def test_deep_chain_has_no_recursion_limit():
    x = zg.tensor(1.0, dtype=zg.float64, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**5000)


def test_topological_order_waits_for_every_consumer():
    # b is reached by a short and a long path; its gradient must be complete before use
    x = zg.tensor(2.0, dtype=zg.float64, requires_grad=True)
    b = x * 3
    long = b
    for _ in range(10):
        long = long + 0.0
    y = b * long  # = 9 x^2
    y.backward()
    assert x.grad.item() == pytest.approx(36.0)


def test_grad_accumulates_across_backward_calls_until_zeroed():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_backward_with_gradient_argument_matches_torch():
    a = np.arange(6.0).reshape(2, 3)
    g = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, 1.0]])
    x = zg.tensor(a, requires_grad=True)
    (x * x).backward(zg.tensor(g))
    t = torch.tensor(a, requires_grad=True)
    (t * t).backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    x.grad = None
    (x * x).backward(g)  # a plain array works too
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_graph_is_freed_after_backward_and_second_backward_raises():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_of_non_scalar_needs_gradient():
    x = zg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2, 3\)"):
        (x * 2).backward()


def test_gradient_of_wrong_shape_names_both_shapes():
    x = zg.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3, 2\) but the tensor has shape \(2, 3\)"):
        (x * 2).backward(zg.ones(3, 2))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        zg.ones(2).sum().backward()


def test_backward_on_a_leaf():
    x = zg.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_no_grad_records_nothing():
    x = zg.ones(3, requires_grad=True)
    with zg.no_grad():
        y = (x * 2).exp().sum()
        assert not zg.is_grad_enabled()
    assert zg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad


def test_no_grad_and_enable_grad_as_decorators_and_nested():
    x = zg.ones(3, requires_grad=True)

    @zg.no_grad()
    def infer(t):
        return t * 2

    @zg.enable_grad()
    def train(t):
        return t * 2

    assert infer(x).grad_fn is None
    with zg.no_grad():
        y = train(x)
        assert y.grad_fn is not None and y.requires_grad
        with zg.enable_grad():
            assert (x + 1).requires_grad
        assert not (x + 1).requires_grad
    assert zg.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(KeyError):
        with zg.no_grad():
            raise KeyError
    assert zg.is_grad_enabled()


def test_set_grad_enabled_as_function_context_and_decorator():
    x = zg.ones(2, requires_grad=True)
    with zg.set_grad_enabled(False):
        assert (x * 2).grad_fn is None
    assert zg.is_grad_enabled()
    zg.set_grad_enabled(False)
    assert not zg.is_grad_enabled() and (x * 2).grad_fn is None
    zg.set_grad_enabled(True)
    assert (x * 2).grad_fn is not None

    @zg.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert zg.is_grad_enabled()  # decorating does not change the mode
    assert f(x).grad_fn is None and zg.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with zg.no_grad():
        t = threading.Thread(target=lambda: seen.append(zg.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_only_leaves_keep_grad_unless_retain_grad():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    k = h * 2
    k.retain_grad()
    assert k.retains_grad and not h.retains_grad
    (k * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad.numpy(), 2 * k.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), 2 * k.detach().numpy() * 6)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        zg.ones(2).retain_grad()


def test_inputs_without_requires_grad_get_no_grad():
    x = zg.ones(2, requires_grad=True)
    c = zg.ones(2)
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_leaf_grad_does_not_alias_incoming_gradient():
    x = zg.ones(3, requires_grad=True)
    g = zg.tensor([1.0, 2.0, 3.0])
    (x + 0).backward(g)
    g.data[...] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])
    y = zg.ones(3, requires_grad=True)
    y.backward(g)
    g.data[...] = 9.0
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 0.0])


def test_gradient_dtype_follows_the_leaf():
    x = zg.ones(2, requires_grad=True)
    (x * 2).backward(np.ones(2, np.float64))
    assert x.grad.dtype == zg.float32


def test_custom_function():
    class Cube(zg.Function):
        """y = x^3;  dL/dx = 3 x^2 g."""

        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x**3

        @staticmethod
        def backward(ctx, g):
            return 3 * ctx.x**2 * g

    x = zg.tensor([1.0, -2.0], dtype=zg.float64, requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 12.0])
    assert repr(Cube.apply(x).grad_fn) == "<CubeBackward>"
    assert zg.gradcheck(Cube.apply, [x])
