"""Finite-difference gradient check in float64.

Compares the engine's Jacobian, row by row from backward, with central differences
    dy/dx_j ~ (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)
and accepts when |analytic - numeric| <= atol + rtol |numeric| everywhere. The inputs may
live on any device; the Jacobians are assembled on the host (NumPy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import no_grad
from zengrad.autograd.tensor import Tensor


def _host_copy(array) -> np.ndarray:
    """A flat NumPy copy of an output (device arrays are copied to the host)."""
    return np.array(backend.asnumpy(array), copy=True).reshape(-1)  # host


class GradcheckError(RuntimeError):
    """The analytic and numeric Jacobians disagree."""


def _outputs(fn: Callable, inputs: Sequence) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.array.dtype.kind == "f"]


def gradcheck(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check fn's gradients for every input that requires grad; True or GradcheckError."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    for i in diff:
        if inputs[i].array.dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} is {inputs[i].array.dtype}; finite differences need "
                "float64 inputs (use .double())"
            )

    outs = _outputs(fn, inputs)
    # analytic Jacobian, one backward per output element
    analytic = {}
    for k, out in enumerate(outs):
        if not out.requires_grad:
            continue
        rows = {i: np.zeros((out.array.size, inputs[i].array.size)) for i in diff}  # host
        xp = backend.xp_of(out.array)
        for r in range(out.array.size):
            for i in diff:
                inputs[i].grad = None
            seed = xp.zeros(out.array.size, out.array.dtype)
            seed[r] = 1.0
            out.backward(Tensor._make(seed.reshape(out.array.shape), False, None),
                         retain_graph=True)
            for i in diff:
                g = inputs[i].grad
                if g is not None:
                    rows[i][r] = backend.asnumpy(g.array).reshape(-1)
        analytic[k] = rows
    for i in diff:
        inputs[i].grad = None

    # numeric Jacobian by central differences
    with no_grad():
        for i in diff:
            x = inputs[i].array
            numeric = {k: np.zeros((outs[k].array.size, x.size))  # host
                       for k in range(len(outs))}
            for j in range(x.size):
                at = np.unravel_index(j, x.shape)  # host: in place, also in a strided x
                orig = x[at].item()
                x[at] = orig + eps
                plus = [_host_copy(o.array) for o in _outputs(fn, inputs)]
                x[at] = orig - eps
                minus = [_host_copy(o.array) for o in _outputs(fn, inputs)]
                x[at] = orig
                for k in range(len(outs)):
                    numeric[k][:, j] = (plus[k] - minus[k]) / (2 * eps)
            for k in range(len(outs)):
                # host: the Jacobians are NumPy arrays
                a = analytic.get(k, {}).get(i, np.zeros_like(numeric[k]))  # host
                n = numeric[k]
                bad = np.abs(a - n) > atol + rtol * np.abs(n)  # host
                if bad.any() or not np.all(np.isfinite(a) == np.isfinite(n)):  # host
                    err = np.where(np.isfinite(a - n), np.abs(a - n), np.inf)  # host
                    r, c = np.unravel_index(np.argmax(err), err.shape)  # host
                    msg = (
                        f"Jacobian mismatch for output {k} with respect to input {i}: worst "
                        f"at output element {r}, input element {c}: numerical {n[r, c]:.6g}, "
                        f"analytical {a[r, c]:.6g} (|diff| {err[r, c]:.3g}, atol {atol}, "
                        f"rtol {rtol}); {int(bad.sum())} of {bad.size} elements differ"
                    )
                    if raise_exception:
                        raise GradcheckError(msg)
                    return False
    return True
