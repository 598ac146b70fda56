"""Module backward hooks (Module.register_full_backward_hook, register_full_backward_pre_hook
and the legacy register_backward_hook), built on Tensor.register_hook as torch's
torch.utils.hooks.BackwardHook is built on its autograd hooks.

Around one call of a module, the tensor inputs that require grad are packed into ONE new graph
node (a clone; several inputs are flattened and concatenated, and forward receives slices of
it reshaped back), and so are the tensor outputs. The engine reaches the output pack before
any node inside the module and the input pack after all of them, each time with the whole
gradient at once, so:

    output pack's hook: grad_output = (dL/d out_1, ...); each pre-hook(module, grad_output)
        may return a replacement, which flows on into the module;
    input pack's hook:  grad_input = (dL/d in_1, ...) for this call's positional inputs;
        each hook(module, grad_input, grad_output) may return a replacement, which flows on
        to the inputs.

grad_input entries are None for positional arguments that are not tensors and zeros for tensors
that need no grad; grad_output entries are None for outputs that are not tensors requiring
grad. (Deviation: an output that requires grad but receives none gets zeros, where torch's
hook sees None.) When no input requires grad the hooks run from the
output side with grad_input all None, as torch does. Gradients are given to hooks as Tensors
that do not require grad.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.ops.elementwise import clone
from zengrad.ops.shape import cat, reshape


def _pack(tensors: list[Tensor], who: str) -> tuple[list[Tensor], Tensor]:
    """(views that stand for tensors in the graph, the one node they all come from)."""
    if len(tensors) == 1:
        pack = clone(tensors[0])
        return [pack], pack
    dtypes = {t.array.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(
            f"backward hooks: the {who} tensors that require grad have different dtypes "
            f"({', '.join(sorted(str(d) for d in dtypes))}); zengrad packs them into one "
            "tensor to see their gradients together, which needs a single dtype"
        )
    pack = cat([reshape(t, -1) for t in tensors])
    views, start = [], 0
    for t in tensors:
        n = t.array.size
        views.append(reshape(pack[start:start + n], t.array.shape))
        start += n
    return views, pack


def _split(g: np.ndarray, shapes: list[tuple]) -> list[Tensor]:
    """The pack's gradient cut back into one gradient per packed tensor."""
    if len(shapes) == 1:
        return [Tensor._make(g, False, None)]
    out, start = [], 0
    for shape in shapes:
        n = math.prod(shape)
        out.append(Tensor._make(g[start:start + n].reshape(shape), False, None))
        start += n
    return out


def _join(grads: tuple, index: list[int], shapes: list[tuple], dtype, who: str) -> np.ndarray:
    """The entries index of grads (Tensors, arrays or None = zero) as the pack's gradient."""
    given = [grads[i] for i in index if grads[i] is not None]
    arrays = [g.array if isinstance(g, Tensor) else g for g in given]
    xp = backend.xp_of(arrays[0]) if arrays and backend.is_array(arrays[0]) else np
    parts = []
    for i, shape in zip(index, shapes):
        g = grads[i]
        if g is None:
            parts.append(xp.zeros(shape, dtype))
            continue
        arr = g.array if isinstance(g, Tensor) else xp.asarray(g)
        if arr.shape != tuple(shape):
            raise ValueError(f"{who}: the gradient returned for position {i} has shape "
                             f"{tuple(arr.shape)}, expected {tuple(shape)}")
        parts.append(arr.astype(dtype, copy=False))
    if len(parts) == 1:
        return parts[0]
    return xp.concatenate([p.reshape(-1) for p in parts])


def _with_none(index: list[int], grads: list[Tensor], n: int) -> tuple:
    out: list = [None] * n
    for i, g in zip(index, grads):
        out[i] = g
    return tuple(out)


def _checked(res, expected: int, what: str) -> tuple:
    if not isinstance(res, (tuple, list)):
        raise TypeError(f"a backward hook must return None or a tuple of {what} (one entry per "
                        f"position), got {type(res).__name__}")
    if len(res) != expected:
        raise RuntimeError(f"Backward hook returned an invalid number of {what}, got {len(res)}, "
                           f"but expected {expected}")
    return tuple(res)


class BackwardHook:
    """The hooks of one module call: setup_input_hook(args) before forward, then
    setup_output_hook(result) after it (module docstring)."""

    def __init__(self, module, hooks: list[Callable], pre_hooks: list[Callable]) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_index: list[int] | None = None
        self.n_outputs = 0
        self.grad_outputs: tuple | None = None

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not index:
            return args
        self.input_index = index
        shapes = [args[i].array.shape for i in index]
        views, pack = _pack([args[i] for i in index], "input")
        dtype = pack.array.dtype

        # torch gives zeros for the tensor inputs that need no grad (None for non-tensors)
        constants = [(i, a.array.shape, a.array.dtype) for i, a in enumerate(args)
                     if isinstance(a, Tensor) and not a.requires_grad]

        def input_hook(grad: Tensor):
            grad_input = _with_none(index, _split(grad.array, shapes), self.n_inputs)
            if constants:
                filled = list(grad_input)
                for i, shape, dt in constants:
                    filled[i] = Tensor._make(backend.xp_of(grad.array).zeros(shape, dt),
                                             False, None)
                grad_input = tuple(filled)
            grad_output = self.grad_outputs
            if grad_output is None:
                grad_output = (None,) * self.n_outputs
            for hook in self.hooks:
                res = hook(self.module, grad_input, grad_output)
                if res is not None:
                    grad_input = _checked(res, len(grad_input), "grad_input")
            self.grad_outputs = None
            return _join(grad_input, index, shapes, dtype, "backward hook")

        pack.register_hook(input_hook)
        new = list(args)
        for i, v in zip(index, views):
            new[i] = v
        return tuple(new)

    def setup_output_hook(self, result):
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn(
                "For backward hooks to be called, module output should be a Tensor or a tuple "
                f"of Tensors but received {type(result)}",
                stacklevel=3,
            )
            return result
        outs = result if isinstance(result, tuple) else (result,)
        self.n_outputs = len(outs)
        index = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not index:
            return result
        shapes = [outs[i].array.shape for i in index]
        views, pack = _pack([outs[i] for i in index], "output")
        dtype = pack.array.dtype

        def output_hook(grad: Tensor):
            grad_output = _with_none(index, _split(grad.array, shapes), self.n_outputs)
            replaced = False
            for hook in self.pre_hooks:
                res = hook(self.module, grad_output)
                if res is not None:
                    grad_output = _checked(res, len(grad_output), "grad_output")
                    replaced = True
            self.grad_outputs = grad_output
            if self.input_index is None:  # no input needs a gradient: the hooks run here
                grad_input = (None,) * self.n_inputs
                for hook in self.hooks:
                    res = hook(self.module, grad_input, grad_output)
                    if res is not None and not (
                        isinstance(res, tuple) and all(r is None for r in res)
                    ):
                        raise RuntimeError(
                            "Backward hook for Modules where no input requires gradient should "
                            "always return None or None for all gradients."
                        )
                self.grad_outputs = None
            if not replaced:
                return None
            return _join(grad_output, index, shapes, dtype, "backward pre-hook")

        pack.register_hook(output_hook)
        if not isinstance(result, tuple):
            return views[0]
        new = list(result)
        for i, v in zip(index, views):
            new[i] = v
        return type(result)(*new) if hasattr(result, "_fields") else tuple(new)  # namedtuple
