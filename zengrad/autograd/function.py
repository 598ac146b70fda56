"""Function: one differentiable op, its forward and its backward side by side.

Subclasses write two static methods on raw arrays:
    forward(ctx, *arrays, **params) -> array           y = f(x)
    backward(ctx, grad) -> grad or tuple of grads       dL/dx = dL/dy * dy/dx (one per input)
`ctx` is the graph node itself: forward stores on it what backward needs (ctx.x = x).
Non-tensor positional arguments (Python scalars, axes) pass through to forward unchanged and
get None as their gradient.

This is the protocol of zengrad's own ops (no Tensor is built inside an op). Code written for
torch subclasses `zengrad.autograd.Function` instead (custom_function.py): forward and
backward on Tensors, run through a node that is an instance of this class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from zengrad.autograd.engine import EPOCH, GRAFTED, grad_mode
from zengrad.autograd.tensor import Tensor

_RESOLVE = None  # views.resolve_stale, bound on first use


def _views():
    """autograd/views.py (it builds on this module, so it is imported on first use)."""
    global _RESOLVE
    from zengrad.autograd import views

    _RESOLVE = views.resolve_stale
    return views


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo NumPy broadcasting: sum grad over the axes that broadcasting added or stretched."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Function:
    """Base class of every op; an instance is a node of the graph (and the ctx)."""

    # _epoch: the write clock when the node was made (engine.py); _prev: set only on the node
    # of a recorded in-place op, the grad_fn its tensor had before (slots: release() keeps them)
    __slots__ = ("parents", "needs_input_grad", "_retained", "_freed", "_epoch", "_prev",
                 "__dict__")

    @staticmethod
    def forward(ctx: Function, *args, **kwargs) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        """Run forward on the inputs' arrays; record a node when an input requires grad."""
        ctx = object.__new__(cls)
        # one loop, not two comprehensions (each is a frame of its own): ~0.3 us an op
        arrays, needs = [], []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        enabled = grad_mode.enabled
        if GRAFTED and enabled:  # some plain storage entered the graph in place
            (_RESOLVE or _views().resolve_stale)(args, needs)
        if enabled and True in needs:
            ctx.parents = args
            ctx.needs_input_grad = needs
            ctx._retained = None
            ctx._freed = False
            ctx._epoch = EPOCH[0]
            return Tensor._make(cls.forward(ctx, *arrays, **kwargs), True, ctx)
        ctx.needs_input_grad = (False,) * len(args)
        return Tensor._make(cls.forward(ctx, *arrays, **kwargs), False, None)

    def release(self) -> None:
        """Free what forward saved and let go of the inputs; a later backward through this
        node raises (the engine checks `_freed`)."""
        self.__dict__.clear()
        # the inputs hold the rest of the graph (their arrays and nodes): dropping them frees
        # every intermediate after backward even while the output (the loss) is still
        # referenced, as torch does, instead of keeping last step's graph resident
        self.parents = ()
        self._freed = True

    def name(self) -> str:
        """The node's name as torch prints it: <MulBackward0>, <AddmmBackward0> (a display
        name; a user's own op class C reads <CBackward>, as a torch custom Function)."""
        cls = type(self)
        name = _NODE_NAMES.get(cls)
        if name is None:
            name = _NODE_NAMES[cls] = node_name(cls)
        return name

    def __repr__(self) -> str:
        return f"<{self.name()}>"


# torch's names for the nodes of zengrad's ops whose class is named otherwise (the class name
# without its Fn suffix -> torch's node name; the others read <ClassBackward0>); where torch
# picks among overloads by the arguments (SumBackward0/1), the usual one is given
_TORCH_NODE_NAMES = {
    "Linear": "AddmmBackward0", "FeedForwardReLU": "AddmmBackward0", "MatMul": "MmBackward0",
    "ReLU": "ReluBackward0",
    "LeakyReLU": "LeakyReluBackward0", "ELU": "EluBackward0", "GELU": "GeluBackward0",
    "SiLU": "SiluBackward0", "Softsign": "DivBackward0", "Reshape": "ViewBackward0",
    "GetItem": "SliceBackward0", "Cast": "ToCopyBackward0", "Contiguous": "CloneBackward0",
    "Pad": "ConstantPadNdBackward0", "BorderPad": "ReflectionPad2DBackward0",
    "AMax": "AmaxBackward0", "MaxDim": "MaxBackward0", "LogSumExp": "LogsumexpBackward0",
    "Norm": "LinalgVectorNormBackward0", "VectorNorm": "LinalgVectorNormBackward0",
    "CumSum": "CumsumBackward0", "CumProd": "CumprodBackward0", "Clamp": "ClampBackward1",
    "Rounding": "FloorBackward0", "DivRounded": "DivBackward2", "KeepWhere": "WhereBackward0",
    "Conv2d": "ConvolutionBackward0", "ConvTranspose2d": "ConvolutionBackward0",
    "MaxPool2d": "MaxPool2DWithIndicesBackward0", "AvgPool2d": "AvgPool2DBackward0",
    "AdaptiveAvgPool2d": "AdaptiveAvgPool2DBackward0", "BatchNorm": "NativeBatchNormBackward0",
    "LayerNorm": "NativeLayerNormBackward0", "AddLayerNorm": "NativeLayerNormBackward0",
    "GroupNorm": "NativeGroupNormBackward0",
    "CrossEntropy": "NllLossBackward0", "CrossEntropyProbs": "NegBackward0",
    "NLLLoss": "NllLossBackward0", "BinaryCrossEntropy": "BinaryCrossEntropyBackward0",
    "BCEWithLogits": "BinaryCrossEntropyWithLogitsBackward0", "MSE": "MseLossBackward0",
    "L1": "MeanBackward0", "Huber": "HuberLossBackward0", "SmoothL1": "SmoothL1LossBackward0",
    "KLDiv": "MeanBackward0", "Dropout": "MulBackward0", "Scatter": "ScatterBackward1",
    "ScaledDotProductAttention": "ScaledDotProductFlashAttentionForCpuBackward0",
    "CopySlices": "CopySlices",
}
_NODE_NAMES: dict[type, str] = {}


def node_name(cls: type) -> str:
    """torch's name of the node of op class cls: zengrad's own ops by _TORCH_NODE_NAMES or
    <Class>Backward0 (the Fn suffix dropped); classes defined elsewhere <Class>Backward."""
    name = cls.__name__
    if name.endswith("Fn"):
        name = name[:-2]
    if not cls.__module__.startswith("zengrad."):
        return name + "Backward"
    return _TORCH_NODE_NAMES.get(name, name + "Backward0")


def once_differentiable(fn: Callable) -> Callable:
    """torch's decorator for a custom Function's backward that can't be differentiated again.

    zengrad never differentiates a backward (create_graph is not supported), so it returns
    a wrapper that calls fn unchanged."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def __getattr__(name: str):
    """torch.autograd.function's other names (FunctionCtx, BackwardCFunction), imported on
    first use: custom_function.py builds on this module, so it can't be imported at its top."""
    if name in ("FunctionCtx", "BackwardCFunction"):
        from zengrad.autograd import custom_function

        return getattr(custom_function, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
