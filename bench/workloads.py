"""The seven training-step workloads of issue 12, each built for torch and for zengrad from the
same weights and data (float32; one step = forward + loss + backward + optimizer step).

`build(name)` returns a Workload: two step functions, the GEMM FLOPs of one step (what a
training step must multiply: forward, input gradient where one is needed, weight gradient),
and a one-line description. Used by bench_all.py and profile_ops.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Workload:
    what: str
    torch_step: Callable[[], object]
    zengrad_step: Callable[[], object]
    flops: float  # GEMM floating-point operations in one training step


def _linear_flops(batch: int, sizes: tuple[int, ...]) -> float:
    """Forward 2BIO per layer, weight gradient the same, input gradient for all but layer 1."""
    per = [2.0 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    return 3 * sum(per) - per[0]


def _mlp_pair(batch, sizes, act, loss, opt, lr, seed=0):
    import numpy as np
    import torch

    import zengrad as zg
    from zengrad import nn, optim
    from zengrad.nn import functional as F

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "ce":
        y = rng.integers(0, sizes[-1], batch)
    else:
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)

    def layers(lib):
        mods = []
        for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(lib.Linear(i, o))
            if k < len(sizes) - 2:
                mods.append(lib.ReLU() if act == "relu" else lib.Tanh())
        return lib.Sequential(*mods)

    tm = layers(torch.nn)
    zm = layers(nn)
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    if opt == "sgd":
        topt = torch.optim.SGD(tm.parameters(), lr=lr)
        zopt = optim.SGD(zm.parameters(), lr=lr)
    else:
        topt = torch.optim.Adam(tm.parameters(), lr=lr)
        zopt = optim.Adam(zm.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    zx, zy = zg.from_numpy(x), zg.from_numpy(y)
    tloss = torch.nn.functional.cross_entropy if loss == "ce" else torch.nn.functional.mse_loss
    zloss = F.cross_entropy if loss == "ce" else F.mse_loss

    def torch_step():
        topt.zero_grad(set_to_none=True)
        tloss(tm(tx), ty).backward()
        topt.step()

    def zg_step():
        zopt.zero_grad()
        zloss(zm(zx), zy).backward()
        zopt.step()

    return torch_step, zg_step


def tiny() -> Workload:
    t, z = _mlp_pair(16, (16, 16, 16, 1), "tanh", "mse", "sgd", 0.01)
    flops = _linear_flops(16, (16, 16, 16, 1))
    return Workload("tiny MLP 16-16-16-1 tanh b16, MSE, SGD", t, z, flops)


def mlp() -> Workload:
    sizes = (784, 512, 256, 10)
    t, z = _mlp_pair(128, sizes, "relu", "ce", "sgd", 0.01)
    return Workload("MLP 784-512-256-10 ReLU b128, CE, SGD", t, z, _linear_flops(128, sizes))


def mlp_adam() -> Workload:
    sizes = (784, 512, 256, 10)
    t, z = _mlp_pair(128, sizes, "relu", "ce", "adam", 1e-3)
    return Workload("MLP 784-512-256-10 ReLU b128, CE, Adam", t, z, _linear_flops(128, sizes))


def _conv_pair(build_torch, build_zg, x, y, lr):
    import torch

    import zengrad as zg
    from zengrad import optim
    from zengrad.nn import functional as F

    tm, zm = build_torch(), build_zg()
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    topt = torch.optim.SGD(tm.parameters(), lr=lr)
    zopt = optim.SGD(zm.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    zx, zy = zg.from_numpy(x), zg.from_numpy(y)

    def torch_step():
        topt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(tm(tx), ty).backward()
        topt.step()

    def zg_step():
        zopt.zero_grad()
        F.cross_entropy(zm(zx), zy).backward()
        zopt.step()

    return torch_step, zg_step


def _lenet(lib, F):
    class LeNet(lib.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = lib.Conv2d(1, 6, 5, padding=2), lib.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = (
                lib.Linear(400, 120), lib.Linear(120, 84), lib.Linear(84, 10))

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    return LeNet()


def lenet() -> Workload:
    import numpy as np
    import torch

    from zengrad import nn
    from zengrad.nn import functional as F

    n = 64
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n)
    t, z = _conv_pair(lambda: _lenet(torch.nn, torch.nn.functional), lambda: _lenet(nn, F),
                      x, y, 0.01)
    conv1 = 2.0 * n * 28 * 28 * 6 * 25
    conv2 = 2.0 * n * 10 * 10 * 16 * 150
    flops = 2 * conv1 + 3 * conv2 + _linear_flops(n, (400, 120, 84, 10)) + 2.0 * n * 400 * 120
    return Workload("LeNet-5 1x28x28 b64, CE, SGD", t, z, flops)


def _block(lib, F):
    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = lib.Conv2d(64, 64, 3, 1, 1, bias=False)
            self.bn1 = lib.BatchNorm2d(64)
            self.conv2 = lib.Conv2d(64, 64, 3, 1, 1, bias=False)
            self.bn2 = lib.BatchNorm2d(64)
            self.head = lib.Linear(64, 10)

        def forward(self, x):
            h = F.relu(self.bn1(self.conv1(x)))
            h = F.relu(self.bn2(self.conv2(h)) + x)
            return self.head(h.mean((2, 3)))

    return Block()


def basic_block() -> Workload:
    import numpy as np
    import torch

    from zengrad import nn
    from zengrad.nn import functional as F

    n = 32
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, 64, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, n)
    t, z = _conv_pair(lambda: _block(torch.nn, torch.nn.functional), lambda: _block(nn, F),
                      x, y, 0.01)
    conv = 2.0 * n * 32 * 32 * 64 * 64 * 9
    return Workload("BasicBlock 64ch 32x32 b32 + linear head, CE, SGD", t, z,
                    5 * conv + _linear_flops(n, (64, 10)))


def lstm() -> Workload:
    import bench_lstm as bl

    params, x, y = bl.make_problem(32)
    t, z = bl.TorchLSTM(params, x, y), bl.ZengradLSTM(params, x, y)
    tb, h, i = bl.T * bl.B, bl.H, 32
    fwd = 2.0 * tb * (i + h) * 4 * h
    flops = fwd + 2.0 * tb * (i + h) * 4 * h + 2.0 * tb * h * 4 * h  # + dW_ih, dW_hh, dh
    return Workload(f"LSTM T={bl.T} b{bl.B} in {i} hidden {h}, last h -> Linear, MSE, SGD",
                    t.step, z.step, flops)


def encoder() -> Workload:
    import bench_transformer as bt

    state = bt.make_state()
    tok, d, ff = bt.B * bt.S, bt.D, bt.FF
    proj = 2.0 * tok * d * (3 * d + d + 2 * ff)  # qkv, out projection, feed-forward
    attn = 2 * 2.0 * bt.B * bt.S * bt.S * d  # scores and weighted values
    flops = 3 * (proj + attn) - 2.0 * tok * d * 3 * d  # no gradient for the input
    return Workload(f"Transformer encoder layer b{bt.B} s{bt.S} d{d} h{bt.NH} ff{ff}, SGD",
                    bt.torch_step_fn(*state), bt.zengrad_step_fn(*state), flops)


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "tiny": tiny, "mlp": mlp, "adam": mlp_adam, "lenet": lenet, "block": basic_block,
    "lstm": lstm, "encoder": encoder,
}

# issue 12's targets: zengrad / torch median time at (1 thread, 2 threads)
TARGETS = {
    "tiny": (0.5, 0.5), "mlp": (0.9, 0.9), "adam": (1.0, 1.0), "lenet": (1.0, 1.0),
    "block": (1.0, 1.2), "lstm": (1.0, 1.0), "encoder": (None, None),
}


def build(name: str) -> Workload:
    return WORKLOADS[name]()
