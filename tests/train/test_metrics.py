"""Metrics against scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as skm

from zengrad.train import metrics as M


@pytest.mark.parametrize("seed", range(4))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    k = 2 + seed
    y = rng.integers(0, k, 60)
    scores = rng.standard_normal((60, k)) + 1.5 * np.eye(k)[y]
    pred = scores.argmax(1)
    assert M.accuracy(y, scores) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    np.testing.assert_array_equal(M.confusion_matrix(y, pred, k),
                                  skm.confusion_matrix(y, pred, labels=range(k)))
    for avg in ("macro", "micro", "weighted"):
        p, r, f = M.precision_recall_f1(y, scores, avg)
        assert p == pytest.approx(skm.precision_score(y, pred, average=avg, zero_division=0))
        assert r == pytest.approx(skm.recall_score(y, pred, average=avg, zero_division=0))
        assert f == pytest.approx(skm.f1_score(y, pred, average=avg, zero_division=0))
    if k > 2:  # sklearn reads two score columns as a binary problem
        for top in (1, 2):
            assert M.top_k_accuracy(y, scores, top) == pytest.approx(
                skm.top_k_accuracy_score(y, scores, k=top, labels=range(k)))
    assert M.top_k_accuracy(y, scores, k) == 1.0


def test_binary_and_absent_classes():
    y = np.array([0, 1, 1, 0, 1, 1])
    logits = np.array([-1.0, 2.0, -0.5, 0.3, 1.0, 4.0])  # one score per sample
    pred = (logits > 0).astype(int)
    for fn, ref in ((M.precision, skm.precision_score), (M.recall, skm.recall_score),
                    (M.f1_score, skm.f1_score)):
        assert fn(y, logits, "binary") == pytest.approx(ref(y, pred))
    assert M.accuracy(y, logits[:, None]) == pytest.approx(skm.accuracy_score(y, pred))
    # class 3 never appears: macro averages over classes that do (as sklearn)
    yt, yp = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    assert M.f1_score(yt, yp, num_classes=4) == pytest.approx(
        skm.f1_score(yt, yp, average="macro"))


def test_sequence_scores_use_axis_1():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((4, 5, 7))  # (N, C, L) as cross_entropy takes them
    y = scores.argmax(1)
    y[0, 0] = (y[0, 0] + 1) % 5
    assert M.accuracy(y, scores) == pytest.approx(1 - 1 / 28)


def test_regression_metrics_match_sklearn(rng):
    y = rng.standard_normal((40, 2))
    p = y + 0.3 * rng.standard_normal((40, 2))
    assert M.mse(y, p) == pytest.approx(skm.mean_squared_error(y, p))
    assert M.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert M.rmse(y, p) == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert M.r2_score(y, p) == pytest.approx(skm.r2_score(y, p))
    assert M.r2_score(y[:, 0], p[:, 0]) == pytest.approx(skm.r2_score(y[:, 0], p[:, 0]))
    assert M.r2_score(np.ones(3), np.ones(3)) == 1.0


def test_metric_lookup_and_errors():
    assert M.get_metric("acc")[0] == "accuracy"
    with pytest.raises(ValueError, match="unknown metric"):
        M.get_metric("bleu")
    with pytest.raises(ValueError, match="labels"):
        M.accuracy([0, 1, 1], [0, 1])
