"""Module.to / cuda / cpu move parameters, buffers and gradients through the seam, and a
layer's device= puts them there: one SGD step of a small MLP and of LeNet on the fake
'cuda' (tests/backend/conftest.py) equals the same step on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import cuda  # noqa: F401  (the fixture)
from zengrad import backend, nn
from zengrad.nn import functional as F


class LeNet(nn.Module):
    """LeNet-5's layout at a small size: conv-pool-conv-pool, three linear layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 5, padding=2)
        self.conv2 = nn.Conv2d(4, 6, 5)
        self.fc1 = nn.Linear(6 * 5 * 5, 16)
        self.fc2 = nn.Linear(16, 12)
        self.fc3 = nn.Linear(12, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


MODELS = {"mlp": (_mlp, (5, 6), 3), "lenet": (LeNet, (4, 1, 28, 28), 10)}


def _step(make, shape, classes, device: str):
    """Parameters after one SGD step (momentum) from seed 0, and the loss, on the host."""
    zg.manual_seed(0)
    model = make()
    rng = np.random.default_rng(1)
    x = zg.from_numpy(rng.standard_normal(shape).astype(np.float32))
    y = zg.from_numpy(rng.integers(0, classes, shape[0]))
    model.to(device)
    for p in model.parameters():
        assert p.device.type == device
    opt = zg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.zero_grad()
    loss = F.cross_entropy(model(x.to(device)), y.to(device))
    loss.backward()
    opt.step()
    return [backend.asnumpy(p.array) for p in model.parameters()], float(loss)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_training_step_on_cuda_equals_the_cpu_step(cuda, name):  # noqa: F811
    make, shape, classes = MODELS[name]
    want, want_loss = _step(make, shape, classes, "cpu")
    got, got_loss = _step(make, shape, classes, "cuda")
    assert got_loss == pytest.approx(want_loss, rel=1e-6)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_to_moves_parameters_buffers_and_grads_and_keeps_the_objects(cuda):  # noqa: F811
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(zg.randn(4, 3)).sum().backward()
    params = list(model.parameters())
    grads = [backend.asnumpy(p.grad.array).copy() for p in params]
    assert model.cuda() is model
    assert list(model.parameters()) == params
    for t in (*model.parameters(), *model.buffers()):
        assert t.device.type == "cuda"
    for p, g in zip(params, grads):
        assert p.grad.device.type == "cuda"
        np.testing.assert_array_equal(backend.asnumpy(p.grad.array), g)
    model.cpu()
    for t in (*model.parameters(), *model.buffers()):
        assert t.device.type == "cpu"


def test_state_dict_loads_across_devices(cuda):  # noqa: F811
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2).to("cuda")
    dst.load_state_dict(src.state_dict())
    assert dst.weight.device.type == "cuda"
    np.testing.assert_array_equal(backend.asnumpy(dst.weight.array), src.weight.array)
    src.load_state_dict(dst.state_dict())
    assert src.weight.device.type == "cpu"


def test_init_fills_a_device_tensor_with_the_host_draws(cuda):  # noqa: F811
    zg.manual_seed(3)
    host = nn.init.kaiming_uniform_(zg.empty(4, 5))
    zg.manual_seed(3)
    dev = nn.init.kaiming_uniform_(zg.empty(4, 5).to("cuda"))
    assert dev.device.type == "cuda"
    np.testing.assert_array_equal(dev.cpu().numpy(), host.numpy())


LAYERS = {
    "Linear": lambda d: nn.Linear(3, 2, device=d),
    "Conv2d": lambda d: nn.Conv2d(2, 3, 3, device=d),
    "ConvTranspose2d": lambda d: nn.ConvTranspose2d(2, 3, 3, device=d),
    "Embedding": lambda d: nn.Embedding(5, 3, device=d),
    "LayerNorm": lambda d: nn.LayerNorm(4, device=d),
    "BatchNorm1d": lambda d: nn.BatchNorm1d(3, device=d),
    "GroupNorm": lambda d: nn.GroupNorm(1, 3, device=d),
    "MultiheadAttention": lambda d: nn.MultiheadAttention(4, 2, device=d),
    "LSTM": lambda d: nn.LSTM(3, 4, device=d),
    "GRUCell": lambda d: nn.GRUCell(3, 4, device=d),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_device_argument_puts_a_layers_tensors_there_with_the_cpu_values(cuda, name):  # noqa: F811
    zg.manual_seed(5)
    host = LAYERS[name]("cpu")
    zg.manual_seed(5)
    dev = LAYERS[name]("cuda")
    for a, b in zip((*dev.parameters(), *dev.buffers()), (*host.parameters(), *host.buffers())):
        assert a.device.type == "cuda"
        np.testing.assert_array_equal(backend.asnumpy(a.array), b.array)


def test_an_unavailable_layer_device_raises_the_one_error_naming_the_layer():
    with pytest.raises(Exception, match="Linear") as linear:
        nn.Linear(3, 2, device="mps")
    with pytest.raises(type(linear.value), match="Conv2d"):
        nn.Conv2d(1, 1, 1, device="mps")


def test_square_subsequent_mask_on_a_device(cuda):  # noqa: F811
    m = nn.Transformer.generate_square_subsequent_mask(3, device="cuda")
    assert m.device.type == "cuda"
    want = nn.Transformer.generate_square_subsequent_mask(3)
    np.testing.assert_array_equal(m.cpu().numpy(), want.numpy())
