"""Tracing: run the model and record the ops that run, with their arguments.

While a trace is active, `Function.apply` (the one door every zengrad op goes through) is
wrapped: each call is recorded as a node (the op's class, its arguments with tensors replaced
by references to earlier values, and its output). Modules listed in the mapping table's
MODULES (layers whose ops can't express a dynamic axis, e.g. PositionalEncoding's slice of
its table) are recorded as one node, and the ops inside them are not.

The model runs three times (see symbolic.py): on the example inputs and on two copies
resized along the dynamic axes (rows taken round-robin, starting one row later, so the values
differ too). Merging the three records gives each value's shape and each int argument as a
constant or a size of the dynamic axes; an op sequence or a constant argument that changes
between the runs means the model's graph depends on its inputs in a way the trace can't
record, and export stops with an error that says where.

Functions that make tensors without an op (comparisons, argmax, max over a dim, the
attention-mask builders; the mapping table's FUNCTIONS) are wrapped too while a trace runs,
and recorded as one node each, as the modules are. A custom `autograd.Function` (one defined
outside zengrad) is recorded under "custom:<name>", or "symbolic" when it has a `symbolic`
staticmethod giving its ONNX form (custom.py); one of torch's protocol
(`zengrad.autograd.Function`, forward on Tensors) is traced through the ops its forward runs,
or recorded whole under "symbolic" when it has that staticmethod.

Tracing runs with grad mode on and every float input requiring grad: some ops (indexing)
skip the op layer for tensors outside the graph, and would not be seen otherwise.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zengrad.autograd.custom_function import Function as TensorFunction
from zengrad.autograd.engine import enable_grad
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.creation import from_numpy
from zengrad.onnx.errors import ExportError
from zengrad.onnx.symbolic import Dim, fit

# size increase of each dynamic axis (in order of appearance) in the second and third runs:
# not proportional to each other, so that N, L and N L tell apart
_GROWTH = ((3, 5, 7, 11, 13, 17), (1, 4, 2, 9, 3, 5))


@dataclass(frozen=True)
class Ref:
    """A traced value (an input or an op's output), by its number."""

    vid: int


@dataclass
class Const:
    """An array fixed at export time: a parameter or buffer (name = its state_dict key) or a
    constant the model made."""

    array: np.ndarray
    name: str | None = None


@dataclass
class Varying:
    """A constant that took other values in the other runs: computed from the inputs outside
    zengrad's ops (a NumPy expression, a comparison). Exporting it is an error, raised only if
    a mapping uses it, unless patterns.py recognizes it as a function of its shape (a causal
    mask that follows a dynamic sequence length)."""

    where: str
    array: np.ndarray
    arrays: list = field(default_factory=list)   # its value in each run
    shape: tuple | None = None                   # its dims fitted over the runs, if they fit


@dataclass
class Node:
    key: str                  # the mapping table's key (op class name without "Fn")
    label: str                # what errors call it ("zengrad.ops.linalg.LinearFn")
    args: tuple
    kwargs: dict
    out: int                  # the output's value number
    module: Any = None        # the module, for a module node; the class, for a custom op


@dataclass
class Trace:
    """The merged record: values 0..len(inputs)-1 are the inputs."""

    nodes: list[Node]
    outputs: list            # Ref | Const per flattened output
    shapes: dict[int, tuple[Dim, ...]]
    dtypes: dict[int, np.dtype]
    num_inputs: int
    axes: dict[str, tuple[int, int]]   # dynamic axis name -> (input number, axis)
    example_shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    envs: list = field(default_factory=list)   # the dynamic axes' sizes in each run


def op_key(cls: type) -> str:
    """The table key of an op class: its name without a trailing "Fn", so that a rename
    LinearFn <-> Linear keeps working. Classes defined outside zengrad are "symbolic" when
    they give their ONNX form (a `symbolic` staticmethod), else "custom:<qualified name>", so
    a user's class never takes the mapping of a zengrad op that has its name."""
    if not _is_zengrad(cls):
        if callable(getattr(cls, "symbolic", None)):
            return "symbolic"
        return f"custom:{cls.__qualname__}"
    name = cls.__name__
    return name[:-2] if name.endswith("Fn") and len(name) > 2 else name


def _is_zengrad(cls: type) -> bool:
    return cls.__module__ == "zengrad" or cls.__module__.startswith("zengrad.")


class _Run:
    """One forward's record."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names            # id(parameter / buffer array) -> state_dict key
        self.ids: dict[int, int] = {}  # id(Tensor) and id(its array) -> value number
        self.keep: list = []          # keeps recorded objects alive, so their ids stay theirs
        self.nodes: list[Node] = []
        self.shapes: list[tuple[int, ...]] = []
        self.dtypes: list[np.dtype] = []
        self.depth = 0
        self.thread = threading.get_ident()

    def add_value(self, t: Tensor | np.ndarray) -> int:
        """A new value: a Tensor, or an array a recorded function returned (a mask)."""
        vid = len(self.shapes)
        array = t.array if isinstance(t, Tensor) else t
        self.shapes.append(tuple(array.shape))
        self.dtypes.append(array.dtype)
        self.ids[id(t)] = self.ids[id(array)] = vid
        self.keep += [t, array]
        return vid

    def resolve(self, a):
        if isinstance(a, Tensor):
            if id(a) in self.ids:
                return Ref(self.ids[id(a)])
            if id(a.array) in self.ids:
                return Ref(self.ids[id(a.array)])
            if a.grad_fn is not None:
                raise ExportError(
                    f"a tensor of shape {tuple(a.shape)} made by {a.grad_fn!r} reached an op: "
                    "it was computed by something other than zengrad's ops (a custom "
                    "autograd.Function whose forward leaves them, e.g. through NumPy?), "
                    "which export can't trace; give that Function a `symbolic(g, *args)` "
                    "staticmethod with its ONNX form (docs/onnx.md)")
            return self._const(a.array)
        if isinstance(a, np.ndarray):
            if id(a) in self.ids:
                return Ref(self.ids[id(a)])
            return self._const(a)
        if isinstance(a, (tuple, list)):
            return type(a)(self.resolve(x) for x in a)
        if isinstance(a, dict):
            return {k: self.resolve(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(self.resolve(a.start), self.resolve(a.stop), self.resolve(a.step))
        if isinstance(a, np.generic):
            return a.item()
        return a

    def _const(self, array: np.ndarray) -> Const:
        self.keep.append(array)
        return Const(array, self.names.get(id(array)))

    def record(self, key: str, label: str, args, kwargs, out, module=None) -> None:
        if not isinstance(out, (Tensor, np.ndarray)):
            raise ExportError(f"{label} returned {type(out).__name__}, not a Tensor")
        rargs, rkwargs = self.resolve(tuple(args)), self.resolve(dict(kwargs))
        self.nodes.append(Node(key, label, rargs, rkwargs, self.add_value(out), module))


_ACTIVE: _Run | None = None
_LOCK = threading.Lock()


def _recording() -> _Run | None:
    run = _ACTIVE
    if run is None or run.depth or threading.get_ident() != run.thread:
        return None
    return run


def _owner(path):
    """The object a FUNCTIONS target names ("zengrad.ops", or the Tensor class), or None
    when it doesn't exist (a renamed private helper: its function is then not recorded)."""
    if not isinstance(path, str):
        return path
    if path == "Tensor":
        return Tensor
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def _function_targets(functions: dict[str, Any]) -> list[tuple[Any, str, str]]:
    """(owner, attribute, key) of every function to wrap; functions maps a key ("max") to
    its targets [(owner path, attribute name)]."""
    out = []
    for key, targets in functions.items():
        for path, attr in targets:
            owner = _owner(path)
            if owner is not None and callable(getattr(owner, attr, None)):
                out.append((owner, attr, key))
    return out


def _function_wrapper(original: Callable, key: str) -> Callable:
    label = f"{getattr(original, '__module__', '')}.{getattr(original, '__qualname__', key)}"

    def traced_function(*args, **kwargs):
        rec = _recording()
        if rec is None:
            return original(*args, **kwargs)
        rec.depth += 1
        try:
            out = original(*args, **kwargs)
        finally:
            rec.depth -= 1
        if out is None:
            return out
        if isinstance(out, (tuple, list)):  # max(x, dim): (values, indices), a node each
            for i, o in enumerate(out):
                rec.record(f"fn:{key}.{i}", f"{label}[{i}]", args, kwargs, o)
        else:
            rec.record(f"fn:{key}", label, args, kwargs, out)
        return out

    traced_function.__wrapped__ = original
    return traced_function


@contextlib.contextmanager
def _patched(run: _Run, modules: dict[str, Any], model,
             functions: dict[str, Any] | None = None) -> Iterator[None]:
    """Function.apply wrapped, the forward of each module in the table and the functions of
    FUNCTIONS, for one run."""
    global _ACTIVE
    original = Function.__dict__["apply"]

    def apply(cls, *args, **kwargs):
        out = original.__func__(cls, *args, **kwargs)
        rec = _recording()
        if rec is not None:
            key = op_key(cls)
            rec.record(key, f"{cls.__module__}.{cls.__qualname__}", args, kwargs, out,
                       cls if key == "symbolic" else None)
        return out

    public = TensorFunction.__dict__["apply"]

    def public_apply(cls, *args, **kwargs):
        # torch's protocol (forward on Tensors): its ops are traced as they run, unless the
        # class gives its ONNX form, which then stands for the whole call
        rec = _recording()
        if rec is None or not callable(getattr(cls, "symbolic", None)):
            return public.__func__(cls, *args, **kwargs)
        rec.depth += 1
        try:
            out = public.__func__(cls, *args, **kwargs)
        finally:
            rec.depth -= 1
        rec.record("symbolic", f"{cls.__module__}.{cls.__qualname__}", args, kwargs, out, cls)
        return out

    wrapped = []
    for m in model.modules():
        name = type(m).__name__
        if name in modules and "forward" not in m.__dict__:
            m.__dict__["forward"] = _module_forward(m, m.forward, f"module:{name}")
            wrapped.append(m)
    with _LOCK:
        _ACTIVE = run
        Function.apply = classmethod(apply)
        TensorFunction.apply = classmethod(public_apply)
        saved = []
        try:
            for owner, attr, key in _function_targets(functions or {}):
                # the attribute as stored (a class's staticmethod stays one when put back)
                raw = (owner.__dict__.get(attr) if isinstance(owner, type) else None)
                saved.append((owner, attr, raw, getattr(owner, attr)))
                setattr(owner, attr, _function_wrapper(getattr(owner, attr), key))
            yield
        finally:
            for owner, attr, raw, value in reversed(saved):
                setattr(owner, attr, raw if raw is not None else value)
            Function.apply = original
            TensorFunction.apply = public
            _ACTIVE = None
            for m in wrapped:
                del m.__dict__["forward"]


def _module_forward(module, forward: Callable, key: str) -> Callable:
    def traced_forward(*args, **kwargs):
        rec = _recording()
        if rec is None:
            return forward(*args, **kwargs)
        rec.depth += 1
        try:
            out = forward(*args, **kwargs)
        finally:
            rec.depth -= 1
        rec.record(key, f"{type(module).__module__}.{type(module).__qualname__}", args, kwargs,
                   out, module)
        return out

    return traced_forward


def _flatten(out, where: str = "output") -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for i, o in enumerate(out) for t in _flatten(o, f"{where}[{i}]")]
    if isinstance(out, dict):
        return [t for k, o in out.items() for t in _flatten(o, f"{where}[{k!r}]")]
    if out is None:
        return []
    raise ExportError(f"the model's {where} is a {type(out).__name__}; export takes Tensors "
                      "and tuples, lists or dicts of them")


def _resized(x: np.ndarray, axes: dict[int, int], shift: int) -> np.ndarray:
    """x with each axis in `axes` taken round-robin to the new size, starting at row shift."""
    for axis, size in axes.items():
        idx = (np.arange(size) + shift) % x.shape[axis]
        x = np.take(x, idx, axis=axis)
    return x


def trace(model, inputs: list[Tensor], dynamic: list[dict[int, str]],
          modules: dict[str, Any], kwargs: dict | None = None,
          functions: dict[str, Any] | None = None) -> Trace:
    """Run model(*inputs, **kwargs) three times (module docstring) and merge the records.

    dynamic[i] = {axis: name} for input i; functions: the table's FUNCTIONS (key ->
    [(owner, attribute)])."""
    names: dict[int, str] = {}
    for n, t in list(model.named_parameters()) + list(model.named_buffers()):
        names.setdefault(id(t.array), n)
    order: list[str] = []
    sizes: dict[str, int] = {}
    axes: dict[str, tuple[int, int]] = {}
    for i, (x, dyn) in enumerate(zip(inputs, dynamic)):
        for axis, name in dyn.items():
            if not -x.ndim <= axis < x.ndim:
                raise ExportError(f"dynamic_axes: input {i} has {x.ndim} dims, no axis {axis}")
            size = x.shape[axis]
            if name in sizes and sizes[name] != size:
                raise ExportError(f"dynamic_axes: axis {name!r} is {sizes[name]} in one input "
                                  f"and {size} in input {i}; an axis name is one size")
            if name not in sizes:
                order.append(name)
                sizes[name], axes[name] = size, (i, axis % x.ndim)
    envs = [dict(sizes)]
    for growth in _GROWTH:
        envs.append({n: sizes[n] + growth[j % len(growth)] for j, n in enumerate(order)})

    runs = []
    for r, env in enumerate(envs):
        arrays = []
        for x, dyn in zip(inputs, dynamic):
            a = x.array
            if r:
                grow = {axis % a.ndim: env[n] for axis, n in dyn.items()}
                if not grow and a.ndim and a.shape[0] > 1:
                    grow = {0: a.shape[0]}
                a = _resized(a, grow, r)
            arrays.append(np.array(a, copy=True))
        runs.append(_run_once(model, arrays, names, modules, kwargs or {}, functions))
    return _merge(runs, envs, len(inputs), axes)


def _run_once(model, arrays: list[np.ndarray], names, modules, kwargs, functions=None):
    run = _Run(names)
    tensors = []
    for a in arrays:
        t = from_numpy(a)
        if a.dtype.kind == "f":
            t.requires_grad_(True)
        run.add_value(t)
        tensors.append(t)
    with _patched(run, modules, model, functions), enable_grad():
        out = model(*tensors, **kwargs)
    outputs = [run.resolve(t) for t in _flatten(out)]
    if not outputs:
        raise ExportError("the model returned no tensor")
    return run, outputs


def _merge(runs, envs, num_inputs: int, axes) -> Trace:
    (first, outs), others = runs[0], runs[1:]
    for run, _ in others:
        if [n.key for n in run.nodes] != [n.key for n in first.nodes]:
            i = next((k for k, (a, b) in enumerate(zip(first.nodes, run.nodes))
                      if a.key != b.key), min(len(first.nodes), len(run.nodes)))
            seen = first.nodes[i].label if i < len(first.nodes) else "the end"
            raise ExportError(
                f"the model ran other ops on inputs resized along the dynamic axes (op {i}: "
                f"{seen} on the example inputs): its control flow depends on the input size "
                "or values, which a trace can't record; export with fixed sizes (no "
                "dynamic_axes) or make the forward size-independent")
    shapes, dtypes = {}, {}
    for vid in range(len(first.shapes)):
        dims = []
        for d in range(len(first.shapes[vid])):
            vals = [run.shapes[vid][d] if len(run.shapes[vid]) > d else -1 for run, _ in runs]
            dim = fit(vals, envs)
            if dim is None:
                raise ExportError(_shape_error(first, vid, d, vals, envs))
            dims.append(dim)
        shapes[vid] = tuple(dims)
        dtypes[vid] = first.dtypes[vid]
    nodes = []
    for k, node in enumerate(first.nodes):
        where = f"{node.label} (op {k})"
        args = _merge_value([node.args] + [r.nodes[k].args for r, _ in others], envs, where)
        kwargs = _merge_value([node.kwargs] + [r.nodes[k].kwargs for r, _ in others], envs,
                              where)
        nodes.append(Node(node.key, node.label, args, kwargs, node.out, node.module))
    outputs = _merge_value([outs] + [o for _, o in others], envs, "the model's outputs")
    return Trace(nodes, outputs, shapes, dtypes, num_inputs, axes,
                 {v: first.shapes[v] for v in range(num_inputs)}, envs)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    # equal_nan only for the dtypes that can hold NaN (NumPy refuses it for bool, str)
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _shape_error(run: _Run, vid: int, d: int, vals, envs) -> str:
    maker = next((n.label for n in run.nodes if n.out == vid), "an input")
    sizes = ", ".join(f"{v} when {env}" for v, env in zip(vals, envs))
    return (f"dim {d} of the output of {maker} is {sizes}: not c * (axis sizes) + k of the "
            "dynamic axes, so it can't be exported with those axes dynamic")


def _merge_value(vals: list, envs, where: str):
    a = vals[0]
    if any(type(v) is not type(a) for v in vals[1:]):
        raise ExportError(f"{where}: an argument is a {type(a).__name__} on the example "
                          f"inputs and a {type(vals[1]).__name__} on resized ones")
    if isinstance(a, Ref):
        if any(v != a for v in vals):
            raise ExportError(f"{where}: its inputs come from other ops on resized inputs")
        return a
    if isinstance(a, (Const, Varying)):
        if isinstance(a, Const) and a.name is not None and all(v.name == a.name for v in vals):
            return a
        same = all(v.array.shape == a.array.shape and v.array.dtype == a.array.dtype
                   and _equal(v.array, a.array) for v in vals)
        if same:
            return a
        arrays = [v.array for v in vals]
        shape = None
        if all(x.ndim == a.array.ndim for x in arrays):
            dims = [fit([x.shape[d] for x in arrays], envs) for d in range(a.array.ndim)]
            shape = None if any(d is None for d in dims) else tuple(dims)
        return Varying(where, a.array, arrays, shape)
    if isinstance(a, bool) or a is None or isinstance(a, (str, type(Ellipsis), np.dtype)):
        if any(v != a for v in vals):
            raise ExportError(f"{where}: an argument is {a!r} on the example inputs and "
                              f"{vals[1]!r} on resized ones")
        return a
    if isinstance(a, int):
        dim = fit(list(vals), envs)
        if dim is None:
            raise ExportError(f"{where}: an int argument is {list(vals)} over runs with the "
                              f"dynamic axes at {envs}: not c * (axis sizes) + k")
        return dim
    if isinstance(a, float):
        if any(not (v == a or (v != v and a != a)) for v in vals):
            raise ExportError(f"{where}: a float argument is {a!r} on the example inputs and "
                              f"{vals[1]!r} on resized ones")
        return a
    if isinstance(a, slice):
        parts = [_merge_value([getattr(v, f) for v in vals], envs, where)
                 for f in ("start", "stop", "step")]
        return slice(*parts)
    if isinstance(a, (tuple, list)):
        if any(len(v) != len(a) for v in vals):
            raise ExportError(f"{where}: an argument has {len(a)} entries on the example "
                              f"inputs and {len(vals[1])} on resized ones")
        return type(a)(_merge_value(list(items), envs, where) for items in zip(*vals))
    if isinstance(a, dict):
        if any(v.keys() != a.keys() for v in vals):
            raise ExportError(f"{where}: keyword arguments differ between runs")
        return {k: _merge_value([v[k] for v in vals], envs, where) for k in a}
    if any(v != a for v in vals):
        raise ExportError(f"{where}: an argument ({type(a).__name__}) differs between runs")
    return a
