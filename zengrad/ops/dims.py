"""Argument helpers shared by the ops: dims, operands and dtype promotion (no gradients here)."""

from __future__ import annotations

import numbers

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor, as_array


def normalize_dim(dim: int, ndim: int) -> int:
    """A dim in [-ndim, ndim) as a non-negative axis; IndexError naming the range otherwise."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def normalize_dims(dim, ndim: int) -> tuple[int, ...] | None:
    """dim as int, tuple/list of ints or None (= all dims) -> sorted tuple of axes or None."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    axes = tuple(sorted(normalize_dim(int(d), ndim) for d in dim))
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1 and reduces nothing, as in PyTorch
        return ()
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim {tuple(dim)} appears multiple times in the list of dims")
    return axes


def as_tensor_operand(x) -> Tensor | int | float | bool:
    """Python/NumPy scalars stay scalars (weak dtype, as in PyTorch); arrays become tensors."""
    if isinstance(x, Tensor):
        return x
    # before the float check: np.float64 subclasses float but NumPy treats it as strong
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, numbers.Number):
        return complex(x)
    return Tensor._make(as_array(x), False, None)


def promote(a, b):
    """Apply PyTorch's promotion where NumPy's differs: int op float -> the float's dtype,
    and an integer tensor op a Python float -> the default float dtype."""
    a = as_tensor_operand(a)
    b = as_tensor_operand(b)
    if isinstance(a, Tensor):
        ka = a.array.dtype.kind
        if isinstance(b, Tensor):
            kb = b.array.dtype.kind
            if ka == "f" and kb in "iub":
                b = Tensor._make(b.array.astype(a.array.dtype), False, None)
            elif kb == "f" and ka in "iub":
                a = Tensor._make(a.array.astype(b.array.dtype), False, None)
        elif isinstance(b, float) and ka in "iub":
            a = Tensor._make(a.array.astype(backend.get_default_dtype()), False, None)
    elif isinstance(b, Tensor) and isinstance(a, float) and b.array.dtype.kind in "iub":
        b = Tensor._make(b.array.astype(backend.get_default_dtype()), False, None)
    return a, b


def shape_of(x) -> tuple[int, ...]:
    """The shape of an operand: an array's (of any backend), () for a Python or NumPy
    scalar; anything else is refused (a silent () would sum its broadcast gradient)."""
    if isinstance(x, (bool, int, float, complex, np.generic)):
        return ()
    backend.xp_of(x)  # TypeError for an array of no backend
    return x.shape


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast shape, or a ValueError naming the op and the shapes."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(
            f"{op}: shapes {shown} cannot be broadcast together (trailing dims must be "
            f"equal or 1)"
        ) from None
