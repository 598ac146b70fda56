"""suggest_* distributions, validation errors, conditional spaces, JSON round trips."""

import math

import numpy as np
import pytest
import tune_objectives as objs

import zengrad.tune as tune
from zengrad.tune.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)


def _study(seed=0):
    return tune.create_study(sampler=tune.RandomSampler(seed), pruner=tune.NopPruner())


def test_suggest_float_uniform_in_range():
    study = _study()
    values = []
    for _ in range(300):
        t = study.ask()
        values.append(t.suggest_float("x", -2.0, 3.0))
        study.tell(t, 0.0)
    values = np.array(values)
    assert values.min() >= -2.0 and values.max() <= 3.0
    # uniform: mean near 0.5, both halves populated
    assert abs(values.mean() - 0.5) < 0.3
    assert (values < 0.5).sum() > 100 and (values > 0.5).sum() > 100


def test_suggest_float_log_is_uniform_in_log_space():
    study = _study(1)
    values = []
    for _ in range(400):
        t = study.ask()
        values.append(t.suggest_float("lr", 1e-5, 1.0, log=True))
        study.tell(t, 0.0)
    logs = np.log10(values)
    assert min(values) >= 1e-5 and max(values) <= 1.0
    # half of the mass below 10^-2.5 (the log-midpoint), not ~0.3% as a linear draw gives
    assert 0.4 < np.mean(logs < -2.5) < 0.6


def test_suggest_float_step_and_int_step():
    study = _study(2)
    for _ in range(100):
        t = study.ask()
        f = t.suggest_float("f", 0.0, 1.0, step=0.25)
        i = t.suggest_int("i", 2, 11, step=3)  # 2, 5, 8, 11
        il = t.suggest_int("il", 1, 1000, log=True)
        assert f in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert isinstance(i, int) and i in (2, 5, 8, 11)
        assert isinstance(il, int) and 1 <= il <= 1000
        study.tell(t, 0.0)
    seen = {tr.params["i"] for tr in study.trials}
    assert seen == {2, 5, 8, 11}  # every value reachable, including both ends


def test_suggest_categorical_types_and_all_choices():
    study = _study(3)
    choices = [None, True, 3, 2.5, "relu"]
    got = []
    for _ in range(100):
        t = study.ask()
        got.append(t.suggest_categorical("c", choices))
        study.tell(t, 0.0)
    assert {repr(g) for g in got} == {repr(c) for c in choices}


def test_repeated_suggest_returns_same_value():
    t = _study().ask()
    a = t.suggest_float("x", 0.0, 1.0)
    assert t.suggest_float("x", 0.0, 1.0) == a
    assert t.params == {"x": a}


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda t: t.suggest_float("lr", 1.0, 0.5), "lr.*low=1.0 must be <= high=0.5"),
        (lambda t: t.suggest_float("lr", 0.0, 1.0, log=True), "lr.*low > 0"),
        (lambda t: t.suggest_float("lr", 1e-3, 1.0, log=True, step=0.1), "lr.*step.*log"),
        (lambda t: t.suggest_int("n", 5, 1), "n.*low=5 must be <= high=1"),
        (lambda t: t.suggest_int("n", 0, 10, log=True), "n.*low > 0"),
        (lambda t: t.suggest_int("n", 1, 10, log=True, step=2), "n.*step.*log"),
        (lambda t: t.suggest_int("n", 1, 10, step=0), "n.*step must be > 0"),
        (lambda t: t.suggest_int("n", 1.5, 10), "n.*integer"),
        (lambda t: t.suggest_categorical("act", []), "act.*empty"),
        (lambda t: t.suggest_categorical("act", [[1, 2]]), "act.*not supported"),
    ],
)
def test_validation_errors_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call(_study().ask())


def test_same_name_different_distribution_in_one_trial():
    t = _study().ask()
    t.suggest_float("x", 0.0, 1.0)
    with pytest.raises(ValueError, match="'x' was already suggested"):
        t.suggest_float("x", 0.0, 2.0)


def test_same_name_different_kind_across_trials():
    study = _study()
    t = study.ask()
    t.suggest_float("width", 1.0, 10.0)
    study.tell(t, 1.0)
    t2 = study.ask()
    with pytest.raises(ValueError, match="'width'"):
        t2.suggest_int("width", 1, 10)
    # a different range of the same kind is fine (dynamic search spaces)
    assert 1.0 <= t2.suggest_float("width", 1.0, 5.0) <= 5.0


def test_conditional_search_space():
    study = _study(4)
    study.optimize(objs.conditional, n_trials=40)
    for t in study.trials:
        assert t.state is tune.TrialState.COMPLETE
        if t.params["opt"] == "sgd":
            assert set(t.params) == {"opt", "x", "momentum"}
        else:
            assert set(t.params) == {"opt", "x", "beta"}
            assert t.user_attrs == {"branch": "adam"}
    assert {t.params["opt"] for t in study.trials} == {"sgd", "adam"}


def test_unit_mapping_round_trip_and_padding():
    d = IntDistribution(1, 4)
    # each integer owns a quarter of [0, 1]
    assert [d.from_unit(u) for u in (0.0, 0.24, 0.26, 0.49, 0.51, 0.74, 0.76, 1.0)] == [
        1, 1, 2, 2, 3, 3, 4, 4]
    for v in (1, 2, 3, 4):
        assert d.from_unit(d.to_unit(v)) == v
    f = FloatDistribution(1e-4, 1.0, log=True)
    assert math.isclose(f.to_unit(1e-2), 0.5)
    assert math.isclose(f.from_unit(0.5), 1e-2)
    assert FloatDistribution(0, 1, step=0.3).high == pytest.approx(0.9)


@pytest.mark.parametrize("dist", [
    FloatDistribution(1e-5, 1.0, log=True), FloatDistribution(0, 1, step=0.1),
    IntDistribution(1, 64, log=True), IntDistribution(0, 10, step=2),
    CategoricalDistribution(["a", 1, None, 2.5, False]),
])
def test_distribution_json_round_trip(dist):
    text = distribution_to_json(dist)
    assert json_to_distribution(text) == dist
    assert "pickle" not in text


def test_int_contains_numpy_ints():
    assert IntDistribution(0, 10).contains(np.int64(3))
    assert not IntDistribution(0, 10).contains(3.5)
    assert not IntDistribution(0, 10).contains(True)
