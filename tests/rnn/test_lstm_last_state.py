"""The LSTM as a many-to-one model uses it: only the last hidden state (h_n) feeds the loss,
so every other step's incoming gradient is zero and the fused op's backward skips adding it.
Outputs and all gradients must still be torch's, in float64, reading either way, with and
without initial states and biases."""

import numpy as np
import pytest
import torch

import zengrad as zg


def _twins(bidirectional: bool, bias: bool, dtype):
    t = torch.nn.LSTM(5, 7, bidirectional=bidirectional, bias=bias).to(dtype)
    z = zg.nn.LSTM(5, 7, bidirectional=bidirectional, bias=bias,
                   dtype=np.float64 if dtype == torch.float64 else np.float32)
    z.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return z, t


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_states", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_last_hidden_state_loss_matches_torch(bidirectional, with_states, bias):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4, 5))
    d = 2 if bidirectional else 1
    states = [rng.standard_normal((d, 4, 7)) for _ in range(2)] if with_states else None
    head = rng.standard_normal((7,))
    zm, tm = _twins(bidirectional, bias, torch.float64)
    zx, tx = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zs = [zg.tensor(s, requires_grad=True) for s in states] if states else None
    ts = [torch.tensor(s, requires_grad=True) for s in states] if states else None
    _, (zh, _) = zm(zx, tuple(zs) if zs else None)
    _, (th, _) = tm(tx, tuple(ts) if ts else None)
    # only h_n reaches the loss: the output's gradient is zero at every step but the last
    (zh * zg.tensor(head)).sum().backward()
    (th * torch.tensor(head)).sum().backward()
    np.testing.assert_allclose(zh.detach().numpy(), th.detach().numpy(), rtol=1e-12, atol=1e-13)
    pairs = [(zx.grad, tx.grad)] + [(a.grad, b.grad) for a, b in zip(zs or [], ts or [])]
    pairs += [(zp.grad, tp.grad) for zp, tp in zip(zm.parameters(), tm.parameters())]
    for a, b in pairs:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_last_state_gradients_do_not_depend_on_the_thread_count():
    """The same float32 bits at 1 and 2 zengrad threads (the fused op's blocks depend on the
    shape). BLAS is held at one thread in both runs: OpenBLAS's own threaded products may round
    otherwise (its Haswell kernels do)."""
    from zengrad.ops import blas_threads, threads

    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 64, 32)).astype(np.float32)
    zm = zg.nn.LSTM(32, 128)
    before = threads.get_num_threads()
    grads = []
    try:
        for n in (1, 2):
            zg.set_num_threads(n)
            zm.zero_grad()
            with blas_threads.one_blas_thread():
                _, (h, _) = zm(zg.tensor(x))
                h.sum().backward()
            grads.append([p.grad.numpy().copy() for p in zm.parameters()])
    finally:
        zg.set_num_threads(before)
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", [-1.0, 1e-3, -0.0])
def test_one_nonzero_early_output_gradient_is_not_skipped(value):
    """The zero check reads the incoming gradient's bits: a single negative (sign bit set) or
    small entry at an early step must reach the gradients, and a -0.0 changes nothing."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 3, 5))
    zm, tm = _twins(False, True, torch.float64)
    zx, tx = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zo, (zh, _) = zm(zx)
    to, (th, _) = tm(tx)
    go = np.zeros((5, 3, 7))
    go[1, 2, 4] = value
    head = rng.standard_normal((7,))
    ((zo * zg.tensor(go)).sum() + (zh * zg.tensor(head)).sum()).backward()
    ((to * torch.tensor(go)).sum() + (th * torch.tensor(head)).sum()).backward()
    pairs = [(zx.grad, tx.grad)] + [(a.grad, b.grad) for a, b in zip(zm.parameters(),
                                                                     tm.parameters())]
    for a, b in pairs:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
