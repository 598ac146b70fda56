"""torch.autograd.Function: a user's differentiable function written on Tensors, as torch writes it.

    class Exp(zengrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):              # Tensors in (non-tensor arguments unchanged)
            y = x.exp()                   # runs under no_grad: nothing inside is recorded
            ctx.save_for_backward(y)
            return y                      # a Tensor, or a tuple of them
        @staticmethod
        def backward(ctx, g):             # one gradient per output, as Tensors
            (y,) = ctx.saved_tensors
            return g * y                  # one gradient (or None) per forward argument

Two protocols, two classes. zengrad's own ops subclass `zengrad.autograd.function.Function`
and work on raw arrays (the fast path: no Tensor is built inside an op). This module's
`Function` is the public one (`zengrad.autograd.Function`, `zengrad.Function`), the one torch
code subclasses. Its `apply` runs the user's forward on Tensors and records one graph node,
an instance of `<Name>Backward`: a subclass of the array protocol's Function made once per
user class, whose array backward wraps the incoming gradients in Tensors, calls the user's
backward and checks what it returns. The engine sees an ordinary node; the node is also the
`ctx` the user's forward and backward receive (as in torch, `y.grad_fn` is the ctx).

Several outputs: the engine gives each node a single gradient, so output k gets a small
selector node whose parent is one hidden tensor produced by the user's node; the selectors
hand their gradients on as a `_GradPack` (a {k: gradient} dict that adds by merging), and the
user's node unpacks it, filling outputs that got no gradient with zeros (or None after
`ctx.set_materialize_grads(False)`).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from zengrad.autograd.engine import EPOCH, grad_mode
from zengrad.autograd.function import Function as ArrayFunction
from zengrad.autograd.function import once_differentiable, unbroadcast
from zengrad.autograd.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable"]

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
# attributes of the node that the engine reads: a user's ctx.parents = ... would silently
# cut the graph, so assigning them is refused (the engine itself writes only _retained, the
# observer of hooks and retain_grad, which is left assignable)
_ENGINE_NAMES = frozenset(("parents", "needs_input_grad", "_freed"))


class FunctionCtx:
    """What `ctx` offers a custom Function's forward and backward (torch's FunctionCtx).

    Arbitrary attributes may be stored on it too (ctx.alpha = 0.5), for backward to read.
    """

    __slots__ = ()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors (inputs, outputs or intermediates; None allowed) for backward, where
        `ctx.saved_tensors` returns them in this order."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {i} is of type "
                    f"{type(t).__name__}"
                )
        self.__dict__["_saved"] = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to save_for_backward (an empty tuple if none)."""
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE)
        return self.__dict__.get("_saved", ())

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """These outputs get requires_grad=False; backward still receives a gradient for each
        (zeros, or None without materialization)."""
        for i, t in enumerate(outputs):
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"mark_non_differentiable only accepts Tensors, but argument {i} is of "
                    f"type {type(t).__name__}"
                )
        self.__dict__.setdefault("_non_differentiable", set()).update(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """With True (the default) outputs that got no gradient are given zeros in backward;
        with False they are given None (and backward must handle it)."""
        self.__dict__["_materialize"] = bool(value)

    def mark_dirty(self, *tensors: Tensor) -> None:
        raise NotImplementedError(
            "ctx.mark_dirty (in-place custom Functions) is not supported by zengrad: return a "
            "new tensor from forward instead"
        )

    def mark_shared_storage(self, *pairs) -> None:
        """Deprecated in torch and without effect there; accepted and ignored."""

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        raise NotImplementedError(
            "ctx.save_for_forward is for forward-mode AD (jvp), which zengrad does not support"
        )


class BackwardCFunction(FunctionCtx, ArrayFunction):
    """The graph node (and ctx) of one call of a custom Function; `_forward_cls` is the user's
    class (set on the per-class subclass `<Name>Backward`)."""

    __slots__ = ()
    _forward_cls: type[Function]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _ENGINE_NAMES:
            raise AttributeError(
                f"ctx.{name} is used by zengrad's autograd engine; store your value under "
                f"another name"
            )
        object.__setattr__(self, name, value)

    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        """Free saved tensors and ctx attributes after backward (as array nodes do)."""
        self.__dict__.clear()
        object.__setattr__(self, "parents", ())
        object.__setattr__(self, "_freed", True)

    @staticmethod
    def backward(node: BackwardCFunction, grad) -> tuple:  # type: ignore[override]
        """Array protocol for the engine: arrays in, the user's Tensor backward, arrays out."""
        return node._call_user_backward(grad)

    def _call_user_backward(self, grad) -> tuple:
        d = self.__dict__
        metas = d["_outputs"]  # per output: (shape, dtype) of a tensor, None otherwise
        if type(grad) is _GradPack:
            got = grad.grads
        else:  # a single-output function: the node's own gradient
            got = {0: grad}
        materialize = d.get("_materialize", True)
        grads = []
        for k, meta in enumerate(metas):
            g = got.get(k)
            if g is not None:
                grads.append(Tensor._make(g, False, None))
            elif meta is not None and materialize:
                grads.append(Tensor._make(np.zeros(meta[0], meta[1]), False, None))
            else:
                grads.append(None)
        prev = grad_mode.enabled
        grad_mode.enabled = False  # as torch: backward itself is not recorded
        try:
            result = self._forward_cls.backward(self, *grads)
        finally:
            grad_mode.enabled = prev
        return self._check_gradients(result)

    def _check_gradients(self, result) -> tuple:
        """torch's checks of what backward returned: one gradient per forward argument (extra
        trailing Nones allowed), Tensors or None, of the input's shape (a gradient of a shape
        the input broadcasts to is summed back, as torch does), cast to the input's dtype."""
        if not isinstance(result, tuple):
            result = (result,)
        inputs = self.parents
        n = len(inputs)
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        if len(result) != n:
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients (expected "
                f"{n}, got {len(result)})"
            )
        arrays = []
        for i, (x, g) in enumerate(zip(inputs, result)):
            if g is None:
                arrays.append(None)
                continue
            if not isinstance(g, Tensor):
                raise RuntimeError(
                    f"function {self.name()} returned a gradient of type {type(g).__name__} "
                    f"at position {i}: expected Variable or None (got {type(g).__name__})"
                )
            if not isinstance(x, Tensor):
                raise RuntimeError(
                    f"function {self.name()} returned a gradient different than None at "
                    f"position {i + 1}, but the corresponding forward input was not a Variable"
                )
            arr = g.array
            shape = x.array.shape
            if arr.shape != shape:
                try:
                    fits = np.broadcast_shapes(arr.shape, shape) == arr.shape
                except ValueError:
                    fits = False
                if not fits:
                    raise RuntimeError(
                        f"Function {self.name()} returned an invalid gradient at index {i} - "
                        f"got {list(arr.shape)} but expected shape compatible with "
                        f"{list(shape)}"
                    )
                arr = unbroadcast(arr, shape)
            if arr.dtype != x.array.dtype:
                arr = arr.astype(x.array.dtype)
            elif arr is g.array:
                # the user's own array (a saved tensor, an incoming gradient, one tensor for
                # two inputs): as a view the engine copies it before a leaf's .grad owns it
                # and accumulates into it in place
                arr = arr.view()
            arrays.append(arr)
        return tuple(arrays)


class _GradPack:
    """Gradients of several outputs of one custom Function on their way to its node: the
    engine sums the contributions of the output selectors, which here means merging."""

    __slots__ = ("grads",)
    dtype = np.dtype(object)  # the hidden tensor's dtype (the engine's dtype check)

    def __init__(self, grads: dict) -> None:
        self.grads = grads

    def __add__(self, other: _GradPack) -> _GradPack:
        merged = dict(self.grads)
        for k, g in other.grads.items():
            merged[k] = g if k not in merged else merged[k] + g
        return _GradPack(merged)


class _OutputSelect(ArrayFunction):
    """Output k of a several-output custom Function: passes its gradient to the shared node."""

    __slots__ = ()

    @staticmethod
    def backward(ctx: _OutputSelect, grad: np.ndarray) -> _GradPack:
        return _GradPack({ctx.index: grad})

    def name(self) -> str:
        return self.__dict__.get("label", "Backward")

    def release(self) -> None:
        label = self.name()
        ArrayFunction.release(self)
        self.__dict__["label"] = label  # a freed output still prints its grad_fn

    def __getattr__(self, name: str) -> Any:
        # as in torch, out.grad_fn of any output is the ctx: ctx attributes (saved_tensors,
        # needs_input_grad, user values) read through to the shared node
        owner = self.__dict__.get("owner")
        if owner is None or name.startswith("__"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")
        return getattr(owner, name)


def _select(ctx: BackwardCFunction, index: int, hidden: Tensor) -> _OutputSelect:
    """The node of output `index`, fed by the hidden tensor of the Function's own node."""
    node = object.__new__(_OutputSelect)
    node.parents = (hidden,)
    node.needs_input_grad = (True,)
    node._retained = None
    node._freed = False
    node._epoch = ctx._epoch
    node.index = index
    node.owner = ctx
    node.label = ctx.name()
    return node


class Function:
    """Base class of custom differentiable functions written on Tensors (torch's protocol).

    Subclasses define `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` as
    staticmethods (or `forward(*args)` plus `setup_context(ctx, inputs, output)`), and are
    called as `MyFunction.apply(*args)`. See the module docstring.
    """

    _backward_cls: type[BackwardCFunction]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "vjp" in cls.__dict__ and "backward" not in cls.__dict__:
            cls.backward = cls.__dict__["vjp"]  # as torch: vjp is another name for backward
        # the node class, named as torch names it: y.grad_fn is an <ExpBackward>
        cls._backward_cls = type(
            cls.__name__ + "Backward", (BackwardCFunction,), {"_forward_cls": cls,
                                                                "__slots__": ()}
        )
        cls._signature = None

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def _bind(cls, args: tuple, kwargs: dict, uses_ctx: bool) -> tuple[tuple, dict]:
        """Keyword arguments that name forward's parameters become positional (as torch
        binds them), so each gets its slot in needs_input_grad and in backward's result."""
        if not kwargs:
            return args, {}
        sig = cls._signature
        if sig is None:
            sig = cls._signature = inspect.signature(cls.forward)
        try:
            bound = sig.bind(None, *args, **kwargs) if uses_ctx else sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}.forward(): {e}") from None
        positional = bound.args[1:] if uses_ctx else bound.args
        return tuple(positional), dict(bound.kwargs)

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on the arguments (under no_grad) and, when grad mode is on and a
        tensor argument requires grad, record the node that calls backward."""
        if cls is Function:
            raise RuntimeError("apply() is called on a subclass of Function, not on Function")
        uses_ctx = not _overrides_setup_context(cls)
        args, kwargs = cls._bind(args, kwargs, uses_ctx)
        ctx = object.__new__(cls._backward_cls)
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        object.__setattr__(ctx, "needs_input_grad", needs)
        object.__setattr__(ctx, "_retained", None)
        object.__setattr__(ctx, "_freed", False)
        object.__setattr__(ctx, "parents", ())
        prev = grad_mode.enabled
        grad_mode.enabled = False  # as torch: what forward does inside is not recorded
        try:
            if uses_ctx:
                out = cls.forward(ctx, *args, **kwargs)
            else:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
        finally:
            grad_mode.enabled = prev
        # stamped after forward: writes that forward made into what it saves are its own
        object.__setattr__(ctx, "_epoch", EPOCH[0])
        record = prev and True in needs
        if record:
            object.__setattr__(ctx, "parents", args)
        return _wrap_outputs(ctx, out, record)


def _overrides_setup_context(cls: type) -> bool:
    """The torch 2 style: forward(*args) without ctx, and setup_context(ctx, inputs, output)."""
    return cls.setup_context is not Function.setup_context


def _wrap_outputs(ctx: BackwardCFunction, out: Any, record: bool) -> Any:
    """The forward's result as apply returns it: every Tensor output is a new tensor (sharing
    its data) that, when recording and differentiable, has the node as its history."""
    d = ctx.__dict__
    non_diff = d.get("_non_differentiable", ())
    single = not isinstance(out, tuple)
    items = (out,) if single else out
    d["_outputs"] = [
        (t.array.shape, t.array.dtype) if isinstance(t, Tensor) else None for t in items
    ]

    def differentiable(t: Tensor) -> bool:
        # integer and bool outputs have no gradient (torch marks them non-differentiable)
        return record and id(t) not in non_diff and t.array.dtype.kind in "fc"

    if single:
        if not isinstance(out, Tensor):
            return out
        if differentiable(out):
            return Tensor._make(out.array, True, ctx)
        return Tensor._make(out.array, False, None)
    hidden = None
    wrapped = []
    for k, t in enumerate(items):
        if not isinstance(t, Tensor):
            wrapped.append(t)
        elif differentiable(t):
            if hidden is None:
                hidden = Tensor._make(np.empty((), dtype=object), True, ctx)
            sel = _select(ctx, k, hidden)
            wrapped.append(Tensor._make(t.array, True, sel))
        else:
            wrapped.append(Tensor._make(t.array, False, None))
    return tuple(wrapped)
