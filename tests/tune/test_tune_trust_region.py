"""GPSampler's ways out of a local basin measured in issue 14's round 3: trust regions
(``trust_region``), a cap on the continuous lengthscales (``max_lengthscale``) and periodic
exploration steps (``explore_every``)."""

import numpy as np
import pytest
import tune_objectives as objs

import zengrad.tune as tune
from zengrad.tune.samplers._space import UnitSpace
from zengrad.tune.samplers._trust import TrustRegion


def _run(sampler, objective, n, storage=None, name=None):
    study = tune.create_study(sampler=sampler, pruner=tune.NopPruner(), storage=storage,
                              study_name=name)
    study.optimize(objective, n_trials=n)
    return study


def _params(study):
    return [t.params for t in study.trials]


def test_trust_region_state_machine():
    tr = TrustRegion(n0=2, init=0.8, min_length=0.3, success_tol=2, failure_tol=2, radius=0.2)
    numeric = np.array([True, True])
    X = np.array([[0.1, 0.1], [0.9, 0.9], [0.5, 0.5], [0.5, 0.45]])
    y = np.array([3.0, 4.0, 2.0, 1.0])  # two successes in a row: the box doubles
    tr.update(X, y, numeric)
    assert tr.length == pytest.approx(1.6) and tr.basins == []
    np.testing.assert_array_equal(tr.center, X[3])
    # then 6 failures: 1.6 -> 0.8 -> 0.4 -> 0.2 < 0.3, so the basin at X[3] is left
    X2 = np.vstack([X, np.full((6, 2), 0.52)])
    y2 = np.append(y, np.full(6, 1.5))
    tr.update(X2, y2, numeric)
    assert len(tr.basins) == 1 and tr.length == pytest.approx(0.8)
    np.testing.assert_array_equal(tr.basins[0], X[3])
    assert tr.center is None  # the new epoch's first step is global
    lo, hi = tr.bounds(np.array([0.5, 0.5]), numeric, np.zeros(2))
    np.testing.assert_array_equal(lo, [0, 0]) and np.testing.assert_array_equal(hi, [1, 1])
    # trials near the left basin no longer count; the start design outside it does
    assert tr.free.tolist() == [True, True] + [False] * 8
    assert tr.outside(np.array([[0.5, 0.5], [0.1, 0.9]]), numeric).tolist() == [False, True]


def test_trust_region_box_follows_lengthscales_and_grid_steps():
    tr = TrustRegion(n0=1, init=0.4)
    numeric = np.array([True, True, False, False])
    tr.update(np.array([[0.5, 0.5, 1.0, 0.0]]), np.array([1.0]), numeric)
    lo, hi = tr.bounds(np.array([0.1, 0.4, 1.0, 1.0]), numeric, np.array([0.0, 0.3, 0, 0]))
    # w = l / geomean(l) = 0.5, 2: half-widths 0.1, 0.4 (>= the grid minimum 0.3)
    np.testing.assert_allclose(lo, [0.4, 0.1, 0.0, 0.0])
    np.testing.assert_allclose(hi, [0.6, 0.9, 1.0, 1.0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(trust_region=dict(min_length=0.9)), "trust region lengths"),
    (dict(trust_region=dict(failure_tol=0)), "trust region tolerances"),
    (dict(trust_region=True, stall_patience=3), "trust_region and stall_patience"),
    (dict(max_lengthscale=0.0), "max_lengthscale must be in"),
    (dict(max_lengthscale=100.0), "max_lengthscale must be in"),
    (dict(explore_every=1), "explore_every must be >= 2"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tune.GPSampler(**kwargs)


OPTIONS = [dict(trust_region=True), dict(trust_region=dict(init=1.6, min_length=0.2)),
           dict(max_lengthscale=1.0), dict(explore_every=3)]


@pytest.mark.parametrize("kwargs", OPTIONS)
def test_options_are_deterministic_and_stay_on_the_grid(kwargs):
    a = _run(tune.GPSampler(seed=4, n_startup_trials=5, n_candidates=200, **kwargs),
             objs.mixed, 14)
    b = _run(tune.GPSampler(seed=4, n_startup_trials=5, n_candidates=200, **kwargs),
             objs.mixed, 14)
    assert _params(a) == _params(b)
    for p in _params(a):
        assert isinstance(p["n"], int) and 1 <= p["n"] <= 20
        assert 1e-5 <= p["lr"] <= 1.0 and p["opt"] in ("adam", "sgd", "rmsprop")
    assert len({tuple(sorted(p.items())) for p in _params(a)}) == len(a.trials)  # no repeats


@pytest.mark.parametrize("kwargs", OPTIONS)
def test_options_find_the_minimum_of_a_quadratic(kwargs):
    study = _run(tune.GPSampler(seed=0, n_startup_trials=4, n_candidates=200, **kwargs),
                 objs.quadratic, 16)
    assert abs(study.best_params["x"] - 1.0) < 0.1


def test_trust_region_proposals_stay_in_the_box():
    sampler = tune.GPSampler(seed=1, n_startup_trials=5, n_candidates=200,
                             trust_region=dict(init=0.4))
    seen = []
    propose = sampler._propose

    def recording(fitted, liars, taken, allowed, box, kind):
        x = propose(fitted, liars, taken, allowed, box, kind)
        seen.append((x, box))
        return x

    sampler._propose = recording
    _run(sampler, objs.branin, 12)
    assert len(seen) == 7
    for x, (lo, hi) in seen:
        assert np.all(x >= lo - 1e-9) and np.all(x <= hi + 1e-9)
        assert np.all(hi - lo < 1.0)  # a real box, not the whole cube


def test_trust_region_state_survives_a_storage_round_trip(tmp_path):
    # the region is replayed from the stored trials: a reloaded study derives the same one
    url = f"sqlite:///{tmp_path / 's.db'}"
    sampler = tune.GPSampler(seed=2, n_startup_trials=4, n_candidates=200,
                             trust_region=dict(failure_tol=1, min_length=0.3))
    study = _run(sampler, objs.quadratic, 14, storage=url, name="tr")
    space = UnitSpace(study.trials[0].distributions)

    def replay(s):
        tr = TrustRegion(4, failure_tol=1, min_length=0.3)
        trials = sorted(s.trials, key=lambda t: t.number)
        tr.update(np.array([space.encode(t.params) for t in trials]),
                  np.array([t.value for t in trials]), space.numeric)
        return tr

    here, there = replay(study), replay(tune.load_study(study_name="tr", storage=url))
    assert here.length == there.length and len(here.basins) == len(there.basins) >= 1
    np.testing.assert_array_equal(here.basins, there.basins)
    resumed = tune.load_study(study_name="tr", storage=url)
    resumed.sampler = tune.GPSampler(seed=2, n_startup_trials=4, n_candidates=200,
                                     trust_region=dict(failure_tol=1, min_length=0.3))
    resumed.optimize(objs.quadratic, n_trials=2)  # continues on the replayed region
    assert len(resumed.trials) == 16


def test_max_lengthscale_caps_only_the_continuous_columns():
    sampler = tune.GPSampler(seed=0, n_startup_trials=8, n_candidates=200, max_lengthscale=0.5)
    study = _run(sampler, objs.mixed, 10)
    fitted = sampler.fit(study)
    ls = fitted.gp.lengthscales
    assert np.all(ls[fitted.space.continuous] <= 0.5 + 1e-9)
    assert sampler._lengthscale_caps(fitted.space)[~fitted.space.continuous].min() > 0.5


def test_the_default_caps_continuous_lengthscales_at_the_cube_width():
    sampler = tune.GPSampler(seed=0, n_startup_trials=6, n_candidates=200)
    study = _run(sampler, objs.branin, 8)
    assert sampler.max_lengthscale == 1.0
    assert np.all(sampler.fit(study).gp.lengthscales <= 1.0 + 1e-9)
    wide = tune.GPSampler(max_lengthscale=None)
    assert wide._lengthscale_caps(UnitSpace(study.trials[0].distributions)) is None
