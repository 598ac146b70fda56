"""gradcheck returns True on correct gradients and names the worst element otherwise."""

import numpy as np
import pytest

import zengrad as zg
from zengrad.autograd import GradcheckError


class WrongSquare(zg.Function):
    """y = x^2 with a deliberately wrong backward at element 2 (3x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * x

    @staticmethod
    def backward(ctx, g):
        d = 2 * ctx.x
        d[2] = 3 * ctx.x[2]
        return g * d


def _x():
    return zg.tensor([0.5, -1.0, 2.0, 1.5], dtype=zg.float64, requires_grad=True)


def test_gradcheck_true_on_correct_gradients():
    y = zg.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=zg.float64, requires_grad=True)
    assert zg.gradcheck(lambda a, b: (a[:2] @ b).tanh() * a[2:], [_x(), y]) is True
    # several outputs, and non-tensor inputs pass through
    assert zg.gradcheck(lambda a, k: (a * k, a.exp()), [_x(), 3.0])


def test_gradcheck_raises_naming_the_worst_element():
    with pytest.raises(GradcheckError, match=r"input element 2: numerical 4, analytical 6"):
        zg.gradcheck(WrongSquare.apply, [_x()])
    assert issubclass(GradcheckError, RuntimeError)


def test_gradcheck_can_return_false():
    assert zg.gradcheck(WrongSquare.apply, [_x()], raise_exception=False) is False


def test_gradcheck_catches_a_missing_gradient():
    def cut(a):  # detach hides a's contribution from the analytic gradient
        return a * a.detach()

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        zg.gradcheck(cut, [_x()])


def test_gradcheck_input_errors():
    with pytest.raises(ValueError, match="float64"):
        zg.gradcheck(lambda a: a * 2, [zg.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        zg.gradcheck(lambda a: a * 2, [zg.ones(2, dtype=zg.float64)])


def test_gradcheck_leaves_inputs_unchanged():
    x = _x()
    before = x.detach().numpy().copy()
    zg.gradcheck(lambda a: a.sin(), [x])
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None
