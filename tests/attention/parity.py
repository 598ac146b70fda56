"""Parity helpers for the attention tests: the same call on a zengrad module and its torch
twin (weights copied with load_state_dict({k: v.numpy()})), comparing every output, the
gradients of the chosen inputs and every parameter gradient.

    check_module(zg_module, torch_module, {"x": x, "kpm": mask}, call, grads=("x",))
call(module, inputs) runs the module; inputs maps names to zengrad or torch tensors (the
same name -> the same tensor object, so `m(t["x"], t["x"], t["x"])` is self-attention).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import zengrad as zg
from tests.helpers import _close


def copy_weights(zg_module, torch_module) -> None:
    """torch state_dict as NumPy arrays -> zengrad module, strictly, with equal keys."""
    sd = torch_module.state_dict()
    assert list(zg_module.state_dict()) == list(sd)
    zg_module.load_state_dict({k: v.detach().numpy() for k, v in sd.items()})


def _outputs(out) -> list:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if o is not None]


def check_module(
    zg_module,
    torch_module,
    arrays: dict[str, np.ndarray],
    call: Callable,
    grads: tuple[str, ...] = (),
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> None:
    copy_weights(zg_module, torch_module)
    zin = {k: zg.from_numpy(a.copy()).requires_grad_(k in grads) for k, a in arrays.items()}
    tin = {k: torch.from_numpy(a.copy()).requires_grad_(k in grads) for k, a in arrays.items()}
    zo, to = _outputs(call(zg_module, zin)), _outputs(call(torch_module, tin))
    assert len(zo) == len(to), f"{len(zo)} outputs, torch gives {len(to)}"
    for k, (z, t) in enumerate(zip(zo, to)):
        assert z.dtype == np.dtype(str(t.dtype).split(".")[-1]), (z.dtype, t.dtype)
        _close(z.detach().numpy(), t.detach().numpy(), f"output {k}", rtol, atol)
    rng = np.random.default_rng(seed)
    cots = [rng.standard_normal(t.shape).astype(z.dtype) for z, t in zip(zo, to)]
    torch.autograd.backward(to, [torch.from_numpy(c.copy()) for c in cots])
    loss = None
    for z, c in zip(zo, cots):
        term = (z * zg.from_numpy(c)).sum() if len(zo) > 1 else None
        loss = term if loss is None else loss + term
    if loss is None:
        zo[0].backward(zg.from_numpy(cots[0]))
    else:
        loss.backward()
    for k in grads:
        _close(zin[k].grad.numpy(), tin[k].grad.numpy(), f"grad of input {k}", rtol, atol)
    zp, tp = dict(zg_module.named_parameters()), dict(torch_module.named_parameters())
    assert list(zp) == list(tp)
    for name, t in tp.items():
        assert zp[name].grad is not None, f"{name}: no grad"
        assert zp[name].grad.dtype == zp[name].dtype
        _close(zp[name].grad.numpy(), t.grad.numpy(), f"grad of {name}", rtol, atol)
