"""Small, fast training setups shared by the trainer and callback tests."""

import numpy as np
import pytest

import zengrad as zg
from zengrad import nn, optim
from zengrad.data import DataLoader, TensorDataset, make_moons
from zengrad.nn.loss import CrossEntropyLoss


def weights(model) -> dict:
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


class Setup:
    """model (with dropout), Adam, StepLR, shuffled train loader (seeded from the global
    RNG), val loader; built after zg.manual_seed(seed)."""

    def __init__(self, seed=0, n=240, lr=0.01, scheduler=True):
        x, y = make_moons(n, noise=0.2, seed=1)
        zg.manual_seed(seed)
        self.model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.2),
                                   nn.Linear(32, 2))
        self.opt = optim.Adam(self.model.parameters(), lr=lr)
        self.sched = optim.lr_scheduler.StepLR(self.opt, 2, 0.5) if scheduler else None
        self.train = DataLoader(TensorDataset(x[:200], y[:200]), 16, shuffle=True)
        self.val = DataLoader(TensorDataset(x[200:], y[200:]), 64)
        self.loss = CrossEntropyLoss()


@pytest.fixture
def setup_factory():
    return Setup
