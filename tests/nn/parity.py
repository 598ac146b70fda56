"""Module parity against torch: copy torch's weights into the zengrad twin with
load_state_dict({k: v.numpy()}), then compare outputs, input grads and parameter grads.

Use from any tests/nn module:
    from tests.nn.parity import assert_module_parity
"""

from __future__ import annotations

import numpy as np
import torch

import zengrad as zg
from tests.helpers import _close


def copy_weights(zg_module, torch_module) -> None:
    """torch state_dict (as NumPy arrays) -> zengrad module, strictly."""
    zg_module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def assert_module_parity(
    zg_module, torch_module, x: np.ndarray, *, seed: int = 0, input_grad: bool = True
) -> None:
    """Same weights -> same output, input gradient and parameter gradients (by name).

    torch_module must already have x's dtype; its weights are copied into zg_module.
    """
    copy_weights(zg_module, torch_module)
    xz = zg.from_numpy(x.copy()).requires_grad_(input_grad)
    xt = torch.from_numpy(x.copy()).requires_grad_(input_grad)
    yz, yt = zg_module(xz), torch_module(xt)
    assert yz.dtype == np.dtype(str(yt.dtype).split(".")[-1]), (yz.dtype, yt.dtype)
    _close(yz.detach().numpy(), yt.detach().numpy(), "output")
    cot = np.random.default_rng(seed).standard_normal(yt.shape).astype(x.dtype)
    yt.backward(torch.from_numpy(cot.copy()))
    yz.backward(zg.from_numpy(cot))
    if input_grad:
        _close(xz.grad.numpy(), xt.grad.numpy(), "input grad")
    zg_params = dict(zg_module.named_parameters())
    th_params = dict(torch_module.named_parameters())
    assert list(zg_params) == list(th_params)
    for name, tp in th_params.items():
        zp = zg_params[name]
        assert zp.grad is not None, f"{name}: no grad"
        assert zp.grad.dtype == zp.dtype
        _close(zp.grad.numpy(), tp.grad.numpy(), f"grad of {name}")
