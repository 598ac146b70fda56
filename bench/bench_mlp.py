"""MLP benchmarks: zengrad vs PyTorch vs a hand-written NumPy floor, in one run.

Workloads (float32, one step = forward + loss + backward + SGD update):
  overhead  10,000 small elementwise ops (16 elements) forward + backward
  tiny      MLP 16-16-16-1, tanh, batch 16, MSE           (Python overhead dominates)
  mlp       MLP 784-512-256-10, ReLU, batch 128, cross-entropy
            zengrad-engine: raw ops (x @ W + b, logsumexp - picked logit);
            zengrad-nn-sgd / -adam: nn.Linear + F.cross_entropy + optim.SGD / Adam.
Run: .venv/bin/python bench/bench_mlp.py            (1 and 2 threads, prints Markdown)
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LR = 0.01


def mlp_data(batch=128, sizes=(784, 512, 256, 10), seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    ws = [
        (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    return x, y, ws, bs


# ------------------------------------------------------------------ NumPy floor


def floor_mlp_step(x, y, ws, bs):
    """Hand-written forward/backward of the ReLU MLP with fused softmax-CE; SGD in place."""
    import numpy as np

    acts = [x]
    h = x
    for k, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w.T
        h += b
        if k < len(ws) - 1:
            np.maximum(h, 0, out=h)
        acts.append(h)
    z = acts[-1]
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    z[np.arange(len(y)), y] -= 1
    z *= np.float32(1 / len(y))
    d = z
    for k in range(len(ws) - 1, -1, -1):
        a = acts[k]
        gw = d.T @ a
        gb = d.sum(axis=0)
        if k > 0:
            d = d @ ws[k]
            d *= a > 0
        ws[k] -= LR * gw
        bs[k] -= LR * gb


def floor_tiny_step(x, t, ws, bs):
    import numpy as np

    h1 = np.tanh(x @ ws[0].T + bs[0])
    h2 = np.tanh(h1 @ ws[1].T + bs[1])
    out = h2 @ ws[2].T + bs[2]
    d = (out - t) * np.float32(2 / out.size)
    g2w, g2b = d.T @ h2, d.sum(0)
    d = (d @ ws[2]) * (1 - h2 * h2)
    g1w, g1b = d.T @ h1, d.sum(0)
    d = (d @ ws[1]) * (1 - h1 * h1)
    g0w, g0b = d.T @ x, d.sum(0)
    for p, g in zip(ws + bs, [g0w, g1w, g2w, g0b, g1b, g2b]):
        p -= LR * g


# ------------------------------------------------------------------ the workloads


def _torch_backward_sgd(loss, params):
    """Backward of loss from fresh gradients, then p -= LR * grad by hand."""
    import torch

    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= LR * p.grad


def _zg_backward_sgd(loss, params):
    """The same on zengrad tensors, updating their arrays in place."""
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.array -= LR * p.grad.array


def bench_overhead(n_ops=10_000):
    import numpy as np
    import torch
    from harness import time_interleaved

    import zengrad as zg

    def zg_chain():
        x = zg.tensor(np.ones(16, np.float32), requires_grad=True)
        y = x
        for _ in range(n_ops // 2):
            y = y * 1.0001
            y = y + 0.001
        y.sum().backward()

    def torch_chain():
        x = torch.ones(16, requires_grad=True)
        y = x
        for _ in range(n_ops // 2):
            y = y * 1.0001
            y = y + 0.001
        y.sum().backward()

    return time_interleaved(
        {"torch": torch_chain, "zengrad": zg_chain}, warmup=1, rounds=5, min_steps=2
    )


def bench_tiny():
    import numpy as np
    import torch
    from harness import time_interleaved

    import zengrad as zg

    x, _, ws, bs = mlp_data(batch=16, sizes=(16, 16, 16, 1))
    t = np.random.default_rng(2).standard_normal((16, 1)).astype(np.float32)
    impls = {}

    tw = [torch.tensor(w.copy(), requires_grad=True) for w in ws]
    tb = [torch.tensor(b.copy(), requires_grad=True) for b in bs]
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    tparams = tw + tb

    def torch_step():
        h = torch.tanh(tx @ tw[0].T + tb[0])
        h = torch.tanh(h @ tw[1].T + tb[1])
        _torch_backward_sgd(((h @ tw[2].T + tb[2] - tt) ** 2).mean(), tparams)

    impls["torch"] = torch_step

    fw, fb = [w.copy() for w in ws], [b.copy() for b in bs]
    impls["numpy-floor"] = lambda: floor_tiny_step(x, t, fw, fb)

    zw = [zg.tensor(w, requires_grad=True) for w in ws]
    zb = [zg.tensor(b, requires_grad=True) for b in bs]
    zx, zt = zg.from_numpy(x), zg.from_numpy(t)
    zparams = zw + zb

    def zg_step():
        h = (zx @ zw[0].T + zb[0]).tanh()
        h = (h @ zw[1].T + zb[1]).tanh()
        _zg_backward_sgd(((h @ zw[2].T + zb[2] - zt) ** 2).mean(), zparams)

    impls["zengrad-engine"] = zg_step
    nn_step = _zg_nn_step(x, t, ws, bs, "sgd", loss="mse", act="tanh")
    if nn_step:
        impls["zengrad-nn-sgd"] = nn_step
    return time_interleaved(impls)


def _zg_nn_step(x, y, ws, bs, opt_name, loss="ce", act="relu"):
    """The same step through nn.Linear, F.* losses and zengrad.optim; None if not built yet."""
    try:
        import zengrad as zg
        from zengrad import nn, optim
        from zengrad.nn import functional as F
    except ImportError:
        return None
    layers = []
    for w, b in zip(ws, bs):
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.load_state_dict({"weight": w, "bias": b})
        layers.append(lin)
    acts = [nn.ReLU() if act == "relu" else nn.Tanh() for _ in layers[:-1]]
    mods = [m for pair in zip(layers, acts + [None]) for m in pair if m is not None]
    model = nn.Sequential(*mods)
    opt = optim.SGD(model.parameters(), lr=LR) if opt_name == "sgd" else optim.Adam(
        model.parameters(), lr=1e-3
    )
    zx, zy = zg.from_numpy(x), zg.from_numpy(y)
    loss_fn = F.cross_entropy if loss == "ce" else F.mse_loss

    def step():
        out = loss_fn(model(zx), zy)
        opt.zero_grad()
        out.backward()
        opt.step()

    return step


def _torch_nn_adam_step(x, y, ws, bs):
    """torch's nn.Linear + F.cross_entropy + optim.Adam: the peer of zengrad-nn-adam."""
    import torch

    layers = []
    for w, b in zip(ws, bs):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        lin.load_state_dict({"weight": torch.tensor(w), "bias": torch.tensor(b)})
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(model(tx), ty)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def bench_mlp():
    import numpy as np
    import torch
    from harness import time_interleaved

    import zengrad as zg

    x, y, ws, bs = mlp_data()
    impls = {}

    tw = [torch.tensor(w.copy(), requires_grad=True) for w in ws]
    tb = [torch.tensor(b.copy(), requires_grad=True) for b in bs]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    tparams = tw + tb

    def torch_step():
        h = tx
        for k in range(3):
            h = torch.nn.functional.linear(h, tw[k], tb[k])
            if k < 2:
                h = torch.relu(h)
        _torch_backward_sgd(torch.nn.functional.cross_entropy(h, ty), tparams)

    impls["torch"] = torch_step
    impls["torch-nn-adam"] = _torch_nn_adam_step(x, y, ws, bs)
    fw, fb = [w.copy() for w in ws], [b.copy() for b in bs]
    impls["numpy-floor"] = lambda: floor_mlp_step(x, y, fw, fb)

    # raw engine: weights stored (in, out) so the forward is x @ W + b
    zw = [zg.tensor(np.ascontiguousarray(w.T), requires_grad=True) for w in ws]
    zb = [zg.tensor(b, requires_grad=True) for b in bs]
    zx, zy = zg.from_numpy(x), zg.from_numpy(y)
    rows = np.arange(len(y))
    zparams = zw + zb

    def zg_step():
        h = zx
        for k in range(3):
            h = h @ zw[k] + zb[k]
            if k < 2:
                h = h.relu()
        _zg_backward_sgd((h.logsumexp(1) - h[rows, zy]).mean(), zparams)

    impls["zengrad-engine"] = zg_step
    for opt in ("sgd", "adam"):
        step = _zg_nn_step(x, y, ws, bs, opt)
        if step:
            impls[f"zengrad-nn-{opt}"] = step
    return time_interleaved(impls)


def inner() -> None:
    import torch
    from harness import run_info, set_torch_threads

    set_torch_threads(torch)
    result = {
        **run_info(),
        "overhead": bench_overhead(),
        "tiny": bench_tiny(),
        "mlp": bench_mlp(),
    }
    print(json.dumps(result))


def report(r: dict) -> None:
    from harness import format_table

    ov = r["overhead"]
    print("**10,000 elementwise ops (16 elements), forward + backward**\n")
    print("| implementation | median ms | best ms | us/op (median) | x torch |")
    print("|---|---|---|---|---|")
    for name, v in ov.items():
        print(
            f"| {name} | {v['median_ms']:.1f} | {v['best_ms']:.1f} | "
            f"{v['median_ms'] * 100 / 1000:.2f} | "
            f"{v['median_ms'] / ov['torch']['median_ms']:.2f} |"
        )
    print()
    print(format_table("tiny MLP 16-16-16-1, tanh, batch 16, MSE", r["tiny"], "torch",
                       "numpy-floor"))
    print()
    print(format_table("MLP 784-512-256-10, ReLU, batch 128, cross-entropy", r["mlp"],
                       "torch", "numpy-floor"))


if __name__ == "__main__":
    import harness

    harness.main(__file__, inner, report)
