"""Adam and AdamW: bias-corrected running moments of the gradient and its square."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.optim.optimizer import (
    Optimizer,
    check_nonnegative,
    elementwise_update,
    ema_sq_,
    lerp_,
)


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: v^ = max(v^, v), used for v)
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    Weight decay adds weight_decay * p to g (L2), or with decoupled_weight_decay (AdamW)
    shrinks p = p * (1 - lr * weight_decay) before the update.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        check_nonnegative("learning rate", group["lr"])
        check_nonnegative("epsilon", group["eps"])
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(
                    f"Invalid beta parameter at index {i}: {beta} (must be in [0, 1))"
                )
        check_nonnegative("weight_decay", group["weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        weight_decay = float(group["weight_decay"])
        decoupled, amsgrad = group["decoupled_weight_decay"], group["amsgrad"]
        for p in group["params"]:
            if p._grad is None:  # the slot behind .grad: no property call per step
                continue
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0.0
                state["exp_avg"] = backend.xp_of(p.array).zeros_like(p.array)
                state["exp_avg_sq"] = backend.xp_of(p.array).zeros_like(p.array)
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = backend.xp_of(p.array).zeros_like(p.array)
            state["step"] += 1
            step = state["step"]

            if decoupled:
                if weight_decay != 0:
                    p.array *= 1.0 - lr * weight_decay
                g = self._grad(p, 0.0, group["maximize"])
            else:
                g = self._grad(p, weight_decay, group["maximize"])

            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            step_size = lr / bias_correction1
            arrays = [p.array, g, state["exp_avg"], state["exp_avg_sq"]]
            if amsgrad:
                arrays.append(state["max_exp_avg_sq"])

            def update(p_, g_, exp_avg, exp_avg_sq, max_sq=None, step_size=step_size,
                       bc2=bias_correction2_sqrt):
                # all 13 passes over one cache-sized block before the next (for_blocks)
                xp = backend.xp_of(p_)
                denom, tmp = xp.empty_like(p_), xp.empty_like(p_)
                lerp_(exp_avg, g_, 1.0 - beta1, tmp)
                ema_sq_(exp_avg_sq, g_, beta2, tmp)
                if max_sq is not None:
                    xp.maximum(max_sq, exp_avg_sq, out=max_sq)
                    xp.sqrt(max_sq, out=denom)
                else:
                    xp.sqrt(exp_avg_sq, out=denom)
                denom /= bc2
                denom += eps
                xp.multiply(exp_avg, -step_size, out=tmp)
                tmp /= denom
                p_ += tmp

            elementwise_update(update, arrays)


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p * (1 - lr * weight_decay), then Adam's step."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an AdamW stays decoupled whatever was saved
            group["decoupled_weight_decay"] = True
