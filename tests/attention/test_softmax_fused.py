"""The attention's column softmax in float32 where Numba runs (ops.attention._fused_softmax):
the NumPy path's values within float32 rounding, with and without a mask, fully masked
columns giving 0, NaN and unmasked all -inf columns giving NaN as NumPy's passes do, and
float64 and non-contiguous scores staying on the NumPy path."""

from __future__ import annotations

import numpy as np
import pytest

from zengrad.ops import attention, kernels

pytestmark = pytest.mark.skipif(not kernels.numba_enabled(), reason="needs Numba")


def _both(monkeypatch, st, masked):
    fused = st.copy()
    attention._softmax_cols_(np, fused, masked)
    with monkeypatch.context() as m:
        m.setattr(attention, "_fused_softmax", lambda: None)
        plain = st.copy()
        with np.errstate(invalid="ignore"):  # -inf - -inf in NumPy's passes
            attention._softmax_cols_(np, plain, masked)
    return fused, plain


@pytest.mark.parametrize("shape", [(2, 3, 7, 5), (4, 1, 1), (1, 6, 9), (0, 3, 4), (2, 4, 0)])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_the_numpy_path(rng, monkeypatch, shape, masked):
    st = (rng.standard_normal(shape) * 4).astype(np.float32)
    fused, plain = _both(monkeypatch, st, masked)
    np.testing.assert_allclose(fused, plain, rtol=3e-6, atol=1e-7)


def test_masked_columns_and_nan(rng, monkeypatch):
    st = rng.standard_normal((2, 5, 4)).astype(np.float32)
    st[0, :, 1] = -np.inf  # every key of query 1 masked
    st[1, 2, 3] = -np.inf  # one key masked
    st[1, 0, 0] = np.nan
    fused, plain = _both(monkeypatch, st, True)
    np.testing.assert_array_equal(fused[0, :, 1], np.zeros(5, np.float32))
    assert np.isnan(fused[1, :, 0]).all() and np.isnan(plain[1, :, 0]).all()
    assert fused[1, 2, 3] == 0
    np.testing.assert_allclose(fused[~np.isnan(plain)], plain[~np.isnan(plain)], rtol=3e-6)
    st[0, :, 1] = -np.inf  # without a mask an all -inf column is exp(-inf - -inf): NaN
    fused, plain = _both(monkeypatch, st, False)
    assert np.isnan(fused[0, :, 1]).all() and np.isnan(plain[0, :, 1]).all()


def test_only_contiguous_float32_takes_it(rng, monkeypatch):
    calls = []
    real = attention._fused_softmax()
    spy = {k: (lambda st, f=f: calls.append(st.shape) or f(st)) for k, f in real.items()}
    monkeypatch.setattr(attention, "_fused_softmax", lambda: spy)
    st = rng.standard_normal((2, 3, 4, 5))
    attention._softmax_cols_(np, st, False)  # float64
    attention._softmax_cols_(np, st.astype(np.float32).transpose(0, 1, 3, 2), False)
    attention._softmax_cols_(np, st.astype(np.float32), False)
    assert calls == [(6, 4, 5)]
