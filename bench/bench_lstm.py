"""LSTM training step: zengrad vs PyTorch vs a hand-written NumPy floor, in one run.

Workload (float32; the shared anchor's wl_lstm): one LSTM layer, T=32 steps, batch 64,
input 32, hidden 128, sequence-first input; the last hidden state -> Linear(128, 1) -> MSE
against a fixed target; SGD(lr=0.01). One step = forward over the sequence + loss +
backward + update.
  torch        nn.LSTM + nn.Linear + F.mse_loss + optim.SGD
  zengrad      nn.LSTM + nn.Linear + F.mse_loss + optim.SGD (zengrad.nn.recurrent)
  numpy-floor  hand-written forward/backward below (gates i, f, o, g internally, one GEMM
               for the input projection and one per weight gradient, buffers reused)
Run: .venv/bin/python bench/bench_lstm.py [--threads 1 2] [--input-size 32] [--rounds 7]
Each thread count runs in its own subprocess (thread variables set before NumPy loads).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LR = 0.01
T, B, H = 32, 64, 128


def make_problem(inp: int, seed: int = 0):
    """PyTorch-layout weights (4H, I), (4H, H), biases, head (1, H), (1,); data x, y."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)

    def u(*shape):
        return rng.uniform(-k, k, shape).astype(np.float32)

    params = {
        "weight_ih_l0": u(4 * H, inp), "weight_hh_l0": u(4 * H, H),
        "bias_ih_l0": u(4 * H), "bias_hh_l0": u(4 * H),
        "head.weight": u(1, H), "head.bias": u(1),
    }
    x = rng.standard_normal((T, B, inp)).astype(np.float32)
    y = rng.standard_normal((B, 1)).astype(np.float32)
    return params, x, y


# ------------------------------------------------------------------ NumPy floor


class NumpyFloorLSTM:
    """Hand-written LSTM step; weights kept as (in, 4H) with gate blocks i, f, o, g so that
    x @ W needs no transpose and one sigmoid covers the first 3H columns."""

    def __init__(self, params, x, y):
        import numpy as np

        self.np = np
        perm = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]  # i, f, g, o -> i, f, o, g
        self.inv = np.argsort(perm)
        self.w_x = np.ascontiguousarray(params["weight_ih_l0"][perm].T)
        self.w_h = np.ascontiguousarray(params["weight_hh_l0"][perm].T)
        self.b = (params["bias_ih_l0"] + params["bias_hh_l0"])[perm]
        self.w_l = np.ascontiguousarray(params["head.weight"].T)
        self.b_l = params["head.bias"].copy()
        self.x, self.y = x, y
        inp = x.shape[2]
        f32 = np.float32
        self.x2 = x.reshape(T * B, inp)
        self.gates = np.empty((T, B, 4 * H), f32)
        self.hs = np.zeros((T + 1, B, H), f32)  # h_0 = 0, h_1 .. h_T
        self.cs = np.zeros((T + 1, B, H), f32)
        self.tc = np.empty((T, B, H), f32)
        self.dgates = np.empty((T, B, 4 * H), f32)
        self.tmp = np.empty((B, H), f32)

    def grads(self):
        np = self.np
        a_all, hs, cs, tc, dg, tmp = self.gates, self.hs, self.cs, self.tc, self.dgates, self.tmp
        h3 = 3 * H
        np.matmul(self.x2, self.w_x, out=a_all.reshape(T * B, 4 * H))
        a_all += self.b
        for t in range(T):
            a = a_all[t]
            if t:
                a += hs[t] @ self.w_h
            s = a[:, :h3]
            s *= 0.5
            np.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            np.tanh(a[:, h3:], out=a[:, h3:])
            c = cs[t + 1]
            np.multiply(a[:, H:2 * H], cs[t], out=c)
            np.multiply(a[:, :H], a[:, h3:], out=tmp)
            c += tmp
            np.tanh(c, out=tc[t])
            np.multiply(a[:, 2 * H:h3], tc[t], out=hs[t + 1])
        h_last = hs[T]
        diff = h_last @ self.w_l + self.b_l - self.y
        dpred = diff * np.float32(2.0 / diff.size)
        g = {"w_l": h_last.T @ dpred, "b_l": dpred.sum(0)}
        dh = dpred @ self.w_l.T
        dc = np.zeros((B, H), np.float32)
        for t in range(T - 1, -1, -1):
            a, d = a_all[t], dg[t]
            np.multiply(dh, a[:, 2 * H:h3], out=tmp)
            dc += tmp
            tmp *= tc[t]
            tmp *= tc[t]
            dc -= tmp
            np.multiply(dc, a[:, h3:], out=d[:, :H])
            np.multiply(dc, cs[t], out=d[:, H:2 * H])
            np.multiply(dh, tc[t], out=d[:, 2 * H:h3])
            np.multiply(dc, a[:, :H], out=d[:, h3:])
            s = a[:, :h3]
            d[:, :h3] *= s - s * s
            d[:, h3:] *= 1 - a[:, h3:] * a[:, h3:]
            dc *= a[:, H:2 * H]
            if t:
                dh = d @ self.w_h.T
        d2 = dg.reshape(T * B, 4 * H)
        g["w_h"] = hs[1:T].reshape(-1, H).T @ d2[B:]  # h_0 = 0 adds nothing
        g["w_x"] = self.x2.T @ d2
        g["b"] = d2.sum(0)
        return float(np.mean(diff * diff)), g

    def step(self):
        _, g = self.grads()
        for name, gk in g.items():
            gk *= LR
            getattr(self, name)[...] -= gk

    def torch_layout_grads(self):
        """The gradients in PyTorch's layout (for the correctness check)."""
        _, g = self.grads()
        return {
            "weight_ih_l0": g["w_x"].T[self.inv], "weight_hh_l0": g["w_h"].T[self.inv],
            "bias_ih_l0": g["b"][self.inv], "head.weight": g["w_l"].T,
        }


# ------------------------------------------------------------------ torch and zengrad


class _FrameworkLSTM:
    """step() and the PyTorch-layout gradients, given a subclass's lstm, head, opt and
    _backward() (forward, loss and backward from fresh gradients)."""

    def step(self):
        self._backward()
        self.opt.step()

    def torch_layout_grads(self):
        self._backward()
        return {"weight_ih_l0": self.lstm.weight_ih_l0.grad.numpy(),
                "weight_hh_l0": self.lstm.weight_hh_l0.grad.numpy(),
                "bias_ih_l0": self.lstm.bias_ih_l0.grad.numpy(),
                "head.weight": self.head.weight.grad.numpy()}


class TorchLSTM(_FrameworkLSTM):
    def __init__(self, params, x, y):
        import torch

        self.torch = torch
        self.lstm = torch.nn.LSTM(x.shape[2], H)
        self.head = torch.nn.Linear(H, 1)
        self.lstm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()
                                   if not k.startswith("head")})
        self.head.weight.data.copy_(torch.from_numpy(params["head.weight"]))
        self.head.bias.data.copy_(torch.from_numpy(params["head.bias"]))
        self.x, self.y = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
        self.params = [*self.lstm.parameters(), *self.head.parameters()]
        self.opt = torch.optim.SGD(self.params, lr=LR)

    def _backward(self):
        _, (h, _) = self.lstm(self.x)
        loss = self.torch.nn.functional.mse_loss(self.head(h[-1]), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()


class ZengradLSTM(_FrameworkLSTM):
    def __init__(self, params, x, y):
        import zengrad as zg
        from zengrad.nn import Linear
        from zengrad.nn import functional as F
        from zengrad.nn.recurrent import LSTM

        self.F = F
        self.lstm = LSTM(x.shape[2], H)
        self.head = Linear(H, 1)
        self.lstm.load_state_dict({k: v for k, v in params.items() if not k.startswith("head")})
        self.head.load_state_dict({"weight": params["head.weight"], "bias": params["head.bias"]})
        self.x, self.y = zg.from_numpy(x.copy()), zg.from_numpy(y.copy())
        self.params = [*self.lstm.parameters(), *self.head.parameters()]
        self.opt = zg.optim.SGD(self.params, lr=LR)

    def _backward(self):
        _, (h, _) = self.lstm(self.x)
        loss = self.F.mse_loss(self.head(h[-1]), self.y)
        self.opt.zero_grad()
        loss.backward()


BUILDERS = {"torch": TorchLSTM, "zengrad": ZengradLSTM, "numpy-floor": NumpyFloorLSTM}


def check_gradients(params, x, y) -> float:
    """Largest relative difference of the three implementations' first-step gradients."""
    import numpy as np

    grads = {name: cls(params, x, y).torch_layout_grads() for name, cls in BUILDERS.items()}
    worst = 0.0
    for name in ("zengrad", "numpy-floor"):
        for k, ref in grads["torch"].items():
            err = np.abs(grads[name][k] - ref).max() / max(np.abs(ref).max(), 1e-30)
            worst = max(worst, float(err))
    return worst


def inner(args) -> None:
    import torch
    from harness import machine_load, run_info, set_torch_threads, time_interleaved

    set_torch_threads(torch)
    params, x, y = make_problem(args.input_size)
    load = machine_load()
    worst = check_gradients(params, x, y)
    impls = {name: cls(params, x, y).step for name, cls in BUILDERS.items()}
    timing = time_interleaved(impls, warmup=3, rounds=args.rounds, min_steps=args.steps)
    print(json.dumps({**run_info(), "load_before": load, "load_after": machine_load(),
                      "grad_rel_diff": worst, "timing": timing}))


def main() -> None:
    from harness import format_table, run_in_subprocess

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--inner", action="store_true")
    args = p.parse_args()
    if args.inner:
        inner(args)
        return
    passthrough = ["--input-size", str(args.input_size), "--rounds", str(args.rounds),
                   "--steps", str(args.steps)]
    for threads in args.threads:
        r = run_in_subprocess(__file__, threads, passthrough)
        print(f"\n### {threads} thread(s): numpy {r['numpy']}, torch {r['torch']}; load "
              f"{r['load_before']:.2f} -> {r['load_after']:.2f}; gradients agree with torch "
              f"to {r['grad_rel_diff']:.1e} (max relative)\n")
        print(format_table(f"LSTM T={T} batch {B} input {args.input_size} hidden {H}, "
                           "training step", r["timing"], "torch", "numpy-floor"))


if __name__ == "__main__":
    main()
