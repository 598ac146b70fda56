"""A small tanh MLP twinned in zengrad and torch, for optimizer parity and resume tests."""

from __future__ import annotations

import numpy as np
import torch

import zengrad as zg

SHAPES = {"w1": (8, 5), "b1": (8,), "w2": (3, 8), "b2": (3,)}
N_ROWS, BATCH = 64, 16


def init_weights(seed: int, dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(s) * 0.5).astype(dtype) for k, s in SHAPES.items()}


def dataset(seed: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    x = rng.standard_normal((N_ROWS, 5)).astype(dtype)
    y = rng.standard_normal((N_ROWS, 3)).astype(dtype)
    return x, y


def batch(data, step: int):
    """A different mini-batch at every step, so gradients keep changing."""
    x, y = data
    idx = (np.arange(BATCH) + step * 5) % N_ROWS
    return x[idx], y[idx]


def zg_params(weights: dict[str, np.ndarray]) -> list[zg.Tensor]:
    return [zg.tensor(weights[k].copy()).requires_grad_() for k in SHAPES]


def torch_params(weights: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.tensor(weights[k].copy()).requires_grad_() for k in SHAPES]


def zg_backward(params, xb, yb) -> float:
    w1, b1, w2, b2 = params
    h = (zg.tensor(xb) @ w1.T + b1).tanh()
    loss = ((h @ w2.T + b2 - zg.tensor(yb)) ** 2).mean()
    loss.backward()
    return loss.item()


def torch_backward(params, xb, yb) -> float:
    w1, b1, w2, b2 = params
    h = torch.tanh(torch.from_numpy(xb) @ w1.T + b1)
    loss = ((h @ w2.T + b2 - torch.from_numpy(yb)) ** 2).mean()
    loss.backward()
    return loss.item()


def step_both(zopt, topt, zparams, tparams, data, step: int) -> None:
    """One step of each optimizer on mini-batch `step`, each side with its own gradients."""
    xb, yb = batch(data, step)
    zopt.zero_grad()
    topt.zero_grad()
    zg_backward(zparams, xb, yb)
    torch_backward(tparams, xb, yb)
    zopt.step()
    topt.step()


def step_both_with_zg_grads(zopt, topt, zparams, tparams, data, step: int) -> None:
    """One step of each optimizer on mini-batch `step`, torch given copies of zengrad's
    gradients (so only the optimizers can differ)."""
    zopt.zero_grad()
    zg_backward(zparams, *batch(data, step))
    for z, t in zip(zparams, tparams):
        t.grad = torch.from_numpy(z.grad.array.copy())
    zopt.step()
    topt.step()


def train_zg(opt, params, data, steps: range, scheduler=None) -> list[float]:
    losses = []
    for step in steps:
        opt.zero_grad()
        losses.append(zg_backward(params, *batch(data, step)))
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return losses
