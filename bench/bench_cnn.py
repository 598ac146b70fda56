"""CNN benchmark (not a test): zengrad vs torch vs the hand-written NumPy floor.

  1. LeNet-5 training step, 1x28x28, batch 64, cross-entropy, SGD(lr=0.01)
  2. ResNet BasicBlock(64, 64) forward + backward (train-mode BN), 64x32x32, batch 32
Each thread count runs in its own subprocess, because BLAS/OpenMP read their thread counts at
import: OMP/OPENBLAS/MKL_NUM_THREADS are set in the child's environment and torch is told
torch.set_num_threads. Implementations are interleaved: warm-up, then ROUNDS blocks of STEPS
steps each; we report the median and best ms/step. The load average is printed before and
after (a busy foreign core slows multi-threaded BLAS many times over).

    .venv/bin/python bench/bench_cnn.py [--threads 1 2] [--rounds 7] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _timeit(impls: dict, rounds: int, steps: int, warmup: int = 5) -> dict:
    for fn in impls.values():
        for _ in range(warmup):
            fn()
    blocks = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            time.sleep(0.05)  # let idle BLAS threads of the previous implementation settle
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            blocks[name].append((time.perf_counter() - t0) / steps * 1e3)
    import numpy as np

    return {n: (float(np.median(b)), float(np.min(b))) for n, b in blocks.items()}


def child(threads: int, rounds: int, steps: int) -> dict:
    sys.path.insert(0, ROOT)
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    import zengrad as zg
    from bench.numpy_floor_lenet import NumpyLeNet
    from zengrad.models import BasicBlock, LeNet5
    from zengrad.ops.loss import cross_entropy
    from zengrad.optim import SGD

    lr, n = 0.01, 64
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    zg.manual_seed(0)
    zm = LeNet5(1, 10, 28)
    params = {k: v.numpy().copy() for k, v in zm.state_dict().items()}

    # torch twin, same weights
    tnn, tf = torch.nn, torch.nn.functional

    class TorchLeNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = tnn.Conv2d(1, 6, 5, padding=2), tnn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = (
                tnn.Linear(400, 120),
                tnn.Linear(120, 84),
                tnn.Linear(84, 10),
            )

        def forward(self, x):
            x = tf.max_pool2d(self.conv1(x).relu(), 2)
            x = tf.max_pool2d(self.conv2(x).relu(), 2).flatten(1)
            return self.fc3(self.fc2(self.fc1(x).relu()).relu())

    tm = TorchLeNet()
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
    floor = NumpyLeNet(params, x, y, lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xz, yz = zg.tensor(x), zg.tensor(y)
    topt = torch.optim.SGD(tm.parameters(), lr=lr)
    zopt = SGD(zm.parameters(), lr=lr)

    # the three compute the same gradients (checked on the initial weights)
    zloss = cross_entropy(zm(xz), yz)
    zloss.backward()
    tloss = tf.cross_entropy(tm(xt), yt)
    tloss.backward()
    floss, fg = floor.grads()
    gdiff = {"zengrad": 0.0, "floor": 0.0}
    for name, tp in tm.named_parameters():
        ref = tp.grad.numpy()
        scale = float(np.abs(ref).max())
        gdiff["zengrad"] = max(
            gdiff["zengrad"], float(np.abs(zm.get_parameter(name).grad.array - ref).max()) / scale
        )
        gdiff["floor"] = max(gdiff["floor"], float(np.abs(fg[name] - ref).max()) / scale)

    def torch_step():
        topt.zero_grad(set_to_none=True)
        loss = tf.cross_entropy(tm(xt), yt)
        loss.backward()
        topt.step()

    def zg_step():
        zopt.zero_grad()
        loss = cross_entropy(zm(xz), yz)
        loss.backward()
        zopt.step()

    load0 = os.getloadavg()
    lenet = _timeit(
        {"torch": torch_step, "zengrad": zg_step, "numpy floor": floor.step}, rounds, steps
    )

    # ResNet BasicBlock(64, 64): forward + backward in train mode
    xb = rng.standard_normal((32, 64, 32, 32)).astype(np.float32)
    cot = rng.standard_normal(xb.shape).astype(np.float32)
    zb = BasicBlock(64, 64)
    tb = _torch_block(tnn)
    tb.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in zb.state_dict().items()})
    xbz, cbz = zg.tensor(xb, requires_grad=True), zg.tensor(cot)
    xbt, cbt = torch.from_numpy(xb).requires_grad_(), torch.from_numpy(cot)

    def torch_block():
        tb.zero_grad(set_to_none=True)
        xbt.grad = None
        tb(xbt).backward(cbt)

    def zg_block():
        zb.zero_grad()
        xbz.grad = None
        zb(xbz).backward(cbz)

    block = _timeit(
        {"torch": torch_block, "zengrad": zg_block}, max(3, rounds // 2), max(5, steps // 4)
    )
    return {
        "threads": threads,
        "load_before": load0,
        "load_after": os.getloadavg(),
        "lenet": lenet,
        "lenet_grad_rel_diff": gdiff,
        "lenet_loss": [float(tloss.item()), float(zloss.item()), floss],
        "block": block,
    }


def _torch_block(tnn):
    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(64, 64, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.conv2 = tnn.Conv2d(64, 64, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(64)

        def forward(self, x):
            return (self.bn2(self.conv2(self.bn1(self.conv1(x)).relu())) + x).relu()

    return Block()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.rounds, args.steps)))
        return
    print(f"load average at start: {os.getloadavg()}")
    for t in args.threads:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(t)
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            str(t),
            "--rounds",
            str(args.rounds),
            "--steps",
            str(args.steps),
        ]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        gd = r["lenet_grad_rel_diff"]
        print(
            f"\n== {t} thread(s); load average {r['load_before'][0]:.2f} before, "
            f"{r['load_after'][0]:.2f} after =="
        )
        print(
            f"LeNet-5 step, batch 64 (grad rel diff vs torch: zengrad {gd['zengrad']:.1e}, "
            f"floor {gd['floor']:.1e})"
        )
        _table(r["lenet"], ("torch", "numpy floor"))
        print("BasicBlock(64, 64) forward+backward, 32x64x32x32")
        _table(r["block"], ("torch",))


def _table(res: dict, refs: tuple[str, ...]) -> None:
    head = f"  {'impl':12s} {'median ms':>10s} {'best ms':>9s}" + "".join(
        f" {'x ' + r:>13s}" for r in refs
    )
    print(head)
    for name, (med, best) in res.items():
        ratios = "".join(f" {med / res[r][0]:13.2f}" for r in refs)
        print(f"  {name:12s} {med:10.2f} {best:9.2f}{ratios}")


if __name__ == "__main__":
    main()
