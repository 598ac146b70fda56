"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.ops.threads import BLOCK
from zengrad.optim.optimizer import (
    Optimizer,
    block_scratch,
    check_nonnegative,
    elementwise_update,
)


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
        plain = partial(_plain_step, lr=lr)
        if momentum != 0:
            first = partial(_momentum_step, lr=lr, momentum=momentum, nesterov=nesterov,
                            dampening=None)
            later = partial(_momentum_step, lr=lr, momentum=momentum, nesterov=nesterov,
                            dampening=dampening)
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        for p in group["params"]:
            grad = p._grad  # the slot behind .grad: no property call per step
            if grad is None:
                continue
            g = self._grad(p, weight_decay, maximize) if weight_decay or maximize else grad.array
            if momentum == 0:
                if g.size <= BLOCK:  # one block: no partial, no views
                    _plain_step(p.array, g, lr)
                else:
                    elementwise_update(plain, [p.array, g])
                continue
            state = self.state.setdefault(p, {})
            buf = state.get("momentum_buffer")
            if buf is None:  # b = g at the first step
                buf = state["momentum_buffer"] = backend.xp_of(g).array(g, copy=True)
                elementwise_update(first, [p.array, g, buf])
            else:
                elementwise_update(later, [p.array, g, buf])


def _plain_step(p: np.ndarray, g: np.ndarray, lr: float) -> None:
    """p -= lr g (on one block: see elementwise_update)."""
    xp = backend.xp_of(p)
    tmp = xp.multiply(g, -lr) if p.size <= BLOCK else xp.multiply(g, -lr, out=block_scratch(p, 0))
    p += tmp


def _momentum_step(p, g, buf, lr: float, momentum: float, nesterov: bool, dampening) -> None:
    """b = momentum b + (1 - dampening) g (dampening None: b already holds g, the first step);
    p -= lr (g + momentum b if nesterov else b). One block."""
    xp = backend.xp_of(p)
    tmp = block_scratch(p, 0)
    if dampening is not None:
        buf *= momentum
        if dampening == 0:
            buf += g
        else:
            xp.multiply(g, 1.0 - dampening, out=tmp)
            buf += tmp
    if nesterov:
        xp.multiply(buf, momentum, out=tmp)
        tmp += g
        tmp *= -lr
    else:
        xp.multiply(buf, -lr, out=tmp)
    p += tmp
