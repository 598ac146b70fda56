"""Reverse-mode differentiation: walk the graph from the output back to the leaves.

For y = f(x) the engine visits nodes in reverse topological order and applies the chain
rule, dL/dx = sum over uses of dL/dy * dy/dx, each node's backward giving the vector-Jacobian
product for its inputs. Leaves accumulate into `.grad` (across backward calls, as PyTorch
does); other tensors keep their gradient only when `retain_grad()` asked for it.

In-place writes are tracked with one global clock (`EPOCH`, bumped by every write) and a
record per storage (the root ndarray of a view chain): its version (torch's `_version`, shared
by views) and the epochs of its last writes. Each node is stamped with the epoch it was made
in, which is enough to tell, at backward time and only when some write happened after the
node (a comparison of two ints otherwise), (1) whether an array it saved was modified since
(torch's version-counter error) and (2) which producer an input had when the node consumed it
(an in-place op replaces a tensor's grad_fn; earlier consumers keep the older one).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from zengrad import backend

if TYPE_CHECKING:
    from zengrad.autograd.function import Function
    from zengrad.autograd.tensor import Tensor


class _GradMode(threading.local):
    """Whether ops record the graph; per thread, like PyTorch's grad mode."""

    enabled = True
    # inside inference_mode(): enable_grad / set_grad_enabled(True) don't turn recording back
    # on (torch: only inference_mode(False) does)
    inference = False


grad_mode = _GradMode()

# Tests turn this on: a backward that returns a gradient whose dtype differs from its input's
# (e.g. float64 for a float32 tensor, silently slowing everything after it) raises.
check_grad_dtypes = False


# ----- versions of storages (in-place writes) -------------------------------------------

# the clock: bumped by every in-place write; a node is stamped with its value at creation
EPOCH = [0]
# the epoch of the last in-place op recorded in a graph (0: none yet in this process, and
# backward skips looking for the producers that in-place ops replaced)
RECORDED = [0]
# how many recent writes a storage remembers (enough to name the version a node saw)
_KEPT_WRITES = 16


class StorageRecord:
    """What the engine knows of one storage: its version (number of in-place writes) and its
    last writes as (epoch, writer) pairs; writer is the node recorded for the write, or None
    for a write outside the graph (under no_grad, on plain tensors, a shape change)."""

    __slots__ = ("version", "writes")

    def __init__(self) -> None:
        self.version, self.writes = 0, deque(maxlen=_KEPT_WRITES)  # the newest writes


# id(root array) -> its record, removed when the root array is freed
_records: dict[int, StorageRecord] = {}


# id(root array) -> weakref to the tensor whose recorded in-place write put that storage,
# plain until then, into the graph (x = zeros(...); x[i] = v with v requiring grad): other
# tensors sharing the storage that don't require grad are stale aliases, resolved (or
# refused) where an op uses them (autograd/views.py). Empty in most programs: ops test it.
# The entry also holds the write's node and the tensor's layout in the storage, so that a
# temporary view written into (buf[1].copy_(v)) can still be read after it is gone.
GRAFTED: dict[int, tuple] = {}


def graft(tensor: Tensor) -> None:
    """Note that a recorded write put tensor's (formerly plain) storage into the graph."""
    a = tensor.array
    root = storage_root(a)
    key = id(root)
    if key not in GRAFTED:
        weakref.finalize(root, GRAFTED.pop, key, None)
    offset = backend.address_of(a) - backend.address_of(root)
    GRAFTED[key] = (weakref.ref(tensor), tensor.grad_fn, offset, a.shape, a.strides)


def storage_root(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory of `array` (itself, or the end of its .base chain; a
    device array's chain holds arrays of its own type)."""
    base = array.base
    while isinstance(base, np.ndarray) or (base is not None and type(base) is type(array)):
        array, base = base, base.base
    return array


def storage_version(array: np.ndarray) -> int:
    """torch's `_version` of the storage holding `array` (0 before any in-place write)."""
    rec = _records.get(id(storage_root(array)))
    return 0 if rec is None else rec.version


def bump_epoch() -> int:
    EPOCH[0] += 1
    return EPOCH[0]


def record_write(array: np.ndarray, writer: Function | None = None) -> int:
    """Note an in-place write into the storage of `array` (its version goes up by one);
    returns the write's epoch. Code that writes a tensor's array in place behind the
    engine's back (an optimizer step) calls this so that a backward through nodes that
    saved the old values raises instead of using the new ones."""
    root = storage_root(array)
    key = id(root)
    rec = _records.get(key)
    if rec is None:
        rec = _records[key] = StorageRecord()
        weakref.finalize(root, _records.pop, key, None)
    epoch = bump_epoch()
    rec.version += 1
    rec.writes.append((epoch, writer))
    return epoch


def record_writes(arrays) -> None:
    """record_write for each array, all at one epoch: in-place updates outside the graph
    (an optimizer's step, nn.init), so that a backward through nodes that saved the old
    values raises torch's version error. A fraction of a microsecond an array."""
    epoch = bump_epoch()
    records = _records
    for a in arrays:
        root = a if a.base is None else storage_root(a)
        key = id(root)
        rec = records.get(key)
        if rec is None:
            rec = records[key] = StorageRecord()
            weakref.finalize(root, records.pop, key, None)
        rec.version += 1
        rec.writes.append((epoch, None))


def increment_version(tensors) -> None:
    """torch.autograd.graph.increment_version: note an in-place write, made behind the
    engine's back, into a tensor (or each of a list of tensors); a tensor from `.data`
    counts its own writes (invisible to the graph, as torch's)."""
    from zengrad.autograd.tensor import Tensor

    for t in (tensors,) if isinstance(tensors, Tensor) else tensors:
        t._bump_version()


def _writes_after(array: np.ndarray, epoch: int) -> tuple[StorageRecord | None, list]:
    rec = _records.get(id(storage_root(array)))
    if rec is None or not rec.writes or rec.writes[-1][0] <= epoch:
        return rec, []
    return rec, [w for w in rec.writes if w[0] > epoch]


def _check_saved_array(node: Function, a: np.ndarray) -> None:
    """torch's version-counter error when `a`, saved by node, was written after the node."""
    rec, later = _writes_after(a, node._epoch)
    if later:
        from zengrad.autograd.tensor import type_name

        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{type_name(a.dtype)} {list(a.shape)}], saved by "
            f"{node.name()}, is at version {rec.version}; expected version "
            f"{rec.version - len(later)} instead. Hint: the in-place op came after the "
            f"forward that saved it; use its out-of-place form (x = x + 1, not x += 1) or "
            f".clone() the tensor first"
        )


def check_saved(node: Function) -> None:
    """Raise if an array that node saved for backward was modified in place after it (only
    called when some write happened after the node was made)."""
    for v in node.__dict__.values():
        kind = type(v)
        if kind is np.ndarray:
            _check_saved_array(node, v)
        elif kind is tuple or kind is list:
            for w in v:
                if backend.is_array(w):
                    _check_saved_array(node, w)
                elif hasattr(w, "grad_fn") and backend.is_array(getattr(w, "array", None)):
                    _check_saved_array(node, w.array)  # a custom Function's saved Tensors
        elif backend.is_array(v):  # a device array
            _check_saved_array(node, v)


def producer(parent: Tensor, fn: Function | None, node: Function) -> Function | None:
    """The grad_fn `parent` had when `node` consumed it (called when the epochs of fn, its
    grad_fn now, and node differ): an in-place op after node made fn newer, so step back
    along the in-place chain (`_prev`); and if the storage was written by another tensor's
    recorded in-place op in between (a view or its base), the values node used are not the
    ones fn computed: raise rather than send a wrong gradient."""
    n = node._epoch
    while fn is not None and fn._epoch > n:
        prev = getattr(fn, "_prev", fn)
        if prev is fn:
            break
        fn = prev
    if fn is not None and fn._epoch < n:
        _, later = _writes_after(parent.array, fn._epoch)
        for epoch, writer in later:
            if epoch <= n and writer is not None and writer is not node:
                from zengrad.autograd.views import regenerate_for

                regenerated = regenerate_for(parent, node)
                if regenerated is not None:  # parent read its base, as torch regenerates it
                    return regenerated
                raise RuntimeError(
                    f"{node.name()} used a tensor of shape {list(parent.array.shape)} whose "
                    f"memory was modified by an in-place operation on another tensor sharing "
                    f"it (a view or its base, by {writer.name()}) after the tensor was made, "
                    f"and zengrad can't read it through its base here (a view of a tensor "
                    f"outside the graph); take the view after the in-place op, or .clone() it"
                )
    return fn


def is_grad_enabled() -> bool:
    return grad_mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = grad_mode.enabled
        # takes effect at once when called as a function
        grad_mode.enabled = self.mode and not grad_mode.inference

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
            grad_mode.enabled = mode and not grad_mode.inference
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
        grad_mode.enabled = self.mode and not grad_mode.inference

    def __exit__(self, *exc) -> None:
        grad_mode.enabled = self.prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = grad_mode.enabled
            grad_mode.enabled = mode and not grad_mode.inference
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


class inference_mode:
    """No graph is recorded inside (as no_grad), and enable_grad can't turn it back on;
    inference_mode(False) inside restores normal recording. A context manager and a
    decorator (@inference_mode, @inference_mode() or @inference_mode(False)).

    Unlike torch, tensors made inside are ordinary tensors (zengrad has no inference-tensor
    flag: marking every op's output would cost on the hot path), so they may later enter an
    autograd graph where torch raises.
    """

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        if not isinstance(mode, (bool, int)):
            raise TypeError(f"inference_mode(): mode must be a bool, got {type(mode).__name__}")
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self._prev = (grad_mode.enabled, grad_mode.inference)
        if self.mode:
            grad_mode.enabled, grad_mode.inference = False, True
        else:  # as torch: inference_mode(False) records, even inside no_grad
            grad_mode.enabled, grad_mode.inference = True, False

    def __exit__(self, *exc) -> None:
        grad_mode.enabled, grad_mode.inference = self._prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)


def is_inference_mode_enabled() -> bool:
    """True inside inference_mode() (and not inside an inner inference_mode(False))."""
    return grad_mode.inference


def _topological_order(roots: list[Function]) -> list[Function]:
    """Nodes reachable from the roots, each before every node it depends on."""
    order: list[Function] = []
    seen: set[Function] = set()
    inplace = RECORDED[0] != 0
    stack: list[tuple[Function, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        # the producer each input had when node used it (not a newer in-place node, which
        # may depend on node itself)
        for parent, needed in zip(node.parents, node.needs_input_grad):
            if needed:
                fn = parent.grad_fn
                if inplace and fn is not None and fn._epoch != node._epoch:
                    fn = producer(parent, fn, node)
                if fn is not None and fn not in seen:
                    stack.append((fn, False))
    order.reverse()
    return order


class Observer:
    """What a non-leaf tensor asked of the engine: hooks on its gradient, retain_grad.

    It hangs on the tensor's node, so it holds the tensor weakly: a strong reference would
    make a tensor -> node -> observer -> tensor cycle that only the cyclic GC can free.
    """

    __slots__ = ("ref", "shape", "dtype", "retain", "hooks")

    def __init__(self, tensor: Tensor) -> None:
        self.ref = weakref.ref(tensor)
        self.shape, self.dtype = tensor.array.shape, tensor.array.dtype
        self.retain, self.hooks = False, []


def observer(tensor: Tensor, node: Function | None = None) -> Observer:
    """The observer of a non-leaf tensor's gradient at its node (by default its grad_fn),
    created on first use."""
    if node is None:
        node = tensor.grad_fn
    if node._retained is None:
        node._retained = Observer(tensor)
    return node._retained


def _run_hooks(hooks: list, g: np.ndarray, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """g -> hook(g) for each hook; a hook returns None (keep g) or a replacement of the
    tensor's shape (cast to its dtype)."""
    from zengrad.autograd.tensor import Tensor

    for hook in hooks:
        new = hook(Tensor._make(g, False, None))
        if new is not None:
            new = new.array if isinstance(new, Tensor) else backend.xp_of(g).asarray(new)
            _check_grad_shape(new, shape, "a gradient hook's result")
            g = new.astype(dtype, copy=False)
    return g


def _check_grad_shape(grad: np.ndarray, shape: tuple, what: str) -> None:
    if grad.shape != shape:
        raise ValueError(
            f"{what} has shape {tuple(grad.shape)} but the tensor has shape "
            f"{tuple(shape)}; they must match"
        )


def _initial_grad(tensor: Tensor, gradient, what: str) -> np.ndarray:
    """The seed gradient for an output: ones for a scalar, else the given array."""
    from zengrad.autograd.tensor import Tensor

    if not tensor.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: "
            "nothing to differentiate (create the inputs with requires_grad=True)"
        )
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs; this tensor has "
                f"shape {tuple(tensor.array.shape)}: pass {what}= of that shape, "
                f"or reduce it first (e.g. .sum())"
            )
        a = tensor.array
        if type(a) is np.ndarray:
            return np.ones(a.shape, a.dtype)  # host; np.ones_like's Python layers cost ~1 us
        return backend.xp_of(a).ones_like(a)
    grad = (gradient.array if isinstance(gradient, Tensor)
            else backend.xp_of(tensor.array).asarray(gradient))
    _check_grad_shape(grad, tensor.array.shape, what)
    return grad.astype(tensor.array.dtype, copy=True)


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) * gradient into every leaf's .grad."""
    _run([(tensor, _initial_grad(tensor, gradient, "gradient"))], retain_graph, None)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """sum_k d(outputs[k])/d(inputs) * grad_outputs[k], returned instead of stored in .grad.

    As torch.autograd.grad; higher-order gradients (create_graph=True) are not supported.
    """
    from zengrad.autograd.tensor import Tensor

    if create_graph:
        raise NotImplementedError(
            "create_graph=True (differentiating a gradient again) is not supported: zengrad's "
            "backward passes run on arrays, not on recorded ops"
        )
    outputs = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif not isinstance(grad_outputs, (tuple, list)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one each"
        )
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad; nothing to differentiate")
    seeds = [
        (o, _initial_grad(o, go, f"grad_outputs[{k}]"))
        for k, (o, go) in enumerate(zip(outputs, grad_outputs))
    ]
    captured: dict[int, np.ndarray | None] = {id(t): None for t in inputs}
    _run(seeds, bool(retain_graph), captured, inputs)
    result = []
    for i, t in enumerate(inputs):
        g = captured[id(t)]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                "to get None for it"
            )
        result.append(None if g is None else Tensor._make(_copy(g), False, None))
    return tuple(result)


def _copy(g):
    """A gradient as an array of its own (NumPy scalars become 0-d arrays)."""
    return backend.xp_of(g).array(g, copy=True)


def _run(seeds: list, retain_graph: bool, captured: dict | None, inputs: tuple = ()) -> None:
    """The backward pass from (output, seed gradient) pairs.

    With `captured` (autograd.grad) the gradients of the given inputs are collected there and
    no leaf's .grad changes; otherwise leaves accumulate into .grad.
    """
    from zengrad.autograd.tensor import Tensor

    grads: dict[Function, np.ndarray] = {}
    for tensor, g in seeds:
        fn = tensor.grad_fn
        if fn is None:  # a leaf as an output: d leaf / d leaf = identity
            _deliver_leaf(tensor, g, True, captured)
        else:
            prev = grads.get(fn)
            grads[fn] = g if prev is None else prev + g
    if not grads:
        return
    # non-leaf inputs of autograd.grad: their gradient is the one that reaches their node
    wanted = {t.grad_fn: id(t) for t in inputs if t.grad_fn is not None} if inputs else None

    now, inplace = EPOCH[0], RECORDED[0] != 0
    # a leaf's first gradient goes straight into .grad here (no hooks, shape and dtype its
    # own, no autograd.grad): the common case, without three calls per leaf
    direct = captured is None
    for node in _topological_order(list(grads)):
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
        if node._epoch != now:  # something was written in place after this node
            check_saved(node)
        obs = node._retained
        if obs is not None:
            if obs.hooks:
                g = _run_hooks(obs.hooks, g, obs.shape, obs.dtype)
            if obs.retain and captured is None:
                retained = obs.ref()
                if retained is not None:  # else nobody can read its .grad any more
                    retained._grad = Tensor._make(_copy(g), False, None)
        if wanted and node in wanted:
            captured[wanted[node]] = g
        in_grads = node.backward(node, g)  # static: the node is its own ctx
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for parent, needed, pg in zip(node.parents, node.needs_input_grad, in_grads):
            if not needed or pg is None:
                continue
            if check_grad_dtypes and pg.dtype != parent.array.dtype:
                raise RuntimeError(
                    f"{node.name()} returned a {pg.dtype} gradient for a "
                    f"{parent.array.dtype} input"
                )
            fn = parent.grad_fn
            if inplace and fn is not None and fn._epoch != node._epoch:
                fn = producer(parent, fn, node)
            if fn is None:
                # a backward may hand its incoming gradient through unchanged (add, reshape
                # views): copy such arrays before a leaf owns them and users modify in place
                owned = pg is not g and pg.base is None
                a = parent.array
                if (direct and parent._grad is None and parent.requires_grad
                        and not getattr(parent, "_hooks", None) and pg.shape == a.shape
                        and (pg.dtype is a.dtype or pg.dtype == a.dtype)):
                    parent._grad = Tensor._make(pg if owned else pg.copy(), False, None)
                else:
                    _deliver_leaf(parent, pg, owned, captured)
            else:
                prev = grads.get(fn)
                grads[fn] = pg if prev is None else prev + pg
        if not retain_graph:
            node.release()


def _deliver_leaf(leaf: Tensor, g: np.ndarray, owned: bool, captured: dict | None) -> None:
    """A leaf's share of the gradient: through its hooks into .grad, or into `captured`."""
    if captured is not None:
        key = id(leaf)
        if key in captured:
            g = backend.xp_of(g).broadcast_to(g, leaf.array.shape).astype(leaf.array.dtype,
                                                                           copy=False)
            prev = captured[key]
            captured[key] = g if prev is None else prev + g
        return
    hooks = getattr(leaf, "_hooks", None)
    if hooks:
        g = _run_hooks(hooks, g, leaf.array.shape, leaf.array.dtype)
        owned = False
    _accumulate_leaf(leaf, g, owned)


def _accumulate_leaf(leaf: Tensor, g: np.ndarray, owned: bool) -> None:
    from zengrad.autograd.tensor import Tensor

    if not leaf.requires_grad:
        return
    if g.shape != leaf.array.shape:
        g = backend.xp_of(g).broadcast_to(g, leaf.array.shape)
        owned = False
    if g.dtype != leaf.array.dtype:
        g = g.astype(leaf.array.dtype)
        owned = True
    if leaf._grad is None:
        leaf._grad = Tensor._make(g if owned else g.copy(), False, None)
        return
    acc = leaf._grad.array
    if acc.shape != g.shape:  # .grad.array was replaced: += would broadcast or fail in NumPy
        raise RuntimeError(
            f"backward: can't accumulate a gradient of shape {tuple(g.shape)} into the "
            f".grad of shape {tuple(acc.shape)} that this tensor holds (was .grad.array "
            f"replaced?); set .grad = None first"
        )
    acc += g
