"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.optim.optimizer import (
    Optimizer,
    block_scratch,
    check_nonnegative,
    elementwise_update,
    ema_sq_,
    lerp_,
)


class RMSprop(Optimizer):
    """v = alpha * v + (1 - alpha) * g^2;  centered: m = lerp(m, g, 1 - alpha), v~ = v - m^2;
    d = sqrt(v~) + eps;  with momentum: b = momentum * b + g / d, p = p - lr * b;
    else p = p - lr * g / d.  (g = grad + weight_decay * p.)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        check_nonnegative("learning rate", group["lr"])
        check_nonnegative("epsilon", group["eps"])
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_nonnegative("alpha", group["alpha"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum, centered = float(group["momentum"]), group["centered"]
        for p in group["params"]:
            if p._grad is None:  # the slot behind .grad: no property call per step
                continue
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0.0
                state["square_avg"] = backend.xp_of(p.array).zeros_like(p.array)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = backend.xp_of(p.array).zeros_like(p.array)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = backend.xp_of(p.array).zeros_like(p.array)
            state["step"] += 1
            g = self._grad(p, float(group["weight_decay"]), group["maximize"])
            arrays = [p.array, g, state["square_avg"]]
            arrays.append(state["grad_avg"] if centered else None)
            arrays.append(state["momentum_buffer"] if momentum > 0 else None)
            step = partial(_rmsprop_step, lr=lr, alpha=alpha, eps=eps, momentum=momentum)
            elementwise_update(step, [a for a in arrays if a is not None])


def _rmsprop_step(p, g, square_avg, *rest, lr, alpha, eps, momentum) -> None:
    """One block of the update; rest = (grad_avg if centered, momentum_buffer if momentum)."""
    xp = backend.xp_of(p)
    rest = list(rest)
    buf = rest.pop() if momentum > 0 else None
    grad_avg = rest.pop() if rest else None
    avg, tmp = block_scratch(p, 0), block_scratch(p, 1)
    ema_sq_(square_avg, g, alpha, tmp)
    if grad_avg is not None:
        lerp_(grad_avg, g, 1.0 - alpha, tmp)
        xp.multiply(grad_avg, grad_avg, out=tmp)
        xp.subtract(square_avg, tmp, out=avg)
        xp.sqrt(avg, out=avg)
    else:
        xp.sqrt(square_avg, out=avg)
    avg += eps
    if buf is not None:
        buf *= momentum
        xp.divide(g, avg, out=tmp)
        buf += tmp
        xp.multiply(buf, -lr, out=tmp)
    else:
        xp.multiply(g, -lr, out=tmp)
        tmp /= avg
    p += tmp
