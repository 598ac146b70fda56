"""Whole modules without pickle: a JSON record of the module tree, and the allow-list of the
classes that loading may rebuild from it.

A record holds, for each module, its class (as "module.QualName"), the arguments its
constructor was called with (kept by Module at construction: see nn.module._recording_init),
its training flag and its children:

  {"class": "__main__.Net", "args": [...], "kwargs": {...}, "training": true,
   "attrs": {"class_names": ["cat", "dog"]},
   "children": {"conv1": {...}, "head": null, "tied": {"same_as": "conv1"}}}

attrs holds the public plain attributes whose values are JSON-able (set on load where the
constructor made them otherwise); other attributes are whatever the constructor makes.

Arguments are JSON scalars, lists, {"__tuple__": [...]}, {"__dtype__": "float32"},
{"__dict__": [[str key, value], ...]}, {"__submodule__": "dotted.path"} (a module passed to
the constructor, which is one of the module's own submodules) and {"__record__": record} (a
module passed to the constructor and not kept, e.g. the layer TransformerEncoder copies).
The containers (Sequential, ModuleList, ModuleDict) are recorded without arguments and rebuilt
from their children.

Rebuilding never imports a module and never looks a name up in one: a class name is found
only among zengrad's own layers (zengrad.nn, zengrad.models) and the classes the allow-list
names (safe_globals / add_safe_globals); then its constructor is called with the recorded
arguments, and the children the constructor made are checked against the record: one of
another class or built with other arguments (a head replaced after construction) is rebuilt
from the record, a missing one is added, an extra one removed.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import threading
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from zengrad.io.checkpoint import CheckpointError

MAX_DEPTH = 100  # nesting of modules and of arguments; real models use < 20

_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
           "float64")


class UnsafeGlobalError(CheckpointError):
    """A saved module names a class that loading may not build (not one of zengrad's layers,
    not on the allow-list, or not a Module at all)."""


# ----- the allow-list ---------------------------------------------------------------------

_added: dict[str, type] = {}  # add_safe_globals: for the whole process
_local = threading.local()  # safe_globals: a stack of lists, per thread


def qualified_name(cls: type) -> str:
    """"module.QualName" of a class, as a record names it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _entries(globs: Iterable) -> list[type]:
    if isinstance(globs, (str, bytes)) or not isinstance(globs, Iterable):
        raise TypeError(f"safe_globals expects a list of classes, got {type(globs).__name__}")
    out = []
    for g in globs:
        if isinstance(g, tuple) and len(g) == 2 and isinstance(g[1], str):
            g = g[0]  # torch's (class, "name") form: the class is what counts here
        if not (isinstance(g, type) or _is_named_function(g)):
            raise TypeError(f"safe_globals: {g!r} is not a class or a function; list the "
                            "Module classes (and functions passed to their constructors) a "
                            "loaded file may rebuild")
        out.append(g)
    return out


def _is_named_function(value: Any) -> bool:
    """A function defined at the top level of a module (so a record can name it)."""
    return (isinstance(value, (types.FunctionType, types.BuiltinFunctionType))
            and "<" not in getattr(value, "__qualname__", "<")
            and isinstance(getattr(value, "__module__", None), str))


def _builtin_functions() -> dict[str, Any]:
    """zengrad.nn.functional's public functions (F.relu, F.gelu ...), by qualified name:
    the functions a saved module's constructor arguments may name without an allow-list."""
    from zengrad.nn import functional

    out = {}
    for name in dir(functional):
        fn = getattr(functional, name)
        if not name.startswith("_") and _is_named_function(fn):
            out[qualified_name(fn)] = fn
    return out


def add_safe_globals(safe_globals: Iterable) -> None:
    """Allow zengrad.load to rebuild these Module classes, from now on (torch's
    torch.serialization.add_safe_globals)."""
    for cls in _entries(safe_globals):
        _added[qualified_name(cls)] = cls


def get_safe_globals() -> list[type]:
    """The classes allowed by add_safe_globals and the active safe_globals blocks."""
    stack = getattr(_local, "stack", [])
    return [*_added.values(), *(c for frame in stack for c in frame)]


def clear_safe_globals() -> None:
    """Forget the classes add_safe_globals allowed."""
    _added.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: Iterable) -> Iterator[None]:
    """with safe_globals([Net, ...]): zengrad.load may rebuild these Module classes inside
    the block (torch's torch.serialization.safe_globals)."""
    frame = _entries(safe_globals)
    stack = _local.__dict__.setdefault("stack", [])
    stack.append(frame)
    try:
        yield
    finally:
        stack.remove(frame)


def _builtin_classes() -> dict[str, type]:
    """zengrad's own layers and models, by qualified name (fixed modules of this package are
    imported, never one named by a file)."""
    import zengrad.models  # noqa: F401 - so its classes are among Module's subclasses
    from zengrad.nn.module import Module

    out: dict[str, type] = {}
    todo = [Module]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        mod = cls.__module__
        if mod in ("zengrad.nn", "zengrad.models") or mod.startswith(("zengrad.nn.",
                                                                       "zengrad.models.")):
            out[qualified_name(cls)] = cls
    return out


def _allowed_class(name: Any, path, where: str) -> type:
    from zengrad.nn.module import Module

    if not isinstance(name, str):
        raise CheckpointError(f"{path}: the module record at {where!r} has a bad class name "
                              f"{name!r:.80} (must be a string)")
    allowed = {qualified_name(c): c for c in get_safe_globals()}
    cls = allowed.get(name) or _builtin_classes().get(name)
    if cls is None:
        short = name.rpartition(".")[2]
        raise UnsafeGlobalError(
            f"{path}: {name:.200} is not allowed: use "
            f"zengrad.serialization.safe_globals([{short:.100}]) around zengrad.load, or "
            f"zengrad.serialization.add_safe_globals([{short:.100}]), if you trust the file "
            f"(it is the module at {where!r})"
        )
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise UnsafeGlobalError(f"{path}: {name:.200} (at {where!r}) is not a Module "
                                "subclass; only modules are rebuilt from a saved module tree")
    return cls


# ----- recording --------------------------------------------------------------------------

def _containers() -> tuple[type, ...]:
    from zengrad.nn.containers import ModuleDict, ModuleList, Sequential

    return (Sequential, ModuleList, ModuleDict)


def _arg_names(owner: type, args: tuple, kwargs: dict) -> tuple[list[str], dict[str, str]]:
    """Names of the positional and keyword arguments (for error messages)."""
    names = [f"argument {i}" for i in range(len(args))]
    with contextlib.suppress(TypeError, ValueError):
        bound = inspect.signature(owner.__init__).bind(None, *args, **kwargs)
        params = list(bound.signature.parameters.values())[1:]
        pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        for i in range(min(len(args), len(pos))):
            names[i] = f"argument {pos[i].name!r}"
    return names, {k: f"argument {k!r}" for k in kwargs}


def _submodule_path(module, value) -> str | None:
    for name, sub in module.named_modules():
        if sub is value and name:
            return name
    return None


def _encode_arg(value: Any, module, what: str, depth: int = 0) -> Any:
    from zengrad.nn.module import Module

    if depth > MAX_DEPTH:
        raise TypeError(f"zengrad.save: {what} is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, list):
        return [_encode_arg(v, module, what, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_arg(v, module, what, depth + 1) for v in value]}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        name = np.dtype(value).name
        if name in _DTYPES:
            return {"__dtype__": name}
    if _is_named_function(value) and module is not None:
        return {"__function__": qualified_name(value)}
    if isinstance(value, Module) and module is not None:
        sub = _submodule_path(module, value)
        if sub is None:  # a template the constructor copied (TransformerEncoder's layer)
            return {"__record__": module_record(value)}
        return {"__submodule__": sub}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": [[k, _encode_arg(v, module, what, depth + 1)]
                             for k, v in value.items()]}
    raise TypeError(f"zengrad.save: {what} is a {type(value).__name__} ({value!r:.60}); "
                    "a whole module is saved with its constructor arguments, which must be "
                    "numbers, strings, bools, None, dtypes, submodules, or lists, tuples and "
                    "dicts of those (save its state_dict() instead)")


def _parameter_containers() -> tuple[type, ...]:
    from zengrad.nn.containers import ParameterDict, ParameterList

    return (ParameterList, ParameterDict)


def _parameter_spec(param, where: str) -> dict:
    name = param.array.dtype.name
    if name not in _DTYPES:
        raise TypeError(f"zengrad.save: the parameter {where!r} has dtype {name}, which a "
                        "saved module tree can't hold (save its state_dict() instead)")
    return {"__parameter__": {"shape": list(param.array.shape), "dtype": name,
                              "requires_grad": bool(param.requires_grad)}}


def _parameter_specs(module) -> Any:
    """A ParameterList/ParameterDict's argument as it stands now (items appended after
    construction included): the shape, dtype and requires_grad of each parameter; the values
    come from the file's weights."""
    from zengrad.nn.containers import ParameterList

    if isinstance(module, ParameterList):
        return [_parameter_spec(p, str(i)) for i, p in enumerate(module)]
    return {"__dict__": [[k, _parameter_spec(p, k)] for k, p in module.items()]}


def _constructor_args(module) -> tuple[list, dict]:
    from zengrad.nn.module import Module

    record = module.__dict__.get("_init_record")
    cls = type(module)
    if record is None and cls.__init__ is Module.__init__:
        return [], {}  # (Tanh, ReLU ...: Module's own __init__, which takes nothing)
    if record is None:
        raise TypeError(f"zengrad.save: this {qualified_name(cls)} was not built by calling "
                        "its constructor, so zengrad can't rebuild it (save its state_dict())")
    owner, args, kwargs = record
    if owner in _containers():
        return [], {}
    if isinstance(module, _parameter_containers()):
        return [_parameter_specs(module)], {}
    names, kwnames = _arg_names(owner, args, kwargs)
    label = f"of {qualified_name(cls)}"
    return ([_encode_arg(a, module, f"{n} {label}") for a, n in zip(args, names)],
            {k: _encode_arg(v, module, f"{kwnames[k]} {label}") for k, v in kwargs.items()})


def _check_rebuildable(cls: type) -> None:
    if "<locals>" in cls.__qualname__:
        raise TypeError(f"zengrad.save: {qualified_name(cls)} is defined inside a function; "
                        "define it at the top level of a module so that a loading program "
                        "can name it in safe_globals")


def module_record(module, memo: dict[int, str] | None = None, where: str = "") -> dict:
    """The JSON record of module's tree (see the module docstring). A constructor argument
    that can't be written raises TypeError naming the module and the argument."""
    if memo is None:
        memo = {}
    memo[id(module)] = where
    _check_rebuildable(type(module))
    hooks = [n for n, v in module.__dict__.items()
             if n.startswith("_") and n.endswith("hooks") and isinstance(v, dict) and v]
    if hooks:
        raise TypeError(f"zengrad.save: the module at {where or '<root>'!r} "
                        f"({qualified_name(type(module))}) has hooks registered ({hooks}), "
                        "which can't be stored as data; remove them before saving, or save "
                        "its state_dict()")
    args, kwargs = _constructor_args(module)
    children: dict[str, Any] = {}
    for name, child in module._modules.items():
        sub = f"{where}.{name}" if where else name
        if child is None:
            children[name] = None
        elif id(child) in memo:
            children[name] = {"same_as": memo[id(child)]}
        else:
            children[name] = module_record(child, memo, sub)
    return {"class": qualified_name(type(module)), "args": args, "kwargs": kwargs,
            "training": bool(module.training), "attrs": _plain_attrs(module),
            "children": children}


def _plain_attrs(module) -> dict[str, Any]:
    """The public plain attributes (not parameters, buffers or children) whose values are
    JSON-able: loading sets those the constructor made otherwise (model.drop.p = 0.1, a
    class_names list set after construction). Other values are left to the constructor."""
    registered = module._parameters.keys() | module._buffers.keys() | module._modules.keys()
    out = {}
    for name, value in module.__dict__.items():
        if name.startswith("_") or name == "training" or name in registered:
            continue
        try:
            out[name] = _encode_arg(value, None, name)
        except TypeError:
            continue
    return out


# ----- rebuilding -------------------------------------------------------------------------

_MISSING = object()
_RECORD_KEYS = {"class", "args", "kwargs", "training", "attrs", "children"}


class _Builder:
    """Rebuilds one record tree; memo maps a dotted path to the module built for it."""

    def __init__(self, path) -> None:
        self.path = path
        self.memo: dict[str, Any] = {}

    def fail(self, where: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: damaged module record at {where or '<root>'!r}: "
                               f"{problem}")

    def check(self, rec: Any, where: str) -> dict:
        if not isinstance(rec, dict) or set(rec) != _RECORD_KEYS:
            keys = sorted(rec) if isinstance(rec, dict) else type(rec).__name__
            raise self.fail(where, f"expected an object with the keys {sorted(_RECORD_KEYS)}, "
                                   f"got {keys!r:.120}")
        if not isinstance(rec["args"], list) or not isinstance(rec["kwargs"], dict):
            raise self.fail(where, "args must be a list and kwargs an object")
        if not isinstance(rec["children"], dict) or not isinstance(rec["training"], bool):
            raise self.fail(where, "children must be an object and training a bool")
        if not isinstance(rec["attrs"], dict):
            raise self.fail(where, "attrs must be an object")
        return rec

    def child_record(self, rec: dict, dotted: str, where: str) -> tuple[dict, str]:
        for part in dotted.split("."):
            child = rec["children"].get(part) if part else None
            if not isinstance(child, dict) or "same_as" in child:
                raise self.fail(where, f"a __submodule__ argument names {dotted!r:.100}, "
                                       "which is not among the recorded submodules")
            where = f"{where}.{part}" if where else part
            rec = self.check(child, where)
        return rec, where

    def arg(self, value: Any, rec: dict | None, where: str, depth: int = 0) -> Any:
        """A decoded argument; rec None: a plain value (no modules)."""
        if depth > MAX_DEPTH:
            raise self.fail(where, "the constructor arguments are nested too deeply")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.arg(v, rec, where, depth + 1) for v in value]
        if not (isinstance(value, dict) and len(value) == 1):
            raise self.fail(where, f"bad constructor argument {value!r:.100}")
        (marker, inner), = value.items()
        if marker == "__tuple__" and isinstance(inner, list):
            return tuple(self.arg(v, rec, where, depth + 1) for v in inner)
        if marker == "__dtype__" and inner in _DTYPES:
            return np.dtype(inner)
        if marker == "__dict__" and isinstance(inner, list) and all(
                isinstance(i, list) and len(i) == 2 and isinstance(i[0], str) for i in inner):
            return {k: self.arg(v, rec, where, depth + 1) for k, v in inner}
        if rec is None:
            raise self.fail(where, f"bad attribute value {value!r:.100}")
        if marker == "__parameter__":
            return self.parameter(inner, where)
        if marker == "__function__" and isinstance(inner, str):
            return self.function(inner, where)
        if marker == "__record__":
            return self.build(inner, f"{where}<argument>", depth + 1)
        if marker == "__submodule__" and isinstance(inner, str):
            sub, sub_where = self.child_record(rec, inner, where)
            if sub_where not in self.memo:
                self.memo[sub_where] = self.build(sub, sub_where, depth + 1)
            return self.memo[sub_where]
        raise self.fail(where, f"bad constructor argument {value!r:.100}")

    def function(self, name: str, where: str) -> Any:
        """A function a constructor was given: one of zengrad.nn.functional's or one the
        allow-list names (never looked up in a module the file names)."""
        allowed = {qualified_name(g): g for g in get_safe_globals() if _is_named_function(g)}
        fn = allowed.get(name) or _builtin_functions().get(name)
        if fn is None:
            short = name.rpartition(".")[2]
            raise UnsafeGlobalError(
                f"{self.path}: the function {name:.200} (an argument of the module at "
                f"{where or '<root>'!r}) is not allowed: use zengrad.serialization."
                f"safe_globals([{short:.100}]) around zengrad.load if you trust the file")
        return fn

    def parameter(self, spec: Any, where: str) -> Any:
        """A zero Parameter of the recorded shape and dtype (load_state_dict fills it)."""
        from zengrad.nn.parameter import Parameter

        if not (isinstance(spec, dict) and set(spec) == {"shape", "dtype", "requires_grad"}
                and isinstance(spec["shape"], list) and spec["dtype"] in _DTYPES
                and isinstance(spec["requires_grad"], bool)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                        for n in spec["shape"])):
            raise self.fail(where, f"bad parameter record {spec!r:.100}")
        dtype = np.dtype(spec["dtype"])
        requires_grad = spec["requires_grad"] and dtype.kind == "f"
        return Parameter(np.zeros(spec["shape"], dtype), requires_grad=requires_grad)

    def build(self, rec: Any, where: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(where, f"modules are nested more than {MAX_DEPTH} levels deep")
        rec = self.check(rec, where)
        cls = _allowed_class(rec["class"], self.path, where or "<root>")
        args = [self.arg(a, rec, where) for a in rec["args"]]
        kwargs = {k: self.arg(v, rec, where) for k, v in rec["kwargs"].items()}
        try:
            module = cls(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - say which module of which file failed
            shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            raise CheckpointError(f"{self.path}: can't rebuild the module at "
                                  f"{where or '<root>'!r}: {rec['class']}({shown:.200}) "
                                  f"raised {type(e).__name__}: {e}") from e
        self.memo[where] = module
        self.reconcile(module, rec, where, depth)
        return module

    def same_construction(self, module, rec: dict) -> bool:
        if qualified_name(type(module)) != rec["class"]:
            return False
        try:
            args, kwargs = _constructor_args(module)
        except TypeError:
            return False
        return args == rec["args"] and kwargs == rec["kwargs"]

    def reconcile(self, module, rec: dict, where: str, depth: int) -> None:
        """Make module's children those of the record (see the module docstring)."""
        children: Mapping = rec["children"]
        for name, crec in children.items():
            sub = f"{where}.{name}" if where else name
            have = module._modules.get(name)
            if crec is None:
                want = None
            elif isinstance(crec, dict) and set(crec) == {"same_as"}:
                want = self.memo.get(crec["same_as"]) if isinstance(crec["same_as"], str) else None
                if want is None:
                    raise self.fail(sub, f"same_as names {crec['same_as']!r:.100}, which is not "
                                         "a module recorded before it")
            elif sub in self.memo:
                want = self.memo[sub]
            elif have is not None and self.same_construction(have, self.check(crec, sub)):
                self.memo[sub] = want = have
                self.reconcile(have, crec, sub, depth + 1)
            else:
                want = self.build(crec, sub, depth + 1)
            if want is not have or name not in module._modules:
                if name in module._modules:
                    setattr(module, name, want)
                else:
                    module.register_module(name, want)
        for name in [n for n in module._modules if n not in children]:
            delattr(module, name)
        if list(module._modules) != list(children):
            for name in children:
                module._modules.move_to_end(name)
        module.__dict__["training"] = rec["training"]
        self.set_attrs(module, rec["attrs"], where)

    def set_attrs(self, module, attrs: dict, where: str) -> None:
        registered = module._parameters.keys() | module._buffers.keys() | module._modules.keys()
        for name, encoded in attrs.items():
            if not (name.isidentifier() and not name.startswith("_") and name != "training"
                    and name not in registered):
                raise self.fail(where, f"attrs may not set {name!r:.100}")
            static = inspect.getattr_static(type(module), name, None)
            if hasattr(static, "__set__") or inspect.isfunction(static):
                raise self.fail(where, f"attrs may not set {name!r:.100}, which is a method "
                                       f"or property of {type(module).__name__}")
            value = self.arg(encoded, None, where)
            have = module.__dict__.get(name, _MISSING)
            try:
                same = have is not _MISSING and _encode_arg(have, None, name) == encoded
            except TypeError:
                same = False
            if not same:
                setattr(module, name, value)


# A record asks for memory through its constructor arguments (Linear(100000, 100000) is
# 10**10 weights) before any weight is compared with the file: the sizes the arguments
# suggest are capped by what the file holds. A layer's weights are at least about the
# product of its three largest integer arguments for Linear, Conv, Embedding, RNN and
# attention layers; the factor leaves room for non-persistent buffers (positional encodings)
# and layers whose arguments overstate their size, the floor for tiny models.
MEMORY_FACTOR = 64
MEMORY_FLOOR = 2**22


def _ints(value: Any, out: list[int], depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 2:
            out.append(abs(value))
    elif isinstance(value, list):
        for v in value:
            _ints(v, out, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _ints(v, out, depth + 1)


def _parameter_elements(value: Any, out: list[int], depth: int = 0) -> None:
    """The element counts of the __parameter__ records in value."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        spec = value.get("__parameter__")
        if isinstance(spec, dict) and isinstance(spec.get("shape"), list):
            out.append(math.prod(n for n in spec["shape"] if isinstance(n, int)))
            return
        for v in value.values():
            _parameter_elements(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _parameter_elements(v, out, depth + 1)


def _requested(rec: Any, depth: int = 0) -> tuple[int, str]:
    """(elements the record's constructor arguments suggest, over the whole tree; the class
    asking most)."""
    if not isinstance(rec, dict) or depth > MAX_DEPTH:
        return 0, ""
    ints: list[int] = []
    specs: list[int] = []
    _parameter_elements(rec.get("args"), specs)
    _ints([rec.get("args"), rec.get("kwargs")], ints)
    top = sorted(ints)[-3:]
    own = top[0] * top[1] * top[2] if len(top) == 3 else (
        top[0] * top[1] if len(top) == 2 else sum(top))
    if specs:  # a ParameterList/Dict says exactly what it holds
        own = sum(specs)
    total, worst, worst_n = own, str(rec.get("class"))[:200], own
    children = rec.get("children")
    for child in (children.values() if isinstance(children, dict) else ()):
        n, name = _requested(child, depth + 1)
        total += n
        if n > worst_n:
            worst, worst_n = name, n
    return total, worst


def rebuild_module(record: Any, path, file_elements: int | None = None) -> Any:
    """The module a record describes, with the weights its constructor made (load them
    next). Classes outside zengrad's layers and the allow-list raise UnsafeGlobalError; a
    damaged record, a constructor that fails, or constructor arguments asking for far more
    memory than the file's file_elements tensor elements (see MEMORY_FACTOR) raise
    CheckpointError naming the file."""
    try:
        if file_elements is not None:
            asked, worst = _requested(record)
            limit = MEMORY_FACTOR * file_elements + MEMORY_FLOOR
            if asked > limit:
                raise CheckpointError(
                    f"{path}: the module record's constructor arguments ask for about "
                    f"{asked:,} tensor elements (most of them {worst}) while the file holds "
                    f"{file_elements:,}; refused so that a small file can't exhaust memory")
        return _Builder(path).build(record, "")
    except RecursionError:
        raise CheckpointError(f"{path}: the module record is nested too deeply") from None
