"""Activation layers: thin modules over zengrad.ops.activation (formulas live there).

`inplace=True` (ReLU, LeakyReLU, ELU, SiLU, Hardtanh, ReLU6, Mish, Hardswish, Hardsigmoid)
writes the result into the input and returns the input, as torch: recorded in the graph as
the in-place op (x.relu_() ...; zengrad.ops.inplace.INPLACE_OPS), so a leaf that requires
grad is refused and a tensor saved for backward raises torch's version error.
"""

from __future__ import annotations

import warnings

from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.ops import activation as A
from zengrad.ops.inplace import INPLACE_OPS


def _inplace_str(inplace: bool, first: bool = False) -> str:
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class Sigmoid(Module):
    """y = 1 / (1 + e^-x)."""

    def forward(self, input: Tensor) -> Tensor:
        return A.sigmoid(input)


class Tanh(Module):
    """y = tanh x."""

    def forward(self, input: Tensor) -> Tensor:
        return A.tanh(input)


class ReLU(Module):
    """y = max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return INPLACE_OPS["relu"](input) if self.inplace else A.relu(input)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:
            return INPLACE_OPS["leaky_relu"](input, self.negative_slope)
        return A.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace)


class ELU(Module):
    """y = x if x > 0 else alpha (e^x - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:
            return INPLACE_OPS["elu"](input, self.alpha)
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class GELU(Module):
    """y = x Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return A.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """y = x sigmoid(x) (swish)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return INPLACE_OPS["silu"](input) if self.inplace else A.silu(input)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class Softplus(Module):
    """y = ln(1 + e^(beta x)) / beta, and y = x where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _SoftmaxBase(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def _dim(self, input: Tensor) -> int:
        if self.dim is None:
            # PyTorch guesses a dim here (with a deprecation warning); guessing hides bugs
            raise ValueError(
                f"{type(self).__name__}: dim is None; construct it with the dim to normalize "
                f"over, e.g. {type(self).__name__}(dim=-1) (input shape {tuple(input.shape)})"
            )
        return self.dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """y_i = e^(x_i) / sum_j e^(x_j) along dim."""

    def forward(self, input: Tensor) -> Tensor:
        return A.softmax(input, self._dim(input))


class LogSoftmax(_SoftmaxBase):
    """y = x - logsumexp(x) along dim."""

    def forward(self, input: Tensor) -> Tensor:
        return A.log_softmax(input, self._dim(input))


class Hardtanh(Module):
    """y = clamp(x, min_val, max_val) (min_value/max_value: deprecated spellings, as torch)."""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater than "
                             f"min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:
            return INPLACE_OPS["hardtanh"](input, self.min_val, self.max_val)
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self.inplace)


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class LogSigmoid(Module):
    """y = log(1 / (1 + e^-x))."""

    def forward(self, input: Tensor) -> Tensor:
        return A.logsigmoid(input)


class Mish(Module):
    """y = x tanh(softplus(x))."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return INPLACE_OPS["mish"](input) if self.inplace else A.mish(input)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, first=True)


class Hardswish(Module):
    """y = x relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return INPLACE_OPS["hardswish"](input) if self.inplace else A.hardswish(input)


class Hardsigmoid(Module):
    """y = relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        if self.inplace:
            return INPLACE_OPS["hardsigmoid"](input)
        return A.hardsigmoid(input)


class Softsign(Module):
    """y = x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return A.softsign(input)
