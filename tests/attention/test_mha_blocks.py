"""The packed self-attention core in blocks of batch items on zengrad's threads (from
ATTN_SPLIT_MIN score elements): torch parity there, and the same bits at one thread and two."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.attention.parity import check_module
from tests.helpers import rand_array
from zengrad.nn.attention import MultiheadAttention
from zengrad.ops import attention as attention_op
from zengrad.ops import threads

E, H, N, L = 8, 2, 9, 128  # N H L L = 294,912 score elements: 4 blocks, the last one short


def _masks(rng, kind):
    if kind == "kpm":  # (N, 1, 1, L) after merging: cut with the items
        kpm = rng.random((N, L)) < 0.3
        kpm[:, 0] = False
        return {"key_padding_mask": kpm}
    if kind == "float":  # (L, L): shared by every block
        return {"attn_mask": rand_array(rng, (L, L), np.float64)}
    return {}


@pytest.fixture(autouse=True)
def _threaded_blocks(monkeypatch):
    """These sizes' blocks run in turn (ATTN_THREAD_MIN); on zengrad's threads here."""
    monkeypatch.setattr(attention_op, "ATTN_THREAD_MIN", attention_op.ATTN_SPLIT_MIN)


def test_sizes_split():
    assert N * H * L * L >= attention_op.ATTN_SPLIT_MIN


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "kpm", "float"])
def test_blocked_self_attention_matches_torch(rng, batch_first, mask):
    zm = MultiheadAttention(E, H, batch_first=batch_first, dtype=np.float64)
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=torch.float64)
    shape = (N, L, E) if batch_first else (L, N, E)
    masks = _masks(rng, mask)
    arrays = {"x": rand_array(rng, shape, np.float64), **masks}

    def call(m, t):
        kw = {k: t[k] for k in masks}
        return m(t["x"], t["x"], t["x"], need_weights=False, **kw)

    check_module(zm, tm, arrays, call, grads=("x",))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask", ["none", "kpm"])
def test_blocks_give_the_same_bits_at_any_thread_count(rng, dtype, mask):
    """With dropout too: its draws are made once for the whole batch."""
    x = rand_array(rng, (N, L, E), dtype)
    kw = {k: zg.tensor(v) for k, v in _masks(rng, mask).items()}
    g = rand_array(rng, (N, L, E), dtype)
    before = threads.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            threads.set_num_threads(n)
            zg.manual_seed(3)
            m = MultiheadAttention(E, H, batch_first=True, dropout=0.25, dtype=dtype)
            xt = zg.tensor(x, requires_grad=True)
            y = m(xt, xt, xt, need_weights=False, **kw)[0]
            y.backward(zg.tensor(g))
            results.append([t.detach().numpy().tobytes()
                            for t in (y, xt.grad, m.in_proj_weight.grad)])
    finally:
        threads.set_num_threads(before)
    assert results[0] == results[1]
