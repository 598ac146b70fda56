"""Transformer encoder layer benchmark: zengrad vs PyTorch vs a hand-written NumPy floor.

Workload (float32; one step = forward + loss + backward + SGD update): one post-LN
TransformerEncoderLayer (d_model 128, 4 heads, feed-forward 512, ReLU, dropout 0, batch
first) on x (32, 64, 128), mean over the sequence -> Linear(128, 10) -> cross-entropy.
  torch        nn.TransformerEncoderLayer + nn.Linear + F.cross_entropy + optim.SGD
  zengrad-nn   zengrad.nn.TransformerEncoderLayer + Linear + F.cross_entropy + optim.SGD
  numpy-floor  the same math written by hand on arrays (packed q/k/v views, fused
               softmax-CE, closed-form LayerNorm backward), SGD in place
All three start from the same weights; their losses over the first 3 steps must agree.
Run: .venv/bin/python bench/bench_transformer.py   (1 and 2 threads, prints Markdown)
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

B, S, D, NH, FF, C = 32, 64, 128, 4, 512, 10
LR = 0.01
EPS = 1e-5


def make_state(seed: int = 0):
    """torch-layout weights (state_dict keys of the layer, plus head.*) and the data."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def u(fan, shape):
        return rng.uniform(-fan ** -0.5, fan ** -0.5, shape).astype(np.float32)

    sd = {
        "self_attn.in_proj_weight": u(D, (3 * D, D)), "self_attn.in_proj_bias": u(D, (3 * D,)),
        "self_attn.out_proj.weight": u(D, (D, D)), "self_attn.out_proj.bias": u(D, (D,)),
        "linear1.weight": u(D, (FF, D)), "linear1.bias": u(D, (FF,)),
        "linear2.weight": u(FF, (D, FF)), "linear2.bias": u(FF, (D,)),
        "norm1.weight": (1 + 0.1 * rng.standard_normal(D)).astype(np.float32),
        "norm1.bias": (0.1 * rng.standard_normal(D)).astype(np.float32),
        "norm2.weight": (1 + 0.1 * rng.standard_normal(D)).astype(np.float32),
        "norm2.bias": (0.1 * rng.standard_normal(D)).astype(np.float32),
    }
    head = {"weight": u(D, (C, D)), "bias": u(D, (C,))}
    x = rng.standard_normal((B, S, D)).astype(np.float32)
    y = rng.integers(0, C, B)
    return sd, head, x, y


# ------------------------------------------------------------------ NumPy floor


class NumpyFloor:
    """Forward and backward by hand; weights kept as (in, out) so every GEMM is x @ W."""

    def __init__(self, sd, head, x, y):
        import numpy as np

        self.np = np
        t = {k: v.copy() for k, v in sd.items()}
        self.p = {
            "wqkv": t["self_attn.in_proj_weight"].T.copy(), "bqkv": t["self_attn.in_proj_bias"],
            "wo": t["self_attn.out_proj.weight"].T.copy(), "bo": t["self_attn.out_proj.bias"],
            "w1": t["linear1.weight"].T.copy(), "b1": t["linear1.bias"],
            "w2": t["linear2.weight"].T.copy(), "b2": t["linear2.bias"],
            "g1": t["norm1.weight"], "c1": t["norm1.bias"],
            "g2": t["norm2.weight"], "c2": t["norm2.bias"],
            "wc": head["weight"].T.copy(), "bc": head["bias"].copy(),
        }
        self.x, self.y = x.reshape(B * S, D), y
        self.rows = np.arange(B)

    def _norm(self, r, g, c):
        np = self.np
        mu = r.mean(1, keepdims=True)
        xh = r - mu
        rstd = 1 / np.sqrt((xh * xh).mean(1, keepdims=True) + np.float32(EPS))
        xh *= rstd
        return xh * g + c, xh, rstd

    def _norm_back(self, dy, xh, rstd, g):
        dg, dc = (dy * xh).sum(0), dy.sum(0)
        d = dy * g
        d -= d.mean(1, keepdims=True)
        d -= xh * (d * xh).mean(1, keepdims=True)  # mean(d xh) unchanged by centring d
        d *= rstd
        return d, dg, dc

    def loss_and_grads(self):
        np, p, x = self.np, self.p, self.x
        dh = D // NH
        scale = np.float32(dh ** -0.5)
        qkv = x @ p["wqkv"]
        qkv += p["bqkv"]
        q5 = qkv.reshape(B, S, 3, NH, dh)
        q = q5[:, :, 0].transpose(0, 2, 1, 3) * scale
        k = q5[:, :, 1].transpose(0, 2, 1, 3)
        v = q5[:, :, 2].transpose(0, 2, 1, 3)
        pr = q @ k.transpose(0, 1, 3, 2)
        pr -= pr.max(-1, keepdims=True)
        np.exp(pr, out=pr)
        pr /= pr.sum(-1, keepdims=True)
        o = pr @ v
        ctx = o.transpose(0, 2, 1, 3).reshape(B * S, D)
        r1 = ctx @ p["wo"]
        r1 += p["bo"]
        r1 += x
        h1, xh1, rs1 = self._norm(r1, p["g1"], p["c1"])
        f = h1 @ p["w1"]
        f += p["b1"]
        np.maximum(f, 0, out=f)
        r2 = f @ p["w2"]
        r2 += p["b2"]
        r2 += h1
        h2, xh2, rs2 = self._norm(r2, p["g2"], p["c2"])
        pooled = h2.reshape(B, S, D).mean(1)
        z = pooled @ p["wc"]
        z += p["bc"]
        z -= z.max(1, keepdims=True)
        ez = np.exp(z)
        tot = ez.sum(1, keepdims=True)
        loss = float(np.mean(np.log(tot[:, 0]) - z[self.rows, self.y]))
        dz = ez / tot
        dz[self.rows, self.y] -= 1
        dz *= np.float32(1 / B)
        g = {"wc": pooled.T @ dz, "bc": dz.sum(0)}
        dpool = (dz @ p["wc"].T) * np.float32(1 / S)
        dh2 = np.broadcast_to(dpool[:, None], (B, S, D)).reshape(B * S, D)
        dr2, g["g2"], g["c2"] = self._norm_back(dh2, xh2, rs2, p["g2"])
        g["w2"], g["b2"] = f.T @ dr2, dr2.sum(0)
        df = dr2 @ p["w2"].T
        df *= f > 0
        g["w1"], g["b1"] = h1.T @ df, df.sum(0)
        dh1 = df @ p["w1"].T
        dh1 += dr2
        dr1, g["g1"], g["c1"] = self._norm_back(dh1, xh1, rs1, p["g1"])
        g["wo"], g["bo"] = ctx.T @ dr1, dr1.sum(0)
        do = (dr1 @ p["wo"].T).reshape(B, S, NH, dh).transpose(0, 2, 1, 3)
        dqkv = np.empty((B, S, 3, NH, dh), np.float32)
        dqkv[:, :, 2] = (pr.transpose(0, 1, 3, 2) @ do).transpose(0, 2, 1, 3)
        dp = do @ v.transpose(0, 1, 3, 2)
        dp -= (do * o).sum(-1, keepdims=True)  # rowsum(dP P) = rowsum(dO O)
        dp *= pr
        dq = dp @ k
        dq *= scale
        dqkv[:, :, 0] = dq.transpose(0, 2, 1, 3)
        dqkv[:, :, 1] = (dp.transpose(0, 1, 3, 2) @ q).transpose(0, 2, 1, 3)
        dqkv = dqkv.reshape(B * S, 3 * D)
        g["wqkv"], g["bqkv"] = x.T @ dqkv, dqkv.sum(0)
        return loss, g

    def step(self):
        loss, g = self.loss_and_grads()
        lr = self.np.float32(LR)
        for name, w in self.p.items():
            gw = g[name]
            gw *= lr
            w -= gw
        return loss


# ------------------------------------------------------------------ framework steps


def torch_step_fn(sd, head, x, y):
    import torch

    layer = torch.nn.TransformerEncoderLayer(D, NH, FF, dropout=0.0, batch_first=True)
    layer.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()})
    lin = torch.nn.Linear(D, C)
    lin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in head.items()})
    opt = torch.optim.SGD([*layer.parameters(), *lin.parameters()], lr=LR)
    tx, ty = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def step():
        loss = torch.nn.functional.cross_entropy(lin(layer(tx).mean(1)), ty)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def zengrad_step_fn(sd, head, x, y):
    import zengrad as zg
    from zengrad import optim
    from zengrad.nn.functional import cross_entropy
    from zengrad.nn.linear import Linear
    from zengrad.nn.transformer import TransformerEncoderLayer

    layer = TransformerEncoderLayer(D, NH, FF, dropout=0.0, batch_first=True)
    layer.load_state_dict(sd)
    lin = Linear(D, C)
    lin.load_state_dict(head)
    opt = optim.SGD([*layer.parameters(), *lin.parameters()], lr=LR)
    zx, zy = zg.from_numpy(x.copy()), zg.from_numpy(y.copy())

    def step():
        loss = cross_entropy(lin(layer(zx).mean(1)), zy)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def inner() -> None:
    import torch
    from harness import run_info, set_torch_threads, time_interleaved

    set_torch_threads(torch)
    state = make_state()
    impls = {
        "torch": torch_step_fn(*state),
        "numpy-floor": NumpyFloor(*state).step,
        "zengrad-nn": zengrad_step_fn(*state),
    }
    # same weights: the same loss at step 1, and at step 3 only if the gradients agree too
    first = {name: [fn() for _ in range(3)] for name, fn in impls.items()}
    for losses in first.values():
        for a, b in zip(losses, first["torch"]):
            assert abs(a - b) < 1e-4 * max(1.0, abs(b)), first
    timings = time_interleaved(impls, warmup=3, rounds=7, min_steps=20, min_block_s=1.0)
    print(json.dumps({**run_info(), "first_loss": first, "results": timings}))


def report(r: dict) -> None:
    from harness import format_table

    print("losses at steps 1-3: " + "; ".join(
        f"{k} " + ", ".join(f"{v:.6f}" for v in vs) for k, vs in r["first_loss"].items()
    ) + "\n")
    print(format_table(f"Transformer encoder layer b{B} s{S} d{D} h{NH} ff{FF}, "
                       "training step", r["results"], "torch", "numpy-floor"))


if __name__ == "__main__":
    import harness

    harness.main(__file__, inner, report)
