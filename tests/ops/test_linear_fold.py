"""Linear with the bias folded into the product ([x | 1] [W | b]^T, wide outputs from
FOLD_BIAS_MIN_ROWS rows): torch parity, float64 gradcheck, and the unfolded path's values."""

import numpy as np
import pytest
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array
from zengrad.ops import linalg


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xshape", [(300, 5), (4, 80, 5)], ids=str)
def test_folded_bias_matches_torch(dtype, xshape, rng):
    x = rand_array(rng, xshape, dtype)
    w, b = rand_array(rng, (11, 5), dtype), rand_array(rng, (11,), dtype)
    assert np.prod(xshape[:-1]) >= linalg.FOLD_BIAS_MIN_ROWS
    assert_parity(zg.linear, TF.linear, [x, w, b])


def test_folded_bias_gradcheck(rng):
    x = rand_array(rng, (linalg.FOLD_BIAS_MIN_ROWS, 2))
    w, b = rand_array(rng, (4, 2)), rand_array(rng, (4,))
    assert check_grad(zg.linear, x, w, b)


@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, True),
                                   (True, True, False)], ids=str)
def test_folded_equals_unfolded_float64(needs, rng, monkeypatch):
    """Same values (1e-12 relative) as the GEMM-plus-bias path, for any subset of gradients."""
    x, w, b = rand_array(rng, (512, 16)), rand_array(rng, (40, 16)), rand_array(rng, (40,))
    g = rand_array(rng, (512, 40))

    def run():
        ts = [zg.tensor(a, requires_grad=r) for a, r in zip((x, w, b), needs)]
        y = zg.linear(*ts)
        y.backward(zg.tensor(g))
        return [y.detach().numpy()] + [t.grad.numpy() for t in ts if t.requires_grad]

    calls = []
    fold = linalg._with_ones
    monkeypatch.setattr(linalg, "_with_ones", lambda *a: calls.append(1) or fold(*a))
    folded = run()
    assert calls == [1]  # the folded path ran
    monkeypatch.setattr(linalg, "FOLD_BIAS_RATIO", 10 ** 9)  # never fold
    plain = run()
    for a, p in zip(folded, plain):
        assert a.flags.c_contiguous
        np.testing.assert_allclose(a, p, rtol=1e-12, atol=1e-12)
