"""nn.functional: the re-exported API is complete and is the same code as the ops."""

import numpy as np
import pytest
import torch

import zengrad as zg
import zengrad.nn.functional as F
from tests.helpers import assert_parity

NAMES = [
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu", "softplus",
    "softmax", "log_softmax", "dropout", "pad", "cross_entropy", "nll_loss", "mse_loss",
    "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "huber_loss",
    "smooth_l1_loss", "kl_div",
]


@pytest.mark.parametrize("name", NAMES)
def test_exported(name):
    assert callable(getattr(F, name))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_and_pad_parity(rng, dtype):
    x = rng.standard_normal((2, 3, 5)).astype(dtype)
    w = rng.standard_normal((4, 5)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    assert_parity(F.linear, torch.nn.functional.linear, [x, w, b])
    assert_parity(
        lambda t: F.pad(t, (1, 2, 0, 1)), lambda t: torch.nn.functional.pad(t, (1, 2, 0, 1)), [x]
    )


def test_functional_activations_match_modules(rng):
    x = zg.tensor(rng.standard_normal((3, 4)))
    th = torch.from_numpy(x.array.copy())
    for name, args in [("relu", ()), ("leaky_relu", (0.2,)), ("elu", (0.7,)), ("gelu", ()),
                       ("silu", ()), ("softplus", (2.0,)), ("softmax", (1,)),
                       ("log_softmax", (0,)), ("sigmoid", ()), ("tanh", ())]:
        ours = getattr(F, name)(x, *args).array
        ref = getattr(torch.nn.functional, name)(th, *args).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14, err_msg=name)


def test_dropout_functional_training_flag():
    x = zg.ones(1000)
    assert F.dropout(x, 0.5, training=False) is x
    assert (F.dropout(x, 0.5).array == 0).any()
    assert (F.dropout(x, 0.5, True).array == 0).any()
