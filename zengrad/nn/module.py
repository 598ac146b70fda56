"""Module: the base class of every layer; registers parameters, buffers and sub-modules.

Assigning a Parameter, a Module, or (to a registered buffer name) a Tensor as an attribute
registers it, so `parameters()`, `state_dict()`, `train()`/`eval()` and `to()` reach it.
Registered objects are kept both in the registries (`_parameters`, `_buffers`, `_modules`)
and as plain instance attributes, so `self.weight` in `forward` is an ordinary (fast)
attribute lookup; change them through attribute assignment or the `register_*` methods,
not by editing the registries directly.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import is_grad_enabled
from zengrad.autograd.tensor import Tensor, zero_grads
from zengrad.nn import placement
from zengrad.nn.hooks import BackwardHook
from zengrad.nn.parameter import Parameter


class _IncompatibleKeys(NamedTuple):
    """What load_state_dict(strict=False) could not match, by name."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """Returned by the register_*_hook methods; `handle.remove()` unregisters the hook (and
    forgets it in `extra`, the with_kwargs sets). Also a context manager that removes it."""

    _next_id = 0

    def __init__(self, hooks: dict, extra: set | None = None) -> None:
        self.hooks = hooks
        self.extra = extra
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)
        if self.extra is not None:
            self.extra.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


_MIXED_BACKWARD_HOOKS = ("Cannot use both regular backward hooks and full backward hooks on a "
                         "single Module. Please use only one of them.")


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (for nested reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{what} name can\'t contain ".", got {name!r}')


def _as_array(value: Any, target: np.ndarray) -> tuple[np.ndarray | None, str]:
    """(array, "") for a state_dict value (zengrad Tensor, NumPy array, or array-like) that
    can be copied into target, else (None, the problem). Only booleans and real or integer
    numbers are accepted: strings and objects are refused rather than parsed as numbers,
    and complex values can't go into a real target (the imaginary part would be lost)."""
    if isinstance(value, Tensor):
        arr = value.array
        if not isinstance(arr, np.ndarray):  # on a device: its values, checked as any other
            arr = backend.asnumpy(arr)
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)  # host: a state_dict value given as a list or number
        except Exception as e:  # noqa: BLE001 - report which key could not be read
            return None, (f"a {type(value).__name__}, which can't be converted to an "
                          f"array ({e})")
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biufc":
        kind = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
        return None, (f"got dtype {kind} ({type(value).__name__}); expected a zengrad "
                      "Tensor or NumPy array of numbers or booleans")
    if arr.dtype.kind == "c" and target.dtype.kind != "c":
        return None, (f"complex values ({arr.dtype}) can't go into a {target.dtype} "
                      "tensor (the imaginary part would be lost)")
    return arr, ""


def _recording_init(owner: type, init: Callable) -> Callable:
    """init wrapped to keep, on the instance, the arguments of its outermost constructor call
    (Net(3, hidden=8) records Net, (3,), {'hidden': 8}; the super().__init__ calls inside it
    don't overwrite that): zengrad.save(model, f) writes them so that zengrad.load can rebuild
    the module by calling its constructor again. Only references are kept (lists and dicts
    shallow-copied, so later edits don't change the record); the JSON check runs at save."""

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        d = self.__dict__
        if "_init_record" not in d:
            d["_init_record"] = (owner, tuple(_shallow(a) for a in args),
                                 {k: _shallow(v) for k, v in kwargs.items()})
        init(self, *args, **kwargs)

    return __init__


def _shallow(value: Any) -> Any:
    return list(value) if type(value) is list else dict(value) if type(value) is dict else value


class Module:
    """Base class of layers and models: subclasses set attributes in __init__ and define
    forward(); calling the module runs forward (and any forward hooks)."""

    training: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls, cls.__dict__["__init__"])

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks_with_kwargs"] = set()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_is_full_backward_hook"] = None

    # ----- calling -----------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        """torch's order: forward pre-hooks, the backward hooks' input side, forward, forward
        hooks, the backward hooks' output side (zengrad.nn.hooks)."""
        for hook_id, hook in tuple(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                new = hook(self, args, kwargs)
                if new is not None:
                    if not (isinstance(new, tuple) and len(new) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {new}.")
                    args, kwargs = new
            else:
                new = hook(self, args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)
        bw_hook = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            bw_hook = BackwardHook(self, list(self._backward_hooks.values()),
                                   list(self._backward_pre_hooks.values()))
            args = bw_hook.setup_input_hook(args)
        out = self.forward(*args, **kwargs)
        for hook_id, hook in tuple(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_with_kwargs:
                new = hook(self, args, kwargs, out)
            else:
                new = hook(self, args, out)
            if new is not None:
                out = new
        if bw_hook is not None:
            out = bw_hook.setup_output_hook(out)
        return out

    def _add_hook(self, registry: dict, hook: Callable, prepend: bool,
                  with_kwargs: set | None = None) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{self._get_name()}: a hook must be callable, got "
                            f"{type(hook).__name__}")
        handle = RemovableHandle(registry, with_kwargs)
        registry[handle.id] = hook
        if with_kwargs is not None:
            with_kwargs.add(handle.id)
        if prepend:
            registry.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """hook(module, args) -> None or new args, run before forward; with_kwargs=True:
        hook(module, args, kwargs) -> None or (new_args, new_kwargs). prepend=True runs it
        before the hooks already registered."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend,
                              self._forward_pre_hooks_with_kwargs if with_kwargs else None)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """hook(module, args, output) -> None or a new output, run after forward;
        with_kwargs=True: hook(module, args, kwargs, output)."""
        if always_call:
            raise NotImplementedError("register_forward_hook: always_call=True (running the "
                                      "hook when forward raises) is not supported")
        return self._add_hook(self._forward_hooks, hook, prepend,
                              self._forward_hooks_with_kwargs if with_kwargs else None)

    def register_full_backward_hook(self, hook: Callable,
                                    prepend: bool = False) -> RemovableHandle:
        """hook(module, grad_input, grad_output) -> None or a new grad_input, called when the
        gradients w.r.t. this call's positional inputs are known: grad_input[i] = dL/d args[i]
        (None for arguments that are not tensors requiring grad), grad_output[j] = dL/d
        output j. A returned tuple (one entry per positional argument) replaces the gradients
        that flow on to the inputs. See zengrad.nn.hooks."""
        if self._is_full_backward_hook is False:
            raise RuntimeError(_MIXED_BACKWARD_HOOKS)
        self.__dict__["_is_full_backward_hook"] = True
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """hook(module, grad_output) -> None or a new grad_output, called when the gradients
        w.r.t. the module's outputs are known, before they flow into the module."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """torch's deprecated hook, run here as register_full_backward_hook, with a warning:
        torch's legacy grad_input holds the gradients of the inputs of the last autograd op
        in forward, which equal the module's input gradients only for one-op modules (ReLU,
        Sigmoid ...); zengrad gives the module's input gradients for every module."""
        if self._is_full_backward_hook is True:
            raise RuntimeError(_MIXED_BACKWARD_HOOKS)
        warnings.warn(
            "register_backward_hook is deprecated (as in torch): zengrad runs the hook as "
            "register_full_backward_hook, so grad_input holds the gradients w.r.t. the module's "
            "inputs (torch's legacy hook gives those of the last op in forward, which differ for "
            "modules of more than one op). Use register_full_backward_hook.",
            FutureWarning,
            stacklevel=2,
        )
        self.__dict__["_is_full_backward_hook"] = False
        return self._add_hook(self._backward_hooks, hook, False)

    # ----- registration --------------------------------------------------------------
    def _require_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Drop name from the registries other than keep."""
        for reg in (self._parameters, self._buffers, self._modules):
            if reg is not keep and name in reg:
                del reg[name]
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name, d["_parameters"])
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._require_init("module")
            self._forget(name, d["_modules"])
            d["_modules"][name] = value
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(zengrad.nn.Parameter or None expected)"
                )
            d["_parameters"][name] = None
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(zengrad.nn.Module or None expected)"
                )
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(zengrad.Tensor or None expected)"
                )
            d["_buffers"][name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if "_parameters" in self.__dict__:
            self._forget(name)
        object.__delattr__(self, name)

    def _check_new_attr(self, name: str, registry: dict) -> None:
        if name in self.__dict__ and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. bias=False) under name."""
        self._require_init("parameters")
        _check_name(name, "parameter")
        self._check_new_attr(name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(zengrad.nn.Parameter or None required)"
            )
        self._forget(name, self._parameters)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not learned (running stats); in state_dict unless persistent=False."""
        self._require_init("buffers")
        _check_name(name, "buffer")
        self._check_new_attr(name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(zengrad.Tensor or None required)"
            )
        if isinstance(tensor, Parameter):
            raise TypeError(f"buffer '{name}' must be a plain Tensor, not a Parameter")
        self._forget(name, self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def register_module(self, name: str, module: Module | None) -> None:
        """Add a child module under name (same as assigning it as an attribute)."""
        self._require_init("module")
        _check_name(name, "module")
        self._check_new_attr(name, self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    add_module = register_module

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path such as 'encoder.0'."""
        mod: Module = self
        if target == "":
            return mod
        for part in target.split("."):
            sub = mod._modules.get(part)
            if sub is None:
                raise AttributeError(f"{mod._get_name()} has no submodule `{part}` ({target!r})")
            mod = sub
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if mod._parameters.get(name) is None:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}` ({target!r})")
        return mod._parameters[name]

    # ----- traversal -----------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, registry).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), each shared parameter once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (shared ones counted once)."""
        return sum(
            p.array.size for p in self.parameters() if p.requires_grad or not trainable_only
        )

    # ----- modes and gradients ---------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch-norm batch statistics) on every module."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients (None, or zeros in place when set_to_none=False)."""
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """fn(module) for every descendant (children first), then for self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----- dtype / device --------------------------------------------------------------
    def to(self, *args, **kwargs) -> Module:
        """to(dtype), to(device), to(device, dtype), to(tensor): move parameters, buffers and
        their gradients to the device and cast the floating ones, in place; the Parameter
        objects stay the same, so optimizers stay valid."""
        device, dtype = backend.parse_to_args(args, kwargs)
        if device is not None:
            placement.move_tensors(self, device)
        if dtype is not None:
            if dtype.kind != "f":
                raise TypeError(
                    f"Module.to only accepts floating point dtypes, but got desired dtype={dtype}"
                )
            self._cast_floating(dtype)
        return self

    def _cast_floating(self, dtype: np.dtype) -> None:
        for t in (*self.parameters(), *self.buffers()):
            if t.array.dtype.kind == "f" and t.array.dtype != dtype:
                t.array = t.array.astype(dtype)
                if t.grad is not None:
                    t.grad.array = t.grad.array.astype(dtype)

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    def cpu(self) -> Module:
        """Move every parameter, buffer and gradient to the host."""
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move every parameter, buffer and gradient to a CUDA device (cuda:device for an
        int); torch's error when there is none (a CPU-only build)."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(backend.check_device(device, "Module.cuda"))

    # ----- state dict ----------------------------------------------------------------
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(
        self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict:
        """name -> tensor for every parameter and persistent buffer, named as in PyTorch
        ('0.weight', 'encoder.layers.1.bias'); the tensors share the module's arrays."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def _local_state(self) -> dict[str, Tensor]:
        """What this module (not its children) reads from a state_dict."""
        local = {n: p for n, p in self._parameters.items() if p is not None}
        for n, b in self._buffers.items():
            if b is not None and n not in self._non_persistent_buffers:
                local[n] = b
        return local

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True):
        """Copy values (zengrad Tensors or NumPy arrays) into the parameters and buffers in
        place, cast to their dtypes. All problems are reported together in one RuntimeError;
        with strict=False missing/unexpected keys are returned instead (size mismatches and
        values that are not numeric or boolean arrays always raise). Nothing is copied
        unless everything matches: every entry is checked before the first copy."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}."
            )
        missing: list[str] = []
        mismatched: list[str] = []
        copies: list[tuple[Tensor, np.ndarray]] = []
        expected: set[str] = set()
        for prefix, module in self.named_modules(remove_duplicate=False):
            dot = prefix + "." if prefix else ""
            for name, target in module._local_state().items():
                key = dot + name
                expected.add(key)
                if key not in state_dict:
                    missing.append(key)
                    continue
                arr, problem = _as_array(state_dict[key], target.array)
                if arr is None:
                    mismatched.append(f"wrong type for {key}: {problem}.")
                    continue
                if arr.shape != target.array.shape:
                    mismatched.append(
                        f"size mismatch for {key}: copying a param with shape "
                        f"{tuple(arr.shape)} from checkpoint, the shape in current model is "
                        f"{tuple(target.array.shape)}."
                    )
                    continue
                copies.append((target, arr))
        unexpected = [k for k in state_dict if k not in expected]
        errors = []
        if strict and missing:
            errors.append(
                "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". "
            )
        if strict and unexpected:
            errors.append(
                "Unexpected key(s) in state_dict: "
                + ", ".join(f'"{k}"' for k in unexpected)
                + ". "
            )
        errors += mismatched
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                + "\n\t".join(errors)
            )
        for target, arr in copies:
            if target.array is not arr:
                dst = target.array
                if not isinstance(dst, np.ndarray):  # a device tensor: the values go there
                    arr = backend.to_device(arr, backend.device_of(dst))
                backend.xp_of(dst).copyto(dst, arr, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # ----- printing ------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr line (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return self._get_name() + "(" + body + ")"
