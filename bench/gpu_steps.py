"""Training steps on a device: zengrad (CuPy arrays) against torch, ms per step, one process.

Each workload is built for both libraries from the same weights and data (float32, one step =
forward + loss + backward + SGD update), moved to --device, warmed up, then timed in
interleaved blocks with a device synchronize around each block; median and best ms/step.
A library that fails on the device (zengrad before every op family is on the seam) is
reported with its error instead of a time.

    .venv/bin/python bench/gpu_steps.py --device cuda          # on an NVIDIA GPU (bench/gpu.sh)
    .venv/bin/python bench/gpu_steps.py --device cpu --steps 2 # the same code on the CPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

WORKLOADS = {
    # name: (batch, layer sizes, activation, loss)
    "tiny": (16, (16, 16, 16, 1), "tanh", "mse"),
    "mlp": (128, (784, 512, 256, 10), "relu", "ce"),
    "wide": (1024, (2048, 2048, 2048, 10), "relu", "ce"),
}


def _data(batch, sizes, loss, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if loss == "ce":
        y = rng.integers(0, sizes[-1], batch)
    else:
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    return x, y


def _model(lib, sizes, act):
    mods = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(lib.Linear(i, o))
        if k < len(sizes) - 2:
            mods.append(lib.ReLU() if act == "relu" else lib.Tanh())
    return lib.Sequential(*mods)


def torch_step(name: str, device: str):
    import torch

    batch, sizes, act, loss = WORKLOADS[name]
    x, y = _data(batch, sizes, loss)
    torch.manual_seed(0)
    model = _model(torch.nn, sizes, act).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    tx, ty = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    fn = torch.nn.functional.cross_entropy if loss == "ce" else torch.nn.functional.mse_loss

    def step():
        opt.zero_grad()
        fn(model(tx), ty).backward()
        opt.step()

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return step, sync, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def zengrad_step(name: str, device: str, weights: dict):
    import zengrad as zg
    from zengrad import nn, optim
    from zengrad.nn import functional as F

    batch, sizes, act, loss = WORKLOADS[name]
    x, y = _data(batch, sizes, loss)
    model = _model(nn, sizes, act)
    model.load_state_dict(weights)  # the same weights as torch's
    model = model.to(device)
    opt = optim.SGD(model.parameters(), lr=0.01)
    zx, zy = zg.from_numpy(x).to(device), zg.from_numpy(y).to(device)
    fn = F.cross_entropy if loss == "ce" else F.mse_loss

    def step():
        opt.zero_grad()
        fn(model(zx), zy).backward()
        opt.step()

    sync = zg.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return step, sync


def _time(step, sync, steps: int) -> float:
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps * 1e3


def run(name: str, device: str, steps: int, rounds: int) -> dict:
    """{'workload', 'torch', 'zengrad'}: [median, best] ms/step each, or an error string."""
    result: dict = {"workload": name, "device": device}
    impls = {}
    try:
        step, sync, weights = torch_step(name, device)
        impls["torch"] = (step, sync)
    except Exception as e:  # no CUDA torch on this machine: zengrad alone
        result["torch"], weights = f"failed: {type(e).__name__}: {e}"[:300], None
    if weights is None:
        import torch

        torch.manual_seed(0)
        weights = {k: v.detach().numpy() for k, v in
                   _model(torch.nn, WORKLOADS[name][1], WORKLOADS[name][2]).state_dict().items()}
    try:
        step, sync = zengrad_step(name, device, weights)
        for _ in range(2):  # first steps: CuPy compiles its kernels
            step()
        impls["zengrad"] = (step, sync)
    except Exception as e:
        result["zengrad"] = f"failed: {type(e).__name__}: {e}"[:300]
    times = {k: [] for k in impls}
    for step, _ in impls.values():
        step()  # warm-up
    for _ in range(rounds):
        for k, (step, sync) in impls.items():
            times[k].append(_time(step, sync, steps))
    for k, ts in times.items():
        result[k] = [round(statistics.median(ts), 4), round(min(ts), 4)]
    return result


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--steps", type=int, default=20, help="steps per timed block")
    p.add_argument("--rounds", type=int, default=5, help="timed blocks per library")
    p.add_argument("--only", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--json", help="also write the results here (one JSON object a line)")
    args = p.parse_args(argv)
    rows = [run(name, args.device, args.steps, args.rounds) for name in args.only]
    print(f"| workload ({args.device}) | torch ms/step (median, best) | zengrad ms/step | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        t, z = r.get("torch"), r.get("zengrad")
        ratio = f"{z[0] / t[0]:.2f}x" if isinstance(t, list) and isinstance(z, list) else "-"
        print(f"| {r['workload']} | {t} | {z} | {ratio} |")
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
