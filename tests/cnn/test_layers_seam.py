"""The conv, pooling, normalization and recurrent layers run on device 'cuda' (the fake
CuPy of tests/backend, which refuses NumPy on its arrays) with the NumPy results and input
gradients: every op under them computes with its input's array module. The parameters are
moved by assigning their arrays (the layers' device= takes "cpu" only so far)."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import cuda  # noqa: F401  (the fixture)
from zengrad import backend, nn


def _move(module: nn.Module, device: str) -> None:
    for t in (*module.parameters(), *module.buffers()):
        t.array = backend.to_device(t.array, device)


CASES = {
    "Conv2d-pad": (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5)),
    "Conv2d-stride-groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, groups=2), (2, 4, 7, 7)),
    "Conv2d-reflect": (lambda: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"),
                       (1, 3, 4, 4)),
    "Conv1d-dilated": (lambda: nn.Conv1d(3, 4, 3, dilation=2), (2, 3, 9)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), (1, 3, 4, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    "BatchNorm1d-eval": (lambda: nn.BatchNorm1d(3).eval(), (4, 3)),
    "GroupNorm": (lambda: nn.GroupNorm(1, 3), (2, 3, 4)),
    "MaxPool2d-pad-ceil": (lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
                           (2, 3, 6, 6)),
    "MaxPool1d-dilated": (lambda: nn.MaxPool1d(2, dilation=2), (2, 3, 7)),
    "AvgPool2d-pad": (lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False),
                      (2, 3, 5, 5)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 5, 5)),
    "LSTM-2-bi": (lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True), (3, 2, 4)),
    "GRU": (lambda: nn.GRU(4, 5, batch_first=True), (2, 3, 4)),
    "RNN-relu": (lambda: nn.RNN(4, 5, nonlinearity="relu"), (3, 2, 4)),
    "LSTMCell": (lambda: nn.LSTMCell(4, 5), (2, 4)),
    "GRUCell": (lambda: nn.GRUCell(4, 5), (2, 4)),
    "RNNCell": (lambda: nn.RNNCell(4, 5), (2, 4)),
}


def _run(module: nn.Module, x: np.ndarray, device: str):
    """(output, input grad, parameter grads) of sum(y * y), all on the host."""
    _move(module, device)
    module.zero_grad(set_to_none=True)
    t = zg.from_numpy(x.copy()).requires_grad_()
    y = module(t.to(device))
    y = y[0] if isinstance(y, tuple) else y
    assert y.device.type == device
    y = y.cpu()  # (the loss on the host: reductions are not all on the seam yet)
    (y * y).sum().backward()
    grads = [backend.asnumpy(p.grad.array) for p in module.parameters()]
    stats = [backend.asnumpy(b.array).copy() for b in module.buffers()]  # (a reload writes them)
    return y.detach().numpy(), t.grad.numpy(), grads, stats


@pytest.mark.parametrize("name", list(CASES))
def test_layer_on_cuda_matches_numpy(cuda, name):  # noqa: F811
    make, shape = CASES[name]
    x = np.random.default_rng(0).standard_normal(shape)
    zg.manual_seed(0)
    module = make().double()
    state = {k: v.numpy().copy() for k, v in module.state_dict().items()}
    expected = _run(module, x, "cpu")
    module.load_state_dict({k: zg.from_numpy(v) for k, v in state.items()})
    actual = _run(module, x, "cuda")
    for what, a, b in zip(("output", "input grad"), actual[:2], expected[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)
    for what, k in (("parameter grad", 2), ("buffer", 3)):
        assert len(actual[k]) == len(expected[k])
        for a, b in zip(actual[k], expected[k]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)
