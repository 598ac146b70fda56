"""Bad hyperparameters and parameter lists fail at construction with the value named."""

import numpy as np
import pytest

import zengrad as zg
from zengrad import optim


def _p():
    return zg.randn(3, requires_grad=True)


@pytest.mark.parametrize(
    "cls,kwargs,match",
    [
        (optim.SGD, {"lr": -0.1}, "learning rate.*-0.1"),
        (optim.SGD, {"momentum": -0.5}, "momentum.*-0.5"),
        (optim.SGD, {"weight_decay": -1.0}, "weight_decay.*-1.0"),
        (optim.SGD, {"nesterov": True}, "Nesterov.*momentum=0"),
        (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening=0.1"),
        (optim.Adam, {"lr": -1e-3}, "learning rate.*-0.001"),
        (optim.Adam, {"eps": -1e-8}, "epsilon.*-1e-08"),
        (optim.Adam, {"betas": (1.0, 0.999)}, "index 0: 1.0"),
        (optim.Adam, {"betas": (0.9, -0.1)}, "index 1: -0.1"),
        (optim.AdamW, {"betas": (0.9, 1.5)}, "index 1: 1.5"),
        (optim.AdamW, {"weight_decay": -0.01}, "weight_decay.*-0.01"),
        (optim.Adagrad, {"lr_decay": -0.1}, "lr_decay.*-0.1"),
        (optim.Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
        (optim.Adagrad, {"eps": -1.0}, "epsilon.*-1.0"),
        (optim.RMSprop, {"alpha": -0.5}, "alpha.*-0.5"),
        (optim.RMSprop, {"momentum": -0.9}, "momentum.*-0.9"),
        (optim.RMSprop, {"eps": float("nan")}, "epsilon.*nan"),
    ],
)
def test_invalid_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([_p()], **kwargs)


def test_invalid_value_in_a_param_group():
    with pytest.raises(ValueError, match="learning rate.*-2"):
        optim.SGD([{"params": [_p()], "lr": -2}], lr=0.1)
    opt = optim.Adam([_p()])
    with pytest.raises(ValueError, match="index 0: 2"):
        opt.add_param_group({"params": [_p()], "betas": (2, 0.9)})


def test_empty_params():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD(iter([]), lr=0.1)


def test_param_in_two_groups():
    p = _p()
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p, _p()]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": p})


def test_bad_param_types():
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(_p(), lr=0.1)
    with pytest.raises(TypeError, match="params\\[1\\] is ndarray"):
        optim.SGD([_p(), np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="sets"):
        optim.SGD({_p()}, lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([_p() * 2], lr=0.1)


def test_add_param_group_uses_defaults_and_steps_the_new_group():
    a, b = _p(), _p()
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    b.grad = zg.ones(3)
    before = b.array.copy()
    opt.step()
    np.testing.assert_allclose(b.array, before - 0.5, rtol=1e-6)
