"""Adadelta: a per-coordinate step size from running averages of squared gradients and of
squared updates (Zeiler 2012), as torch.optim.Adadelta computes it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.optim.optimizer import Optimizer, check_nonnegative, ema_sq_


class Adadelta(Optimizer):
    """g = grad (-grad if maximize) + weight_decay * p;
    v = rho * v + (1 - rho) * g^2;
    delta = sqrt(u + eps) / sqrt(v + eps) * g;
    u = rho * u + (1 - rho) * delta^2;
    p = p - lr * delta.

    State per parameter: 'step', 'square_avg' (v) and 'acc_delta' (u), as torch names them.
    `foreach` picks an implementation in torch and is accepted and ignored (the result is
    the same); `capturable` (CUDA graphs) and `differentiable` (autograd through the step)
    have no zengrad counterpart and are refused when True.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        check_nonnegative("learning rate", group["lr"])
        if not 0.0 <= group["rho"] <= 1.0:  # also rejects NaN
            raise ValueError(f"Invalid rho value: {group['rho']} (must be in [0, 1])")
        check_nonnegative("epsilon", group["eps"])
        check_nonnegative("weight_decay", group["weight_decay"])
        for flag in ("capturable", "differentiable"):
            if group.get(flag):
                raise ValueError(
                    f"Adadelta: {flag}=True is not supported by zengrad (it has no CUDA "
                    "graphs and does not differentiate through optimizer steps); use the "
                    "default False"
                )

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        for p in group["params"]:
            if p._grad is None:  # the slot behind .grad: no property call per step
                continue
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0.0
                state["square_avg"] = backend.xp_of(p.array).zeros_like(p.array)
                state["acc_delta"] = backend.xp_of(p.array).zeros_like(p.array)
            state["step"] += 1
            g = self._grad(p, weight_decay, group["maximize"])  # scratch slot 0 or p.grad
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            std, delta = self._scratch(p.array, 1), self._scratch(p.array, 2)
            xp = backend.xp_of(g)

            ema_sq_(square_avg, g, rho, std)  # std is a free temporary until the next line
            xp.add(square_avg, eps, out=std)
            xp.sqrt(std, out=std)
            xp.add(acc_delta, eps, out=delta)
            xp.sqrt(delta, out=delta)
            delta /= std
            delta *= g
            ema_sq_(acc_delta, delta, rho, std)  # std is no longer needed: reuse it
            delta *= -lr
            p.array += delta
