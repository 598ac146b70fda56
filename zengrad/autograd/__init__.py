"""The autograd engine: Tensor, Function, backward, grad modes and gradcheck.

`Function` here is torch's protocol (forward/backward on Tensors, custom_function.py);
`ArrayFunction` is zengrad's op protocol on raw arrays (function.py), the base of every op.
"""

from __future__ import annotations

import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd.custom_function import (
    BackwardCFunction,
    Function,
    FunctionCtx,
    once_differentiable,
)
from zengrad.autograd.engine import (
    backward,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from zengrad.autograd.function import Function as ArrayFunction
from zengrad.autograd.function import unbroadcast
from zengrad.autograd.gradcheck import GradcheckError, gradcheck
from zengrad.autograd.tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor)  # as torch: every tensor is a Variable


class Variable(metaclass=_VariableMeta):
    """The old torch.autograd.Variable: Variable(t, requires_grad=False) returns a new Tensor
    sharing t's data (cut from t's graph) with the given requires_grad."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = False,
                volatile: bool = False) -> Tensor:  # type: ignore[misc]
        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` "
                "instead.", UserWarning, stacklevel=2,
            )
        if data is None:  # Variable(): an empty float tensor, as torch
            data = Tensor._make(np.empty(0, backend.get_default_dtype()), False, None)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = Tensor._make(data.array, False, None)
        if requires_grad:
            if data.array.dtype.kind not in "fc":
                raise RuntimeError(
                    "Only Tensors of floating point and complex dtype can require gradients"
                )
            t.requires_grad = True
        return t


__all__ = [
    "ArrayFunction", "BackwardCFunction", "Function", "FunctionCtx", "GradcheckError", "Tensor",
    "Variable", "backward", "enable_grad", "grad", "gradcheck", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "no_grad", "once_differentiable",
    "set_grad_enabled", "unbroadcast",
]
