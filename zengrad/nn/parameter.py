"""Parameter: a Tensor that a Module registers as learnable (requires_grad=True by default)."""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that Module.__setattr__ registers; shares the data of the tensor given.

    `Parameter(t)` wraps t's array without copying (as PyTorch shares storage); ops on a
    Parameter return plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype())  # host
        super().__init__(data.array if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        p = Parameter(self.array.copy(), self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor._make(self.grad.array.copy(), False, None)
        memo[id(self)] = p
        return p
