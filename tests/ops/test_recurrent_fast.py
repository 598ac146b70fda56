"""The LSTM sequence op's blocked backward (ops/recurrent.py): gate gradients go to the
weight-gradient GEMMs in blocks of BLOCK_BYTES worth of time steps. Sequences longer than
one block, with a last block that is partial and the first step (the one that read h0)
inside a block, in both directions: gradcheck with tiny blocks, and torch parity at a size
where the default block holds 16 of 37 steps. And an empty batch, for every fused
sequence op."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.rnn.rnn_parity import assert_recurrent_parity
from zengrad.nn.recurrent import LSTM
from zengrad.ops import recurrent
from zengrad.ops.recurrent import lstm_sequence

L, N, I, H = 8, 2, 3, 2  # 3 steps per block: blocks of 3, 3, 2 (h0 read in a full one
# reading forward, in the partial one in reverse)


def _t(rng, *shape, scale=1.0):
    return zg.tensor(rng.standard_normal(shape) * scale, requires_grad=True)


@pytest.mark.parametrize("steps_per_block", [1, 3])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_lstm_gradcheck_over_several_blocks(monkeypatch, steps_per_block, reverse, with_h0,
                                            bias):
    # a block of steps_per_block steps: (4H, N) float64 gate gradients per step
    monkeypatch.setattr(recurrent, "BLOCK_BYTES", steps_per_block * 4 * H * N * 8)
    rng = np.random.default_rng([steps_per_block, reverse, with_h0, bias])
    x = _t(rng, L, N, I)
    states = [_t(rng, N, H), _t(rng, N, H)] if with_h0 else []
    ws = [_t(rng, 4 * H, I, scale=0.7), _t(rng, 4 * H, H, scale=0.7)]
    if bias:
        ws += [_t(rng, 4 * H, scale=0.5), _t(rng, 4 * H, scale=0.5)]

    def f(xs, *rest):
        h0, c0 = rest[:2] if with_h0 else (None, None)
        w = list(rest[2:] if with_h0 else rest)
        if not bias:
            w += [None, None]
        return lstm_sequence(xs, h0, c0, *w, reverse=reverse)

    assert zg.gradcheck(f, [x, *states, *ws])


@pytest.mark.parametrize("with_h0", [False, True])
def test_lstm_torch_parity_longer_than_a_block(with_h0):
    seq, n, inp, hid = 37, 32, 5, 64  # float64 (4H, N) block: 64 KiB, 16 steps per block
    assert recurrent.BLOCK_BYTES // (4 * hid * n * 8) < seq
    rng = np.random.default_rng(with_h0)
    torch.manual_seed(7)
    th = torch.nn.LSTM(inp, hid, bidirectional=True).double()
    zm = LSTM(inp, hid, bidirectional=True).to(np.float64)
    x = rng.standard_normal((seq, n, inp))
    states = [rng.standard_normal((2, n, hid)) for _ in range(2)] if with_h0 else None
    assert_recurrent_parity(zm, th, x, states, lstm=True, what=f"blocked h0={with_h0}")


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("with_h0", [False, True])
def test_empty_batch(kind, with_h0):
    """A batch of 0 sequences: empty outputs and gradients, zero weight gradients (as torch)."""
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    th = getattr(torch.nn, kind)(3, 4, bidirectional=True).double()
    zm = getattr(zg.nn, kind)(3, 4, bidirectional=True).to(np.float64)
    count = 2 if kind == "LSTM" else 1
    states = [np.zeros((2, 0, 4)) for _ in range(count)] if with_h0 else None
    assert_recurrent_parity(zm, th, rng.standard_normal((5, 0, 3)), states,
                            lstm=kind == "LSTM", what=f"{kind} empty batch h0={with_h0}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_saturated_gates_match_torch_without_warnings(dtype):
    """Pre-activations of +-1e4: exp(-a) overflows to inf for the sigmoid gates, whose value
    is then 0, as torch's; no overflow warning leaves the op."""
    rng = np.random.default_rng(11)
    seq, n, inp, hid = 4, 3, 2, 3
    x = rng.standard_normal((seq, n, inp)) * 1e4
    w_ih = rng.standard_normal((4 * hid, inp))
    w_hh = rng.standard_normal((4 * hid, hid))
    b = rng.standard_normal(4 * hid)
    with np.errstate(all="raise"):  # a warning the op let out would raise here
        ours = lstm_sequence(zg.tensor(x.astype(dtype)), None, None,
                             *(zg.tensor(a.astype(dtype)) for a in (w_ih, w_hh, b, b))).numpy()
    th = torch.nn.LSTM(inp, hid).to(torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        for name, a in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b),
                        ("bias_hh_l0", b)):
            getattr(th, name).copy_(torch.tensor(a.astype(dtype)))
        hs, (_, c) = th(torch.tensor(x.astype(dtype)))
    expected = torch.cat([hs, c]).numpy()
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
