"""Small parameters updated together: their state in one flat buffer per slot.

An elementwise update costs each parameter a dozen ufunc calls (Adam: 12) whatever its size;
for biases and other parameters of a few hundred elements those calls are all the cost (4
biases of the MLP 784-512-256-10: 47 us of Adam's step, against ~15 us for one pass over
the four together). A SmallParams pack keeps the state of such a run of parameters (the
arrays named by `slots`, e.g. exp_avg and exp_avg_sq) as views into one flat array per slot,
gathers the parameters' values and gradients into flat work arrays, runs the update once
over all of them and copies the new values back into each parameter's own array.

The parameters keep their storage (nothing that holds p, p.data or p.numpy() sees a
different array) and the gradients are read where backward put them, so swapping p.data or
p.grad never leaves the pack stale. Only the state lives in the pack: `state[p][slot]` is
the view of p's stretch, so state_dict() keeps torch's per-parameter layout; when a state
array is replaced (load_state_dict, a user's assignment) the pack no longer matches
(`matches`) and is rebuilt from the arrays the state holds then. Each element is computed
by the same ufuncs as on the parameter's own arrays, so results are bit for bit the
per-parameter update's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zengrad.autograd.tensor import Tensor


class SmallParams:
    """The flat state of `params` (host NumPy parameters of one dtype) for `slots`."""

    # packs hold host NumPy parameters only (small_param_runs)
    def __init__(self, params: Sequence[Tensor], states: dict[Tensor, dict[str, Any]],  # host
                 slots: Sequence[str]) -> None:
        self.params = list(params)
        self.slots = tuple(slots)
        dtype = self.params[0].array.dtype
        sizes = [p.array.size for p in self.params]
        bounds = np.cumsum([0, *sizes]).tolist()
        n = bounds[-1]

        def views(flat: np.ndarray) -> list[np.ndarray]:
            return [flat[s:e].reshape(p.array.shape)
                    for p, s, e in zip(self.params, bounds[:-1], bounds[1:])]

        self.flat: dict[str, np.ndarray] = {}
        self.views: dict[str, list[np.ndarray]] = {}
        for slot in self.slots:
            flat = self.flat[slot] = np.empty(n, dtype)  # host
            self.views[slot] = views(flat)
            for p, view in zip(self.params, self.views[slot]):
                np.copyto(view, states[p][slot])
                states[p][slot] = view
        self.values = np.empty(n, dtype)  # host: the parameters' values, gathered
        self.grads = np.empty(n, dtype)  # host
        self.value_views = views(self.values)

    def matches(self, params: Sequence[Tensor], states: dict[Tensor, dict[str, Any]],
                slots: Sequence[str]) -> bool:
        """Whether the pack still holds exactly these parameters' state for these slots."""
        if tuple(slots) != self.slots or len(params) != len(self.params):
            return False
        for p, q in zip(params, self.params):
            if p is not q:
                return False
        for slot in self.slots:
            for p, view in zip(self.params, self.views[slot]):
                if states[p].get(slot) is not view:
                    return False
        return True

    def update(self, fn: Callable[..., None], run: Callable) -> None:  # host
        """fn(values, grads, *state slots) over all parameters at once (through `run`, e.g.
        elementwise_update), then each parameter's new values copied back into its array."""
        params = self.params
        np.concatenate([p.array.reshape(-1) for p in params], out=self.values)
        np.concatenate([p._grad.array.reshape(-1) for p in params], out=self.grads)
        run(fn, [self.values, self.grads, *(self.flat[s] for s in self.slots)])
        for p, new in zip(params, self.value_views):
            np.copyto(p.array, new)


def small_param_runs(params: Sequence[Tensor], limit: int) -> tuple[list[Tensor], dict]:
    """Split the parameters that have a gradient into those updated one by one and runs of
    at least two host NumPy parameters of at most `limit` elements that own their arrays,
    by dtype: ([one by one], {dtype: [run]})."""
    single: list[Tensor] = []
    runs: dict[np.dtype, list[Tensor]] = {}
    arrays: set[int] = set()
    for p in params:
        if p._grad is None:
            continue
        a = p.array
        # an array that is a view, or that two parameters share, is updated one by one: the
        # copy back would otherwise keep only one of two updates of the same memory
        if type(a) is np.ndarray and a.size <= limit and a.base is None and id(a) not in arrays:
            runs.setdefault(a.dtype, []).append(p)
            arrays.add(id(a))
        else:
            single.append(p)
    for dtype in [d for d, run in runs.items() if len(run) < 2]:
        single.extend(runs.pop(dtype))
    return single, runs
