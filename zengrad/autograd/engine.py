"""Reverse-mode differentiation: walk the graph from the output back to the leaves.

For y = f(x) the engine visits nodes in reverse topological order and applies the chain
rule, dL/dx = sum over uses of dL/dy * dy/dx, each node's backward giving the vector-Jacobian
product for its inputs. Leaves accumulate into `.grad` (across backward calls, as PyTorch
does); other tensors keep their gradient only when `retain_grad()` asked for it.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from zengrad.autograd.function import Function
    from zengrad.autograd.tensor import Tensor


class _GradMode(threading.local):
    """Whether ops record the graph; per thread, like PyTorch's grad mode."""

    enabled = True


grad_mode = _GradMode()

# Tests turn this on: a backward that returns a gradient whose dtype differs from its input's
# (e.g. float64 for a float32 tensor, silently slowing everything after it) raises.
check_grad_dtypes = False


def is_grad_enabled() -> bool:
    return grad_mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = grad_mode.enabled
        grad_mode.enabled = self.mode  # takes effect at once when called as a function

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        grad_mode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode
        grad_mode.enabled = self.prev  # used as a decorator: don't change the mode now

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = grad_mode.enabled
            grad_mode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                grad_mode.enabled = prev

        return wrapper


class _ModeContext:
    """Base of no_grad / enable_grad: a context manager and a decorator."""

    mode = True

    def __enter__(self) -> None:
        self.prev = grad_mode.enabled
        grad_mode.enabled = self.mode

    def __exit__(self, *exc) -> None:
        grad_mode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = grad_mode.enabled
            grad_mode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                grad_mode.enabled = prev

        return wrapper


class no_grad(_ModeContext):
    """Nothing is recorded inside: inference builds no graph and allocates no saved arrays."""

    mode = False


class enable_grad(_ModeContext):
    """Record the graph again inside a no_grad region."""

    mode = True


def _topological_order(root: Function) -> list[Function]:
    """Nodes reachable from root, each before every node it depends on (root first)."""
    order: list[Function] = []
    seen: set[Function] = set()
    stack: list[tuple[Function, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for parent, needed in zip(node.parents, node.needs_input_grad):
            if needed:
                fn = parent.grad_fn
                if fn is not None and fn not in seen:
                    stack.append((fn, False))
    order.reverse()
    return order


def _check_grad_shape(grad: np.ndarray, tensor: Tensor, what: str) -> None:
    if grad.shape != tensor.data.shape:
        raise ValueError(
            f"{what} has shape {tuple(grad.shape)} but the tensor has shape "
            f"{tuple(tensor.data.shape)}; they must match"
        )


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) * gradient into every leaf's .grad."""
    from zengrad.autograd.tensor import Tensor

    if not tensor.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: "
            "nothing to differentiate (create the inputs with requires_grad=True)"
        )
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this tensor has "
                f"shape {tuple(tensor.data.shape)}: pass gradient= of that shape, "
                f"or reduce it first (e.g. .sum())"
            )
        grad = np.ones_like(tensor.data)
    else:
        grad = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
        _check_grad_shape(grad, tensor, "gradient")
        grad = grad.astype(tensor.data.dtype, copy=True)

    root = tensor.grad_fn
    if root is None:  # backward on a leaf: d leaf / d leaf = identity
        _accumulate_leaf(tensor, grad, owned=True)
        return

    grads: dict[Function, np.ndarray] = {root: grad}
    for node in _topological_order(root):
        g = grads.pop(node, None)
        if g is None:  # no gradient flows here (e.g. only non-differentiable paths)
            continue
        if node._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through "
                f"{type(node).__name__}): its saved values were freed after the first "
                f"backward. Call .backward(retain_graph=True) the first time if you need "
                f"to backward twice."
            )
        if node._retained is not None:
            node._retained.grad = Tensor._make(np.array(g, copy=True), False, None)
        in_grads = node.backward(node, g)  # static: the node is its own ctx
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for parent, needed, pg in zip(node.parents, node.needs_input_grad, in_grads):
            if not needed or pg is None:
                continue
            if check_grad_dtypes and pg.dtype != parent.data.dtype:
                raise RuntimeError(
                    f"{node.name()} returned a {pg.dtype} gradient for a "
                    f"{parent.data.dtype} input"
                )
            fn = parent.grad_fn
            if fn is None:
                # a backward may hand its incoming gradient through unchanged (add, reshape
                # views): copy such arrays before a leaf owns them and users modify in place
                owned = pg is not g and pg.base is None
                _accumulate_leaf(parent, pg, owned)
            else:
                prev = grads.get(fn)
                grads[fn] = pg if prev is None else prev + pg
        if not retain_graph:
            node.release()


def _accumulate_leaf(leaf: Tensor, g: np.ndarray, owned: bool) -> None:
    from zengrad.autograd.tensor import Tensor

    if not leaf.requires_grad:
        return
    if g.shape != leaf.data.shape:
        g = np.broadcast_to(g, leaf.data.shape)
        owned = False
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
        owned = True
    if leaf.grad is None:
        leaf.grad = Tensor._make(g if owned else g.copy(), False, None)
    else:
        leaf.grad.data += g
