"""A custom autograd.Function (pytorch tutorial LegendrePolynomial3 style) inside a model."""

import numpy as np

import zengrad

from ._common import assert_losses_close, copy_state, modules, real_torch, restore_default


def build(torch):
    torch, nn, F, optim = modules(torch)

    class ScaledSoftplus(torch.autograd.Function):
        """softplus(beta * x) / beta with a hand-written backward."""

        @staticmethod
        def forward(ctx, x, beta):
            ctx.save_for_backward(x)
            ctx.beta = beta
            return torch.log1p(torch.exp(beta * x)) / beta

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * torch.sigmoid(ctx.beta * x), None

    class LegendreP3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x**2 - 1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 16)
            self.fc2 = nn.Linear(16, 1)
            self.a = nn.Parameter(torch.tensor(0.3))

        def forward(self, x):
            h = ScaledSoftplus.apply(self.fc1(x), 2.0)
            return LegendreP3.apply(self.a * self.fc2(h))

    return Model().double()


def run(torch, model, xs, ys, steps):
    torch, nn, F, optim = modules(torch)
    x = torch.tensor(xs)
    y = torch.tensor(ys)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_custom_function_matches_torch():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((20, 4))
    ys = np.sin(xs.sum(axis=1, keepdims=True))
    torch = real_torch()
    try:
        ref_model = build(torch)
        twin = build(zengrad)
        copy_state(ref_model, twin)
        ref = run(torch, ref_model, xs, ys, steps=6)
    finally:
        restore_default(torch)
    got = run(zengrad, twin, xs, ys, steps=6)
    assert_losses_close(ref, got)
