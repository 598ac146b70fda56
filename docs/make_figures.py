"""Draw the figures the docs chapters show, into docs/figures/ (small PNGs, dpi 90).

Run: .venv/bin/python docs/make_figures.py [names...]   (about a minute on two cores)
Names: optimizers, activations, lenet, attention, sunspots, curves (default: all).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import zengrad as zg  # noqa: E402
from zengrad import nn, optim, viz  # noqa: E402
from zengrad.nn import functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"
DPI = 90


def _save(fig, name: str) -> None:
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=DPI)
    plt.close(fig)
    print(f"{name}: {(OUT / name).stat().st_size // 1024} KB")


def optimizers() -> None:
    """examples/compare_optimizers.py for 15 epochs, drawn smaller."""
    spec = importlib.util.spec_from_file_location(
        "compare_optimizers", ROOT / "examples" / "compare_optimizers.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    x, y = ex.load_data()
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
    for name, (factory, batch) in ex.OPTIMIZERS.items():
        losses = ex.train(factory, batch, x, y, epochs=15, seed=0)
        ax.plot(range(len(losses)), losses, label=name, linewidth=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cross-entropy")
    ax.set_title("64-32-10 MLP on 8x8 digits: one network, six optimizers")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    _save(fig, "compare_optimizers.png")


def activations() -> None:
    """viz.activation_curves (f and the engine's f'), laid out without overlaps."""
    curves = viz.activation_curves()
    fig, axes = plt.subplots(2, 4, figsize=(10.0, 4.6))
    for ax, (name, (x, y, dy)) in zip(axes.ravel(), curves.items()):
        ax.plot(x, y, label="f(x)")
        ax.plot(x, dy, "--", label="f'(x)")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    _save(fig, "activations.png")


def lenet() -> None:
    """conv1's six 5x5 filters at initialization and after 15 epochs on the digits."""
    from zengrad.data import load_digits
    from zengrad.models import LeNet5

    (xtr, ytr), (xte, yte) = load_digits()
    zg.manual_seed(0)
    net = LeNet5(1, 10, input_size=8)
    before = net.conv1.weight.detach().numpy().copy()
    opt = optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(15):
        order = rng.permutation(len(xtr))
        for i in range(0, len(xtr), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(net(zg.tensor(xtr[idx])), zg.tensor(ytr[idx])).backward()
            opt.step()
    with zg.no_grad():
        acc = (net(zg.tensor(xte)).numpy().argmax(1) == yte).mean()
    after = net.conv1.weight.detach().numpy()
    fig, axes = plt.subplots(2, 6, figsize=(7.5, 2.9))
    for row, (w, label) in enumerate(((before, "initial"), (after, f"trained ({acc:.3f})"))):
        for k in range(6):
            ax = axes[row, k]
            f = w[k, 0]
            lim = np.abs(f).max()
            ax.imshow(f, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle("LeNet-5 conv1 filters (5x5), digits; red > 0 > blue", fontsize=10)
    _save(fig, "lenet_filters.png")


def attention() -> None:
    """TransformerTagger (1 layer, 2 heads) trained to reverse 8-token sequences; the
    attention weights of one input: position i looks at position 7 - i."""
    from zengrad.data import make_sequence_task
    from zengrad.models import TransformerTagger

    x, y = make_sequence_task("reverse", n_samples=2000, seq_len=8, vocab_size=10, seed=0)
    zg.manual_seed(0)
    model = TransformerTagger(10, 10, d_model=32, nhead=2, num_layers=1, dim_feedforward=64,
                              dropout=0.0)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(10):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            out = model(zg.tensor(x[idx]))
            F.cross_entropy(out.reshape(-1, 10), zg.tensor(y[idx].reshape(-1))).backward()
            opt.step()
    attn = model.encoder.layers[0].self_attn
    seen = {}

    def keep_input(module, args) -> None:  # returning None leaves the arguments alone
        seen["x"] = args[0]

    handle = attn.register_forward_pre_hook(keep_input)
    sample = x[:1]
    with zg.no_grad():
        pred = model(zg.tensor(sample)).numpy().argmax(-1)
        handle.remove()
        _, w = attn(seen["x"], seen["x"], seen["x"], need_weights=True,
                    average_attn_weights=False)
    w = w.numpy()[0]  # (heads, L, L)
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.4))
    for h, ax in enumerate(axes):
        ax.imshow(w[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h}", fontsize=10)
        ax.set_xlabel("key position (input)")
        ax.set_ylabel("query position (output)")
        ax.set_xticks(range(8), [str(t) for t in sample[0]])
        ax.set_yticks(range(8), [str(t) for t in pred[0]])
    fig.suptitle("reverse task: input on x, predicted output on y", fontsize=10)
    _save(fig, "attention_reverse.png")


def sunspots() -> None:
    """LSTMForecaster on yearly sunspot numbers: one-step forecasts on the last 20%."""
    from zengrad.data import load_sunspots, sliding_windows
    from zengrad.models import LSTMForecaster

    years, s = load_sunspots(return_years=True)
    split = int(len(s) * 0.8)
    mean, std = s[:split].mean(), s[:split].std()
    z = ((s - mean) / std).astype(np.float32)
    x, y = sliding_windows(z, input_len=12)
    n_train = split - 12
    zg.manual_seed(0)
    model = LSTMForecaster(hidden_size=32)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(60):
        order = rng.permutation(n_train)
        for i in range(0, n_train, 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            F.mse_loss(model(zg.tensor(x[idx])), zg.tensor(y[idx])).backward()
            opt.step()
    with zg.no_grad():
        pred = model(zg.tensor(x)).numpy()[:, 0] * std + mean
    truth = s[12:]
    rmse = np.sqrt(np.mean((pred[n_train:] - truth[n_train:]) ** 2))
    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    ax.plot(years, s, color="gray", lw=1.2, label="observed")
    ax.plot(years[12:n_train + 12], pred[:n_train], lw=1.1, label="one-step forecast (train)")
    ax.plot(years[n_train + 12:], pred[n_train:], lw=1.5,
            label=f"one-step forecast (test, RMSE {rmse:.1f})")
    ax.axvline(years[split], color="k", lw=0.6, ls="--")
    ax.set_xlabel("year")
    ax.set_ylabel("sunspot number")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    _save(fig, "lstm_sunspots.png")


def curves() -> None:
    """The Trainer's learning curves for an MLP on the digits, via zengrad.viz."""
    from zengrad.data import DataLoader, get_dataset, random_split
    from zengrad.train import Trainer

    zg.manual_seed(0)
    data = get_dataset("digits", flatten=True)
    train, val = random_split(data.train_dataset(), [0.9, 0.1])
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    trainer = Trainer(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e-3),
                      verbose=0)
    history = trainer.fit(DataLoader(train, batch_size=32, shuffle=True, seed=0),
                          DataLoader(val, batch_size=256), epochs=15)
    viz.plot_learning_curves(history, OUT / "learning_curves.png", title="MLP on digits")
    print(f"learning_curves.png: {(OUT / 'learning_curves.png').stat().st_size // 1024} KB")


FIGURES = {"optimizers": optimizers, "activations": activations, "lenet": lenet,
           "attention": attention, "sunspots": sunspots, "curves": curves}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or FIGURES:
        FIGURES[name]()
