"""The fused recurrent ops (ops/recurrent.py) on device 'cuda' (the fake CuPy of
tests/backend, which refuses NumPy on its arrays) give the NumPy results and gradients:
they compute with their input's array module throughout. The registry (tests/ops/registry)
leaves these ops to tests/rnn, so the seam test does not run them."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import cuda  # noqa: F401  (the fixture)
from zengrad.ops.recurrent import gru_sequence, lstm_sequence, rnn_sequence

L, N, I, H = 3, 2, 4, 5
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _inputs(kind: str, with_h0: bool, bias: bool):
    rng = np.random.default_rng(len(kind) + 2 * with_h0 + bias)
    g = GATES[kind] * H
    shapes = {"x": (L, N, I), "w_ih": (g, I), "w_hh": (g, H)}
    if with_h0:
        shapes["h0"] = (N, H)
        if kind == "lstm":
            shapes["c0"] = (N, H)
    if bias:
        shapes.update(b_ih=(g,), b_hh=(g,))
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def _run(kind: str, arrays: dict, device: str, reverse: bool, nonlinearity: str):
    leaves = {k: zg.from_numpy(v.copy()).requires_grad_() for k, v in arrays.items()}
    t = {k: v.to(device) for k, v in leaves.items()}
    common = (t["w_ih"], t["w_hh"], t.get("b_ih"), t.get("b_hh"))
    if kind == "rnn":
        out = rnn_sequence(t["x"], t.get("h0"), *common, nonlinearity=nonlinearity,
                           reverse=reverse)
    elif kind == "lstm":
        out = lstm_sequence(t["x"], t.get("h0"), t.get("c0"), *common, reverse=reverse)
    else:
        out = gru_sequence(t["x"], t.get("h0"), *common, reverse=reverse)
    cot = zg.from_numpy(np.random.default_rng(7).standard_normal(tuple(out.shape)))
    assert out.device == zg.device(device) or device == "cuda" and out.is_cuda
    out = out.cpu()  # (the loss on the host: reductions are not all on the seam yet)
    (out * cot).sum().backward()
    return out.detach().numpy(), {k: v.grad.numpy() for k, v in leaves.items()}


@pytest.mark.parametrize("kind,nonlinearity", [("rnn", "tanh"), ("rnn", "relu"),
                                               ("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_sequence_on_cuda_matches_numpy(cuda, kind, nonlinearity,  # noqa: F811
                                              with_h0, bias, reverse):
    arrays = _inputs(kind, with_h0, bias)
    out, grads = _run(kind, arrays, "cpu", reverse, nonlinearity)
    out_d, grads_d = _run(kind, arrays, "cuda", reverse, nonlinearity)
    np.testing.assert_allclose(out_d, out, rtol=1e-12, atol=1e-12)
    assert grads_d.keys() == grads.keys()
    for k in grads:
        np.testing.assert_allclose(grads_d[k], grads[k], rtol=1e-12, atol=1e-12, err_msg=k)
