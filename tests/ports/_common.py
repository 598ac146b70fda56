"""Shared harness: run one program source under real torch and under zengrad."""

import contextlib

import numpy as np
import pytest


def modules(torch):
    """The names a PyTorch script imports: torch, nn, F, optim."""
    return torch, torch.nn, torch.nn.functional, torch.optim


def real_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    return torch


def restore_default(torch):
    torch.set_default_dtype(torch.float32)


def copy_state(src, dst):
    """Load the torch model's initial weights into the zengrad twin."""
    dst.load_state_dict({k: v.detach().numpy() for k, v in src.state_dict().items()})


def assert_losses_close(ref, got, rtol=1e-6):
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert ref.shape == got.shape
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=1e-12)


@contextlib.contextmanager
def float64_torch():
    """Real torch, seeded, with float64 as its default dtype while the block runs."""
    torch = real_torch()
    try:
        yield torch
    finally:
        restore_default(torch)


def twins(build, torch, zengrad):
    """(torch model, zengrad model with the torch model's initial weights)."""
    ref_model, twin = build(torch), build(zengrad)
    copy_state(ref_model, twin)
    return ref_model, twin
