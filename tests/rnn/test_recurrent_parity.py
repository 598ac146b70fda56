"""RNN, LSTM and GRU against torch 2.13 over every option: layers 1-2, bidirectional,
batch_first, unbatched input, with/without initial states, bias False, dropout in eval (and
p = 1 in training, which is deterministic); float64 tight and float32 to ~1e-5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.rnn.rnn_parity import assert_recurrent_parity
from zengrad.nn.recurrent import GRU, LSTM, RNN

MODES = {
    "rnn_tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}


def _case(mode, dtype, rng, *, num_layers, bidirectional, batch_first, batched, with_h0,
          bias, dropout=0.0, training=False, sizes=None):
    zg_cls, th_cls, extra = MODES[mode]
    seq, n, inp, hid = sizes or (int(rng.integers(1, 6)), int(rng.integers(1, 4)),
                                 int(rng.integers(1, 5)), int(rng.integers(1, 6)))
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
              bias=bias, dropout=dropout, **extra)
    torch.manual_seed(int(rng.integers(1 << 30)))
    th = th_cls(inp, hid, **kw).to(getattr(torch, np.dtype(dtype).name))
    zm = zg_cls(inp, hid, **kw).to(dtype)
    th.train(training)
    zm.train(training)
    d = 2 if bidirectional else 1
    if batched:
        shape = (n, seq, inp) if batch_first else (seq, n, inp)
        state_shape = (d * num_layers, n, hid)
    else:
        shape = (seq, inp)
        state_shape = (d * num_layers, hid)
    x = rng.standard_normal(shape).astype(dtype)
    states = None
    if with_h0:
        count = 2 if mode == "lstm" else 1
        states = [rng.standard_normal(state_shape).astype(dtype) for _ in range(count)]
    what = f"{mode} {np.dtype(dtype).name} L,N,I,H={seq, n, inp, hid} {kw} batched={batched} " \
           f"h0={with_h0} training={training}"
    assert_recurrent_parity(zm, th, x, states, lstm=mode == "lstm", what=what,
                            seed=int(rng.integers(1000)))


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_parity_float64_every_option(mode, num_layers, bidirectional):
    rng = np.random.default_rng([num_layers, bidirectional, len(mode)])
    for batch_first, batched, with_h0, bias in itertools.product([False, True], repeat=4):
        if batch_first and not batched:
            continue  # batch_first has no meaning for unbatched input
        _case(mode, np.float64, rng, num_layers=num_layers, bidirectional=bidirectional,
              batch_first=batch_first, batched=batched, with_h0=with_h0, bias=bias)


@pytest.mark.parametrize("mode", list(MODES))
def test_parity_float32(mode):
    rng = np.random.default_rng(32)
    for num_layers, bidirectional, batch_first, with_h0 in itertools.product(
        [1, 2], [False, True], [False, True], [False, True]
    ):
        _case(mode, np.float32, rng, num_layers=num_layers, bidirectional=bidirectional,
              batch_first=batch_first, batched=True, with_h0=with_h0, bias=True,
              sizes=(7, 4, 5, 16))


@pytest.mark.parametrize("mode", list(MODES))
def test_parity_longer_sequence_float32(mode):
    """A sequence long enough (T=32, H=32) that float32 errors could build up over time."""
    rng = np.random.default_rng(7)
    _case(mode, np.float32, rng, num_layers=1, bidirectional=False, batch_first=False,
          batched=True, with_h0=True, bias=True, sizes=(32, 8, 6, 32))


@pytest.mark.parametrize("mode", list(MODES))
def test_parity_dropout_eval_and_p1_training(mode):
    rng = np.random.default_rng(5)
    # eval mode: dropout is off, as in torch
    _case(mode, np.float64, rng, num_layers=2, bidirectional=True, batch_first=False,
          batched=True, with_h0=True, bias=True, dropout=0.5, training=False)
    # p = 1 in training zeroes the whole input of layer 2 in both frameworks: this checks
    # that dropout sits between the layers and not after the last one
    _case(mode, np.float64, rng, num_layers=2, bidirectional=False, batch_first=False,
          batched=True, with_h0=False, bias=True, dropout=1.0, training=True)


def test_dropout_training_differs_from_eval_and_keeps_gradients():
    zg.manual_seed(3)
    m = LSTM(3, 8, num_layers=2, dropout=0.5)
    x = zg.randn(5, 4, 3, requires_grad=True)
    m.eval()
    y_eval, _ = m(x)
    m.train()
    y_train, (h, c) = m(x)
    assert not np.allclose(y_eval.detach().numpy(), y_train.detach().numpy())
    # the first layer's states do not depend on dropout
    m.eval()
    _, (h_eval, c_eval) = m(x)
    np.testing.assert_array_equal(h.detach().numpy()[0], h_eval.detach().numpy()[0])
    y_train.sum().backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad.numpy()))
    assert np.any(x.grad.numpy() != 0)
