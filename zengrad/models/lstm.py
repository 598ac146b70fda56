"""Recurrent models: an LSTM forecaster for time series and a sequence classifier.

    LSTMForecaster:     x (N, L[, F]) -> LSTM -> last layer h_L -> Linear -> (N, horizon[, T])
                        (T target series, default F; (N, horizon) when T = 1)
    SequenceClassifier: x (N, L, F) -> LSTM or GRU -> final state(s) of the last layer -> Linear
                        -> logits (N, num_classes); images (N, 1, H, W) are read row by row
                        (L = H steps of F = W features).
"""

from __future__ import annotations

from zengrad.autograd.tensor import Tensor
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.nn.recurrent import GRU, LSTM
from zengrad.ops.shape import cat


def _check_positive(who: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{who}: {name} must be an integer >= 1, got {v!r}")


class LSTMForecaster(Module):
    """Next `horizon` values of a series from a window of its past: an LSTM reads the window
    and a Linear head maps the last layer's final hidden state to the forecast.

    Input (N, L) for a univariate series (input_size=1) or (N, L, input_size). The forecast
    covers target_size series (default: all input_size of them): output (N, horizon) when
    target_size is 1, else (N, horizon, target_size) (the shapes that
    zengrad.data.sliding_windows gives). target_size=1 with input_size > 1 forecasts one
    series from several covariates. Parameters lstm.* (as nn.LSTM) and head.*.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 32, num_layers: int = 1,
                 horizon: int = 1, dropout: float = 0.0, target_size: int | None = None) -> None:
        super().__init__()
        target_size = input_size if target_size is None else target_size
        _check_positive("LSTMForecaster", input_size=input_size, hidden_size=hidden_size,
                        num_layers=num_layers, horizon=horizon, target_size=target_size)
        self.input_size, self.horizon, self.target_size = input_size, horizon, target_size
        self.lstm = LSTM(input_size, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.head = Linear(hidden_size, horizon * target_size)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2 and self.input_size == 1:
            x = x.unsqueeze(-1)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"LSTMForecaster: expected input (N, L, {self.input_size})"
                + (" or (N, L)" if self.input_size == 1 else "")
                + f", got {tuple(x.shape)}"
            )
        _, (h_n, _) = self.lstm(x)
        y = self.head(h_n[-1])
        if self.target_size == 1:
            return y
        return y.reshape(y.shape[0], self.horizon, self.target_size)


class SequenceClassifier(Module):
    """Class logits for a sequence: an LSTM or GRU (cell='lstm' | 'gru') reads x (N, L, F)
    and a Linear layer maps the last layer's final hidden state (both directions' final
    states, concatenated, when bidirectional) to num_classes logits.

    Images (N, 1, H, W), e.g. the 8x8 digits, are read as H steps of W features; with
    input_size=1, (N, L) is read as L steps of one feature.
    """

    def __init__(self, input_size: int, num_classes: int, hidden_size: int = 64,
                 num_layers: int = 1, cell: str = "lstm", bidirectional: bool = False,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_positive("SequenceClassifier", input_size=input_size, num_classes=num_classes,
                        hidden_size=hidden_size, num_layers=num_layers)
        kinds = {"lstm": LSTM, "gru": GRU}
        if cell not in kinds:
            raise ValueError(f"SequenceClassifier: cell must be 'lstm' or 'gru', got {cell!r}")
        self.input_size, self.cell, self.bidirectional = input_size, cell, bidirectional
        self.rnn = kinds[cell](input_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout, bidirectional=bidirectional)
        self.fc = Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4 and x.shape[1] == 1:
            x = x.reshape(x.shape[0], x.shape[2], x.shape[3])
        elif x.ndim == 2 and self.input_size == 1:
            x = x.unsqueeze(-1)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"SequenceClassifier: expected input (N, L, {self.input_size}) or images "
                f"(N, 1, L, {self.input_size})" + (" or (N, L)" if self.input_size == 1 else "")
                + f", got {tuple(x.shape)}"
            )
        _, h_n = self.rnn(x)
        if self.cell == "lstm":
            h_n = h_n[0]
        # h_n: (D * num_layers, N, H); the last layer's directions are the last D entries
        features = cat([h_n[-2], h_n[-1]], 1) if self.bidirectional else h_n[-1]
        return self.fc(features)
