"""Loss entries of nn.functional, with their reductions and keyword variants
(zengrad/ops/loss.py). Targets torch does not differentiate are NoGrad."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import ErrorInput, NoGrad, OpInfo, Sample
from tests.ops.registry.samples import SHAPE_ERRORS, errors, ones

REDUCTIONS = ("mean", "sum", "none")


def _regression(m, **kw):
    return [
        *[Sample((m(2, 3), m(2, 3)), {"reduction": r, **kw}, r) for r in REDUCTIONS],
        Sample((m(), m()), dict(kw), "0d"), Sample((m(0, 3), m(0, 3)), {"reduction": "sum"},
                                                   "size0_sum"),
    ]


def _shape_mismatch():
    # torch broadcasts with a warning; zengrad refuses (README deviation), so not listed here
    return [ErrorInput((np.ones(3), np.ones(3)), {"reduction": "avg"}, ValueError, "reduction",
                       "bad_reduction")]


def _probs(m, *shape):
    return m.pos(*shape, low=0.05, high=0.95)


def _bce(m):
    return [
        *[Sample((_probs(m, 2, 3), NoGrad(_probs(m, 2, 3))), {"reduction": r}, r)
          for r in REDUCTIONS],
        Sample((_probs(m, 2, 3), NoGrad(_probs(m, 2, 3)), NoGrad(m.pos(3))), desc="weight"),
        Sample((_probs(m), NoGrad(_probs(m))), desc="0d"),
    ]


def _bce_logits(m):
    return [
        *[Sample((m(2, 3), _probs(m, 2, 3)), {"reduction": r}, r) for r in REDUCTIONS],
        Sample((m(2, 3), _probs(m, 2, 3)),
               {"weight": NoGrad(m.pos(3)), "pos_weight": NoGrad(m.pos(3))},
               "weights"),
        Sample((m(), _probs(m)), desc="0d"),
    ]


def _cross_entropy(m):
    return [
        *[Sample((m(3, 4), m.index(4, 3)), {"reduction": r}, r) for r in REDUCTIONS],
        Sample((m(3, 4), m.index(4, 3)), {"weight": NoGrad(m.pos(4))}, "weight"),
        Sample((m(3, 4), np.array([0, -100, 2])), desc="ignore_index"),
        Sample((m(3, 4), m.index(4, 3)), {"label_smoothing": 0.2}, "label_smoothing"),
        Sample((m(3, 4), _probs(m, 3, 4)), desc="prob_target"),
        Sample((m(2, 3, 2, 2), m.index(3, 2, 2, 2)), desc="spatial"),
        Sample((m(4), np.array(1)), desc="unbatched"),
    ]


def _ce_errors():
    # torch: IndexError; zengrad: ValueError naming the class and the valid range
    return [ErrorInput((np.ones((3, 4)), np.array([0, 4, 1])), exc=(ValueError, IndexError),
                       match="class 4", desc="class_out_of_range"),
            ErrorInput((np.ones((3, 4)), np.array([0, 1])), exc=(ValueError, RuntimeError),
                       desc="batch_mismatch"),
            ErrorInput((np.ones((2, 3)), np.array([0, 1])), {"label_smoothing": 1.5},
                       SHAPE_ERRORS, "label_smoothing", "label_smoothing_above_1")]


def _nll(m):
    logp = np.log(_probs(m, 3, 4))
    return [
        *[Sample((logp, m.index(4, 3)), {"reduction": r}, r) for r in REDUCTIONS],
        Sample((logp, m.index(4, 3)), {"weight": NoGrad(m.pos(4))}, "weight"),
        Sample((logp, np.array([1, 2, 1])), {"ignore_index": 1}, "ignore_index"),
        Sample((np.log(_probs(m, 2, 3, 2)), m.index(3, 2, 2)), desc="spatial"),
    ]


def _kl(m):
    return [
        *[Sample((np.log(_probs(m, 2, 3)), _probs(m, 2, 3)), {"reduction": r}, r)
          for r in ("batchmean", "sum", "none")],
        Sample((np.log(_probs(m, 2, 3)), np.log(_probs(m, 2, 3))),
               {"log_target": True, "reduction": "batchmean"}, "log_target"),
    ]


ENTRIES = [
    OpInfo("F.mse_loss", _regression, errors=_shape_mismatch),
    OpInfo("F.l1_loss", _regression, errors=_shape_mismatch),
    OpInfo("F.smooth_l1_loss", errors=errors(ErrorInput(
        (ones(2), ones(2)), {"beta": -1.0}, SHAPE_ERRORS, "beta", "negative_beta")),
           samples=lambda m: _regression(m) + [
        Sample((m(2, 3), m(2, 3)), {"beta": 0.5}, "beta")]),
    OpInfo("F.huber_loss", errors=errors(ErrorInput(
        (ones(2), ones(2)), {"delta": -1.0}, SHAPE_ERRORS, "delta", "negative_delta")),
           samples=lambda m: _regression(m) + [
        Sample((m(2, 3), m(2, 3)), {"delta": 0.5}, "delta")]),
    OpInfo("F.binary_cross_entropy", _bce, errors=errors(ErrorInput(
        (ones(3) * 2, ones(3)), exc=SHAPE_ERRORS, match="0.*1", desc="input_above_1"))),
    OpInfo("F.binary_cross_entropy_with_logits", _bce_logits),
    OpInfo("F.cross_entropy", _cross_entropy, errors=_ce_errors, int_dtype=False),
    OpInfo("F.nll_loss", _nll, int_dtype=False, errors=errors(
        # torch: IndexError / RuntimeError; zengrad: ValueError / TypeError naming the problem
        ErrorInput((ones(2, 3), np.array([0, 3])), exc=(ValueError, IndexError),
                   match="class 3", desc="class_out_of_range"),
        ErrorInput((ones(2, 3), ones(2)), exc=(TypeError, RuntimeError), match="int",
                   desc="float_target"))),
    # (log-probabilities are not integers: no int64 dtype test)
    OpInfo("F.kl_div", _kl, int_dtype=False, errors=errors(ErrorInput(
        (ones(2), ones(2)), {"reduction": "x"}, ValueError, "reduction", "bad_reduction"))),
]
