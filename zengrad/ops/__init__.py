"""Differentiable primitives, one family per file; each op is a Function.

This module also gives Tensor its methods (x.exp(), x.sum(dim), ...), so that methods and
functions are the same code.
"""

import sys

from zengrad.autograd.tensor import Tensor, bind_ops
from zengrad.ops import conv_transpose, groupnorm, indexing, interpolate, sorting, special
from zengrad.ops.activation import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from zengrad.ops.conv_transpose import *
from zengrad.ops.dims import normalize_dim, normalize_dims
from zengrad.ops.elementwise import (
    _alpha_args,
    abs,
    add,
    allclose,
    cast,
    ceil,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    cos,
    div,
    eq,
    equal,
    exp,
    fix,
    floor,
    floor_divide,
    fmod,
    frac,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    reciprocal,
    remainder,
    result_type,
    round,
    rsqrt,
    sign,
    sin,
    sqrt,
    square,
    sub,
    trunc,
    where,
)
from zengrad.ops.groupnorm import *
from zengrad.ops.indexing import *
from zengrad.ops.interpolate import *
from zengrad.ops.linalg import bmm, linear, matmul, mm
from zengrad.ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from zengrad.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    expand_as,
    flatten,
    flip,
    getitem,
    narrow,
    pad,
    permute,
    repeat,
    reshape,
    reverse_dims,
    split,
    squeeze,
    stack,
    t,
    transpose,
    unflatten,
    unsqueeze,
    unwrap_index,
    view,
)
from zengrad.ops.shape import contiguous as _contiguous  # Tensor methods only, as torch
from zengrad.ops.shape import is_contiguous as _is_contiguous
from zengrad.ops.sorting import *
from zengrad.ops.special import *

subtract, multiply, divide, true_divide, negative = sub, mul, div, div, neg

_METHODS = [
    abs, add, sub, mul, div, pow, neg, exp, log, log1p, sqrt, rsqrt, sign, sin, cos,
    square, reciprocal, maximum, minimum, clamp, clip, clamp_min, clamp_max, clone,
    eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor, logical_not, isnan, isinf,
    isfinite, isclose, floor, ceil, trunc, fix, frac, round, allclose, equal, floor_divide,
    remainder, fmod,
    sum, mean, prod, max, min, amax, amin, argmax, argmin, var, std, logsumexp, norm, all, any,
    reshape, view, flatten, unflatten, permute, transpose, t, squeeze, unsqueeze, expand,
    expand_as, repeat, flip, split, chunk, narrow, _contiguous, _is_contiguous, matmul, mm, bmm,
    sigmoid, tanh, relu, softmax, log_softmax,
]
for _fn in _METHODS:
    setattr(Tensor, _fn.__name__, _fn)
# the newer families name their Tensor methods themselves (module.TENSOR_METHODS)
for _family in (conv_transpose, groupnorm, indexing, interpolate, sorting, special):
    for _name, _fn in _family.TENSOR_METHODS.items():
        setattr(Tensor, _name, _fn)


def _where_method(self, condition, other):
    """x.where(condition, y) == where(condition, x, y)."""
    return where(condition, self, other)


def _type_as(self, other):
    """self.to(other.dtype)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as(): argument 'other' must be a Tensor, not {type(other).__name__}")
    return self.to(other.dtype)


Tensor.where = _where_method
Tensor.type_as = _type_as
Tensor.subtract, Tensor.multiply, Tensor.divide = sub, mul, div
Tensor.fix, Tensor.var_mean, Tensor.std_mean = trunc, var_mean, std_mean

from zengrad.ops.inplace import *  # noqa: E402  (after the loops: it replaces their x_ methods)

bind_ops(sys.modules[__name__])

__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "sys", "bind_ops", "conv_transpose", "groupnorm", "indexing", "interpolate", "sorting",
    "special")]
