"""GPSampler's start design (random, scrambled Sobol, explicit start points) and its
excursions out of a basin it has converged in."""

import math

import numpy as np
import pytest
import tune_objectives as objs

import zengrad.tune as tune
from zengrad.tune.distributions import FloatDistribution
from zengrad.tune.samplers._excursion import Excursions


def _run(sampler, objective, n):
    study = tune.create_study(sampler=sampler, pruner=tune.NopPruner())
    study.optimize(objective, n_trials=n)
    return study


def _units(study, names=("x1", "x2")):
    dists = study.trials[0].distributions
    return np.array([[dists[k].to_unit(t.params[k]) for k in names] for t in study.trials])


def test_sobol_start_is_balanced_and_seeded():
    # 8 = 2^3 points of a scrambled Sobol sequence: every 1/8 slice of each axis holds one
    study = _run(tune.GPSampler(seed=3, n_startup_trials=8, start_design="sobol"),
                 objs.branin, 8)
    u = _units(study)
    for col in u.T:
        assert sorted(np.floor(col * 8).astype(int)) == list(range(8))
    again = _units(_run(tune.GPSampler(seed=3, n_startup_trials=8, start_design="sobol"),
                        objs.branin, 8))
    other = _units(_run(tune.GPSampler(seed=4, n_startup_trials=8, start_design="sobol"),
                        objs.branin, 8))
    np.testing.assert_array_equal(u, again)
    assert not np.allclose(u, other)


def test_random_start_unchanged_by_the_design_option():
    a = _run(tune.GPSampler(seed=5, n_startup_trials=6), objs.branin, 6)
    b = _run(tune.GPSampler(seed=5, n_startup_trials=6, start_design="random"), objs.branin, 6)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_start_points_are_taken_first_then_the_model():
    points = [{"x": 4.0}, {"x": -4.0}, {"x": 0.5}]
    study = _run(tune.GPSampler(seed=0, n_startup_trials=2, start_points=points,
                                n_candidates=200), objs.quadratic, 5)
    assert [t.params["x"] for t in study.trials[:3]] == [4.0, -4.0, 0.5]
    assert abs(study.best_params["x"] - 1.0) < 0.5  # the GP moved on from the start points


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start_design="lhs"), ValueError, "start_design must be one of"),
    (dict(start_points=[3.0]), TypeError, "start_points must be a sequence"),
    (dict(stall_patience=0), ValueError, "stall_patience and excursion_length must be >= 1"),
    (dict(stall_patience=3, escape_radius=0.0), ValueError, "escape_radius must be > 0"),
])
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        tune.GPSampler(**kwargs)


def test_a_start_point_outside_its_distribution_fails_the_trial_clearly():
    study = tune.create_study(sampler=tune.GPSampler(start_points=[{"x": 9.0}]))
    with pytest.raises(ValueError, match=r"start_points\[0\]\['x'\] = 9.0 is outside"):
        study.optimize(objs.quadratic, n_trials=1, catch=())


def test_excursion_state_machine():
    exc = Excursions(patience=3, length=2, radius=0.2)
    numeric = np.array([True, True])
    X = np.array([[0.5, 0.5], [0.52, 0.5], [0.5, 0.48], [0.49, 0.5], [0.51, 0.51]])
    y = np.array([1.0, 0.0, 0.3, 0.2, 0.1])  # best at trial 1, then 3 without improving
    assert not exc.update(X[:4], y[:4], numeric)  # 2 trials since the best: not yet
    assert exc.update(X, y, numeric)  # 3: an excursion around the incumbent
    np.testing.assert_array_equal(exc.centers[0], X[1])
    assert exc.outside(np.array([[0.9, 0.9], [0.55, 0.5]]), numeric).tolist() == [True, False]
    X2, y2 = np.vstack([X, [[0.9, 0.9], [0.1, 0.9]]]), np.append(y, [0.5, 0.4])
    assert exc.update(X2[:6], y2[:6], numeric)  # 1 of 2 excursion trials: still running
    assert not exc.update(X2, y2, numeric)  # 2 without beating 0.0: failed, back to normal
    np.testing.assert_array_equal(exc.failed[-1], [0.1, 0.9])  # its best is remembered
    # limit=1: no second excursion, however long the stall
    once = Excursions(patience=3, length=2, radius=0.2, limit=1)
    assert once.update(X, y, numeric) and once.update(X2[:6], y2[:6], numeric)
    X3, y3 = np.vstack([X2, X2[:1].repeat(6, axis=0)]), np.append(y2, np.full(6, 0.9))
    assert not any(once.update(X3[:k], y3[:k], numeric) for k in range(7, 14))
    # an excursion that beats the incumbent ends at once
    exc2 = Excursions(patience=3, length=10, radius=0.2)
    assert exc2.update(X, y, numeric)
    assert not exc2.update(np.vstack([X, [[0.9, 0.1]]]), np.append(y, -1.0), numeric)


def test_gp_excursion_proposes_outside_the_converged_basin():
    # the best point came first and 5 trials around it did not improve: with patience 3 the
    # next proposal is an excursion, at RMS unit-cube distance >= 0.2 from the incumbent
    points = [{"x1": 0.3, "x2": 0.3}] + [
        {"x1": 0.3 + dx, "x2": 0.3 + dy}
        for dx, dy in [(0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02), (0.03, 0.03)]]

    def bowl(trial):
        x1, x2 = trial.suggest_float("x1", 0, 1), trial.suggest_float("x2", 0, 1)
        return (x1 - 0.3) ** 2 + (x2 - 0.3) ** 2

    sampler = tune.GPSampler(seed=0, n_startup_trials=6, start_points=points,
                             stall_patience=3, n_candidates=300)
    study = _run(sampler, bowl, 7)
    last = study.trials[-1].params
    assert math.sqrt(((last["x1"] - 0.3) ** 2 + (last["x2"] - 0.3) ** 2) / 2) >= 0.2


def test_sobol_columns_follow_suggestion_order():
    from zengrad.tune.samplers._start import StartDesign

    design = StartDesign("sobol", 4, 0, np.random.default_rng(0))
    d = FloatDistribution(0.0, 1.0, name="a")
    first = [design.sample(i, "a", d) for i in range(4)]
    second = [design.sample(i, "b", d) for i in range(4)]
    assert sorted(np.floor(np.array(first) * 4).astype(int)) == [0, 1, 2, 3]
    assert first != second
    assert design.covers(3) and not design.covers(4)
