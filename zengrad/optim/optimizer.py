"""Optimizer: parameter groups, per-parameter state, step / zero_grad, state_dict.

Subclasses implement `_step_group(group)`, which updates each parameter of one group in
place (`p.data`) from `p.grad`. State arrays are NumPy arrays in the parameter's dtype and
scalars are Python numbers, so `state_dict()` is plain data a safetensors/JSON saver can
store (no pickling), and `load_state_dict` resumes training bit for bit.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from zengrad.autograd import enable_grad
from zengrad.autograd.tensor import Tensor, zero_grads


class _RequiredParameter:
    """Marks a hyperparameter that has no default and must be given per group."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers.

    `params` is an iterable of Tensors, or of dicts `{"params": [...], "lr": ..., ...}`
    (parameter groups with their own hyperparameters; missing ones come from `defaults`).
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__} (wrap a single tensor in a list)"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs; use a list instead"
            )
        self._validate(defaults)
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        # shared scratch arrays (one flat array per dtype and slot, sized for the largest
        # parameter), so steps don't allocate temporaries; not part of the state
        self._scratch_bufs: dict[tuple[np.dtype, int], np.ndarray] = {}

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ----- hooks for subclasses ----------------------------------------------------
    def _validate(self, group: dict[str, Any]) -> None:
        """Raise ValueError for an invalid hyperparameter (the offending value named)."""

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    # ----- parameter groups --------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (e.g. a new layer's)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs; use a list instead"
            )
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but params[{i}] is "
                    f"{type(p).__name__}"
                )
            if p.grad_fn is not None:
                raise ValueError(
                    f"can't optimize a non-leaf Tensor (params[{i}] of shape "
                    f"{tuple(p.shape)} was produced by {type(p.grad_fn).__name__})"
                )
            if p.dtype.kind != "f":
                raise TypeError(f"params[{i}] has dtype {p.dtype}; optimizers need floats")
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error",
                UserWarning,
                stacklevel=3,
            )
        group["params"] = params

        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            group.setdefault(name, default)
        self._validate(group)

        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ----- stepping ----------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default) or to zeros in place."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; return closure()'s loss if given.

        The closure re-evaluates the model (zero_grad, forward, backward) and returns the
        loss; it runs with gradients enabled even when step() is called under no_grad.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _scratch(self, p: np.ndarray, slot: int) -> np.ndarray:
        """A reusable work array shaped like p (contents undefined); slot picks which one."""
        key = (p.dtype, slot)
        buf = self._scratch_bufs.get(key)
        if buf is None or buf.size < p.size:
            buf = np.empty(p.size, dtype=p.dtype)
            self._scratch_bufs[key] = buf
        return buf[: p.size].reshape(p.shape)

    def _grad(self, p: Tensor, weight_decay: float, maximize: bool) -> np.ndarray:
        """The gradient the update uses: (-g if maximize else g) + weight_decay * p.

        Never writes into p.grad (the user may read it); returns p.grad's array itself when
        there is nothing to add, else scratch slot 0.
        """
        g = p.grad.data
        if weight_decay != 0:
            out = self._scratch(p.data, 0)
            np.multiply(p.data, weight_decay, out=out)
            if maximize:
                out -= g
            else:
                out += g
            return out
        if maximize:
            return np.negative(g, out=self._scratch(p.data, 0))
        return g

    # ----- checkpoints -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: array or number}}, 'param_groups': [{..., 'params':
        [indices]}]}; parameters are numbered in group order, as PyTorch does. Arrays are
        copies, so later steps don't change a saved state_dict."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by state_dict().

        The optimizer must have been built over parameters of the same groups and sizes.
        Arrays are copied and cast to each parameter's dtype ('step' stays a number).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups but the "
                f"optimizer has {len(self.param_groups)}"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group (index {i}) with "
                    f"{len(s['params'])} parameters that doesn't match the size of the "
                    f"optimizer's group ({len(g['params'])} parameters)"
                )
        by_index = {
            int(saved): p
            for g, s in zip(self.param_groups, saved_groups)
            for saved, p in zip(s["params"], g["params"])
        }
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                continue
            new_state[p] = {name: _restore_value(name, v, p) for name, v in values.items()}

        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            group = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            for k, v in group.items():  # JSON turns tuples (betas) into lists
                if isinstance(v, list) and isinstance(self.defaults.get(k), tuple):
                    group[k] = tuple(v)
            group["params"] = g["params"]
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _restore_value(name: str, value: Any, p: Tensor) -> Any:
    """A saved state entry as this optimizer keeps it: arrays copied in p's dtype."""
    if isinstance(value, Tensor):
        value = value.data
    if name == "step":
        return float(np.asarray(value).reshape(()))
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        arr = np.array(value, dtype=p.dtype, copy=True)
        if arr.shape != p.shape:
            raise ValueError(
                f"loaded state '{name}' has shape {arr.shape} but its parameter has shape "
                f"{tuple(p.shape)}"
            )
        return arr
    return copy.deepcopy(value)


def check_nonnegative(name: str, value: float) -> None:
    """ValueError naming the hyperparameter when value < 0 (or not a number)."""
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"Invalid {name} value: {value} (must be >= 0)")


def lerp_(a: np.ndarray, b: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """a <- a + weight * (b - a), in place, rounded as PyTorch's lerp_ (b-side form for
    weight >= 0.5: b - (b - a) * (1 - weight))."""
    np.subtract(b, a, out=tmp)
    if weight < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        np.subtract(b, tmp, out=a)


def ema_sq_(v: np.ndarray, g: np.ndarray, decay: float, tmp: np.ndarray) -> None:
    """v <- decay * v + (1 - decay) * g^2, in place (the second moment of Adam and RMSprop)."""
    v *= decay
    np.multiply(g, 1.0 - decay, out=tmp)
    tmp *= g
    v += tmp
