"""The fused LSTM keeps its work feature-major inside, but hands back what torch does:
a contiguous sequence-first output and final states, so `.view` works on them as in torch."""

import pytest
import torch

import zengrad as zg


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (1, True)])
def test_outputs_view_like_torch(layers, bidirectional):
    kw = dict(num_layers=layers, bidirectional=bidirectional)
    out, (h, c) = zg.nn.LSTM(4, 5, **kw)(zg.randn(7, 3, 4))
    t_out, (t_h, t_c) = torch.nn.LSTM(4, 5, **kw)(torch.randn(7, 3, 4))
    for z, t in ((out, t_out), (h, t_h), (c, t_c)):
        assert t.is_contiguous()
        assert tuple(z.view(-1).shape) == tuple(t.view(-1).shape)
    last = out[-1]  # the step's hidden states are one contiguous (N, H) block
    assert tuple(last.view(-1).shape) == (3 * 5 * (2 if bidirectional else 1),)
