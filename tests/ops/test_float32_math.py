"""ops.float32_math (exp and tanh of float32 inside compiled loops) against float64: at most 2
ulp over the ranges that occur, the special values (NaN, +-inf, +-0, overflow, the flush
below e^-86), and the LSTM step that uses them (ops.recurrent, float32 where Numba runs):
the values of the NumPy path within float32 rounding, and only for float32."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from zengrad.ops import float32_math, kernels, recurrent
from zengrad.ops.recurrent import lstm_sequence

pytestmark = pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba")


def _elementwise(name):
    import numba

    exp32, tanh32 = float32_math.functions()
    fn = {"exp": exp32, "tanh": tanh32}[name]

    @numba.njit
    def run(x, out):
        for j in range(x.size):
            out[j] = fn(x[j])

    def call(x):
        x = np.ascontiguousarray(x, np.float32)
        out = np.empty_like(x)
        run(x, out)
        return out

    return call


def _ulps(got, x64, ref):
    want = ref(x64)
    spacing = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0, 40.0])
def test_exp_within_two_ulp(rng, scale):
    x = (rng.standard_normal(200_000) * scale).astype(np.float32)
    x = x[(x > -86.0) & (x < 88.7)]
    assert _ulps(_elementwise("exp")(x), x.astype(np.float64), np.exp).max() <= 2.0


@pytest.mark.parametrize("scale", [1e-4, 0.3, 1.0, 5.0])
def test_tanh_within_two_ulp(rng, scale):
    x = (rng.standard_normal(200_000) * scale).astype(np.float32)
    x = np.concatenate([x, np.float32([0.6249999, 0.625, 0.6250001, -0.625, 1e-30, 1e-38])])
    x = x[x != 0]
    assert _ulps(_elementwise("tanh")(x), x.astype(np.float64), np.tanh).max() <= 2.0


def test_exp_special_values():
    x = np.float32([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, 88.8, 1e4, -85.99, -86.5, -1e4])
    got = _elementwise("exp")(x)
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:5], np.float32([np.inf, 0.0, 1.0, 1.0]))
    assert np.isfinite(got[5]) and np.isinf(got[6]) and np.isinf(got[7])
    assert got[8] > 0  # e^-85.99 = 4.5e-38 is a normal float32
    np.testing.assert_array_equal(got[9:], np.float32([0.0, 0.0]))  # flushed, as documented


def test_tanh_special_values():
    x = np.float32([np.nan, np.inf, -np.inf, 0.0, -0.0, 20.0, -20.0, 1e4, -1e4, 1e-30])
    got = _elementwise("tanh")(x)
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], np.float32([1, -1, 0, 0, 1, -1, 1, -1, 1e-30]))
    assert not np.signbit(got[3]) and np.signbit(got[4])  # tanh(-0.0) = -0.0


def _lstm(rng, dtype, with_state):
    seq, n, inp, hid = 5, 3, 4, 6
    x = rng.standard_normal((seq, n, inp)) * 2
    w_ih, w_hh = rng.standard_normal((4 * hid, inp)), rng.standard_normal((4 * hid, hid))
    b = rng.standard_normal(4 * hid)
    h0 = c0 = None
    if with_state:
        h0, c0 = (zg.tensor(rng.standard_normal((n, hid)).astype(dtype)) for _ in range(2))
    args = [zg.tensor(a.astype(dtype)) for a in (x, w_ih, w_hh, b, b)]
    return lstm_sequence(args[0], h0, c0, *args[1:]).numpy()


@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_step_gives_the_numpy_paths_values(monkeypatch, with_state):
    fused = _lstm(np.random.default_rng(4), np.float32, with_state)
    monkeypatch.setattr(recurrent, "_fused_step", lambda dtype: None)
    plain = _lstm(np.random.default_rng(4), np.float32, with_state)
    np.testing.assert_allclose(fused, plain, rtol=2e-6, atol=1e-6)


def test_lstm_step_is_float32_only(monkeypatch):
    calls = []
    real = recurrent._fused_step
    monkeypatch.setattr(recurrent, "_fused_step", lambda dtype: calls.append(dtype) or real(dtype))
    _lstm(np.random.default_rng(5), np.float64, False)
    _lstm(np.random.default_rng(5), np.float32, False)
    assert [np.dtype(d) for d in calls] == [np.float64, np.float32]
    assert real(np.float64) is None and real(np.float32) is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_backward_into_the_block_gives_the_same_bits(monkeypatch, dtype, with_state,
                                                          reverse):
    """The backward's gate gradients written straight into the weight-gradient block
    (recurrent._slot_grad_kernels) are the bits of the kernel-then-copy path."""

    def grads():
        rng = np.random.default_rng(6)
        seq, n, inp, hid = 5, 3, 4, 6
        ts = [zg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in ((seq, n, inp), (n, hid), (n, hid), (4 * hid, inp), (4 * hid, hid),
                        (4 * hid,), (4 * hid,))]
        x, h0, c0, *w = ts
        out = lstm_sequence(x, h0 if with_state else None, c0 if with_state else None, *w,
                            reverse=reverse)
        (out * zg.tensor(rng.standard_normal(out.shape).astype(dtype))).sum().backward()
        return [t.grad.numpy() for t in ts if t.grad is not None]

    direct = grads()
    monkeypatch.setattr(recurrent, "_slot_grad_kernels", lambda: None)
    copied = grads()
    assert len(direct) == len(copied)
    for a, b in zip(direct, copied):
        np.testing.assert_array_equal(a, b)
