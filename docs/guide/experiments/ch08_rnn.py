"""Chapter 8 experiments: how the gradient of a plain RNN and of an LSTM fades (or grows)
with the number of steps it travels back; a task that needs a long memory; a task that needs
future context (one direction against two); and forecasting the yearly sunspot numbers with
an LSTM against the naive and seasonal-naive forecasts on held-out years.

Run: .venv/bin/python docs/guide/experiments ch08 [--small]
"""

from __future__ import annotations

import numpy as np
from common import figure, save_figure, seed_everything, table

import zengrad as zg
from zengrad import nn, optim
from zengrad.data.forecasting import make_forecast_data
from zengrad.models import LSTMForecaster
from zengrad.nn import functional as F
from zengrad.train.forecast import evaluate_forecast


# -- gradients through time ------------------------------------------------------------------
def gradient_by_distance(rnn: nn.Module, steps: int, size: int = 8) -> np.ndarray:
    """||d <h_T, u> / d x_t|| for t = T, T-1, ..., 1 (index k = T - t steps back): one
    backward from the last hidden state gives the whole curve. Averaged over 16 sequences."""
    x = zg.randn(16, steps, size, requires_grad=True)
    out = rnn(x)[0]                                         # (N, T, H), batch_first
    u = zg.randn(out.shape[-1])
    (out[:, -1] * u).sum().backward()
    norms = np.linalg.norm(x.grad.numpy(), axis=-1).mean(0)  # (T,)
    return norms[::-1]


def gradient_models(size: int = 8, hidden: int = 32) -> dict[str, nn.Module]:
    """A plain tanh RNN as initialized, a ReLU RNN whose recurrent matrix is scaled up, and
    an LSTM as initialized and with its forget-gate bias set to 1."""
    seed_everything(0)
    models = {"RNN (tanh)": nn.RNN(size, hidden, batch_first=True)}
    relu = nn.RNN(size, hidden, nonlinearity="relu", batch_first=True)
    with zg.no_grad():
        nn.init.orthogonal_(relu.weight_hh_l0, gain=1.6)   # spectral radius 1.6 > 1
    models["RNN (relu, W_hh 1.6 x orthogonal)"] = relu
    models["LSTM"] = nn.LSTM(size, hidden, batch_first=True)
    models["LSTM, forget bias 1"] = set_forget_bias(nn.LSTM(size, hidden, batch_first=True), 1.0)
    return models


def set_forget_bias(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """b_f = value (in bias_ih; bias_hh's block zeroed): the gate blocks are i, f, g, o, so
    f is rows H..2H. sigmoid(1) = 0.73 keeps more of the cell at each step than 0.5."""
    h = lstm.hidden_size
    with zg.no_grad():
        lstm.bias_ih_l0[h:2 * h] = value
        lstm.bias_hh_l0[h:2 * h] = 0.0
    return lstm


def plot_gradients(curves: dict[str, np.ndarray]):
    fig, (ax,) = figure(width=6.0, height=3.6)
    for name, c in curves.items():
        ax.semilogy(np.arange(len(c)), c, label=name)
    ax.set_xlabel("steps back from the last output (T - t)")
    ax.set_ylabel("||d h_T / d x_t||")
    ax.set_title("gradient reaching earlier inputs, at initialization")
    ax.legend(fontsize=8)
    return fig


# -- remembering the first token -------------------------------------------------------------
class LastStep(nn.Module):
    """A recurrent layer and a linear head on the last output: (N, T, V) -> (N, classes)."""

    def __init__(self, cell: str, vocab: int, hidden: int, classes: int,
                 bidirectional: bool = False, every_step: bool = False) -> None:
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = layer(vocab, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)
        self.every_step = every_step

    def forward(self, x: zg.Tensor) -> zg.Tensor:
        out = self.rnn(x)[0]
        return self.head(out if self.every_step else out[:, -1])


def one_hot(tokens: np.ndarray, vocab: int) -> zg.Tensor:
    return zg.tensor(np.eye(vocab, dtype=np.float32)[tokens])


def fit(model: nn.Module, x: zg.Tensor, y: np.ndarray, epochs: int,
        rng: np.random.Generator, lr: float = 1e-2) -> None:
    """Adam on cross-entropy, batch 32; y (N,) or (N, T) class indices."""
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), 32):
            idx = order[i:i + 32]
            logits = model(x[idx])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                   zg.tensor(y[idx].reshape(-1)))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()


def accuracy(model: nn.Module, x: zg.Tensor, y: np.ndarray) -> float:
    with zg.no_grad():
        return float((model(x).numpy().argmax(-1) == y).mean())


MEMORY_MODELS = ("plain RNN", "LSTM", "LSTM, forget bias 1", "GRU")


def memory_task(length: int, n: int, epochs: int, vocab: int = 4,
                hidden: int = 32) -> dict[str, list[float]]:
    """Label = the first of `length` random tokens (the rest are distractors). Test accuracy
    (chance 1/vocab) after each epoch, per model; all of width `hidden`, trained alike."""
    rng = seed_everything(0)
    tokens = rng.integers(0, vocab, (n + 500, length))
    x, y = one_hot(tokens, vocab), tokens[:, 0]
    curves = {}
    for name in MEMORY_MODELS:
        rng = seed_everything(1)
        cell = {"plain RNN": "rnn", "GRU": "gru"}.get(name, "lstm")
        model = LastStep(cell, vocab, hidden, vocab)
        if name.endswith("bias 1"):
            set_forget_bias(model.rnn, 1.0)
        curves[name] = []
        for _ in range(epochs):
            fit(model, x[:n], y[:n], 1, rng, lr=3e-3)
            curves[name].append(accuracy(model, x[n:], y[n:]))
    return curves


def plot_memory(curves: dict[str, list[float]], length: int):
    fig, (ax,) = figure(width=6.0, height=3.4)
    for name, acc in curves.items():
        ax.plot(range(1, len(acc) + 1), acc, "o-", ms=3, label=name)
    ax.axhline(0.25, color="gray", lw=1, ls=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"recall the first of {length} tokens (chance 0.25)")
    ax.legend(fontsize=8)
    return fig


# -- needing the future -------------------------------------------------------------------
def next_token_task(n: int, epochs: int, length: int = 10, vocab: int = 5,
                    hidden: int = 16) -> dict[str, float]:
    """Tag every position t with the token at t + 1 (the last with its own): no model that
    reads left to right can know it at step t. Per-token test accuracy."""
    rng = seed_everything(0)
    tokens = rng.integers(0, vocab, (2 * n, length))
    target = np.concatenate([tokens[:, 1:], tokens[:, -1:]], axis=1)
    x = one_hot(tokens, vocab)
    out = {}
    for bidirectional in (False, True):
        rng = seed_everything(1)
        model = LastStep("lstm", vocab, hidden, vocab, bidirectional, every_step=True)
        fit(model, x[:n], target[:n], epochs, rng)
        out["bidirectional" if bidirectional else "one direction"] = accuracy(
            model, x[n:], target[n:])
    return out


# -- forecasting sunspots ------------------------------------------------------------------
def forecast_sunspots(epochs: int) -> tuple[dict[str, float], np.ndarray, object]:
    """LSTMForecaster on 22-year windows, one year ahead; the last 20% of the years held out.
    Returns the metrics of evaluate_forecast, the test predictions (original units), data."""
    data = make_forecast_data("sunspots", input_len=22, horizon=1, test_fraction=0.2)
    rng = seed_everything(0)
    model = LSTMForecaster(hidden_size=32)
    opt = optim.Adam(model.parameters(), lr=5e-3)
    x, y = zg.tensor(data.x_train), zg.tensor(data.y_train)
    for _ in range(epochs):
        order = rng.permutation(len(data.y_train))
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            loss = F.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    metrics = evaluate_forecast(model, data)
    model.eval()
    with zg.no_grad():
        pred = data.inverse_transform(model(zg.tensor(data.x_test)))
    return metrics, pred[:, 0], data


def plot_forecast(data, pred: np.ndarray):
    fig, (ax,) = figure(width=7.0, height=3.4)
    t = data.test_times
    start = max(0, data.split - 60)
    ax.plot(data.times[start:], data.series[start:], "k-", lw=1, label="observed")
    ax.plot(t, pred, "C0o-", ms=3, label="LSTM, one year ahead")
    ax.plot(t, data.naive()[:, 0], "C1--", lw=1, label="naive (last year's value)")
    ax.plot(t, data.seasonal_naive()[:, 0], "C2:", lw=1, label="seasonal naive (11 years)")
    ax.axvline(data.times[data.split], color="gray", lw=1)
    ax.set_xlabel("year")
    ax.set_ylabel("sunspot number")
    ax.set_title("held-out years (right of the line)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def main(small: bool = False) -> None:
    models = gradient_models()
    steps = 40 if small else 100
    curves = {name: gradient_by_distance(m, steps) for name, m in models.items()}
    save_figure(plot_gradients(curves), "ch08_gradients.png")
    marks = [k for k in (1, 10, 20, 40, 99) if k < steps]
    table("ch08_gradients", ["model", *[f"{k} steps back" for k in marks]],
          [[name, *[float(c[k]) for k in marks]] for name, c in curves.items()], ".2e")

    length, epochs = (20, 3) if small else (60, 20)
    curves = memory_task(length, n=256 if small else 1000, epochs=epochs)
    save_figure(plot_memory(curves, length), "ch08_memory.png")
    marks = sorted({min(5, epochs), min(10, epochs), epochs})
    table("ch08_memory", ["model", *[f"accuracy after {e} epochs" for e in marks]],
          [[name, *[acc[e - 1] for e in marks]] for name, acc in curves.items()])

    acc = next_token_task(n=512 if small else 1000, epochs=8 if small else 10)
    table("ch08_bidirectional", ["LSTM", "per-token accuracy (chance 0.2)"],
          [[k, v] for k, v in acc.items()])

    metrics, pred, data = forecast_sunspots(epochs=10 if small else 60)
    table("ch08_sunspots", ["forecast", "RMSE", "MAE"],
          [[name, metrics[f"{key}rmse"], metrics[f"{key}mae"]]
           for name, key in (("LSTM", ""), ("naive", "naive_"),
                             ("seasonal naive", "seasonal_naive_"))], ".3g")
    save_figure(plot_forecast(data, pred), "ch08_sunspots.png")


if __name__ == "__main__":
    import sys

    main(small="--small" in sys.argv)
