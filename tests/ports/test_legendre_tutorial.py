"""The PyTorch tutorial's LegendrePolynomial3 (a custom autograd.Function fitted by hand-written
SGD: `a -= learning_rate * a.grad` under no_grad), its body unchanged, run with torch and with
zengrad in float32: the same loss after 2,000 steps."""

import math

import pytest
import torch as real_torch

import zengrad


def run(torch, steps=2000):
    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    dtype = torch.float
    device = torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    for _ in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return loss.item(), b.item(), d.item()


def test_legendre_tutorial_runs_unchanged_and_matches_torch():
    want, got = run(real_torch), run(zengrad)
    assert got == pytest.approx(want, rel=1e-5)  # float32 rounding: measured 4e-7
    assert 8.9 < got[0] < 9.0  # the tutorial's printed loss: about 8.94
