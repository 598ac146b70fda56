"""RNNCell, LSTMCell and GRUCell against torch 2.13: batched and unbatched, with and
without the initial state, bias False; float64 tight, float32 to ~1e-5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.rnn.rnn_parity import assert_recurrent_parity
from zengrad.nn.recurrent import GRUCell, LSTMCell, RNNCell

CELLS = {
    "rnn_tanh": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (GRUCell, torch.nn.GRUCell, {}),
}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cell_parity(kind, dtype):
    zg_cls, th_cls, extra = CELLS[kind]
    rng = np.random.default_rng(len(kind))
    for batched, with_h, bias in itertools.product([True, False], repeat=3):
        n, inp, hid = int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 9))
        torch.manual_seed(int(rng.integers(1000)))
        th = th_cls(inp, hid, bias=bias, **extra).to(getattr(torch, np.dtype(dtype).name))
        zm = zg_cls(inp, hid, bias=bias, **extra).to(dtype)
        x = rng.standard_normal((n, inp) if batched else (inp,)).astype(dtype)
        states = None
        if with_h:
            shape = (n, hid) if batched else (hid,)
            states = [rng.standard_normal(shape).astype(dtype)
                      for _ in range(2 if kind == "lstm" else 1)]
        what = f"{kind} {np.dtype(dtype).name} batched={batched} h={with_h} bias={bias}"
        assert_recurrent_parity(zm, th, x, states, lstm=kind == "lstm", what=what)


def test_cell_unrolled_equals_layer():
    """An LSTMCell stepped by hand gives the LSTM layer's outputs and final states."""
    zg.manual_seed(0)
    layer = LSTMCell(3, 5)
    from zengrad.nn.recurrent import LSTM

    seq = LSTM(3, 5)
    seq.load_state_dict({k + "_l0": v for k, v in layer.state_dict().items()})
    x = zg.randn(6, 2, 3)
    out, (h_n, c_n) = seq(x)
    h = c = None
    for t in range(6):
        h, c = layer(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(h.detach().numpy(), out.detach().numpy()[t], rtol=1e-6,
                                   atol=1e-7)
    np.testing.assert_allclose(c.detach().numpy(), c_n.detach().numpy()[0], rtol=1e-6,
                               atol=1e-7)


def test_cell_errors():
    cell = LSTMCell(4, 3)
    with pytest.raises(ValueError, match=r"Expected input of shape \(N, 4\)"):
        cell(zg.zeros(2, 5))
    with pytest.raises(ValueError, match=r"Expected hx of shape \(2, 3\)"):
        cell(zg.zeros(2, 4), (zg.zeros(3, 3), zg.zeros(2, 3)))
    with pytest.raises(TypeError, match="tuple"):
        cell(zg.zeros(2, 4), zg.zeros(2, 3))
    with pytest.raises(TypeError, match="float64 but the parameters are float32"):
        GRUCell(4, 3)(zg.zeros(2, 4, dtype=np.float64))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(4, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size"):
        GRUCell(4, 0)
