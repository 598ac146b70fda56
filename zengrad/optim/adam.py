"""Adam and AdamW: bias-corrected running moments of the gradient and its square."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from functools import partial
from typing import Any

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.ops.kernels import Kernel, kmath
from zengrad.ops.threads import BLOCK
from zengrad.optim.flat import SmallParams, small_param_runs
from zengrad.optim.optimizer import (
    Optimizer,
    check_nonnegative,
    fused_update,
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
        """The update of each parameter with a gradient, by _adam_block: the small ones of
        one dtype together, over their state in one flat buffer per moment (optim/flat.py),
        the others one by one (fused_update: whole, or in cache-sized blocks without Numba)."""
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        weight_decay = float(group["weight_decay"])
        decoupled, amsgrad = group["decoupled_weight_decay"], group["amsgrad"]
        # decoupled: p shrinks first; else weight_decay * p is added to the gradient (L2)
        shrink = 1.0 - lr * weight_decay if decoupled and weight_decay != 0 else None
        l2 = 0.0 if decoupled else weight_decay
        states = self.state
        blocks: dict[float, partial] = {}  # by step count: a group's parameters share one
        slots = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else (
            "exp_avg", "exp_avg_sq")

        def block_for(p: Tensor) -> partial:
            """p's state made and its step counted; the block update for its step."""
            state = states.get(p)
            if not state:
                xp = backend.xp_of(p.array)
                state = states[p] = {"step": 0.0, "exp_avg": xp.zeros_like(p.array),
                                     "exp_avg_sq": xp.zeros_like(p.array)}
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = backend.xp_of(p.array).zeros_like(p.array)
            step = state["step"] = state["step"] + 1
            block = blocks.get(step)
            if block is None:
                block = blocks[step] = partial(
                    _adam_block, beta1=beta1, beta2=beta2, eps=eps,
                    step_size=lr / (1 - beta1**step), bc2=(1 - beta2**step) ** 0.5,
                    shrink=shrink, l2=l2, maximize=group["maximize"])
            return block

        single, runs = small_param_runs(group["params"], BLOCK)
        packs = self.__dict__.setdefault("_small_params", {})
        for dtype, run in runs.items():
            run_blocks = {block_for(p) for p in run}
            if len(run_blocks) != 1:  # steps differ (a parameter skipped some): one by one
                single.extend(run)
                continue
            key = (id(group), dtype)
            pack = packs.get(key)
            if pack is None or not pack.matches(run, states, slots):
                live = {id(g) for g in self.param_groups}  # groups replaced by a load go
                for stale in [k for k in packs if k[0] not in live]:
                    del packs[stale]
                pack = packs[key] = SmallParams(run, states, slots)
            pack.update(run_blocks.pop(), fused_update)  # gather, update, copy back
        counted = {id(p) for run in runs.values() for p in run}
        for p in single:
            block = blocks[states[p]["step"]] if id(p) in counted else block_for(p)
            fused_update(block, [p.array, p._grad.array, *(states[p][s] for s in slots)])


def _adam_block(p, g, exp_avg, exp_avg_sq, max_sq=None, *, beta1: float, beta2: float,
                eps: float, step_size: float, bc2: float, shrink: float | None, l2: float,
                maximize: bool) -> None:
    """Adam's update of one block (elementwise_update): one fused kernel (ops.kernels), one
    pass over the block with Numba, where the ufunc form is 12 passes (more with weight
    decay, maximize or amsgrad).

    The moments are torch's lerp_ and mul_/addcmul_ (same rounding). The step folds the
    bias correction c2 = sqrt(1 - b2^t) into the constants:
        p - s m / (sqrt(v) / c2 + eps) = p + (m / (sqrt(v) + eps c2)) (-s c2),
    two operations fewer than torch's sqrt, div, add, mul, div order (one of them a
    division); the result differs from that order by a rounding or two (float64: ~1e-16
    relative)."""
    weight = 1.0 - beta1
    b_side = weight >= 0.5  # torch's lerp: b - (b - a)(1 - w) for w >= 0.5
    fn = _adam_kernel(shrink is not None, l2 != 0, maximize, max_sq is not None, b_side)
    arrays = [p, g, exp_avg, exp_avg_sq] + ([] if max_sq is None else [max_sq])
    scalars = (1.0 if shrink is None else shrink, l2, 1.0 - weight if b_side else weight,
               beta2, 1.0 - beta2, eps * bc2, -step_size * bc2)
    fn(arrays, scalars)


@functools.cache
def _adam_kernel(shrinks: bool, l2: bool, maximize: bool, amsgrad: bool,
                 b_side: bool) -> Kernel:
    """The fused update for one combination of options (each its own compiled loop)."""

    def update(p, g, m, v, *rest):
        if amsgrad:
            mx, shrink, l2c, w, b2, ob2, e, k = rest
        else:
            shrink, l2c, w, b2, ob2, e, k = rest
        if shrinks:  # AdamW: p (1 - lr wd) first
            p = p * shrink
        if l2:  # g + l2 p (l2 p - g when maximizing), never written into p.grad
            g = p * l2c - g if maximize else p * l2c + g
        elif maximize:
            g = -g
        t = g - m  # torch's lerp_(g, 1 - b1)
        m = g - t * w if b_side else m + t * w
        v = v * b2 + g * ob2 * g  # torch's mul_(b2).addcmul_(g, g, value=1 - b2)
        if amsgrad:
            mx = kmath.maximum(mx, v)
            d = kmath.sqrt(mx) + e
        else:
            d = kmath.sqrt(v) + e
        p = p + m / d * k
        return (p, m, v, mx) if amsgrad else (p, m, v)

    update.__name__ = "adam_update"
    n = 5 if amsgrad else 4
    return Kernel(update, n, 7, (0, 2, 3, 4)[: n - 1])


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
