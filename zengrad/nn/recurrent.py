"""Recurrent layers as torch.nn: RNN, LSTM, GRU (multi-layer, bidirectional, batch_first) and
their single-step cells RNNCell, LSTMCell, GRUCell.

Each layer and direction is one fused op over the whole sequence (zengrad.ops.recurrent);
the layers only route inputs, states and dropout between them. Parameters and their layout
are PyTorch's: weight_ih_l{k}[_reverse] (gates * hidden, input), weight_hh_l{k} (gates * hidden,
hidden), bias_ih_l{k}, bias_hh_l{k}; gate blocks i, f, g, o (LSTM) and r, z, n (GRU); all
initialized U(-1/sqrt(hidden), 1/sqrt(hidden)).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import functional as F
from zengrad.nn import init
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.nn.placement import layer_device, place
from zengrad.ops.dropout import dropout as _dropout
from zengrad.ops.shape import cat, stack

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_NONLINEARITY_MODES = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


def _positive_int(who: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: {name} must be an integer greater than zero, got {value!r}")
    return int(value)


def _param_dtype(who: str, device, dtype) -> np.dtype:
    layer_device(device, who)  # the device check of every layer (place() moves them)
    dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
    if dt.kind != "f":
        raise TypeError(f"{who}: parameters must have a floating point dtype, got {dt}")
    return dt


def _check_tensor(who: str, what: str, t, dtype: np.dtype) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: {what} must be a Tensor, got {type(t).__name__}")
    if t.array.dtype != dtype:
        raise TypeError(
            f"{who}: {what} is {t.array.dtype} but the parameters are {dtype}; convert the "
            f"input (e.g. .float()) or the module (e.g. .double())"
        )


def _reset_uniform(module: Module) -> None:
    """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    stdv = 1.0 / math.sqrt(module.hidden_size)
    for p in module.parameters():
        init.uniform_(p, -stdv, stdv)


def _run_sequence(mode: str, x: Tensor, h0, c0, weights, reverse: bool) -> Tensor:
    """One layer in one direction over x (L, N, I): the fused sequence function for mode."""
    if mode == "LSTM":
        return F.lstm_sequence(x, h0, c0, *weights, reverse=reverse)
    if mode == "GRU":
        return F.gru_sequence(x, h0, *weights, reverse=reverse)
    nonlinearity = "relu" if mode == "RNN_RELU" else "tanh"
    return F.rnn_sequence(x, h0, *weights, nonlinearity=nonlinearity, reverse=reverse)


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: parameters, shape checks, layers x directions.

    Input (L, N, H_in), or (N, L, H_in) with batch_first, or unbatched (L, H_in); initial
    state(s) (D * num_layers, N, H) ((D * num_layers, H) unbatched), zeros when omitted.
    Output (L, N, D * H) holds the last layer's states; h_n (and c_n) the final state of every
    layer and direction. Dropout with probability `dropout` acts on the outputs of every layer
    but the last, in training mode only.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        who = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in _GATES:
            raise ValueError(f"RNNBase: unknown mode {mode!r}; expected one of {list(_GATES)}")
        self.mode = mode
        self.input_size = _positive_int(who, "input_size", input_size)
        self.hidden_size = _positive_int(who, "hidden_size", hidden_size)
        self.num_layers = _positive_int(who, "num_layers", num_layers)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, numbers.Number)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"{who}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{who}: dropout option adds dropout after all but the last recurrent layer, "
                f"so non-zero dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        if proj_size != 0:
            raise NotImplementedError(
                f"{who}: proj_size={proj_size!r} is not supported (only proj_size=0)"
            )
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        dt = _param_dtype(who, device, dtype)
        gate_size = _GATES[mode] * self.hidden_size
        num_directions = 2 if self.bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, self.hidden_size),
                }
                if self.bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                names = []
                for base, shape in shapes.items():
                    # made on the host (device="cpu" only); reset_parameters fills them
                    setattr(self, base + suffix, Parameter(np.empty(shape, dt)))  # host
                    names.append(base + suffix)
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()
        place(self, layer_device(device, who))

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self)

    def flatten_parameters(self) -> None:
        """A no-op, as torch's on CPU: torch packs the weights into one cuDNN buffer; here each
        weight is its own array, used as it is by the fused sequence ops."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """[[weight_ih, weight_hh(, bias_ih, bias_hh)] per layer and direction]."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _weights(self, k: int) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh) of layer-direction k; biases None when bias=False."""
        names = self._all_weights[k]
        ws = tuple(getattr(self, n) for n in names)
        return ws if self.bias else (*ws, None, None)

    # ----- shape checks ----------------------------------------------------------------
    def _check_input(self, input) -> tuple[Tensor, bool]:
        """input as (L, N, H_in), and whether it was batched."""
        who = self._get_name()
        dtype = self.weight_ih_l0.array.dtype
        _check_tensor(who, "input", input, dtype)
        if input.array.ndim not in (2, 3):
            raise ValueError(
                f"{who}: Expected input to be 2D or 3D, got {input.array.ndim}D tensor of shape "
                f"{tuple(input.shape)}"
            )
        if input.array.shape[-1] != self.input_size:
            raise ValueError(
                f"{who}: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {input.array.shape[-1]} (input shape "
                f"{tuple(input.shape)})"
            )
        batched = input.array.ndim == 3
        if not batched:
            x = input.unsqueeze(1)
        elif self.batch_first:
            x = input.transpose(0, 1)
        else:
            x = input
        if x.array.shape[0] == 0:
            raise ValueError(f"{who}: the input sequence is empty (shape {tuple(input.shape)})")
        return x, batched

    def _check_state(self, name: str, h, batched: bool, batch: int):
        """An initial state as (D * num_layers, N, H), or None."""
        if h is None:
            return None
        who = self._get_name()
        _check_tensor(who, name, h, self.weight_ih_l0.array.dtype)
        d = 2 if self.bidirectional else 1
        if batched:
            expected = (d * self.num_layers, batch, self.hidden_size)
        else:
            expected = (d * self.num_layers, self.hidden_size)
        if tuple(h.array.shape) != expected:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ValueError(
                f"{who}: Expected {name} of size {expected} for {kind} input, got "
                f"{tuple(h.shape)}"
            )
        return h if batched else h.unsqueeze(1)

    # ----- forward ---------------------------------------------------------------------
    def _run(self, x: Tensor, h0, c0) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """All layers and directions over x (L, N, I): output, final h's, final c's."""
        seq = x.array.shape[0]
        lstm = self.mode == "LSTM"
        d = 2 if self.bidirectional else 1
        h_last: list[Tensor] = []
        c_last: list[Tensor] = []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(d):
                k = layer * d + direction
                y = _run_sequence(
                    self.mode,
                    layer_input,
                    None if h0 is None else h0[k],
                    None if c0 is None else c0[k],
                    self._weights(k),
                    direction == 1,
                )
                if lstm:  # y = [h_1 .. h_L; c_last]
                    c_last.append(y[seq])
                    y_states = y[:seq]
                else:
                    y_states = y
                # the final state of a reverse direction is the one at position 0
                h_last.append(y[0] if direction == 1 else y[seq - 1])
                outs.append(y_states)
            layer_input = outs[0] if d == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, True)
        return layer_input, h_last, c_last

    def _finish(self, output: Tensor, states: list[Tensor], batched: bool):
        """output back to the caller's layout; the final states stacked to (D*layers, N, H)."""
        finals = []
        for s in states:
            st = stack(s) if len(s) > 1 else s[0].unsqueeze(0)
            finals.append(st if batched else st.squeeze(1))
        if not batched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, finals

    def forward(self, input: Tensor, hx: Tensor | None = None):
        """output, h_n for x (L, N, H_in) (see the class docstring for the other layouts)."""
        x, batched = self._check_input(input)
        h0 = self._check_state("hx", hx, batched, x.array.shape[1])
        output, h_last, _ = self._run(x, h0, None)
        output, (h_n,) = self._finish(output, [h_last], batched)
        return output, h_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    Returns (output, h_n): output (L, N, D * H) (batch_first: (N, L, D * H)), h_n
    (D * num_layers, N, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in _NONLINEARITY_MODES:
            raise ValueError(
                f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(_NONLINEARITY_MODES[nonlinearity], input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, o = sigmoid, g = tanh of x_t W_ih^T + b_ih +
    h_{t-1} W_hh^T + b_hh (blocks i, f, g, o); c_t = f c_{t-1} + i g; h_t = o tanh(c_t).

    forward(input, (h0, c0)=None) -> output, (h_n, c_n). proj_size must be 0.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        x, batched = self._check_input(input)
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(
                    f"LSTM: hx must be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}"
                )
            h0 = self._check_state("h_0", hx[0], batched, x.array.shape[1])
            c0 = self._check_state("c_0", hx[1], batched, x.array.shape[1])
        output, h_last, c_last = self._run(x, h0, c0)
        output, (h_n, c_n) = self._finish(output, [h_last, c_last], batched)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sigmoid(.), n = tanh(x_t W_in^T + b_in + r (h_{t-1} W_hn^T
    + b_hn)), h_t = (1 - z) n + z h_{t-1} (blocks r, z, n, as PyTorch).

    Returns (output, h_n) as RNN.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# ----- cells -------------------------------------------------------------------------------
class RNNCellBase(Module):
    """One time step: parameters weight_ih (gates * H, input), weight_hh (gates * H, H),
    bias_ih, bias_hh ~ U(-1/sqrt(H), 1/sqrt(H)); input (N, input) or unbatched (input,)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool,
                 device=None, dtype=None) -> None:
        super().__init__()
        who = type(self).__name__
        self.mode = mode
        self.input_size = _positive_int(who, "input_size", input_size)
        self.hidden_size = _positive_int(who, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dt = _param_dtype(who, device, dtype)
        gate_size = _GATES[mode] * self.hidden_size
        # made on the host (device="cpu" only); reset_parameters fills them
        self.weight_ih = Parameter(np.empty((gate_size, self.input_size), dt))  # host
        self.weight_hh = Parameter(np.empty((gate_size, self.hidden_size), dt))  # host
        if self.bias:
            self.bias_ih = Parameter(np.empty((gate_size,), dt))  # host
            self.bias_hh = Parameter(np.empty((gate_size,), dt))  # host
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        place(self, layer_device(device, who))

    def reset_parameters(self) -> None:
        _reset_uniform(self)

    def _check_input(self, input) -> tuple[Tensor, bool]:
        """input as a one-step sequence (1, N, input), and whether it was batched."""
        who = type(self).__name__
        _check_tensor(who, "input", input, self.weight_ih.array.dtype)
        if input.array.ndim not in (1, 2) or input.array.shape[-1] != self.input_size:
            raise ValueError(
                f"{who}: Expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got {tuple(input.shape)}"
            )
        batched = input.array.ndim == 2
        x = input if batched else input.unsqueeze(0)
        return x.unsqueeze(0), batched

    def _check_state(self, name: str, h, batched: bool, batch: int):
        """A state as (N, H), or None."""
        if h is None:
            return None
        who = type(self).__name__
        _check_tensor(who, name, h, self.weight_ih.array.dtype)
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if tuple(h.array.shape) != expected:
            raise ValueError(f"{who}: Expected {name} of shape {expected}, got {tuple(h.shape)}")
        return h if batched else h.unsqueeze(0)

    def _weights(self) -> tuple:
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def _step(self, input: Tensor, h0, c0=None) -> tuple[Tensor, bool]:
        x, batched = self._check_input(input)
        n = x.array.shape[1]
        h0 = self._check_state("hx", h0, batched, n)
        if c0 is not None:
            c0 = self._check_state("cx", c0, batched, n)
        return _run_sequence(self.mode, x, h0, c0, self._weights(), False), batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu; h = 0 when hx is None."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in _NONLINEARITY_MODES:
            raise ValueError(
                f"RNNCell: Unknown nonlinearity: {nonlinearity!r} (expected 'tanh' or 'relu')"
            )
        self.nonlinearity = nonlinearity
        super().__init__(_NONLINEARITY_MODES[nonlinearity], input_size, hidden_size, bias, device,
                         dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        y, batched = self._step(input, hx)
        return y[0] if batched else y[0, 0]


class LSTMCell(RNNCellBase):
    """(h', c') for one step of an LSTM (gates i, f, g, o); (h, c) = 0 when hx is None."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(
                    f"LSTMCell: hx must be a tuple (h, c) of tensors, got {type(hx).__name__}"
                )
            h0, c0 = hx
            if c0 is None or h0 is None:
                raise TypeError("LSTMCell: hx must hold two tensors (h, c), got a None")
        y, batched = self._step(input, h0, c0)  # y = [h'; c'] (2, N, H)
        if batched:
            return y[0], y[1]
        return y[0, 0], y[1, 0]


class GRUCell(RNNCellBase):
    """h' = (1 - z) n + z h for one GRU step (gates r, z, n); h = 0 when hx is None."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        y, batched = self._step(input, hx)
        return y[0] if batched else y[0, 0]
