"""Plots: non-empty PNG files; activation derivatives from autograd are right."""

import numpy as np
import pytest

from zengrad import viz
from zengrad.train import History

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG


def test_learning_curves_and_confusion_matrix(tmp_path):
    h = History()
    for e, (l, vl) in enumerate([(1.0, 1.1), (0.6, 0.8), (0.4, 0.7)]):
        h.append(e, {"loss": l, "accuracy": 1 - l / 2, "val_loss": vl,
                     "val_accuracy": 1 - vl / 2, "lr": 0.1})
    viz.plot_learning_curves(h, tmp_path / "lc.png", title="t")
    viz.plot_learning_curves({"loss": [3, 2, 1]}, tmp_path / "lc2.png")
    viz.plot_confusion_matrix(np.array([[5, 1], [2, 7]]), tmp_path / "cm.png",
                              class_names=["a", "b"], normalize=True)
    for name in ("lc.png", "lc2.png", "cm.png"):
        assert _is_png(tmp_path / name)
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.zeros((2, 3)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        viz.plot_learning_curves({}, tmp_path / "x.png")


def test_activation_figure_and_autograd_derivatives(tmp_path):
    viz.plot_activations(tmp_path / "act.png")
    assert _is_png(tmp_path / "act.png")
    curves = viz.activation_curves(("sigmoid", "tanh", "relu", "softplus"), n=101)
    x, y, dy = curves["sigmoid"]
    np.testing.assert_allclose(dy, y * (1 - y), rtol=1e-12)
    x, y, dy = curves["tanh"]
    np.testing.assert_allclose(dy, 1 - y**2, rtol=1e-10, atol=1e-15)
    x, _, dy = curves["relu"]
    np.testing.assert_array_equal(dy[x > 0], 1.0)
    np.testing.assert_array_equal(dy[x < 0], 0.0)
    x, _, dy = curves["softplus"]
    np.testing.assert_allclose(dy, 1 / (1 + np.exp(-x)), rtol=1e-12)
    with pytest.raises(ValueError, match="no activation"):
        viz.activation_curves(("nope",))


def test_forecast_plot(tmp_path):
    t = np.arange(1990, 2010)
    truth = np.sin(t / 3.0)
    viz.plot_forecast(tmp_path / "f.png", truth, truth[:, None] + [0.1, 0.2], naive=truth - 0.3,
                      times=t, context=(np.arange(1970, 1990), np.cos(np.arange(20))),
                      label="lstm", ylabel="value", title="t")
    viz.plot_forecast(tmp_path / "g.png", truth, truth + 0.1)
    assert _is_png(tmp_path / "f.png") and _is_png(tmp_path / "g.png")
    with pytest.raises(ValueError, match=r"forecast must be \(20,\) or \(20, horizon\), got "
                                         r"shape \(19,\)"):
        viz.plot_forecast(tmp_path / "x.png", truth, truth[:19])
    with pytest.raises(ValueError, match=r"times must be \(20,\)"):
        viz.plot_forecast(tmp_path / "x.png", truth, truth, times=t[:5])
