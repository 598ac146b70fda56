"""grad_fn reads as torch's node names (<MulBackward0>, <AddmmBackward0>, ...): a display
name; a user's own op class C reads <CBackward>, as a torch custom Function."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg

OPS = {
    "mul": lambda lib, x, w: x * 2,
    "add": lambda lib, x, w: x + x,
    "div": lambda lib, x, w: x / 3,
    "exp": lambda lib, x, w: x.exp(),
    "tanh": lambda lib, x, w: x.tanh(),
    "sigmoid": lambda lib, x, w: x.sigmoid(),
    "relu": lambda lib, x, w: lib.nn.functional.relu(x),
    "gelu": lambda lib, x, w: lib.nn.functional.gelu(x),
    "linear": lambda lib, x, w: lib.nn.functional.linear(x, w, w[:, 0]),
    "mm": lambda lib, x, w: x @ w.T,
    "sum": lambda lib, x, w: x.sum(),
    "mean": lambda lib, x, w: x.mean(),
    "view": lambda lib, x, w: x.reshape(12),
    "slice": lambda lib, x, w: x[:, 1:],
    "permute": lambda lib, x, w: x.permute(1, 0),
    "cat": lambda lib, x, w: lib.cat([x, x]),
    "softmax": lambda lib, x, w: lib.softmax(x, 1),
    "log_softmax": lambda lib, x, w: lib.log_softmax(x, 1),
    "cross_entropy": lambda lib, x, w: lib.nn.functional.cross_entropy(x, lib.tensor([0, 1, 2])),
    "mse": lambda lib, x, w: lib.nn.functional.mse_loss(x, x.detach()),
    "to": lambda lib, x, w: x.to(lib.float64),
    "clone": lambda lib, x, w: x.clone(),
    "layer_norm": lambda lib, x, w: lib.nn.functional.layer_norm(x, (4,)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_node_names_are_torchs(name):
    names = []
    for lib in (zg, torch):
        lib.manual_seed(0)
        x = lib.randn(3, 4, requires_grad=True)
        w = lib.randn(5, 4, requires_grad=True)
        names.append(type(OPS[name](lib, x, w).grad_fn).__name__ if lib is torch
                     else OPS[name](lib, x, w).grad_fn.name())
    assert names[0] == names[1]


def test_repr_and_a_users_op_class():
    y = zg.ones(2, requires_grad=True) * 3
    assert repr(y.grad_fn) == "<MulBackward0>" and "grad_fn=<MulBackward0>" in repr(y)

    class Cube(zg.autograd.ArrayFunction):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x**3

        @staticmethod
        def backward(ctx, g):
            return 3 * ctx.x**2 * g

    z = Cube.apply(zg.ones(2, requires_grad=True))
    assert z.grad_fn.name() == "CubeBackward"
    z.sum().backward()  # names change nothing else
    np.testing.assert_array_equal(z.detach().numpy(), [1.0, 1.0])
