"""LayerNorm over zengrad.ops.layernorm (the formula and its backward live there)."""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.nn.norm import register_affine, reset_affine
from zengrad.nn.placement import layer_device, place
from zengrad.ops.layernorm import layer_norm, normalized_shape_of


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape dims
    (statistics per sample, biased variance; the same in training and eval).

    weight = 1 and bias = 0 of shape normalized_shape when elementwise_affine; bias=False
    keeps the scale without the shift (as torch 2.13).
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        device = layer_device(device, "LayerNorm")
        self.normalized_shape = normalized_shape_of(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        register_affine(self, elementwise_affine, self.normalized_shape, dt, bias)
        place(self, device)

    def reset_parameters(self) -> None:
        reset_affine(self, self.elementwise_affine)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
