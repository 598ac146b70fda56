"""Polynomial regression (pytorch/examples regression) fitted with LBFGS and a closure."""

import numpy as np

import zengrad

from ._common import assert_losses_close, copy_state, modules, real_torch, restore_default

DEGREE = 3


def make_features(torch, x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3]."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, DEGREE + 1)], 1)


def build(torch):
    torch, nn, F, optim = modules(torch)
    return nn.Linear(DEGREE, 1).double()


def run(torch, model, xs, ys, steps):
    torch, nn, F, optim = modules(torch)
    x = make_features(torch, torch.tensor(xs, dtype=torch.float64))
    y = torch.tensor(ys, dtype=torch.float64).unsqueeze(1)
    optimizer = optim.LBFGS(model.parameters(), lr=0.5, max_iter=10, history_size=5)
    losses = []
    for _ in range(steps):

        def closure():
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        losses.append(float(loss.item()))
    losses.append(F.mse_loss(model(x), y).item())
    return losses


def test_lbfgs_polyfit_matches_torch():
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1.0, 1.0, size=32)
    ys = 0.5 + 1.5 * xs - 2.0 * xs**2 + 0.7 * xs**3 + 0.1 * rng.standard_normal(32)
    torch = real_torch()
    try:
        ref_model = build(torch)
        twin = build(zengrad)
        copy_state(ref_model, twin)
        ref = run(torch, ref_model, xs, ys, steps=3)
    finally:
        restore_default(torch)
    got = run(zengrad, twin, xs, ys, steps=3)
    assert_losses_close(ref, got)
