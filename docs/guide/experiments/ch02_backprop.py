"""Chapter 2: the computational graph zengrad records for f(x, y) = (x y + sin x)^2, drawn
with each node's forward value and backward gradient; the gradients checked against the
chain rule by hand and against central finite differences; how the finite-difference error
depends on the step h (truncation vs rounding) in float32 and float64.

Run: .venv/bin/python docs/guide/experiments ch02 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn
from zengrad.autograd import gradcheck

X0, Y0 = 1.5, -0.8


def expression(x: zg.Tensor, y: zg.Tensor) -> dict[str, zg.Tensor]:
    """The forward pass, one named tensor per node: q = x y, s = sin x, u = q + s, f = u^2."""
    q = x * y
    s = x.sin()
    u = q + s
    f = u * u
    return {"q": q, "s": s, "u": u, "f": f}


def by_hand(x: float, y: float) -> tuple[float, float]:
    """The chain rule written out: df/dx = 2u (y + cos x) (two paths), df/dy = 2u x."""
    u = x * y + np.sin(x)
    return 2 * u * (y + np.cos(x)), 2 * u * x


def central_difference(fn, x: float, y: float, h: float, dtype) -> tuple[float, float]:
    """(f(x + h) - f(x - h)) / 2h for each input, evaluated in dtype."""
    x, y, h = dtype(x), dtype(y), dtype(h)
    dx = (fn(x + h, y) - fn(x - h, y)) / (2 * h)
    dy = (fn(x, y + h) - fn(x, y - h)) / (2 * h)
    return float(dx), float(dy)


def f_numpy(x, y):
    return (x * y + np.sin(x)) ** 2


def draw_graph(leaves: dict[str, zg.Tensor], nodes: dict[str, zg.Tensor]) -> None:
    """Walk the recorded graph from f's grad_fn through each node's parents, and draw it
    left (inputs) to right (output), each box with its value and its gradient."""
    name_of = {id(t.grad_fn): n for n, t in nodes.items()}
    name_of.update({id(t): n for n, t in leaves.items()})
    edges, depth = [], {"f": 0}
    frontier = [nodes["f"].grad_fn]
    while frontier:
        node = frontier.pop()
        for parent in node.parents:
            child = name_of[id(node)]
            if parent.grad_fn is None:
                pname = name_of[id(parent)]
            else:
                pname = name_of[id(parent.grad_fn)]
                frontier.append(parent.grad_fn)
            edges.append((pname, child))
            depth[pname] = max(depth.get(pname, 0), depth[child] + 1)
    levels: dict[int, list[str]] = {}
    for n, d in sorted(depth.items(), key=lambda kv: kv[0]):
        levels.setdefault(d, []).append(n)
    top = max(levels)
    pos = {n: (top - d, i - (len(ns) - 1) / 2) for d, ns in levels.items()
           for i, n in enumerate(ns)}
    fig, (ax,) = figure(width=7.5, height=3.0)
    for a, b in set(edges):
        ax.annotate("", xy=pos[b], xytext=pos[a],
                    arrowprops=dict(arrowstyle="->", color="gray", shrinkA=28, shrinkB=28))
    tensors = {**leaves, **nodes}
    for n, (px, py) in pos.items():
        t = tensors[n]
        op = "" if t.grad_fn is None else f" = {type(t.grad_fn).__name__}"
        text = f"{n}{op}\nvalue {t.item():.3f}\ngrad {t.grad.item():.3f}"
        ax.text(px, py, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="lavender" if t.grad_fn else "honeydew"))
    ax.set(xlim=(-0.6, top + 0.6), ylim=(-1.2, 1.2))
    ax.axis("off")
    save_figure(fig, "ch02_graph.png")


def finite_difference_error(small: bool) -> None:
    steps = np.logspace(-12, -1, 12 if small else 45)
    exact = np.array(by_hand(X0, Y0))
    fig, (ax,) = figure(width=4.6, height=3.2)
    best = []
    for dtype in (np.float32, np.float64):
        err = np.array([np.abs(np.array(central_difference(f_numpy, X0, Y0, h, dtype)) - exact)
                        .max() for h in steps])
        ax.loglog(steps, np.maximum(err, 1e-17), "o-", ms=3, label=np.dtype(dtype).name)
        best.append([np.dtype(dtype).name, float(steps[err.argmin()]), float(err.min())])
    ax.set(xlabel="step h", ylabel="max |finite difference - exact|",
           title="central differences: rounding vs truncation")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, "ch02_fd_error.png")
    table("ch02_fd_best", ["dtype", "best h", "smallest error"], best, ".2g")


def main(small: bool = False) -> None:
    seed_everything(0)
    x = zg.tensor(X0, dtype=zg.float64, requires_grad=True)
    y = zg.tensor(Y0, dtype=zg.float64, requires_grad=True)
    nodes = expression(x, y)
    for t in nodes.values():
        t.retain_grad()  # keep the intermediate gradients, to print and draw them
    nodes["f"].backward(retain_graph=True)  # keep the graph, to walk and draw it
    hand = by_hand(X0, Y0)
    numeric = central_difference(f_numpy, X0, Y0, 1e-6, np.float64)
    rows = [[name, float(t.grad.item()), float(h), float(n), abs(float(t.grad.item()) - n)]
            for (name, t), h, n in zip({"x": x, "y": y}.items(), hand, numeric)]
    table("ch02_gradients", ["input", "backprop", "chain rule by hand",
                             "central difference (h = 1e-6)", "|backprop - difference|"],
          rows, ".10g")
    draw_graph({"x": x, "y": y}, nodes)
    finite_difference_error(small)
    # the same check, automated for every weight of a small network (float64)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    inputs = zg.randn(5, 3, dtype=zg.float64, requires_grad=True)
    print("gradcheck of a 3-4-1 tanh MLP's input gradient:", gradcheck(net, (inputs,)))


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
