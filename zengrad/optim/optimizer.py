"""Optimizer: parameter groups, per-parameter state, step / zero_grad, state_dict.

Subclasses implement `_step_group(group)`, which updates each parameter of one group in
place (`p.array`) from `p.grad`. State arrays are NumPy arrays in the parameter's dtype and
scalars are Python numbers, so `state_dict()` is plain data a safetensors/JSON saver can
store (no pickling), and `load_state_dict` resumes training bit for bit.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd import enable_grad
from zengrad.autograd.engine import record_writes
from zengrad.autograd.tensor import Tensor, zero_grads
from zengrad.ops.kernels import numba_enabled
from zengrad.ops.scratch import scratch
from zengrad.ops.threads import BLOCK


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
        self._scratch_bufs: dict[tuple[type, np.dtype, int], np.ndarray] = {}

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
        self._check_grads()
        for group in self.param_groups:
            self._step_group(group)
        mark_updated(self.param_groups)
        return loss

    def _check_grads(self) -> None:
        """Refuse the whole step, before any parameter moves, when a gradient does not fit its
        parameter.

        `.grad = ...` is checked on assignment, but `p.grad.array` (or `p.array`) can still be
        replaced; a (1,) gradient would then broadcast over every element silently, a
        float64 one turn the state float64, an int or complex one fail deep in NumPy. Cost:
        one shape-tuple and one dtype comparison per parameter, no copies.
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is not None:
                    g, d = grad.array, p.array
                    # `is not` first: NumPy's native dtypes are singletons, == is slower
                    if g.shape != d.shape or (g.dtype is not d.dtype and g.dtype != d.dtype):
                        self._raise_bad_grad(group, p, g)

    def _raise_bad_grad(self, group: dict[str, Any], p: Tensor, g: np.ndarray) -> None:
        gi = next(i for i, grp in enumerate(self.param_groups) if grp is group)
        pi = next(i for i, q in enumerate(group["params"]) if q is p)
        where = (
            f"{type(self).__name__}.step: the gradient of param_groups[{gi}]['params'][{pi}] "
            f"(a parameter of shape {tuple(p.array.shape)} and dtype {p.array.dtype})"
        )
        if g.shape != p.array.shape:
            raise ValueError(
                f"{where} has shape {tuple(g.shape)}; a gradient must have its parameter's "
                f"shape (was p.grad.array or p.array replaced?)"
            )
        raise TypeError(
            f"{where} has dtype {g.dtype}; a gradient must have its parameter's dtype "
            f"(was p.grad.array or p.array replaced?)"
        )

    def _scratch(self, p: np.ndarray, slot: int) -> np.ndarray:
        """A reusable work array shaped like p, on p's device (contents undefined); slot
        picks which one."""
        key = (type(p), p.dtype, slot)
        buf = self._scratch_bufs.get(key)
        if buf is None or buf.size < p.size:
            buf = backend.xp_of(p).empty(p.size, dtype=p.dtype)
            self._scratch_bufs[key] = buf
        return buf[: p.size].reshape(p.shape)

    def _grad(self, p: Tensor, weight_decay: float, maximize: bool) -> np.ndarray:
        """The gradient the update uses: (-g if maximize else g) + weight_decay * p.

        Never writes into p.grad (the user may read it); returns p.grad's array itself when
        there is nothing to add, else scratch slot 0.
        """
        g = p._grad.array
        if weight_decay != 0:
            out = self._scratch(p.array, 0)
            backend.xp_of(g).multiply(p.array, weight_decay, out=out)
            if maximize:
                out -= g
            else:
                out += g
            return out
        if maximize:
            return backend.xp_of(g).negative(g, out=self._scratch(p.array, 0))
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
                        k: backend.xp_of(v).array(v, copy=True) if backend.is_array(v) else v
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by state_dict().

        The optimizer must have been built over parameters of the same groups and sizes.
        Arrays are copied and cast to each parameter's dtype ('step' stays a number).
        All or nothing: every group and state entry is checked first (structure, types,
        shapes, hyperparameter values) and all problems are reported in one ValueError;
        then `state` and `param_groups` are replaced by new objects (never edited in place,
        so a caller holding the old ones can put them back)."""
        problems: list[str] = []
        if not isinstance(state_dict, Mapping):
            raise TypeError("Optimizer.load_state_dict: expected a dict with 'state' and "
                            f"'param_groups', got {type(state_dict).__name__}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise ValueError(f"Optimizer.load_state_dict: the state dict lacks {missing}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)):
            raise ValueError("Optimizer.load_state_dict: 'param_groups' must be a list, got "
                             f"{_short(saved_groups)}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups but the "
                f"optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        new_groups = []
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            group = _restore_group(i, g, s, self.defaults, problems)
            if group is None:
                continue
            for saved, p in zip(s["params"], g["params"]):
                if _as_index(saved) in by_index:
                    problems.append(f"param_groups[{i}]: parameter index {saved} appears "
                                    "twice")
                by_index[_as_index(saved)] = p
            try:
                self._validate(group)
            except (TypeError, ValueError) as e:
                problems.append(f"param_groups[{i}]: {e}")
            new_groups.append(group)

        new_state: dict[Tensor, dict[str, Any]] = {}
        if not isinstance(saved_state, Mapping):
            problems.append(f"'state' must be a dict, got {_short(saved_state)}")
            saved_state = {}
        for key, values in saved_state.items():
            index = _as_index(key)
            p = by_index.get(index) if index is not None else None
            if p is None:
                if len(new_groups) == len(self.param_groups):  # else already reported
                    problems.append(f"state[{key!r}] is for no parameter of this optimizer")
                continue
            if not isinstance(values, Mapping):
                problems.append(f"state[{key!r}] must be a dict, got {_short(values)}")
                continue
            new_state[p] = {}
            for name, v in values.items():
                try:
                    new_state[p][name] = _restore_value(name, v, p)
                except (TypeError, ValueError) as e:
                    problems.append(f"state[{key!r}][{name!r}]: {e}")
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: "
                             + "; ".join(problems))
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


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_))


def _as_index(key: Any) -> int | None:
    """A saved state key as a parameter index (JSON may have made it a string)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None


def _restore_group(i: int, current: dict[str, Any], saved: Any, defaults: dict[str, Any],
                   problems: list[str]) -> dict[str, Any] | None:
    """The saved group i as this optimizer will hold it (its own params), or None with the
    problems appended. A hyperparameter must have the kind of the current value (number,
    bool, tuple of numbers, string); one missing from the save comes from the defaults."""
    where = f"param_groups[{i}]"
    if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), (list, tuple)):
        problems.append(f"{where} must be a dict with a 'params' list, got {_short(saved)}")
        return None
    indices = saved["params"]
    if not all(_as_index(k) is not None and not isinstance(k, str) for k in indices):
        problems.append(f"{where}['params'] must be a list of parameter indices, got "
                        f"{_short(indices)}")
        return None
    if len(indices) != len(current["params"]):
        problems.append(
            f"loaded state dict contains a parameter group (index {i}) with "
            f"{len(indices)} parameters that doesn't match the size of the "
            f"optimizer's group ({len(current['params'])} parameters)"
        )
        return None
    group = {}
    ok = True
    for k, v in saved.items():
        if k == "params":
            continue
        like = current.get(k, defaults.get(k))
        if isinstance(like, (bool, np.bool_)):
            kind, good = "a bool", isinstance(v, (bool, np.bool_))
        elif _is_number(like):
            kind, good = "a number", _is_number(v)
        elif isinstance(like, (tuple, list)):
            kind = f"a sequence of {len(like)} numbers"
            good = (isinstance(v, (tuple, list)) and len(v) == len(like)
                    and all(map(_is_number, v)))
        elif isinstance(like, str):
            kind, good = "a string", isinstance(v, str)
        else:
            kind, good = "", True  # None or unknown to this optimizer: kept as saved
        if not good:
            problems.append(f"{where}[{k!r}] must be {kind} (like {like!r}), got {_short(v)}")
            ok = False
            continue
        group[k] = copy.deepcopy(v)
        if isinstance(v, list) and isinstance(like, tuple):  # JSON turns tuples into lists
            group[k] = tuple(v)
    for k, default in defaults.items():
        if k not in group:
            if default is required:
                problems.append(f"{where} lacks the required hyperparameter {k!r}")
                ok = False
            group[k] = copy.deepcopy(default)
    group["params"] = current["params"]
    return group if ok else None


def _restore_value(name: str, value: Any, p: Tensor) -> Any:
    """A saved state entry as this optimizer keeps it: arrays copied in p's dtype, 'step'
    a non-negative number; anything else must be a number or None."""
    if isinstance(value, Tensor):
        value = value.array
    if backend.is_array(value):
        value = backend.asnumpy(value)  # checked on the host, then put on p's device
    if name == "step":
        arr = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else None  # host
        if arr is not None and arr.size == 1 and arr.dtype.kind in "iuf":
            value = arr.reshape(()).item()
        if not _is_number(value) or not 0 <= float(value) < math.inf:
            raise ValueError(f"must be a non-negative number, got {_short(value)}")
        return float(value)
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"must be an array of numbers, got dtype {value.dtype}")
        if value.shape != p.shape:
            raise ValueError(
                f"loaded state '{name}' has shape {value.shape} but its parameter has shape "
                f"{tuple(p.shape)}"
            )
        arr = np.array(value, dtype=p.dtype, copy=True)  # host
        return backend.to_device(arr, backend.device_of(p.array))
    if value is None or _is_number(value) or isinstance(value, (bool, np.bool_)):
        return value
    raise TypeError(f"must be an array shaped like its parameter {tuple(p.shape)}, a "
                    f"number or None, got {_short(value)}")


def mark_updated(param_groups: list[dict[str, Any]]) -> None:
    """Count the step's in-place update of each parameter that has a gradient as a write
    (torch's version counter): a backward through a graph that saved the old weights then
    raises instead of differentiating at the new ones."""
    record_writes([p.array for g in param_groups for p in g["params"] if p._grad is not None])


def check_nonnegative(name: str, value: float) -> None:
    """ValueError naming the hyperparameter when value < 0 (or not a number)."""
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"Invalid {name} value: {value} (must be >= 0)")


def lerp_(a: np.ndarray, b: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """a <- a + weight * (b - a), in place, rounded as PyTorch's lerp_ (b-side form for
    weight >= 0.5: b - (b - a) * (1 - weight))."""
    xp = backend.xp_of(a)
    xp.subtract(b, a, out=tmp)
    if weight < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        xp.subtract(b, tmp, out=a)


def ema_sq_(v: np.ndarray, g: np.ndarray, decay: float, tmp: np.ndarray) -> None:
    """v <- decay * v + (1 - decay) * g^2, in place (the second moment of Adam and RMSprop)."""
    v *= decay
    backend.xp_of(v).multiply(g, 1.0 - decay, out=tmp)
    tmp *= g
    v += tmp


# an update's blocks are UPDATE_BLOCK elements: 64K float32 = 256 KB per array, so the 4-6
# arrays of a step (1.5 MB) stay in this machine's 2 MB L2 while each of Adam's ufunc calls
# per block does 4x threads.BLOCK's work (1 thread, MLP Adam step alone: blocks of 16K 1.50
# ms, 32K 1.37, 64K 1.31; in the whole training step 64K beats 16K by 3% and 32K by 1%);
# each call costs ~1 us.
UPDATE_BLOCK = 4 * BLOCK
# Updates run in the calling thread at any thread count. Spread over zengrad's pool, an Adam
# step alone took 0.99 ms against 1.42 at 2 threads, but inside a training step it comes
# right after the backward's products, whose OpenBLAS workers spin on the other cores for
# ~0.1 s: a pool thread shares a core with a spinning one, and the split lost at every size
# tried (2 threads, MLP 784-512-256-10 Adam step 3.82 -> 3.58 ms without it; 2048-2048-2048-10,
# 8.4M parameters, 59.9 -> 57.0 ms).


def elementwise_update(fn: Callable[..., None], arrays: list[np.ndarray],
                       fused: bool = False) -> None:
    """fn(*arrays) for an update that is elementwise over arrays of one shape (a parameter,
    its gradient, its state), run block by block over their flat views (cache-sized blocks of
    UPDATE_BLOCK elements: all passes over one block while it is in cache); bit for bit
    fn(*arrays). Arrays that are not all contiguous run in one call; a non-contiguous
    gradient is copied first. A `fused` fn (one ops.kernels kernel: one pass when compiled)
    runs over whole arrays when kernels compile (Adam's step 0.50 -> 0.40 ms against
    blocks)."""
    if fused and numba_enabled() and type(arrays[0]) is np.ndarray:
        if not arrays[1].flags.c_contiguous:
            arrays = [arrays[0], np.ascontiguousarray(arrays[1]), *arrays[2:]]  # host
        fn(*arrays)
        return
    if arrays[0].size <= BLOCK or type(arrays[0]) is not np.ndarray:
        fn(*arrays)  # one block (no views to make), or device arrays (not blocked)
        return
    flat = _flat_views(fn, arrays)
    if flat is not None:
        for s in range(0, arrays[0].size, UPDATE_BLOCK):
            fn(*(a[s : s + UPDATE_BLOCK] for a in flat))


def fused_update(fn: Callable[..., None], arrays: list[np.ndarray]) -> None:
    """elementwise_update for an fn that is one ops.kernels kernel (fused=True)."""
    elementwise_update(fn, arrays, fused=True)


def _flat_views(fn: Callable[..., None], arrays: list[np.ndarray]) -> list | None:
    """The 1-D views of NumPy arrays to cut into blocks (a non-contiguous gradient, arrays[1],
    copied first); None when they are not all contiguous, after running fn(*arrays) whole."""
    if not arrays[1].flags.c_contiguous:
        arrays = [arrays[0], np.ascontiguousarray(arrays[1]), *arrays[2:]]  # host
    if not all(a.flags.c_contiguous for a in arrays):
        fn(*arrays)
        return None
    return [a.reshape(-1) for a in arrays]


def block_scratch(like: np.ndarray, slot: int) -> np.ndarray:
    """A work array shaped like `like`, one block of an elementwise update (contents
    undefined): this thread's ops.scratch buffer for ("update", slot), reused from block to
    block and step to step instead of a fresh allocation per block (a 256 KB np.empty may be
    an mmap and its page faults). One set of buffers per thread (optimizers may step in
    several threads); device arrays, arrays larger than a block and small ones (cheaper to
    allocate than to look up) get a fresh array."""
    n = like.size
    if type(like) is not np.ndarray:
        return backend.xp_of(like).empty_like(like)
    if n <= BLOCK or n > UPDATE_BLOCK:
        return np.empty_like(like)  # host
    return scratch(np, like.shape, like.dtype, ("update", slot))
