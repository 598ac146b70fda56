"""A genetic algorithm (``GeneticSampler``).

Genes: one per parameter of the intersection search space.  A numeric gene is the
parameter's unit value ``u = distribution.to_unit(v)`` (log params in log space, ints
padded by half a step); a categorical gene is the index of the choice.

Generations are fixed by trial number: trial ``n`` belongs to generation
``n // population_size``, so generations work the same with ask/tell and with
parallel trials.  Generation 0 is random.  For a trial of generation g:

* parents pool = the completed trials of generation g-1, plus the ``elitism`` best
  completed trials of all earlier generations (elites survive without being re-evaluated);
  if fewer than half a population of g-1 has completed (parallel runs), the pool is the
  best ``population_size`` completed trials of all earlier generations;
* two parents by tournament selection (best of ``tournament_size`` random members);
* crossover (probability ``crossover_prob``):
    blend (BLX-alpha): child_d ~ U(min - alpha I, max + alpha I), I = |p1_d - p2_d|,
                       clipped to [0, 1]
    uniform: each gene from either parent with probability 1/2
  categorical genes always use uniform crossover;
* mutation, per gene with probability ``mutation_prob`` (default 1 / number of genes):
  numeric u += N(0, mutation_sigma^2), reflected back into [0, 1] (so bounds hold);
  categorical: a uniformly random other choice.  A child identical to a parent gets one
  gene mutated (re-evaluating a known point would waste a trial), and a child that another
  trial already holds, in any state (a PRUNED or FAIL one too), is bred again (10 tries,
  then up to 50 random immigrants).
Decoding snaps numeric genes to valid values (ints rounded, steps respected).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..distributions import BaseDistribution, CategoricalDistribution
from ..trial import FrozenTrial
from .base import (
    BaseSampler,
    completed_trials,
    held_points,
    intersection_search_space,
    minimize_sign,
)
from .random import RandomSampler

if TYPE_CHECKING:
    from ..study import Study


def _reflect(u: float) -> float:
    """Fold a value back into [0, 1] (reflection keeps mutations symmetric at the bounds)."""
    u = abs(u) % 2.0
    return 2.0 - u if u > 1.0 else u


class GeneticSampler(BaseSampler):
    def __init__(
        self, population_size: int = 20, mutation_prob: float | None = None,
        crossover: str = "blend", tournament_size: int = 2, elitism: int = 1,
        seed: int | None = None, *, crossover_prob: float = 0.9, blend_alpha: float = 0.5,
        mutation_sigma: float = 0.1,
    ) -> None:
        if population_size < 2:
            raise ValueError(f"population_size must be >= 2, got {population_size}")
        if crossover not in ("blend", "uniform"):
            raise ValueError(f"crossover must be 'blend' or 'uniform', got {crossover!r}")
        if tournament_size < 1:
            raise ValueError(f"tournament_size must be >= 1, got {tournament_size}")
        if mutation_prob is not None and not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1], got {mutation_prob}")
        if elitism < 0:
            raise ValueError(f"elitism must be >= 0, got {elitism}")
        self.population_size = population_size
        self.mutation_prob = mutation_prob
        self.crossover = crossover
        self.tournament_size = tournament_size
        self.elitism = elitism
        self.crossover_prob = crossover_prob
        self.blend_alpha = blend_alpha
        self.mutation_sigma = mutation_sigma
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._random = RandomSampler(int(self._rng.integers(2**31)))

    def generation(self, trial_number: int) -> int:
        return trial_number // self.population_size

    # -- the sampler interface -----------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: Any) -> dict[str, BaseDistribution]:
        return intersection_search_space(completed_trials(study))

    def sample_relative(
        self, study: Study, trial: Any, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        gen = self.generation(trial.number)
        if gen == 0 or not search_space:
            return {}
        pool = self._parents(study, gen)
        if len(pool) < 2:
            return {}
        sign = minimize_sign(study)
        names = list(search_space)
        held = {_key(p, names) for p in held_points(study, trial, names)}
        for attempt in range(60):
            if attempt < 10:
                p1, p2 = self._tournament(pool, sign), self._tournament(pool, sign)
                genes = self._mate(search_space, p1, p2)
            else:  # the parents' neighbourhood is taken: a random immigrant instead
                genes = [_random_gene(d, self._rng) for d in search_space.values()]
            child = {name: _decode(d, g) for (name, d), g in zip(search_space.items(), genes)}
            if _key(child, names) not in held:
                break
        return child

    def sample_independent(
        self, study: Study, trial: Any, name: str, distribution: BaseDistribution
    ) -> Any:
        return self._random.sample_independent(study, trial, name, distribution)

    # -- selection ---------------------------------------------------------------------------
    def _parents(self, study: Study, gen: int) -> list[FrozenTrial]:
        sign = minimize_sign(study)
        earlier = [t for t in completed_trials(study) if self.generation(t.number) < gen]
        ranked = sorted(earlier, key=lambda t: sign * t.value)
        previous = [t for t in earlier if self.generation(t.number) == gen - 1]
        if len(previous) < max(2, self.population_size // 2):
            return ranked[: self.population_size]  # previous generation still running
        pool = list(previous)
        numbers = {t.number for t in pool}
        pool += [t for t in ranked[: self.elitism] if t.number not in numbers]
        return pool

    def _tournament(self, pool: list[FrozenTrial], sign: float) -> FrozenTrial:
        k = min(self.tournament_size, len(pool))
        picks = self._rng.choice(len(pool), size=k, replace=False)
        return min((pool[i] for i in picks), key=lambda t: sign * t.value)

    # -- variation ---------------------------------------------------------------------------
    def _mate(
        self, space: dict[str, BaseDistribution], p1: FrozenTrial, p2: FrozenTrial
    ) -> list[float]:
        g1 = [_encode(d, p1.params[n]) for n, d in space.items()]
        g2 = [_encode(d, p2.params[n]) for n, d in space.items()]
        do_cross = self._rng.random() < self.crossover_prob
        mutation_prob = self.mutation_prob if self.mutation_prob is not None else 1.0 / len(g1)
        child = []
        for d, a, b in zip(space.values(), g1, g2):
            categorical = isinstance(d, CategoricalDistribution)
            if not do_cross:
                g = a
            elif categorical or self.crossover == "uniform":
                g = a if self._rng.random() < 0.5 else b
            else:
                lo, hi = min(a, b), max(a, b)
                spread = self.blend_alpha * (hi - lo)
                g = float(np.clip(self._rng.uniform(lo - spread, hi + spread), 0.0, 1.0))
            if self._rng.random() < mutation_prob:
                if categorical:
                    others = [i for i in range(len(d.choices)) if i != g]  # type: ignore
                    g = others[self._rng.integers(len(others))] if others else g
                else:
                    g = _reflect(g + self.mutation_sigma * self._rng.standard_normal())
            child.append(g)
        if child == g1 or child == g2:
            # an exact copy of a parent would spend a trial re-evaluating a known point
            i = int(self._rng.integers(len(child)))
            d = list(space.values())[i]
            if isinstance(d, CategoricalDistribution):
                child[i] = float(self._rng.integers(len(d.choices)))
            else:
                child[i] = _reflect(child[i] + self.mutation_sigma * self._rng.standard_normal())
        return child


def _key(params: dict[str, Any], names: list[str]) -> str:
    # JSON text: hashable, and True/1 or 1/1.0 stay as distinct as the choices are
    return json.dumps([params[n] for n in names])


def _random_gene(d: BaseDistribution, rng: np.random.Generator) -> float:
    if isinstance(d, CategoricalDistribution):
        return float(rng.integers(len(d.choices)))
    return float(rng.random())


def _encode(d: BaseDistribution, value: Any) -> float:
    return float(d.index(value)) if isinstance(d, CategoricalDistribution) else d.to_unit(value)


def _decode(d: BaseDistribution, gene: float) -> Any:
    return d.choices[int(gene)] if isinstance(d, CategoricalDistribution) else d.from_unit(gene)
