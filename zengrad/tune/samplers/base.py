"""The sampler interface (Optuna's), and helpers the samplers share.

For each trial the study calls, at ``ask()`` time:

1. ``infer_relative_search_space(study, trial)``: the parameters the sampler wants to
   choose jointly (e.g. the GP's input space: the parameters every completed trial had).
2. ``sample_relative(study, trial, space)``: a dict of values for (some of) them.

Then, while the objective runs, each ``suggest_*`` whose name is not in that dict calls

3. ``sample_independent(study, trial, name, distribution)``: one value on its own
   (random for the model-based samplers: that is how conditional parameters are handled).

Because steps 1-2 happen in the study's process, a trial can run anywhere (another process,
a Dask worker) carrying its relative values with it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..distributions import BaseDistribution
from ..trial import FIXED_PARAMS_KEY, FrozenTrial, TrialState

if TYPE_CHECKING:
    from ..study import Study


class SearchSpaceExhausted(RuntimeError):
    """The sampler has no point left (a GridSampler whose grid is taken)."""


class BaseSampler:
    def infer_relative_search_space(self, study: Study, trial: Any) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: Any, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: Study, trial: Any, name: str, distribution: BaseDistribution
    ) -> Any:
        raise NotImplementedError

    def trial_claim(self, study: Study) -> tuple[str, list[Any]] | None:
        """``(key, candidates)`` to claim atomically when a trial is created (see storage)."""
        return None

    def is_exhausted(self, study: Study) -> bool:
        """True when the sampler has nothing left to propose (a finished grid)."""
        return False

    @property
    def seed(self) -> int | None:
        return getattr(self, "_seed", None)


def completed_trials(study: Study) -> list[FrozenTrial]:
    """COMPLETE trials with a finite value: the only ones a model learns from.

    FAIL trials (exceptions, NaN) and PRUNED trials never feed a sampler's model.
    """
    return [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value)
    ]


def held_points(study: Study, trial: Any, names: list[str]) -> list[dict[str, Any]]:
    """The params of every other trial that has all of ``names``, in any state.

    COMPLETE, PRUNED and FAIL trials by their params, RUNNING ones by their prepared params
    too: a sampler proposing one of these points again would most likely waste the trial
    (a pruned point is pruned again), so the samplers avoid them.
    """
    points = []
    for t in study.get_trials(deepcopy=False):
        if t.number == trial.number:
            continue
        params = dict(t.params)
        if not t.state.is_finished():
            fixed = t.system_attrs.get(FIXED_PARAMS_KEY)
            params.update(fixed if isinstance(fixed, dict) else {})
        if all(n in params for n in names):
            points.append(params)
    return points


def intersection_search_space(trials: list[FrozenTrial]) -> dict[str, BaseDistribution]:
    """Parameters present, with the same distribution, in every given trial (name order).

    Parameters that take a single value are left out: there is nothing to choose.
    """
    space: dict[str, BaseDistribution] | None = None
    for t in trials:
        if space is None:
            space = dict(t.distributions)
        else:
            space = {
                k: d for k, d in space.items() if k in t.distributions and t.distributions[k] == d
            }
    return {k: space[k] for k in sorted(space or {}) if not space[k].single()}


def minimize_sign(study: Study) -> float:
    """+1 for minimize, -1 for maximize: models always minimize ``sign * value``."""
    return -1.0 if study.direction.value == "maximize" else 1.0
