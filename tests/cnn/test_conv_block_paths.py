"""The size-dependent GEMM paths of ops.conv (column-blocked forward for few output
channels, blocked-sum weight gradient for a tiny weight over many positions) agree with
torch: the small cases of test_conv.py never reach them."""

import pytest
import torch.nn.functional as TF

from tests.helpers import assert_parity
from zengrad.ops import conv as conv_ops
from zengrad.ops.conv import conv2d


def _positions(n, h, w, k, pad):
    return n * (h + 2 * pad - k + 1) * (w + 2 * pad - k + 1)


@pytest.mark.parametrize(
    "n, c, h, w, oc, k, pad",
    [
        # LeNet conv1-like: blocked forward, blocked-sum dW (8 blocks of 1024 + 432 more)
        (11, 1, 28, 28, 6, 5, 2),
        (10, 2, 33, 31, 3, 3, 0),  # a ragged last block in both
        (90, 6, 14, 14, 16, 5, 0),  # 16 channels: still "few rows"; dW too big for blocks
    ],
)
def test_blocked_paths_match_torch(rng, n, c, h, w, oc, k, pad):
    p = _positions(n, h, w, k, pad)
    assert p > 2 * conv_ops.SMALL_OUT_BLOCK  # the case reaches the blocked forward
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((oc, c, k, k))
    b = rng.standard_normal(oc)
    assert_parity(
        lambda x, wt, b: conv2d(x, wt, b, padding=pad),
        lambda x, wt, b: TF.conv2d(x, wt, b, padding=pad),
        [x, wt, b],
    )
