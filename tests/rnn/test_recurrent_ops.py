"""Gradcheck (float64) of the fused sequence ops in zengrad.ops.recurrent: every input,
including the initial states, both directions, with and without h0 / bias; and their
argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from zengrad.ops.recurrent import gru_sequence, lstm_sequence, rnn_sequence

L, N, I, H = 3, 2, 3, 2


def _t(rng, *shape, scale=1.0):
    return zg.tensor(rng.standard_normal(shape) * scale, requires_grad=True)


def _weights(rng, gates, bias):
    ws = [_t(rng, gates * H, I, scale=0.7), _t(rng, gates * H, H, scale=0.7)]
    if bias:
        ws += [_t(rng, gates * H, scale=0.5), _t(rng, gates * H, scale=0.5)]
    return ws


def _fn(kind):
    """(gates, op(x, states..., w_ih, w_hh, [b_ih, b_hh], reverse), number of states)."""
    if kind == "lstm":
        return 4, lstm_sequence, 2
    if kind == "gru":
        return 3, gru_sequence, 1
    nl = kind.split("_")[1]
    return 1, (lambda x, h0, *w, reverse: rnn_sequence(x, h0, *w, nonlinearity=nl,
                                                       reverse=reverse)), 1


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_gradcheck_sequence_ops(kind, reverse, with_h0, bias):
    rng = np.random.default_rng([len(kind), reverse, with_h0, bias])
    gates, op, n_states = _fn(kind)
    x = _t(rng, L, N, I)
    states = [_t(rng, N, H) for _ in range(n_states)] if with_h0 else []
    ws = _weights(rng, gates, bias)
    inputs = [x, *states, *ws]

    def f(*args):
        xs, rest = args[0], list(args[1:])
        st = rest[:len(states)] if with_h0 else [None] * n_states
        w = rest[len(states):]
        if not bias:
            w = [*w, None, None]
        return op(xs, *st, *w, reverse=reverse)

    assert zg.gradcheck(f, inputs)


def test_relu_rnn_gradient_is_masked_where_the_state_is_zero():
    """A relu state stuck at zero passes no gradient back (relu'(a) = [a > 0])."""
    x = zg.tensor(np.full((2, 1, 1), -1.0), requires_grad=True)
    w_ih = zg.tensor(np.ones((1, 1)), requires_grad=True)
    w_hh = zg.tensor(np.ones((1, 1)), requires_grad=True)
    y = rnn_sequence(x, None, w_ih, w_hh, nonlinearity="relu")
    np.testing.assert_array_equal(y.detach().numpy(), 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


def test_lstm_sequence_returns_states_then_last_cell_state():
    rng = np.random.default_rng(0)
    x = zg.tensor(rng.standard_normal((L, N, I)))
    w_ih, w_hh = (zg.tensor(rng.standard_normal(s)) for s in ((4 * H, I), (4 * H, H)))
    y = lstm_sequence(x, None, None, w_ih, w_hh)
    assert y.shape == (L + 1, N, H)
    # h_t = o tanh(c_t) with o in (0, 1): |h_L| < |tanh(c_last)|
    h_last, c_last = y.numpy()[L - 1], y.numpy()[L]
    assert np.all(np.abs(h_last) <= np.abs(np.tanh(c_last)) + 1e-12)
    assert not np.allclose(c_last, h_last)


def test_sequence_ops_keep_float32():
    rng = np.random.default_rng(0)
    x = zg.tensor(rng.standard_normal((L, N, I)).astype(np.float32), requires_grad=True)
    for gates, op, n_states in (_fn("lstm"), _fn("gru"), _fn("rnn_tanh")):
        ws = [zg.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in ((gates * H, I), (gates * H, H), (gates * H,), (gates * H,))]
        h = [zg.zeros(N, H, requires_grad=True) for _ in range(n_states)]
        y = op(x, *h, *ws, reverse=False)
        assert y.dtype == np.float32
        y.sum().backward()  # the strict dtype check in conftest fails on a float64 grad
        for t in (x, *h, *ws):
            assert t.grad.dtype == np.float32
        x.grad = None


def test_sequence_op_argument_errors():
    x = zg.zeros(3, 2, 4)
    w_ih, w_hh = zg.zeros(8, 4), zg.zeros(8, 2)
    with pytest.raises(ValueError, match="3-D"):
        lstm_sequence(zg.zeros(3, 4), None, None, w_ih, w_hh)
    with pytest.raises(ValueError, match=r"w_ih must have shape \(8, 4\)"):
        lstm_sequence(x, None, None, zg.zeros(8, 5), w_hh)
    with pytest.raises(ValueError, match="w_hh"):
        lstm_sequence(x, None, None, w_ih, zg.zeros(8, 3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2\)"):
        lstm_sequence(x, zg.zeros(3, 2), None, w_ih, w_hh)
    with pytest.raises(ValueError, match="both b_ih and b_hh"):
        lstm_sequence(x, None, None, w_ih, w_hh, zg.zeros(8), None)
    with pytest.raises(TypeError, match="same dtype"):
        lstm_sequence(x, None, None, w_ih.double(), w_hh)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_sequence(x, None, zg.zeros(2, 4), w_hh[:2], nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="at least 1"):
        gru_sequence(zg.zeros(0, 2, 4), None, zg.zeros(6, 4), zg.zeros(6, 2))
