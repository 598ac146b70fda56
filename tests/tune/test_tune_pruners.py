"""MedianPruner and SuccessiveHalvingPruner on crafted sequences; PruningCallback."""

import pytest

import zengrad.tune as tune
from zengrad.tune import TrialState


def _complete_curves(study, curves):
    """Finish one trial per curve, reporting curve[step] at each step."""
    for curve in curves:
        t = study.ask()
        for step, v in enumerate(curve):
            t.report(v, step)
        study.tell(t, curve[-1])


def _probe(study, values, steps=None):
    """A new trial reporting ``values``; returns should_prune() after each report."""
    t = study.ask()
    out = []
    for step, v in zip(steps or range(len(values)), values):
        t.report(v, step)
        out.append(t.should_prune())
    study.tell(t, TrialState.PRUNED)
    return out


def _study(pruner, direction="minimize"):
    return tune.create_study(sampler=tune.RandomSampler(0), pruner=pruner, direction=direction)


def test_median_prunes_worse_than_median():
    study = _study(tune.MedianPruner(n_startup_trials=5))
    _complete_curves(study, [[v] * 4 for v in (1.0, 2.0, 3.0, 4.0, 5.0)])  # median 3 at each step
    assert _probe(study, [2.5, 2.9, 2.0]) == [False, False, False]
    assert _probe(study, [3.5]) == [True]
    # the trial's best so far counts: 2.0 at step 0 keeps it alive at step 1 despite 3.5
    assert _probe(study, [2.0, 3.5]) == [False, False]


def test_median_startup_trials():
    study = _study(tune.MedianPruner(n_startup_trials=5))
    _complete_curves(study, [[v] * 3 for v in (1.0, 2.0, 3.0, 4.0)])
    assert _probe(study, [100.0, 100.0]) == [False, False]  # only 4 completed so far


def test_median_warmup_and_interval():
    study = _study(tune.MedianPruner(n_startup_trials=1, n_warmup_steps=2))
    _complete_curves(study, [[1.0] * 6])
    assert _probe(study, [5.0, 5.0, 5.0]) == [False, False, True]

    for interval, expected in ((1, [False, True, True]), (2, [False, False, True])):
        study = _study(tune.MedianPruner(n_startup_trials=1, interval_steps=interval))
        _complete_curves(study, [[1.0, 0.1, 0.1, 0.1]])
        # with interval 2, checks happen at steps 0, 2, 4: the step-1 report is not checked
        assert _probe(study, [0.5, 0.5, 0.5]) == expected
    study = _study(tune.MedianPruner(n_startup_trials=1, interval_steps=2))
    _complete_curves(study, [[1.0] * 6])
    # the first report at or after a check point is checked (steps 1, 3 here)
    assert _probe(study, [5.0, 5.0, 5.0], steps=[1, 3, 4]) == [True, True, True]


def test_median_maximize_and_nan():
    study = _study(tune.MedianPruner(n_startup_trials=3), direction="maximize")
    _complete_curves(study, [[v] * 2 for v in (1.0, 2.0, 3.0)])
    assert _probe(study, [2.5]) == [False]
    assert _probe(study, [1.5]) == [True]
    assert _probe(study, [float("nan")]) == [True]


def test_median_ignores_pruned_and_failed_trials():
    study = _study(tune.MedianPruner(n_startup_trials=2))
    _complete_curves(study, [[1.0], [2.0]])
    t = study.ask()
    t.report(100.0, 0)
    study.tell(t, TrialState.PRUNED)
    t = study.ask()
    t.report(-100.0, 0)
    study.tell(t, TrialState.FAIL)
    assert _probe(study, [1.4]) == [False]  # median of {1, 2} = 1.5
    assert _probe(study, [1.6]) == [True]


def test_successive_halving_crafted_sequence():
    # rungs at steps 1, 2, 4, ... ; keep the top 1/2 at each rung
    study = _study(tune.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2))
    # step 0 is below the first rung: never pruned
    assert _probe(study, [9.0, 1.0], steps=[0, 1]) == [False, False]  # alone at rung 0: kept
    assert _probe(study, [2.0], steps=[1]) == [True]  # competing {1, 2}: top half is {1}
    assert _probe(study, [0.5], steps=[1]) == [False]  # best so far
    assert _probe(study, [0.9], steps=[1]) == [False]  # {1, 2, .5, .9}: top 2 = {.5, .9}
    assert _probe(study, [1.5], steps=[1]) == [True]  # 5 values: top 2 = {.5, .9}
    rung0 = [t.system_attrs.get("completed_rung_0") for t in study.trials]
    assert rung0 == [1.0, 2.0, 0.5, 0.9, 1.5]
    # promotion to rung 1 (step 2) competes only with values recorded at rung 1
    assert _probe(study, [0.1, 0.1], steps=[1, 2]) == [False, False]
    assert study.trials[-1].system_attrs["completed_rung_1"] == 0.1
    assert _probe(study, [0.2, 0.3], steps=[1, 2]) == [False, True]


def test_successive_halving_rates_and_maximize():
    pruner = tune.SuccessiveHalvingPruner(min_resource=2, reduction_factor=3,
                                          min_early_stopping_rate=1)
    study = _study(pruner, direction="maximize")
    # first rung at step 2 * 3**1 = 6
    assert _probe(study, [0.0] * 7) == [False] * 7
    assert _probe(study, [-1.0] * 7) == [False] * 6 + [True]
    assert _probe(study, [5.0] * 7) == [False] * 7


def test_successive_halving_validation():
    with pytest.raises(ValueError, match="reduction_factor"):
        tune.SuccessiveHalvingPruner(reduction_factor=1)
    with pytest.raises(ValueError, match="min_resource"):
        tune.SuccessiveHalvingPruner(min_resource=0)


def test_nop_pruner_never_prunes():
    study = _study(tune.NopPruner())
    _complete_curves(study, [[1.0]] * 5)
    assert _probe(study, [1e9, float("nan")]) == [False, False]


def test_pruning_inside_optimize_records_pruned():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(10):
            trial.report(x, step)
            if trial.should_prune():
                raise tune.TrialPruned()
        return x

    study = _study(tune.MedianPruner(n_startup_trials=3))
    study.optimize(objective, n_trials=30)
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert pruned and len(done) >= 3
    for t in pruned:
        assert t.last_step < 9 and t.value == t.intermediate_values[t.last_step]


class _FakeTrainer:
    """Stands in for the future zengrad Trainer: calls on_epoch_end on each callback."""

    def fit(self, losses, callbacks):
        for epoch, loss in enumerate(losses):
            for cb in callbacks:
                cb.on_epoch_end(self, epoch, {"val_loss": loss, "loss": loss * 2})


def test_pruning_callback_duck_typed():
    study = _study(tune.MedianPruner(n_startup_trials=2))

    def objective(trial):
        base = trial.suggest_float("base", 0, 1)
        losses = [base + 1.0 / (e + 1) for e in range(6)]
        _FakeTrainer().fit(losses, [tune.PruningCallback(trial, monitor="val_loss")])
        return losses[-1]

    study.optimize(objective, n_trials=20)
    states = {t.state for t in study.trials}
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    for t in study.trials:
        assert list(t.intermediate_values) == list(range(len(t.intermediate_values)))

    trial = study.ask()
    with pytest.raises(KeyError, match="'acc'"):
        tune.PruningCallback(trial, monitor="acc").on_epoch_end(None, 0, {"val_loss": 1.0})
