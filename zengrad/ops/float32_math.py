"""exp and tanh of float32 scalars as Numba device functions that LLVM vectorizes, for fused
loops that would otherwise call NumPy's ufuncs pass by pass (the LSTM's step: ops.recurrent).

NumPy's float32 exp costs ~1.4 ns an element on an AVX2 host (up to 2.4 ulp off) and its tanh
~2.7 ns; inside one compiled loop these run at a fraction of that and need no pass of their
own. Both are accurate to about 1 ulp of float32 (tests/ops/test_float32_math.py measures it
against float64):

    exp32(v):  v = n ln2 + r (Cody-Waite: ln2 in two parts), |r| <= ln2 / 2, n an integer;
               e^r by its Taylor polynomial of degree 7 (|error| < 2^-26 relative),
               2^n built from its exponent bits (2^(n-1) * 2, so n = 128 does not overflow).
               v > 88.72 gives inf, v < -86 gives 0: values below e^-86 (4.5e-38) flush to 0
               where NumPy gives the subnormals; NaN gives NaN.
    tanh32(v): |v| < 0.625: v (1 + v^2 Q(v^2)), Q of degree 5 fitted (least squares on
               Chebyshev points) to (tanh v - v) / v^3, 7e-10 relative in float64 (v times
               the factor, not v + v^3 Q: that would turn -0.0 into +0.0);
               else sign(v) (1 - e) / (1 + e), e = exp32(-2 |v|) (no cancellation: e < 0.29).
               tanh32(-0.0) = -0.0, tanh32(+-inf) = +-1, NaN gives NaN.

Every constant is a float32 so the loops stay in float32. No fastmath: the bits do not depend
on how LLVM vectorizes (no reassociation), only on these formulas.
"""

from __future__ import annotations

import functools

import numpy as np

from zengrad.ops import kernels

f32 = np.float32
LOG2E = f32(1.4426950408889634)
LN2_HI = f32(0.693359375)  # ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits: n LN2_HI
LN2_LO = f32(-2.12194440e-4)  # is exact for |n| < 2^15
EXP_HI = f32(88.72283)
EXP_LO = f32(-86.0)
ROUND = f32(12582912.0)  # 1.5 * 2^23: t + ROUND - ROUND rounds t to an integer (|t| < 2^22)
E2, E3, E4, E5, E6, E7 = (f32(1 / 2), f32(1 / 6), f32(1 / 24), f32(1 / 120), f32(1 / 720),
                          f32(1 / 5040))
TANH_SMALL = f32(0.625)
Q0, Q1, Q2, Q3, Q4, Q5 = (f32(-0.3333333432674408), f32(0.13333310186862946),
                          f32(-0.05396048724651337), f32(0.02177688293159008),
                          f32(-0.008365762419998646), f32(0.0023140613920986652))
ONE, TWO, ZERO, INF = f32(1.0), f32(2.0), f32(0.0), f32(np.inf)

@functools.cache
def functions():
    """(exp32, tanh32), compiled device functions (inline='always'); None without Numba."""
    numba = kernels.numba_module()
    return _build(numba) if numba else None


def _build(numba):
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def bits_as_float32(typingctx, i):
        """The float32 whose bits are the int32 i (an LLVM bitcast: no instruction)."""

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float32))

        return types.float32(types.int32), codegen

    opts = dict(inline="always", error_model="numpy")

    @numba.njit(**opts)
    def exp32(v):
        c = min(max(v, EXP_LO), EXP_HI)
        n = (c * LOG2E + ROUND) - ROUND
        r = c - n * LN2_HI - n * LN2_LO
        p = ONE + r * (ONE + r * (E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * E7))))))
        e = p * bits_as_float32((np.int32(n) + np.int32(126)) << 23) * TWO
        e = INF if v > EXP_HI else e
        e = ZERO if v < EXP_LO else e
        return e if v == v else v

    @numba.njit(**opts)
    def tanh32(v):
        a = abs(v)
        u = v * v
        small = v * (ONE + u * (Q0 + u * (Q1 + u * (Q2 + u * (Q3 + u * (Q4 + u * Q5))))))
        e = exp32(-TWO * a)
        large = (ONE - e) / (ONE + e)
        large = -large if v < ZERO else large
        t = small if a < TANH_SMALL else large
        return t if v == v else v

    return exp32, tanh32
