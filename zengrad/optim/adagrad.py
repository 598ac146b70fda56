"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.optim.optimizer import Optimizer, check_nonnegative


class Adagrad(Optimizer):
    """clr = lr / (1 + (t - 1) * lr_decay);  s = s + g^2;  p = p - clr * g / (sqrt(s) + eps),
    with g = grad + weight_decay * p and s starting at initial_accumulator_value.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        # PyTorch creates Adagrad's state eagerly: a state_dict taken before any step has it
        self._init_state(self.param_groups[-1])

    def _init_state(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            if p not in self.state:
                self.state[p] = {
                    "step": 0.0,
                    "sum": backend.xp_of(p.array).full_like(
                        p.array, group["initial_accumulator_value"]),
                }

    def _validate(self, group: dict[str, Any]) -> None:
        check_nonnegative("learning rate", group["lr"])
        check_nonnegative("lr_decay", group["lr_decay"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_nonnegative("initial_accumulator_value", group["initial_accumulator_value"])
        check_nonnegative("epsilon", group["eps"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        for p in group["params"]:
            if p._grad is None:  # the slot behind .grad: no property call per step
                continue
            state = self.state[p]
            state["step"] += 1
            g = self._grad(p, float(group["weight_decay"]), group["maximize"])
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            total = state["sum"]
            std, tmp = self._scratch(p.array, 1), self._scratch(p.array, 2)
            xp = backend.xp_of(g)
            xp.multiply(g, g, out=tmp)
            total += tmp
            xp.sqrt(total, out=std)
            std += eps
            xp.multiply(g, -clr, out=tmp)
            tmp /= std
            p.array += tmp
