"""Hyperparameter optimization for any Python objective (Optuna's language).

    import zengrad.tune as tune

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        return (x - 2) ** 2

    study = tune.create_study(sampler=tune.GPSampler(seed=0))
    study.optimize(objective, n_trials=30)
    print(study.best_params)

This package imports only the standard library, NumPy and SciPy (matplotlib, tqdm and
dask are imported lazily by the features that use them).  See docs/tune.md.
"""

from .distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from .integration import PruningCallback
from .pruners import BasePruner, MedianPruner, NopPruner, SuccessiveHalvingPruner
from .samplers import BaseSampler, GeneticSampler, GPSampler, GridSampler, RandomSampler
from .storage import (
    BaseStorage,
    CorruptedStorageError,
    DuplicatedStudyError,
    InMemoryStorage,
    SQLiteStorage,
)
from .study import (
    SearchSpaceExhausted,
    Study,
    StudyDirection,
    create_study,
    load_study,
)
from .trial import FixedTrial, FrozenTrial, Trial, TrialPruned, TrialState

__all__ = [
    "BasePruner", "BaseSampler", "BaseStorage", "CategoricalDistribution",
    "CorruptedStorageError", "DuplicatedStudyError", "FixedTrial", "FloatDistribution",
    "FrozenTrial", "GPSampler", "GeneticSampler",
    "GridSampler", "InMemoryStorage", "IntDistribution", "MedianPruner", "NopPruner",
    "PruningCallback", "RandomSampler", "SQLiteStorage", "SearchSpaceExhausted", "Study",
    "StudyDirection", "SuccessiveHalvingPruner", "Trial", "TrialPruned", "TrialState",
    "create_study", "load_study",
]
