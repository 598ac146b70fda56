"""The autograd engine: Tensor, Function, backward, grad modes and gradcheck."""

from zengrad.autograd.engine import (
    backward,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.gradcheck import GradcheckError, gradcheck
from zengrad.autograd.tensor import Tensor

__all__ = [
    "Function", "GradcheckError", "Tensor", "backward", "grad", "enable_grad", "gradcheck",
    "is_grad_enabled", "no_grad", "set_grad_enabled", "unbroadcast",
]
