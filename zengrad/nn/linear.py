"""Linear (y = x W^T + b) and Identity layers."""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import init
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.nn.placement import layer_device, place
from zengrad.ops.linalg import linear


class Identity(Module):
    """y = x; accepts and ignores any constructor arguments (as PyTorch)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b with weight (out_features, in_features) and bias (out_features,).

    Initialized as PyTorch: W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)),
    b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {n!r}")
        device = layer_device(device, "Linear")
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dt))  # host
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dt))  # host
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        place(self, device)

    def reset_parameters(self) -> None:
        init._default_reset_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under the name torch gives MultiheadAttention's out_proj class.

    torch defines it in torch.nn.modules.linear only to keep quantization tools away from
    that projection; it computes exactly what Linear does. Here it exists so that programs
    naming it (pytorch/examples word_language_model lists it in torch.serialization
    .safe_globals) run unchanged.
    """
