"""Elementwise entries: unary math, binary arithmetic with broadcasting, comparisons, clamps,
rounding, where/lerp/atan2 (zengrad/ops/elementwise.py, zengrad/ops/special.py)."""

from __future__ import annotations

from tests.ops.registry.opinfo import F32, ErrorInput, OpInfo, Sample
from tests.ops.registry.samples import (
    SHAPE_ERRORS,
    binary,
    errors,
    no_broadcast,
    not_a_tensor,
    ones,
    transpose_view,
    unary,
)

# floor, ceil, round, trunc, fix, sign and comparisons return tensors cut from the graph
# (README deviation): torch's have zero gradients, so there is nothing to compare but the
# forward
NO_GRAD_ROUNDING = {"grad": False}


def _u(name, draw="__call__", **kw) -> OpInfo:
    """A unary op of floats; a string input is refused."""
    return OpInfo(name, unary(draw), errors=errors(not_a_tensor()), **kw)


UNARY = [
    _u("abs", "away"), _u("neg", covers=("negative",)), _u("exp"), _u("log", "pos"),
    _u("log1p", "pos"),
    _u("sqrt", "pos"), _u("rsqrt", "pos"), _u("sin"), _u("cos"), _u("square"),
    _u("reciprocal", "away"), _u("frac", "away"), _u("tan", "__call__"),
    _u("erf"), _u("erfc"), _u("log2", "pos"), _u("log10", "pos"),
    _u("sigmoid", covers=("F.sigmoid",)), _u("tanh", covers=("F.tanh",)),
    _u("sign", "away", **NO_GRAD_ROUNDING), _u("floor", "away", **NO_GRAD_ROUNDING),
    _u("ceil", "away", **NO_GRAD_ROUNDING), _u("trunc", "away", **NO_GRAD_ROUNDING),
    _u("fix", "away", **NO_GRAD_ROUNDING),
    OpInfo("round", errors=errors(ErrorInput((ones(2),), {"decimals": 1.5}, TypeError,
                                             "decimals", "float_decimals")),
           samples=lambda m: unary("away")(m) + [
        Sample((m.away(2, 3, high=20.0),), {"decimals": 1}, "decimals1"),
        Sample((m.away(2, 3, high=200.0),), {"decimals": -1}, "decimals_neg"),
    ], grad=False),
    _u("isnan", grad=False), _u("isinf", grad=False), _u("isfinite", grad=False),
    _u("logical_not", grad=False),
    OpInfo("clone", unary()),
]


def _b(name, draw_a="__call__", draw_b="__call__", scalar=None, **kw) -> OpInfo:
    """A broadcasting binary op; operands that don't broadcast are refused."""
    return OpInfo(name, binary(draw_a, draw_b, scalar), errors=errors(no_broadcast()), **kw)


def _div_samples(m):
    out = binary("__call__", "away", 2.5)(m)
    for mode in ("trunc", "floor"):
        out.append(Sample((m(2, 3, low=-5, high=5), m.away(3)), {"rounding_mode": mode},
                          f"rounding_{mode}", grad=False))
    return out


def _add_samples(m):
    return binary(scalar=1.5)(m) + [Sample((m(2, 3), m(3)), {"alpha": 2}, "alpha")]


BINARY = [
    OpInfo("add", _add_samples, errors=errors(
        ErrorInput(("a", 1.0), exc=TypeError, desc="string"), no_broadcast())),
    OpInfo("sub", _add_samples, method_aliases=("subtract",), covers=("subtract",),
           errors=errors(no_broadcast())),
    _b("mul", scalar=-2.0, method_aliases=("multiply",), covers=("multiply",)),
    OpInfo("div", _div_samples, method_aliases=("divide",), covers=("divide", "true_divide"),
           errors=errors(no_broadcast(), ErrorInput(
               (ones(2), ones(2)), {"rounding_mode": "round"}, ValueError, "rounding_mode",
               "bad_rounding_mode"))),
    _b("pow", "pos", "__call__", scalar=2.0),
    _b("maximum", "distinct", "distinct"), _b("minimum", "distinct", "distinct"),
    _b("atan2", "away", "away", method_aliases=("arctan2",), covers=("arctan2",)),
    _b("fmod", "__call__", "away", scalar=1.5), _b("remainder", "__call__", "away", scalar=1.5),
    _b("floor_divide", "__call__", "away", grad=False),
    *[_b(n, grad=False) for n in ("eq", "ne", "lt", "le", "gt", "ge")],
    *[_b(n, grad=False) for n in ("logical_and", "logical_or", "logical_xor")],
    OpInfo("isclose", lambda m: _close_pairs(m), grad=False, errors=errors(no_broadcast())),
    OpInfo("allclose", lambda m: _close_pairs(m), grad=False, int_dtype=False),
    OpInfo("equal", lambda m: _equal_pairs(m), grad=False),
]


def _equal_pairs(m):
    a = m(2, 3)
    return [Sample((a, m(2, 3)), desc="differ"), Sample((a, a.copy()), desc="same"),
            Sample((a, a[:1].copy()), desc="shapes_differ")]


def _close_pairs(m):
    a = m(2, 3)
    return [
        Sample((a, a + 1e-7), desc="close"), Sample((a, m(2, 3)), desc="far"),
        Sample((a[:1], a), {"rtol": 0.0, "atol": 0.1}, "bcast_tol"),
    ]


def _clamp_samples(m):
    return [
        Sample((m(2, 3), -0.5, 0.5), desc="both"),
        Sample((m(2, 3),), {"min": -0.5}, "min_only"),
        Sample((m(2, 3),), {"max": 0.5}, "max_only"),
        Sample((m(), -0.5, 0.5), desc="0d"),
        Sample((m(0, 3), -0.5, 0.5), desc="size0"),
        Sample((transpose_view(m(3, 4)), m(4, low=-2, high=-0.3), m(3, 1, low=0.3, high=2)),
               desc="tensor_bounds"),
    ]


def _where_samples(m):
    return [
        Sample((m.mask(2, 3), m(2, 3), m(2, 3)), desc="same"),
        Sample((m.mask(2, 1), m(1, 3), m(2, 3)), desc="bcast"),
        Sample((m.mask(), m(), m()), desc="0d"),
        Sample((m.mask(0, 3), m(0, 3), m(3)), desc="size0"),
        Sample((m.mask(2, 3), m(2, 3), 0.0), desc="scalar"),
    ]


def _lerp_samples(m):
    return [
        Sample((m(2, 3), m(2, 3), 0.3), desc="scalar_weight"),
        Sample((m(2, 3), m(3), m(2, 1, low=0, high=1)), desc="tensor_weight_bcast"),
        Sample((m(), m(), 0.7), desc="0d"),
        Sample((m(0, 3), m(0, 3), 0.5), desc="size0"),
        Sample((transpose_view(m(3, 2)), m(3, 2), 0.25), desc="transposed"),
    ]


OTHER = [
    OpInfo("clamp", _clamp_samples, method_aliases=("clip",), covers=("clip",), errors=errors(
        ErrorInput((ones(2),), exc=(ValueError, RuntimeError), match="min|max", desc="no_bounds"),
        ErrorInput((ones(2), "a"), exc=TypeError, desc="string_bound"))),
    OpInfo("clamp_min", lambda m: [Sample((m(2, 3), 0.1)), Sample((m(), -0.2), desc="0d"),
                                   Sample((m(2, 3), m(3)), desc="tensor")]),
    OpInfo("clamp_max", lambda m: [Sample((m(2, 3), 0.1)), Sample((m(0, 2), 0.0), desc="size0"),
                                   Sample((m(2, 3), m(2, 1)), desc="tensor")]),
    OpInfo("where", _where_samples, method=False, errors=errors(ErrorInput(
        (ones(2, 3) > 0, ones(4), ones(1)), exc=SHAPE_ERRORS, match="broadcast",
        desc="no_broadcast"))),
    OpInfo("Tensor.where", lambda m: [Sample((m(2, 3), m.mask(2, 3), m(2, 3))),
                                      Sample((m(2, 3), m.mask(3), 1.0), desc="scalar")]),
    OpInfo("lerp", _lerp_samples, tol={F32: (1e-5, 1e-6)}, errors=errors(no_broadcast(0.5))),
]

ENTRIES = UNARY + BINARY + OTHER
