"""Where a zengrad training step spends its time: per op, forward and backward separately.

Every Function subclass's forward and backward is wrapped with a timer (wall clock, so nested
ops count in their caller too), the optimizer step is timed as one entry, and the rest of the
step (module calls, argument checks, the engine) is reported as "other".

    .venv/bin/python bench/profile_ops.py [--threads 1 2] [--only lenet lstm] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument(totals: dict) -> None:
    """Wrap forward/backward of every op class so each call adds its seconds to totals."""
    import zengrad  # noqa: F401  (imports every op module)
    from zengrad.autograd.function import Function

    for cls in set(_subclasses(Function)):
        for kind in ("forward", "backward"):
            fn = cls.__dict__.get(kind)
            if fn is None:
                continue
            raw = fn.__func__ if isinstance(fn, staticmethod) else fn

            def timed(*a, _raw=raw, _key=f"{cls.__name__}.{kind}", **k):
                t0 = time.perf_counter()
                try:
                    return _raw(*a, **k)
                finally:
                    totals[_key] += time.perf_counter() - t0

            setattr(cls, kind, staticmethod(timed))


def inner(args) -> None:
    import torch
    from harness import run_info, set_torch_threads
    from workloads import build

    set_torch_threads(torch)
    totals: dict = defaultdict(float)
    instrument(totals)
    import zengrad.optim.optimizer as zopt

    for sub in {zopt.Optimizer, *_subclasses(zopt.Optimizer)}:
        step = sub.__dict__.get("step")
        if step is None:
            continue

        def timed_step(self, *a, _step=step, **k):
            t0 = time.perf_counter()
            try:
                return _step(self, *a, **k)
            finally:
                totals["optimizer.step"] += time.perf_counter() - t0

        sub.step = timed_step
    out = {**run_info(), "profiles": {}}
    for name in args.only:
        w = build(name)
        for _ in range(3):
            w.zengrad_step()
        totals.clear()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            w.zengrad_step()
        wall = (time.perf_counter() - t0) / args.steps
        per = {k: v / args.steps for k, v in totals.items()}
        out["profiles"][name] = {"what": w.what, "wall": wall, "ops": per}
    print(json.dumps(out))


def report(r: dict) -> None:
    print(f"\n### {r['threads']} thread(s)")
    for prof in r["profiles"].values():
        wall = prof["wall"]
        ops = sorted(prof["ops"].items(), key=lambda kv: -kv[1])
        print(f"\n{prof['what']}: {wall * 1e3:.2f} ms/step")
        shown = 0.0
        for k, v in ops[:14]:
            print(f"  {k:40s} {v * 1e3:8.3f} ms {100 * v / wall:5.1f}%")
            shown += v
        rest = sum(v for _, v in ops[14:])
        print(f"  {'(other ops)':40s} {rest * 1e3:8.3f} ms {100 * rest / wall:5.1f}%")
        other = wall - sum(v for _, v in ops)
        print(f"  {'(outside ops: modules, engine)':40s} {other * 1e3:8.3f} ms "
              f"{100 * other / wall:5.1f}%")


def main() -> None:
    from harness import run_in_subprocess
    from workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--only", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--inner", action="store_true")
    args = p.parse_args()
    if args.inner:
        inner(args)
        return
    print(f"load average: {open('/proc/loadavg').read().strip()}")
    for threads in args.threads:
        report(run_in_subprocess(__file__, threads, ["--only", *args.only,
                                                     "--steps", str(args.steps)]))


if __name__ == "__main__":
    main()
