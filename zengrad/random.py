"""Random sampling from tensors of probabilities (multinomial, bernoulli) and torch.random's
seeding functions; the generators themselves live in zengrad.backend.

Each draw takes `generator=` (a zengrad.Generator), else uses the default generator. Draws
are made on the host and the result put on the input's device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.backend import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

__all__ = [
    "Generator", "bernoulli", "default_generator", "fork_rng", "get_rng_state", "initial_seed",
    "manual_seed", "multinomial", "seed", "set_rng_state",
]


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str | None = None) -> Iterator[None]:
    """Draws made inside don't advance the default generator: its state (and seed) is saved
    on entry and restored on exit, as torch.random.fork_rng. Once device 'cuda' is in use
    the GPU generator is forked too, unless `devices` is empty (as torch; the GPUs share one
    generator here, so any other `devices` list forks it)."""
    if not enabled:
        yield
        return
    from zengrad import cuda  # (cuda sits beside this module, above the tensor layer)

    state = default_generator.get_state()
    fork_device = (device_type in (None, "cuda") and cuda.is_initialized()
                   and (devices is None or len(list(devices)) > 0))
    device_states = cuda.get_rng_state_all() if fork_device else None
    try:
        yield
    finally:
        default_generator.set_state(state)
        if device_states is not None:
            cuda.set_rng_state_all(device_states)


def _probabilities(input, name: str) -> np.ndarray:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if input.array.dtype.kind != "f":
        raise RuntimeError(
            f"{name} only supports floating-point dtypes for input, got: {input.array.dtype}"
        )
    return backend.asnumpy(input.array)  # drawn on the host from the seeded CPU generator


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices drawn from the categorical distributions in the rows of input.

    input (K,) or (B, K) holds non-negative weights (they need not sum to 1): category j is
    drawn with probability w_j / sum(w). Without replacement a category is drawn at most once
    per row: the num_samples largest keys w_j / E_j with E_j ~ Exp(1) (the exponential race,
    which is sequential sampling without replacement; zero-weight categories come last, as in
    torch). Returns int64 indices of shape (num_samples,) or (B, num_samples).
    """
    p = _probabilities(input, "multinomial")
    if isinstance(num_samples, (bool, np.bool_)) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(
            f"multinomial(): argument 'num_samples' (position 2) must be int, not "
            f"{type(num_samples).__name__}"
        )
    n = int(num_samples)
    if p.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got a tensor of shape {p.shape}")
    if n <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples (num_samples={n})")
    rows = p.reshape(1, -1) if p.ndim == 1 else p
    k = rows.shape[1]
    if not replacement and n > k:
        raise RuntimeError(
            f"cannot sample n_sample > prob_dist.size(-1) samples without replacement "
            f"({n} samples from {k} categories)"
        )
    w = rows.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    totals = w.sum(axis=1)
    if (totals <= 0).any():
        raise RuntimeError(
            f"invalid multinomial distribution (sum of probabilities <= 0) in row "
            f"{int(np.argmax(totals <= 0))}"
        )
    gen = backend.rng_of(generator, "multinomial")
    if replacement:
        out = np.empty((w.shape[0], n), dtype=np.int64)
        u = gen.random((w.shape[0], n))
        for r in range(w.shape[0]):
            cdf = np.cumsum(w[r])
            idx = np.searchsorted(cdf, u[r] * cdf[-1], side="right")
            # u * total may round up to the total: keep such a draw on the last category
            # that has weight (an interior zero-weight category is never hit by side="right")
            last = int(np.flatnonzero(w[r])[-1])
            out[r] = np.minimum(idx, last)
    else:
        keys = w / gen.standard_exponential(w.shape)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :n].astype(np.int64)
    out = out.reshape(n) if p.ndim == 1 else out
    return Tensor._make(backend.to_device(out, input.device), False, None)


def bernoulli(input: Tensor, p: float | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """1 with probability input[i] (or p, when given), else 0; the dtype of input.

    As torch the result carries no gradient (torch's gradient of a draw is zero); unlike
    torch it does not require grad when input does.
    """
    prob = _probabilities(input, "bernoulli") if p is None else None
    if p is not None:
        if not isinstance(input, Tensor):
            raise TypeError(
                f"bernoulli(): argument 'input' must be Tensor, not {type(input).__name__}"
            )
        if not 0.0 <= float(p) <= 1.0:
            raise RuntimeError(f"bernoulli: p must be in [0, 1], got {p}")
        prob = float(p)
    elif prob.size and not ((prob >= 0) & (prob <= 1)).all():
        raise RuntimeError(
            f"bernoulli: every probability must be in [0, 1], got values in "
            f"[{np.nanmin(prob)}, {np.nanmax(prob)}]"
            + (" and NaN" if np.isnan(prob).any() else "")
        )
    gen = backend.rng_of(generator, "bernoulli")
    draw = gen.random(input.array.shape) < prob
    draw = draw.astype(input.array.dtype)
    return Tensor._make(backend.to_device(draw, input.device), False, None)


def _bernoulli_(self: Tensor, p=0.5, *, generator: Generator | None = None) -> Tensor:
    """In place: each element becomes 1 with probability p (a number or a tensor), else 0."""
    self._check_inplace()
    prob = p.array if isinstance(p, Tensor) else p
    if np.any((np.asarray(prob) < 0) | (np.asarray(prob) > 1)):
        raise RuntimeError("bernoulli_: every probability must be in [0, 1]")
    gen = backend.rng_of(generator, "bernoulli_")
    self.array[...] = gen.random(self.array.shape) < prob
    return self


def _bernoulli_method(self: Tensor, p: float | None = None, *,
                      generator: Generator | None = None) -> Tensor:
    return bernoulli(self, p, generator=generator)


Tensor.multinomial = multinomial
Tensor.bernoulli = _bernoulli_method
Tensor.bernoulli_ = _bernoulli_
