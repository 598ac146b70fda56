"""Training steps on a device: zengrad (CuPy arrays) against torch, ms per step, one process.

The workloads are bench/workloads.py's (issue 15 names MLP, LeNet, BasicBlock, LSTM and the
Transformer encoder; tiny, Adam and a wide MLP come after them), each built for both
libraries from the same weights and data (float32, one step = forward + loss + backward +
optimizer update) at a batch size that fills a GPU (GPU_BATCH; --small: a few samples, to run
the same code on the CPU in seconds). Both models and the data live on --device. The first
step's losses are compared (same weights, same data: they must agree), a few more steps warm
up (CuPy compiles its kernels on first use), then each library is timed in interleaved
blocks of steps with a device synchronize at both ends of a block; median and best ms/step.
TF32 is off in torch (CuPy's GEMMs are plain float32 too) unless --tf32.

A library that fails on the device (zengrad before every op family is on the seam) is
reported with its error instead of a time. Rows are printed, and appended to --json, as each
workload finishes, so a run cut short by a timeout keeps what it measured.

    python bench/gpu_steps.py --device cuda --json bench/results/gpu.jsonl   # bench/gpu.sh
    python bench/gpu_steps.py --device cpu --small --steps 1 --rounds 1      # the same code
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workloads import EXTRA, WORKLOADS, build  # noqa: E402

# issue 15's five first, then the others (cheap at these sizes)
ORDER = ["mlp", "lenet", "block", "lstm", "encoder", "tiny", "adam", "wide"]
assert sorted(ORDER) == sorted([*WORKLOADS, *EXTRA])
# batch sizes that keep an H200 busy (issue 15: MLP b4096, BasicBlock b256, encoder b256)
GPU_BATCH = {"mlp": 4096, "lenet": 2048, "block": 256, "lstm": 1024, "encoder": 256,
             "tiny": 16, "adam": 4096, "wide": 1024}
SMALL_BATCH = {"mlp": 8, "lenet": 4, "block": 2, "lstm": 4, "encoder": 2, "tiny": 4,
               "adam": 8, "wide": 2}
# issue 15's goal: zengrad / torch CUDA time at most this (the extras have none)
GOALS = {"mlp": 1.1, "encoder": 1.1, "lenet": 1.5, "block": 1.5, "lstm": 1.5}


def _failed(e: BaseException) -> str:
    return f"failed: {type(e).__name__}: {e}"[:300]


def _block_ms(step, sync, steps: int) -> float:
    """ms/step over `steps` steps, the device drained before and after."""
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps * 1e3


def _release(device: str) -> None:
    """Give the last workload's device memory back before the next one is built."""
    gc.collect()
    if device.startswith("cuda"):
        import torch

        import zengrad as zg

        torch.cuda.empty_cache()
        zg.cuda.empty_cache()


def run(name: str, device: str, batch: int, steps: int, rounds: int, block_s: float,
        torch_device: str | None = None) -> dict:
    """One workload: {'torch', 'zengrad'}: [median, best] ms/step or an error string, the
    first step's losses, the ratio and the goal."""
    result: dict = {"workload": name, "batch": batch, "device": device, "goal": GOALS.get(name)}
    if torch_device not in (None, device):
        result["torch_device"] = torch_device
    try:
        w = build(name, batch, device, torch_device)
    except Exception as e:  # e.g. a torch without CUDA, or a zengrad module that cannot move
        result["torch"] = result["zengrad"] = _failed(e)
        return result
    result["what"] = w.what
    impls, losses = {}, {}
    for lib, step, sync in (("torch", w.torch_step, w.torch_sync),
                            ("zengrad", w.zengrad_step, w.zengrad_sync)):
        try:
            losses[lib] = float(step())  # the same weights and data: the same first loss
            for _ in range(2):  # warm-up (CuPy compiles kernels, allocators fill their pools)
                step()
            sync()
            impls[lib] = (step, sync)
        except Exception as e:
            result[lib] = _failed(e)
    result["first_loss"] = losses
    if len(losses) == 2:
        t, z = losses["torch"], losses["zengrad"]
        result["loss_agrees"] = abs(t - z) <= 1e-3 * max(1.0, abs(t))
    # steps per block: enough for block_s seconds (one step timed first), at least `steps`
    per_block = {}
    for lib, (step, sync) in impls.items():
        one = _block_ms(step, sync, 1) / 1e3
        per_block[lib] = max(steps, min(1000, math.ceil(block_s / max(one, 1e-6))))
    times: dict[str, list[float]] = {lib: [] for lib in impls}
    for _ in range(rounds):
        for lib, (step, sync) in impls.items():
            try:
                times[lib].append(_block_ms(step, sync, per_block[lib]))
            except Exception as e:  # e.g. out of device memory after a few steps
                result[lib] = _failed(e)
    for lib, ts in times.items():
        if ts and not isinstance(result.get(lib), str):
            result[lib] = [round(statistics.median(ts), 4), round(min(ts), 4)]
    t, z = result.get("torch"), result.get("zengrad")
    if isinstance(t, list) and isinstance(z, list):
        result["ratio"] = round(z[0] / t[0], 3)
    del w, impls
    _release(device)
    if torch_device:
        _release(torch_device)
    return result


def _cell(v) -> str:
    if isinstance(v, list):
        return f"{v[0]:.3f} / {v[1]:.3f}"
    return "-" if v is None else str(v).replace("|", "/")


def row(r: dict) -> str:
    """A Markdown row: times, ratio, goal and whether it is met, first losses."""
    ratio, goal = r.get("ratio"), r.get("goal")
    verdict = "-" if goal is None else f"<= {goal}"
    if goal is not None and ratio is not None:
        verdict += " ok" if ratio <= goal else " **missed**"
    loss = r.get("first_loss", {})
    agree = {True: "agree", False: "**differ**"}.get(r.get("loss_agrees"), "-")
    losses = " / ".join(f"{loss[k]:.5f}" for k in ("torch", "zengrad") if k in loss)
    return (f"| {r['workload']} | {r['batch']} | {_cell(r.get('torch'))} | "
            f"{_cell(r.get('zengrad'))} | {'-' if ratio is None else f'{ratio:.2f}x'} | "
            f"{verdict} | {losses} ({agree}) |")


def environment(device: str) -> dict:
    """Versions and the GPU's name, recorded with every row."""
    import numpy as np
    import torch

    env = {"numpy": np.__version__, "torch": torch.__version__}
    if device.startswith("cuda"):
        try:
            import cupy

            import zengrad as zg

            env["cupy"] = cupy.__version__
            env["gpu"] = zg.cuda.get_device_name()
        except Exception as e:
            env["cupy"] = _failed(e)
    return env


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--small", action="store_true",
                   help="a few samples per batch (the code path, on the CPU, in seconds)")
    p.add_argument("--steps", type=int, default=1, help="least steps per timed block")
    p.add_argument("--rounds", type=int, default=5, help="timed blocks per library")
    p.add_argument("--block-s", type=float, default=0.2,
                   help="seconds a timed block should last (more steps when they are fast)")
    p.add_argument("--budget-s", type=float, default=130.0,
                   help="start no workload after this many seconds (the rest: skipped)")
    p.add_argument("--torch-device", help="torch's device when not --device (e.g. cpu where "
                   "torch has no CUDA: zengrad's times and losses, ratios not comparable)")
    p.add_argument("--tf32", action="store_true", help="let torch use TF32 (off by default)")
    p.add_argument("--only", nargs="*", default=ORDER, choices=ORDER)
    p.add_argument("--json", help="also append the results here (one JSON object a line)")
    args = p.parse_args(argv)
    import torch

    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    env = environment(args.device)
    sizes = SMALL_BATCH if args.small else GPU_BATCH
    torch_on = f" (torch on {args.torch_device})" if args.torch_device else ""
    print(f"{args.device}{torch_on}: " + ", ".join(f"{k} {v}" for k, v in env.items())
          + f"; TF32 {'on' if args.tf32 else 'off'}", flush=True)
    print("\n| workload | batch | torch ms/step (median / best) | zengrad ms/step "
          "(median / best) | zengrad / torch | goal | first loss torch / zengrad |")
    print("|---|---|---|---|---|---|---|", flush=True)
    t0, met, goals = time.perf_counter(), 0, 0
    for name in args.only:
        if time.perf_counter() - t0 > args.budget_s:
            r = {"workload": name, "batch": sizes[name], "device": args.device,
                 "goal": GOALS.get(name), "torch": "skipped: --budget-s spent",
                 "zengrad": "skipped: --budget-s spent"}
        else:
            r = run(name, args.device, sizes[name], args.steps, args.rounds, args.block_s,
                    args.torch_device)
        r.update(env=env, tf32=args.tf32, time=time.strftime("%Y-%m-%dT%H:%M:%S"))
        print(row(r), flush=True)
        if r.get("goal") is not None:
            goals += 1
            met += r.get("ratio") is not None and r["ratio"] <= r["goal"]
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(r) + "\n")
    print(f"\nissue 15's goal met by {met} of {goals} timed workloads "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
