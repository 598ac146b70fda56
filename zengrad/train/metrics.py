"""Evaluation metrics on NumPy arrays (Tensors accepted), in scikit-learn's argument order
metric(y_true, y_pred).

For classification metrics y_pred may be labels (N,) or scores (N, C) (logits or
probabilities: the predicted class is the argmax over axis 1); a single float score per
sample, (N,) or (N, 1), is read as a binary logit (class 1 where the score > 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zengrad.autograd.tensor import Tensor


def _np(x) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels), flat int64. Scores with one more dimension than the
    labels hold the classes on axis 1 (PyTorch's layout: (N, C) or (N, C, L)); a single score
    per sample (a float array shaped like the labels, or with a size-1 class axis) is a
    binary logit, class 1 where > 0."""
    t = _np(y_true)
    p = _np(y_pred)
    if p.ndim == t.ndim + 1:
        p = p.argmax(axis=1) if p.shape[1] > 1 else (p.squeeze(1) > 0)
    elif p.dtype.kind == "f":
        p = p > 0
    if t.size != p.size:
        raise ValueError(f"y_true has {t.size} labels, y_pred gives {p.size} predictions "
                         f"(shapes {_np(y_true).shape} and {_np(y_pred).shape})")
    return t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class equals the true one."""
    t, p = _pair(y_true, y_pred)
    return float((t == p).mean()) if t.size else float("nan")


def top_k_accuracy(y_true, y_score, k: int = 5) -> float:
    """Fraction of samples whose true class is among the k highest scores (N, C)."""
    s = _np(y_score)
    t = _np(y_true).reshape(-1).astype(np.int64)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"top_k_accuracy: scores must be (N, C) with N = {t.shape[0]}, "
                         f"got {s.shape}")
    if not 1 <= k:
        raise ValueError(f"top_k_accuracy: k must be >= 1, got {k}")
    if k >= s.shape[1]:
        return 1.0
    # the true class is in the top k iff fewer than k classes score strictly higher
    true_score = s[np.arange(len(t)), t]
    return float(((s > true_score[:, None]).sum(axis=1) < k).mean())


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j (int64)."""
    t, p = _pair(y_true, y_pred)
    k = num_classes if num_classes is not None else int(max(t.max(initial=-1),
                                                            p.max(initial=-1))) + 1
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ValueError(f"confusion_matrix: labels must be in [0, {k})")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def precision_recall_f1(y_true, y_pred, average: str = "macro", num_classes=None,
                        pos_label: int = 1) -> tuple[float, float, float]:
    """(precision, recall, F1). precision = TP / (TP + FP), recall = TP / (TP + FN),
    F1 = 2 P R / (P + R); 0 where undefined (as scikit-learn's zero_division=0).
    average: 'macro' (unweighted mean over classes), 'micro' (global counts),
    'weighted' (mean weighted by support) or 'binary' (the pos_label class only)."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    tp = np.diag(cm)
    pred_pos = cm.sum(axis=0)
    true_pos = cm.sum(axis=1)

    def _div(a, b):
        return np.divide(a, b, out=np.zeros_like(np.asarray(a, np.float64)),
                         where=np.asarray(b) > 0)

    if average == "micro":
        tp, pred_pos, true_pos = tp.sum(), pred_pos.sum(), true_pos.sum()
    elif average == "binary":
        if cm.shape[0] > 2:
            raise ValueError(f"average='binary' needs 2 classes, got {cm.shape[0]}")
        if cm.shape[0] <= pos_label:
            return 0.0, 0.0, 0.0
        tp, pred_pos, true_pos = tp[pos_label], pred_pos[pos_label], true_pos[pos_label]
    elif average not in ("macro", "weighted"):
        raise ValueError(f"average must be 'macro', 'micro', 'weighted' or 'binary', "
                         f"got {average!r}")
    precision = _div(tp, pred_pos)
    recall = _div(tp, true_pos)
    f1 = _div(2 * precision * recall, precision + recall)
    if average in ("macro", "weighted"):
        # classes that occur in neither y_true nor y_pred don't count (as scikit-learn)
        present = (pred_pos + true_pos) > 0
        w = true_pos[present] if average == "weighted" else np.ones(present.sum())
        w = w / w.sum() if w.sum() > 0 else w
        return tuple(float((m[present] * w).sum()) for m in (precision, recall, f1))
    return float(precision), float(recall), float(f1)


def precision(y_true, y_pred, average: str = "macro", **kw) -> float:
    return precision_recall_f1(y_true, y_pred, average, **kw)[0]


def recall(y_true, y_pred, average: str = "macro", **kw) -> float:
    return precision_recall_f1(y_true, y_pred, average, **kw)[1]


def f1_score(y_true, y_pred, average: str = "macro", **kw) -> float:
    return precision_recall_f1(y_true, y_pred, average, **kw)[2]


def _reg_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = _np(y_true).astype(np.float64), _np(y_pred).astype(np.float64)
    if t.size != p.size:
        raise ValueError(f"y_true has {t.size} values, y_pred {p.size}")
    return t.reshape(p.shape) if t.shape != p.shape else t, p


def mse(y_true, y_pred) -> float:
    """mean((y - y_hat)^2)"""
    t, p = _reg_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mae(y_true, y_pred) -> float:
    """mean(|y - y_hat|)"""
    t, p = _reg_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true, y_pred) -> float:
    """sqrt(mse)"""
    return float(np.sqrt(mse(y_true, y_pred)))


def r2_score(y_true, y_pred) -> float:
    """1 - sum((y - y_hat)^2) / sum((y - mean(y))^2), averaged uniformly over output columns
    (as scikit-learn's default multioutput='uniform_average')."""
    t, p = _reg_pair(y_true, y_pred)
    t2, p2 = t.reshape(len(t), -1), p.reshape(len(p), -1)
    ss_res = ((t2 - p2) ** 2).sum(axis=0)
    ss_tot = ((t2 - t2.mean(axis=0)) ** 2).sum(axis=0)
    # scikit-learn: a constant target scores 1 if predicted exactly, else 0
    score = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                     np.where(ss_res == 0, 1.0, 0.0))
    return float(score.mean())


def _top5(y_true, y_score) -> float:
    return top_k_accuracy(y_true, y_score, 5)


METRICS: dict[str, Callable] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "top5_accuracy": _top5,
    "precision": precision,
    "recall": recall,
    "f1": f1_score,
    "mse": mse,
    "mae": mae,
    "rmse": rmse,
    "r2": r2_score,
}


def get_metric(metric: str | Callable) -> tuple[str, Callable]:
    """(name, fn(y_true, y_pred)) for a metric name (see METRICS) or a callable."""
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; available: {', '.join(METRICS)}")
    return ("accuracy" if metric == "acc" else metric), METRICS[metric]
