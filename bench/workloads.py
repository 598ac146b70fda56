"""The seven training-step workloads of issue 12, each built for torch and for zengrad from the
same weights and data (float32; one step = forward + loss + backward + optimizer step, which
returns the loss before the update).

`build(name, batch=None, device="cpu")` returns a Workload: two step functions, the GEMM FLOPs
of one step (what a training step must multiply: forward, input gradient where one is needed,
weight gradient), a one-line description and, for timing on a GPU, each library's
synchronize (a no-op on the CPU: a block of steps is timed between two of them). The batch
defaults to the CPU size of issue 12 (DEFAULT_BATCH); on device 'cuda' both models and the
data live on the GPU (torch CUDA, zengrad's CuPy arrays). Used by bench_all.py, ab_trees.py,
profile_ops.py (defaults) and gpu_steps.py (GPU batch sizes).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _no_sync() -> None:
    """The CPU's synchronize: every step has finished when it returns."""


@dataclass
class Workload:
    what: str
    torch_step: Callable[[], object]
    zengrad_step: Callable[[], object]
    flops: float  # GEMM floating-point operations in one training step
    batch: int = 0
    device: str = "cpu"
    torch_sync: Callable[[], None] = field(default=_no_sync)
    zengrad_sync: Callable[[], None] = field(default=_no_sync)


def _linear_flops(batch: int, sizes: tuple[int, ...]) -> float:
    """Forward 2BIO per layer, weight gradient the same, input gradient for all but layer 1."""
    per = [2.0 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    return 3 * sum(per) - per[0]


def _on_gpu(device: str) -> bool:
    return device.startswith("cuda")


def _pair(make, x, y, loss, opt, lr, device, weights=None, torch_device=None):
    """Steps of make(lib, F) for torch and zengrad: the same weights (torch's initial ones, or
    `weights` in torch's state_dict layout), the same data x, y, both moved to `device`
    (torch's to `torch_device` when given: a check of zengrad on a GPU against torch's CPU).

    Returns (torch_step, zengrad_step, torch_sync, zengrad_sync)."""
    import torch

    import zengrad as zg
    from zengrad import nn, optim
    from zengrad.nn import functional as F

    tm = make(torch.nn, torch.nn.functional)
    zm = make(nn, F)
    if weights is not None:
        tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    zx, zy = zg.from_numpy(x), zg.from_numpy(y)
    tdev = torch_device or device
    tsync = zsync = _no_sync
    # moved before the optimizers are made, as a user writes it; on the CPU nothing is moved
    # (exactly the tensors bench_all always timed)
    if tdev != "cpu":
        tm, tx, ty = tm.to(tdev), tx.to(tdev), ty.to(tdev)
        tsync = torch.cuda.synchronize if _on_gpu(tdev) else _no_sync
    if device != "cpu":
        zm, zx, zy = zm.to(device), zx.to(device), zy.to(device)
        zsync = zg.cuda.synchronize if _on_gpu(device) else _no_sync
    if opt == "sgd":
        topt = torch.optim.SGD(tm.parameters(), lr=lr)
        zopt = optim.SGD(zm.parameters(), lr=lr)
    else:
        topt = torch.optim.Adam(tm.parameters(), lr=lr)
        zopt = optim.Adam(zm.parameters(), lr=lr)
    tloss = torch.nn.functional.cross_entropy if loss == "ce" else torch.nn.functional.mse_loss
    zloss = F.cross_entropy if loss == "ce" else F.mse_loss

    # each step returns its loss tensor (on the device: reading it would synchronize; not
    # detached, which would add an op to the tiny MLP's 0.1 ms step)
    def torch_step():
        topt.zero_grad(set_to_none=True)
        out = tloss(tm(tx), ty)
        out.backward()
        topt.step()
        return out

    def zg_step():
        zopt.zero_grad()
        out = zloss(zm(zx), zy)
        out.backward()
        zopt.step()
        return out

    return torch_step, zg_step, tsync, zsync


def _workload(what, pair, flops, batch, device) -> Workload:
    t, z, ts, zs = pair
    return Workload(what, t, z, flops, batch, device, ts, zs)


def _mlp(sizes, act):
    def make(lib, F):
        mods = []
        for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(lib.Linear(i, o))
            if k < len(sizes) - 2:
                mods.append(lib.ReLU() if act == "relu" else lib.Tanh())
        return lib.Sequential(*mods)

    return make


def _mlp_workload(name, batch, sizes, act, loss, opt, lr, device, torch_device,
                  seed=0) -> Workload:
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "ce":
        y = rng.integers(0, sizes[-1], batch)
    else:
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    pair = _pair(_mlp(sizes, act), x, y, loss, opt, lr, device, torch_device=torch_device)
    what = (f"{name} {'-'.join(map(str, sizes))} {'ReLU' if act == 'relu' else 'tanh'} "
            f"b{batch}, {loss.upper()}, {'SGD' if opt == 'sgd' else 'Adam'}")
    return _workload(what, pair, _linear_flops(batch, sizes), batch, device)


def tiny(batch: int | None = None, device: str = "cpu",
         torch_device: str | None = None) -> Workload:
    b = batch or DEFAULT_BATCH["tiny"]
    return _mlp_workload("tiny MLP", b, (16, 16, 16, 1), "tanh", "mse", "sgd", 0.01, device,
                         torch_device)


def mlp(batch: int | None = None, device: str = "cpu",
        torch_device: str | None = None) -> Workload:
    b = batch or DEFAULT_BATCH["mlp"]
    return _mlp_workload("MLP", b, (784, 512, 256, 10), "relu", "ce", "sgd", 0.01, device,
                         torch_device)


def mlp_adam(batch: int | None = None, device: str = "cpu",
             torch_device: str | None = None) -> Workload:
    b = batch or DEFAULT_BATCH["adam"]
    return _mlp_workload("MLP", b, (784, 512, 256, 10), "relu", "ce", "adam", 1e-3, device,
                         torch_device)


def wide(batch: int | None = None, device: str = "cpu",
         torch_device: str | None = None) -> Workload:
    """A GEMM-bound MLP for the GPU (not one of issue 12's seven)."""
    b = batch or DEFAULT_BATCH["wide"]
    return _mlp_workload("wide MLP", b, (2048, 2048, 2048, 10), "relu", "ce", "sgd", 0.01,
                         device, torch_device)


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


def lenet(batch: int | None = None, device: str = "cpu",
          torch_device: str | None = None) -> Workload:
    import numpy as np

    n = batch or DEFAULT_BATCH["lenet"]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n)
    pair = _pair(_lenet, x, y, "ce", "sgd", 0.01, device, torch_device=torch_device)
    conv1 = 2.0 * n * 28 * 28 * 6 * 25
    conv2 = 2.0 * n * 10 * 10 * 16 * 150
    flops = 2 * conv1 + 3 * conv2 + _linear_flops(n, (400, 120, 84, 10)) + 2.0 * n * 400 * 120
    return _workload(f"LeNet-5 1x28x28 b{n}, CE, SGD", pair, flops, n, device)


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


def basic_block(batch: int | None = None, device: str = "cpu",
                torch_device: str | None = None) -> Workload:
    import numpy as np

    n = batch or DEFAULT_BATCH["block"]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, 64, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, n)
    pair = _pair(_block, x, y, "ce", "sgd", 0.01, device, torch_device=torch_device)
    conv = 2.0 * n * 32 * 32 * 64 * 64 * 9
    return _workload(f"BasicBlock 64ch 32x32 b{n} + linear head, CE, SGD", pair,
                     5 * conv + _linear_flops(n, (64, 10)), n, device)


def _lstm_head(inp, hidden):
    def make(lib, F):
        class LSTMHead(lib.Module):
            """Sequence-first LSTM; its last hidden state -> Linear(hidden, 1)."""

            def __init__(self):
                super().__init__()
                self.lstm = lib.LSTM(inp, hidden)
                self.head = lib.Linear(hidden, 1)

            def forward(self, x):
                _, (h, _) = self.lstm(x)
                return self.head(h[-1])

        return LSTMHead()

    return make


def lstm(batch: int | None = None, device: str = "cpu",
         torch_device: str | None = None) -> Workload:
    import bench_lstm as bl
    import numpy as np

    b, i, h = batch or DEFAULT_BATCH["lstm"], 32, bl.H
    params, x, y = bl.make_problem(i)  # bench_lstm's weights; its data at its batch
    if b != bl.B:
        rng = np.random.default_rng(3)
        x = rng.standard_normal((bl.T, b, i)).astype(np.float32)
        y = rng.standard_normal((b, 1)).astype(np.float32)
    weights = {(k if k.startswith("head.") else "lstm." + k): v for k, v in params.items()}
    pair = _pair(_lstm_head(i, h), x, y, "mse", "sgd", bl.LR, device, weights,
                 torch_device)
    tb = bl.T * b
    fwd = 2.0 * tb * (i + h) * 4 * h
    flops = fwd + 2.0 * tb * (i + h) * 4 * h + 2.0 * tb * h * 4 * h  # + dW_ih, dW_hh, dh
    return _workload(f"LSTM T={bl.T} b{b} in {i} hidden {h}, last h -> Linear, MSE, SGD",
                     pair, flops, b, device)


def _encoder_head(bt):
    def make(lib, F):
        class EncoderHead(lib.Module):
            """A post-LN encoder layer; the sequence mean -> Linear(d, classes)."""

            def __init__(self):
                super().__init__()
                self.layer = lib.TransformerEncoderLayer(bt.D, bt.NH, bt.FF, dropout=0.0,
                                                         batch_first=True)
                self.head = lib.Linear(bt.D, bt.C)

            def forward(self, x):
                return self.head(self.layer(x).mean(1))

        return EncoderHead()

    return make


def encoder(batch: int | None = None, device: str = "cpu",
            torch_device: str | None = None) -> Workload:
    import bench_transformer as bt
    import numpy as np

    b = batch or DEFAULT_BATCH["encoder"]
    sd, head, x, y = bt.make_state()  # bench_transformer's weights; its data at its batch
    if b != bt.B:
        rng = np.random.default_rng(4)
        x = rng.standard_normal((b, bt.S, bt.D)).astype(np.float32)
        y = rng.integers(0, bt.C, b)
    weights = {**{"layer." + k: v for k, v in sd.items()},
               **{"head." + k: v for k, v in head.items()}}
    pair = _pair(_encoder_head(bt), x, y, "ce", "sgd", bt.LR, device, weights,
                 torch_device)
    tok, d, ff = b * bt.S, bt.D, bt.FF
    proj = 2.0 * tok * d * (3 * d + d + 2 * ff)  # qkv, out projection, feed-forward
    attn = 2 * 2.0 * b * bt.S * bt.S * d  # scores and weighted values
    flops = 3 * (proj + attn) - 2.0 * tok * d * 3 * d  # no gradient for the input
    return _workload(f"Transformer encoder layer b{b} s{bt.S} d{d} h{bt.NH} ff{ff}, SGD",
                     pair, flops, b, device)


WORKLOADS: dict[str, Callable[..., Workload]] = {
    "tiny": tiny, "mlp": mlp, "adam": mlp_adam, "lenet": lenet, "block": basic_block,
    "lstm": lstm, "encoder": encoder,
}
# built by name too, but not part of issue 12's table (bench_all.py runs WORKLOADS only)
EXTRA: dict[str, Callable[..., Workload]] = {"wide": wide}

# issue 12's CPU batch sizes (bench_all.py, ab_trees.py, profile_ops.py)
DEFAULT_BATCH = {"tiny": 16, "mlp": 128, "adam": 128, "lenet": 64, "block": 32, "lstm": 64,
                 "encoder": 32, "wide": 1024}

# issue 12's targets: zengrad / torch median time at (1 thread, 2 threads)
TARGETS = {
    "tiny": (0.5, 0.5), "mlp": (0.9, 0.9), "adam": (1.0, 1.0), "lenet": (1.0, 1.0),
    "block": (1.0, 1.2), "lstm": (1.0, 1.0), "encoder": (1.0, 1.0),
}


def build(name: str, batch: int | None = None, device: str = "cpu",
          torch_device: str | None = None) -> Workload:
    """The workload `name` at `batch` (DEFAULT_BATCH's when None) on `device` (torch's on
    `torch_device` when given)."""
    builder = WORKLOADS.get(name) or EXTRA.get(name)
    if builder is None:
        raise KeyError(f"no workload {name!r}; known: {', '.join([*WORKLOADS, *EXTRA])}")
    if batch is not None and batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    return builder(batch, device, torch_device)
