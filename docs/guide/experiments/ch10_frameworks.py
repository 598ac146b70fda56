"""Chapter 10 experiments: weights moved from zengrad to PyTorch and back through
safetensors files, checked equal; what tracing records of a function with a branch; and a
timeline of the frameworks the chapter compares.

Run: .venv/bin/python docs/guide/experiments ch10 [--small]   (needs torch, a test extra)
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg


def twin_models(lib):
    """The same small CNN and LSTM in zengrad or torch (`lib` is either package): the same
    module names give the same state_dict keys and layouts."""
    cnn = lib.nn.Sequential(
        lib.nn.Conv2d(1, 4, 3), lib.nn.ReLU(), lib.nn.MaxPool2d(2), lib.nn.Flatten(),
        lib.nn.Linear(4 * 3 * 3, 10))
    lstm = lib.nn.LSTM(3, 5, batch_first=True)
    return cnn, lstm


def outputs(lib, cnn, lstm, images: np.ndarray, series: np.ndarray) -> list[np.ndarray]:
    with lib.no_grad():
        return [cnn(lib.tensor(images)).numpy(), lstm(lib.tensor(series))[0].numpy()]


def round_trip(folder: Path) -> list[list]:
    """zengrad -> file -> torch, then torch -> file -> zengrad; max |difference| of every
    weight and of both models' outputs (0 means bit for bit)."""
    import safetensors.torch
    import torch

    rng = seed_everything(0)
    torch.manual_seed(0)
    images = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    series = rng.standard_normal((2, 7, 3)).astype(np.float32)
    rows = []
    for name, source, target in (("zengrad -> torch", zg, torch), ("torch -> zengrad", torch, zg)):
        src, dst = twin_models(source), twin_models(target)
        for i, (a, b) in enumerate(zip(src, dst)):
            path = folder / f"{name[:5]}{i}.safetensors"
            if source is zg:
                zg.save(a.state_dict(), path)                    # safetensors, no pickle
                b.load_state_dict(safetensors.torch.load_file(path))
            else:
                safetensors.torch.save_file(a.state_dict(), path)
                b.load_state_dict(zg.load(path))
            weights = max(float(np.abs(a.state_dict()[k].numpy() - v.numpy()).max())
                          for k, v in b.state_dict().items())
            out = outputs(source, *src, images, series)[i] - outputs(target, *dst, images,
                                                                     series)[i]
            rows.append([name, type(a).__name__, len(b.state_dict()), weights,
                         float(np.abs(out).max())])
    return rows


def tracing_demo() -> list[list]:
    """torch.jit.trace records the branch the example input took, and replays it."""
    import torch

    def f(x):
        if x.sum() > 0:             # Python control flow: the graph depends on the data
            return x * 2
        return -x

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning, and trace's deprecation in 2.x
        traced = torch.jit.trace(f, torch.ones(3))
    probe = -torch.ones(3)
    return [["eager f(-1)", float(f(probe)[0])], ["traced f(-1)", float(traced(probe)[0])]]


# name, year of the first public release, graph model, where it stands, GPUs, still developed
FRAMEWORKS = [
    ("Torch (Lua)", 2002, "eager (Lua; Torch7 2011)", "not developed since ~2018",
     "CUDA (cutorch)", False),
    ("Theano", 2007, "static graph, compiled", "ended 2017 (fork: PyTensor)", "CUDA", False),
    ("Caffe", 2013, "static (prototxt layers)", "unmaintained; last release 2017",
     "CUDA, cuDNN", False),
    ("Keras", 2015, "layers over a backend", "Keras 3: JAX, TensorFlow, PyTorch",
     "its backend's", True),
    ("TensorFlow", 2015, "static (TF1); eager + tf.function (TF2)", "developed",
     "CUDA, TPU", True),
    ("MXNet", 2015, "symbolic + imperative (Gluon)", "Apache Attic, 2023", "CUDA", False),
    ("Chainer", 2015, "define-by-run (named it)", "maintenance only, 2019", "CUDA (CuPy)",
     False),
    ("PaddlePaddle", 2016, "dynamic (default) + static", "developed", "CUDA, XPU, NPU", True),
    ("PyTorch", 2017, "define-by-run; torch.compile (2.0)", "developed", "CUDA, ROCm, MPS",
     True),
    ("JAX", 2018, "traced transforms: jit, grad, vmap", "developed", "CUDA, ROCm, TPU", True),
    ("zengrad", 2026, "define-by-run on NumPy", "this project", "none (CPU only)", True),
]
# arrows drawn on the timeline: an idea or code that went from one to the other
LINEAGE = [("Torch (Lua)", "PyTorch"), ("Chainer", "PyTorch"), ("Caffe", "PyTorch"),
           ("Theano", "Keras"), ("TensorFlow", "Keras"), ("Chainer", "zengrad"),
           ("PyTorch", "zengrad")]


def timeline():
    fig, (ax,) = figure(width=8.5, height=4.2)
    rows = {name: i for i, (name, *_) in enumerate(FRAMEWORKS)}
    for name, year, graph, _, _, alive in FRAMEWORKS:
        y = rows[name]
        ax.plot(year, y, "o", color="C0" if alive else "C3")
        ax.annotate(f"{name}: {graph}", (year, y), xytext=(6, -3),
                    textcoords="offset points", fontsize=7.5)
    for a, b in LINEAGE:
        (ya, xa), (yb, xb) = (rows[a], FRAMEWORKS[rows[a]][1]), (rows[b], FRAMEWORKS[rows[b]][1])
        ax.annotate("", (xb, yb), (xa, ya),
                    arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.8})
    ax.set_yticks([])
    ax.set_xlim(2000, 2036)
    ax.set_ylim(-1, len(FRAMEWORKS))
    ax.invert_yaxis()
    ax.set_xlabel("first public release (red: ended, retired or in maintenance)")
    ax.set_title("deep-learning frameworks: arrows show what each drew on")
    return fig


def main(small: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        table("ch10_round_trip", ["direction", "model", "tensors", "max |weight diff|",
                                  "max |output diff|"], round_trip(Path(tmp)), ".3g")
    table("ch10_tracing", ["call", "value"], tracing_demo())
    table("ch10_frameworks", ["framework", "first release", "graph model", "today", "GPUs"],
          [row[:5] for row in FRAMEWORKS])
    save_figure(timeline(), "ch10_timeline.png")


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
