"""Plots write non-empty PNG files (needs matplotlib; skipped without it)."""

import pytest
import tune_objectives as objs

import zengrad.tune as tune

pytest.importorskip("matplotlib")
from zengrad.tune import viz  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study():
    s = tune.create_study(sampler=tune.RandomSampler(0), pruner=tune.NopPruner())
    s.optimize(objs.branin, n_trials=15)
    return s


def _check_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_history_png(study, tmp_path):
    fig = viz.plot_optimization_history(study, tmp_path / "history.png")
    _check_png(tmp_path / "history.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "trial"


def test_slice_png_with_log_and_categorical(tmp_path):
    s = tune.create_study(sampler=tune.RandomSampler(1))
    s.optimize(objs.mixed, n_trials=12)
    fig = viz.plot_slice(s, tmp_path / "slice.png")
    _check_png(tmp_path / "slice.png")
    assert len(fig.axes) == 3 and fig.axes[0].get_xscale() == "log"  # lr, n, opt


def test_contour_png_from_gp_mean(study, tmp_path):
    fig = viz.plot_contour(study, tmp_path / "contour.png", resolution=30)
    _check_png(tmp_path / "contour.png")
    assert fig.axes[0].get_xlabel() == "x1" and fig.axes[0].get_ylabel() == "x2"


def test_contour_needs_two_numeric_params(tmp_path):
    s = tune.create_study(sampler=tune.RandomSampler(1))
    s.optimize(objs.conditional, n_trials=12)  # numeric: x, momentum, beta
    with pytest.raises(ValueError, match="exactly two numeric"):
        viz.plot_contour(s, tmp_path / "c.png")
    with pytest.raises(ValueError, match="exactly two numeric"):
        viz.plot_contour(s, tmp_path / "c.png", params=["x", "opt"])
    viz.plot_contour(s, tmp_path / "c.png", params=["x", "momentum"], resolution=10)
    _check_png(tmp_path / "c.png")


def test_empty_study_has_nothing_to_plot(tmp_path):
    with pytest.raises(ValueError, match="no completed trial"):
        viz.plot_optimization_history(tune.create_study(), tmp_path / "x.png")
