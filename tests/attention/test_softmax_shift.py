"""The attention softmax's shared shift (one maximum per score matrix, ops.attention
SHIFT_SPAN): torch parity where it holds, where it does not (a key column whose scores all lie
far below the matrix's maximum: the scores are recomputed with each column's own shift), with
masks that kill whole queries, and with nan scores."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import rand_array
from zengrad.ops import attention as attention_op


def _both(q, k, v, mask=None):
    z = zg.nn.functional.scaled_dot_product_attention(
        *(zg.tensor(a) for a in (q, k, v)), attn_mask=None if mask is None else zg.tensor(mask))
    t = TF.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)),
        attn_mask=None if mask is None else torch.tensor(mask))
    return z.numpy(), t.numpy()


@pytest.mark.parametrize("spread", [1.0, 300.0], ids=["shared shift", "recomputed"])
def test_softmax_shift_matches_torch(spread, rng, monkeypatch):
    q, k, v = (rand_array(rng, (2, 3, 8, 4)) for _ in range(3))
    q[:, :, 0] *= spread  # query 0's scores span far more than SHIFT_SPAN
    exact = []
    fallback = attention_op._softmax_cols_exact_
    monkeypatch.setattr(attention_op, "_softmax_cols_exact_",
                        lambda *a: exact.append(1) or fallback(*a))
    z, t = _both(q, k, v)
    np.testing.assert_allclose(z, t, rtol=1e-12, atol=1e-13)
    assert bool(exact) == (spread > 1)


def test_softmax_shift_dead_queries_and_nan(rng):
    q, k, v = (rand_array(rng, (2, 5, 3)) for _ in range(3))
    mask = np.zeros((2, 5, 5), bool)
    mask[0, 1] = True  # query 1 of item 0 may attend nowhere: 0 (torch 2.13's math path)
    z, _ = _both(q, k, v, ~mask)
    assert np.all(z[0, 1] == 0) and np.isfinite(z).all()
    q[1, 2, 0] = np.nan  # nan stays in its own query's row, as in torch
    z, t = _both(q, k, v)
    np.testing.assert_array_equal(np.isnan(z), np.isnan(t))
    np.testing.assert_allclose(z[~np.isnan(z)], t[~np.isnan(t)], rtol=1e-12, atol=1e-13)
