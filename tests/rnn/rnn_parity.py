"""Parity of zengrad's recurrent modules with torch's twins: same weights (torch's state_dict
loaded as NumPy arrays), then outputs, final states, and the gradients of the input, the
initial states and every parameter after one backward with random cotangents on every output.

Use from tests/rnn:
    from tests.rnn.rnn_parity import assert_recurrent_parity
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

import zengrad as zg
from tests.helpers import _close


def _flatten(out) -> list:
    """(output, h_n) / (output, (h_n, c_n)) / (h, c) / h -> a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    return [out]


@contextlib.contextmanager
def _native_torch():
    """torch's native kernels as the oracle: its oneDNN float32 LSTM set itself up anew for
    every shape, at up to 0.5 s a call on a loaded 2-core machine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a note about Intel GPUs' TF32
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def _pack_state(states, lstm: bool):
    if not states:
        return None
    return tuple(states) if lstm else states[0]


def assert_recurrent_parity(
    zg_module, torch_module, x: np.ndarray, states: list[np.ndarray] | None = None, *,
    lstm: bool = False, seed: int = 0, what: str = "",
) -> None:
    """zg_module(x, hx) matches torch_module(x, hx) in values and in all gradients.

    states: the initial state arrays ([h0] or [h0, c0] for LSTM modules), or None.
    torch_module must already have x's dtype; its weights are copied into zg_module, whose
    state_dict keys must equal torch's.
    """
    th_sd = torch_module.state_dict()
    assert list(zg_module.state_dict()) == list(th_sd), f"{what}: state_dict keys differ"
    zg_module.load_state_dict({k: v.detach().numpy() for k, v in th_sd.items()})
    states = states or []
    xz = zg.from_numpy(x.copy()).requires_grad_()
    xt = torch.from_numpy(x.copy()).requires_grad_()
    sz = [zg.from_numpy(s.copy()).requires_grad_() for s in states]
    st = [torch.from_numpy(s.copy()).requires_grad_() for s in states]
    outs_z = _flatten(zg_module(xz, _pack_state(sz, lstm)))
    with _native_torch():
        outs_t = _flatten(torch_module(xt, _pack_state(st, lstm)))
    assert len(outs_z) == len(outs_t), f"{what}: {len(outs_z)} outputs, torch {len(outs_t)}"
    rng = np.random.default_rng(seed)
    cots = []
    for k, (oz, ot) in enumerate(zip(outs_z, outs_t)):
        assert oz.dtype == x.dtype, f"{what}: output {k} is {oz.dtype}, input {x.dtype}"
        _close(oz.detach().numpy(), ot.detach().numpy(), f"{what}: output {k}")
        cots.append(rng.standard_normal(ot.shape).astype(x.dtype))
    with _native_torch():
        torch.autograd.backward(outs_t, [torch.from_numpy(c.copy()) for c in cots])
    total = None
    for oz, c in zip(outs_z, cots):
        term = (oz * zg.from_numpy(c)).sum()
        total = term if total is None else total + term
    total.backward()
    _close(xz.grad.numpy(), xt.grad.numpy(), f"{what}: input grad")
    for k, (a, b) in enumerate(zip(sz, st)):
        assert a.grad is not None, f"{what}: no grad for initial state {k}"
        _close(a.grad.numpy(), b.grad.numpy(), f"{what}: grad of initial state {k}")
    zg_params = dict(zg_module.named_parameters())
    th_params = dict(torch_module.named_parameters())
    assert list(zg_params) == list(th_params), f"{what}: parameter names differ"
    for name, tp in th_params.items():
        zp = zg_params[name]
        assert zp.grad is not None, f"{what}: {name} has no grad"
        assert zp.grad.dtype == zp.dtype, f"{what}: {name} grad is {zp.grad.dtype}"
        _close(zp.grad.numpy(), tp.grad.numpy(), f"{what}: grad of {name}")
