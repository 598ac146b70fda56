"""Recurrent models: an LSTM forecaster for time series and a sequence classifier.

    LSTMForecaster:     x (N, L[, F]) -> LSTM -> last layer h_L -> Linear -> (N, horizon[, F])
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

    Input (N, L) for a univariate series (input_size=1) or (N, L, input_size); output
    (N, horizon), or (N, horizon, input_size) when input_size > 1 (the shapes that
    zengrad.data.sliding_windows gives). Parameters lstm.* (as nn.LSTM) and head.*.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 32, num_layers: int = 1,
                 horizon: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        _check_positive("LSTMForecaster", input_size=input_size, hidden_size=hidden_size,
                        num_layers=num_layers, horizon=horizon)
        self.input_size, self.horizon = input_size, horizon
        self.lstm = LSTM(input_size, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.head = Linear(hidden_size, horizon * input_size)

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
        if self.input_size == 1:
            return y
        return y.reshape(y.shape[0], self.horizon, self.input_size)


class SequenceClassifier(Module):
    """Class logits for a sequence: an LSTM or GRU (cell='lstm' | 'gru') reads x (N, L, F)
    and a Linear layer maps the last layer's final hidden state (both directions' final
    states, concatenated, when bidirectional) to num_classes logits.

    Images (N, 1, H, W), e.g. the 8x8 digits, are read as H steps of W features.
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
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"SequenceClassifier: expected input (N, L, {self.input_size}) or images "
                f"(N, 1, L, {self.input_size}), got {tuple(x.shape)}"
            )
        _, h_n = self.rnn(x)
        if self.cell == "lstm":
            h_n = h_n[0]
        # h_n: (D * num_layers, N, H); the last layer's directions are the last D entries
        features = cat([h_n[-2], h_n[-1]], 1) if self.bidirectional else h_n[-1]
        return self.fc(features)
