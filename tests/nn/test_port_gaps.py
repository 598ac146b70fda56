"""Small API gaps found by running third-party PyTorch programs (tests/ports)."""

import numpy as np
import pytest

import zengrad
from zengrad import nn


def test_non_dynamically_quantizable_linear_is_a_linear_at_torchs_path():
    torch = pytest.importorskip("torch")
    from zengrad.nn.modules.linear import NonDynamicallyQuantizableLinear

    layer = NonDynamicallyQuantizableLinear(3, 2).double()
    assert isinstance(layer, nn.Linear)
    assert not isinstance(nn.Linear(3, 2), NonDynamicallyQuantizableLinear)
    ref = torch.nn.modules.linear.NonDynamicallyQuantizableLinear(3, 2).double()
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(layer(zengrad.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    # word_language_model names it in a safe_globals list
    with zengrad.serialization.safe_globals([NonDynamicallyQuantizableLinear]):
        assert NonDynamicallyQuantizableLinear in zengrad.serialization.get_safe_globals()
