"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from functools import partial
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.ops.kernels import Kernel
from zengrad.ops.threads import BLOCK
from zengrad.optim.optimizer import Optimizer, check_nonnegative, fused_update


class SGD(Optimizer):
    """g = grad + weight_decay * p;  b = momentum * b + (1 - dampening) * g (b = g at the
    first step);  g = g + momentum * b (nesterov) or b;  p = p - lr * g.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        check_nonnegative("learning rate", group["lr"])
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening (got momentum="
                f"{group['momentum']}, dampening={group['dampening']})"
            )

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        nesterov = group["nesterov"]
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        for p in group["params"]:
            grad = p._grad  # the slot behind .grad: no property call per step
            if grad is None:
                continue
            g = self._grad(p, weight_decay, maximize) if weight_decay or maximize else grad.array
            if momentum == 0:
                if g.size <= BLOCK:  # a few elements: two ufunc calls cost less than a
                    a = p.array  # kernel call (~2 us; tiny MLP step 0.139 -> 0.12 ms)
                    a += backend.xp_of(g).multiply(g, -lr)  # the kernel's p + g (-lr)
                else:
                    fused_update(partial(_plain_step, lr=lr), [p.array, g])
                continue
            state = self.state.setdefault(p, {})
            buf = state.get("momentum_buffer")
            first = buf is None
            if first:  # b = g at the first step
                buf = state["momentum_buffer"] = backend.xp_of(g).array(g, copy=True)
            fused_update(partial(_momentum_step, lr=lr, momentum=momentum, nesterov=nesterov,
                                 dampening=None if first else dampening), [p.array, g, buf])


def _plain_step(p: np.ndarray, g: np.ndarray, lr: float) -> None:
    """p = p - lr g (one kernel: ops.kernels)."""
    _PLAIN([p, g], (-lr,))


_PLAIN = Kernel(lambda p, g, nlr: p + g * nlr, 2, 1, (0,))


def _momentum_step(p, g, buf, lr: float, momentum: float, nesterov: bool, dampening) -> None:
    """b = momentum b + (1 - dampening) g (dampening None: b already holds g, the first step);
    p = p - lr (g + momentum b if nesterov else b). One kernel (ops.kernels)."""
    _momentum_kernel(dampening is not None, bool(dampening), nesterov)(
        [p, g, buf], (momentum, 1.0 - (dampening or 0.0), -lr))


@functools.cache
def _momentum_kernel(updates: bool, damps: bool, nesterov: bool) -> Kernel:
    """The fused momentum step for one combination of options (each its own compiled loop)."""
    def step(p, g, b, mom, keep, nlr):
        if updates:
            b = b * mom + (g * keep if damps else g)
        d = b * mom + g if nesterov else b
        return p + d * nlr, b

    return Kernel(step, 3, 3, (0, 2))
