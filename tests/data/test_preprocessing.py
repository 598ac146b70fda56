"""StandardScaler / MinMaxScaler against scikit-learn."""

import numpy as np
import pytest
from sklearn import preprocessing as skp

from zengrad.data import MinMaxScaler, StandardScaler


def test_standard_scaler_matches_sklearn(rng):
    train = rng.normal(3.0, 2.0, size=(50, 4)).astype(np.float32)
    train[:, 2] = 1.5  # a constant feature
    test = rng.normal(3.0, 2.0, size=(20, 4)).astype(np.float32)
    ours = StandardScaler().fit(train)
    ref = skp.StandardScaler().fit(train.astype(np.float64))
    out = ours.transform(test)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref.transform(test.astype(np.float64)), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(ours.inverse_transform(out), test, rtol=1e-5, atol=1e-5)


def test_min_max_scaler_matches_sklearn(rng):
    train = rng.uniform(-5, 9, size=(40, 3))
    test = rng.uniform(-5, 9, size=(10, 3))
    ours = MinMaxScaler((-1, 1)).fit(train)
    ref = skp.MinMaxScaler((-1, 1)).fit(train)
    np.testing.assert_allclose(ours.transform(test), ref.transform(test), rtol=1e-12)
    np.testing.assert_allclose(ours.fit_transform(train).min(0), -1)


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="fit"):
        StandardScaler().transform(np.zeros((2, 2)))
    s = StandardScaler().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="fitted on"):
        s.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="lo < hi"):
        MinMaxScaler((1, 0))


def test_preprocessing_round_trip_and_registry():
    import json

    from zengrad.data import get_dataset
    from zengrad.data.preprocessing import Preprocessing

    wine = get_dataset("wine")
    pre = wine.preprocessing
    assert pre is not None and pre.input_shape == (13,)
    back = Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())), "p.json")
    assert back == pre
    raw = pre.inverse_transform(wine.x_test)
    np.testing.assert_allclose(back.transform(raw), wine.x_test, atol=1e-5)
    # digits: raw pixel counts 0..16, flattened or not, give the loader's [0, 1] images
    digits = get_dataset("digits")
    raw = np.rint(digits.x_test * 16).reshape(len(digits.x_test), 64)
    assert (digits.preprocessing.transform(raw) == digits.x_test).all()
    # diabetes: the target scaler maps predictions back to target units
    diabetes = get_dataset("diabetes")
    y = diabetes.preprocessing.inverse_transform_target(diabetes.y_test)
    assert 25 <= y.min() and y.max() <= 346
    assert get_dataset("moons").fitted_preprocessing() == Preprocessing((2,))
    with pytest.raises(ValueError, match="the model takes \\(N, 13\\)"):
        pre.transform(np.zeros((2, 12)), "x.npy")


def test_recorded_range_refuses_other_units_and_preprocessed_inputs():
    import copy
    import json

    from zengrad.data import get_dataset
    from zengrad.data.preprocessing import Preprocessing

    wine = get_dataset("wine")
    pre = copy.deepcopy(wine.preprocessing).record_range(wine.x_train)
    raw = pre.inverse_transform(wine.x_test)
    pre.check_raw(raw.min(0), raw.max(0), "raw.npy")  # raw features pass
    with pytest.raises(ValueError, match=r"raw\.npy: feature \d+ .* far outside"):
        pre.check_raw(wine.x_test.min(0), wine.x_test.max(0), "raw.npy")
    with pytest.raises(ValueError, match="far outside"):  # grams instead of kilograms, say
        pre.check_raw(raw.min(0) * 1000, raw.max(0) * 1000, "raw.npy")
    back = Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())), "p.json")
    assert back == pre
    digits = get_dataset("digits")
    pre = copy.deepcopy(digits.preprocessing).record_range(digits.x_train)
    pre.check_raw(np.zeros((1, 8, 8)), np.full((1, 8, 8), 16.0), "x.npy")
    with pytest.raises(ValueError, match="look already preprocessed"):
        pre.check_raw(np.zeros((1, 8, 8)), np.ones((1, 8, 8)), "x.npy")
    # a damaged range in preprocessing.json names the field
    d = pre.to_dict()
    d["x_range"]["raw_min"] = d["x_range"]["raw_min"][:3]
    with pytest.raises(ValueError, match=r"p\.json: field 'x_range\.raw_min'"):
        Preprocessing.from_dict(d, "p.json")
    d = pre.to_dict()
    d["x_range"]["model_min"] = "low"
    with pytest.raises(ValueError, match=r"p\.json: field 'x_range\.model_min/max'"):
        Preprocessing.from_dict(d, "p.json")
