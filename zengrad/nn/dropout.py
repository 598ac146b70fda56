"""Dropout layer: inverted dropout while training, the identity in eval mode."""

from __future__ import annotations

from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.ops.dropout import dropout


class Dropout(Module):
    """Training: y = x m / (1 - p), m ~ Bernoulli(1 - p) per element; eval: y = x."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace  # accepted for PyTorch compatibility; always out of place

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
