"""The DataLoader with a device (the fake 'cuda' of tests/backend/conftest.py): batches moved
per step with `.to(device)` as torch users write it (tuples, dicts), datasets of device
tensors batched on their device, and pin_memory accepted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import (
    KIND,
    cuda,  # noqa: F401  (the fixture)
)
from zengrad import nn
from zengrad.data import DataLoader, Dataset, Subset, TensorDataset

# float32 training on both devices: equal on the fake (NumPy); a GPU rounds its own way
RTOL, ATOL = (1e-6, 0) if KIND == "fake" else (1e-3, 1e-5)


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((20, 3)).astype(np.float32),
            rng.integers(0, 2, 20).astype(np.int64))


def _train(device: str, batches) -> np.ndarray:
    """A few SGD steps of a linear classifier on device; its final weight on the host."""
    zg.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    opt = zg.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches(device):
        assert x.device.type == device and y.device.type == device
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.weight.detach().cpu().numpy()


def test_tuple_batches_moved_per_step_train_as_on_cpu(cuda):  # noqa: F811
    x, y = _data()

    def batches(device):
        # a new loader per run: the same seed gives both runs the same order
        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True, seed=3):
            yield xb.to(device, non_blocking=True), yb.to(device)

    np.testing.assert_allclose(_train("cuda", batches), _train("cpu", batches),
                               rtol=RTOL, atol=ATOL)


class _Dicts(Dataset):
    """Samples as dicts of NumPy arrays and a Python int."""

    def __init__(self):
        self.x, self.y = _data()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i], "i": i}


def test_dict_batches_moved_per_step(cuda):  # noqa: F811
    loader = DataLoader(_Dicts(), batch_size=8)

    def batches(device):
        for b in loader:
            b = {k: v.to(device) for k, v in b.items()}
            assert b["i"].device.type == device
            yield b["x"], b["y"]

    np.testing.assert_allclose(_train("cuda", batches), _train("cpu", batches),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("subset", [False, True])
def test_tensor_dataset_of_device_tensors_batches_on_the_device(cuda, subset):  # noqa: F811
    x, y = _data()
    host = TensorDataset(x, y)
    dev = TensorDataset(zg.from_numpy(x).to("cuda"), zg.from_numpy(y).to("cuda"))
    if subset:
        host, dev = Subset(host, range(3, 17)), Subset(dev, range(3, 17))
    got = list(DataLoader(dev, batch_size=5, shuffle=True, seed=1))
    want = list(DataLoader(host, batch_size=5, shuffle=True, seed=1))
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want):
        assert gx.device.type == "cuda" and gy.device.type == "cuda"
        np.testing.assert_array_equal(gx.cpu().numpy(), wx.numpy())
        np.testing.assert_array_equal(gy.cpu().numpy(), wy.numpy())
    sample = dev[0]
    assert sample[0].device.type == "cuda" and sample[1].shape == ()


class _DeviceSamples(Dataset):
    """Samples of device tensors (as a dataset that moves each sample itself)."""

    def __init__(self, devices):
        self.devices = devices

    def __len__(self) -> int:
        return len(self.devices)

    def __getitem__(self, i):
        v = zg.full((2,), float(i)).to(self.devices[i])
        return {"v": v}, v


def test_default_collate_stacks_device_samples_on_the_device(cuda):  # noqa: F811
    (b, v), = DataLoader(_DeviceSamples(["cuda"] * 3), batch_size=3)
    assert b["v"].device.type == "cuda" and v.device.type == "cuda"
    np.testing.assert_array_equal(v.cpu().numpy(), [[0, 0], [1, 1], [2, 2]])


@pytest.mark.parametrize("devices", [["cpu", "cuda"], ["cuda", "cpu"], ["cpu", "cpu", "cuda"]])
def test_default_collate_refuses_samples_on_two_devices(cuda, devices):  # noqa: F811
    with pytest.raises(RuntimeError, match="same device.*(cpu.*cuda:0|cuda:0.*cpu)"):
        list(DataLoader(_DeviceSamples(devices), batch_size=len(devices)))


def test_pin_memory_with_cuda_is_accepted_without_a_warning(cuda):  # noqa: F811
    x, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(DataLoader(TensorDataset(x, y), batch_size=10, pin_memory=True))
    assert len(batches) == 2 and batches[0][0].device.type == "cpu"
    np.testing.assert_array_equal(batches[0][0].numpy(), x[:10])
