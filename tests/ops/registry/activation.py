"""Activation entries, each with its keyword variants (zengrad/ops/activation.py)."""

from __future__ import annotations

import numpy as np

from tests.ops.registry.opinfo import F64, ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import errors, unary


def _with_kw(draw="away", **variants):
    """unary samples plus one (2, 3) sample per keyword variant {desc: kwargs}."""

    def make(m):
        return unary(draw)(m) + [Sample((m.away(2, 3, high=4.0),), kw, desc)
                                 for desc, kw in variants.items()]

    return make


def _softmax(m):
    return [
        Sample((m(2, 3), 1), desc="dim1"), Sample((m(2, 3, 2), -1), desc="neg_dim"),
        Sample((m(), 0), desc="0d"), Sample((m(0, 3), 1), desc="size0"),
        Sample((m(2, 3),), {"dim": 0, "dtype": F64}, "dtype_kw"),
        Sample((m(4, 3, low=-30, high=30), 0), desc="large_values"),
    ]


def _softmax_errors():
    return [ErrorInput((np.ones((2, 3)), 2), exc=IndexError, match="[Dd]im", desc="bad_dim"),
            # torch: NotImplementedError; zengrad: TypeError naming the dtype
            ErrorInput((np.arange(3), 0), exc=(TypeError, NotImplementedError),
                       match="floating", desc="integer_input")]


_F = [
    ("relu", _with_kw()), ("relu6", _with_kw(big={})), ("elu", _with_kw(alpha={"alpha": 0.5})),
    ("gelu", _with_kw(tanh={"approximate": "tanh"})),
    ("leaky_relu", _with_kw(slope={"negative_slope": 0.2})),
    ("silu", _with_kw()), ("softplus", _with_kw(beta={"beta": 2.0, "threshold": 3.0})),
    ("hardtanh", _with_kw(bounds={"min_val": -0.5, "max_val": 1.5})),
    ("logsigmoid", _with_kw()), ("mish", _with_kw()), ("softsign", _with_kw()),
    # hardswish/hardsigmoid have kinks at +-3: draw away from them
    ("hardswish", _with_kw(wide={})), ("hardsigmoid", _with_kw(wide={})),
]

_XFAIL = {"leaky_relu": {
    "dtype": "accepts integer input; torch raises 'leaky_relu_cpu not implemented for Long'"}}

_STRING = errors(ErrorInput(("a",), exc=TypeError, desc="string_input"))
_ERRORS = {
    "hardtanh": errors(ErrorInput((np.ones(2), 2.0, 1.0), exc=ValueError, match="min_val",
                                  desc="min_above_max")),
    "gelu": errors(ErrorInput((np.ones(2),), {"approximate": "x"}, (ValueError, RuntimeError),
                              "approximate", "bad_approximate")),
}

ENTRIES = [
    *[OpInfo(f"F.{name}", make, method=name, xfail=_XFAIL.get(name, {}),
             errors=_ERRORS.get(name, _STRING)) for name, make in _F],
    OpInfo("F.softmax", _softmax, method="softmax", errors=_softmax_errors),
    OpInfo("F.log_softmax", _softmax, method="log_softmax", errors=_softmax_errors),
]
