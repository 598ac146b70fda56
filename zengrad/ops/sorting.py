"""Scans, sorting and searching: cumsum, cumprod, cummax/cummin, logcumsumexp, sort, argsort,
msort, topk, kthvalue, unique, unique_consecutive, searchsorted, bucketize.

Sorted values are a permutation of the input, so their gradient is g put back at the
source positions (the indices); indices, inverses and counts carry no gradient.
Sorts are stable everywhere (a valid answer for stable=False too, which leaves the order of
ties unspecified) and put NaN last in ascending order, as torch does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import normalize_dim

__all__ = [
    "cumsum", "cumprod", "sort", "argsort", "topk", "unique", "cummax", "cummin",
    "logcumsumexp", "msort", "kthvalue", "searchsorted", "bucketize", "unique_consecutive",
]


class _ValuesIndices(NamedTuple):
    values: Tensor
    indices: Tensor


def _result_type(name: str) -> type:
    """A (values, indices) named tuple named and printed as torch.return_types.<name>."""

    def __repr__(self) -> str:
        return f"zengrad.return_types.{name}(\nvalues={self.values},\nindices={self.indices})"

    cls = type(name, (_ValuesIndices,), {"__slots__": (), "__repr__": __repr__})
    cls.__qualname__ = f"{name}_result"  # the module attribute, so that pickle finds it
    return cls


sort_result, topk_result = _result_type("sort"), _result_type("topk")
cummax_result, cummin_result = _result_type("cummax"), _result_type("cummin")
kthvalue_result = _result_type("kthvalue")


def _as_tensor(x, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(x).__name__}")


def _scan_dtype(x: np.ndarray, dtype) -> np.dtype:
    """torch's result dtype of cumsum/cumprod: dtype= if given, else int64 for integer and
    bool inputs (no overflow in narrow types), else the input's."""
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(np.int64) if x.dtype.kind in "iub" else x.dtype


# ------------------------------------------------------------------ scans


class CumSum(Function):
    """y_k = sum_{i <= k} x_i along axis;  dL/dx_i = sum_{k >= i} g_k (a reversed cumsum)."""

    @staticmethod
    def forward(ctx, x, axis):
        xp = ctx.xp = backend.xp_of(x)
        ctx.axis = axis
        return xp.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a = ctx.axis
        return xp.flip(xp.cumsum(xp.flip(g, a), axis=a), a), None


class CumProd(Function):
    """y_k = prod_{i <= k} x_i along axis;
    dL/dx_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j.

    Without zeros that is (sum_{k >= i} g_k y_k) / x_i. With zeros, let z be the first zero of
    a slice: for i < z the division formula still holds (x_i != 0, and y_k = 0 for k >= z);
    for i > z every product contains x_z = 0, so the gradient is 0; and for i = z it is
    y_{z-1} * sum_{k >= z} g_k prod_{z < j <= k} x_j, a cumprod of x with the entries up to z
    set to 1. All three are whole-array operations: no loop over the scanned dim.
    """

    @staticmethod
    def forward(ctx, x, axis):
        xp = ctx.xp = backend.xp_of(x)
        out = xp.cumprod(x, axis=axis)
        ctx.x, ctx.out, ctx.axis = x, out, axis
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a = ctx.axis
        x = xp.moveaxis(ctx.x, a, -1)
        y = xp.moveaxis(ctx.out, a, -1)
        g = xp.moveaxis(g, a, -1)
        n = x.shape[-1]
        if n == 0:
            return xp.moveaxis(xp.zeros_like(g), -1, a), None

        def rev_cumsum(v):
            return xp.flip(xp.cumsum(xp.flip(v, -1), axis=-1), -1)

        is_zero = x == 0
        has_zero = is_zero.any(axis=-1, keepdims=True)
        first = xp.where(has_zero, xp.argmax(is_zero, axis=-1, keepdims=True), n)
        pos = xp.arange(n)
        before = pos < first  # x_i != 0 there: the division formula holds
        one = xp.ones((), x.dtype)
        gx = xp.where(before, rev_cumsum(g * y) / xp.where(before, x, one), 0)
        if has_zero.any():
            # the first zero's own slope: y_{z-1} * sum_{k >= z} g_k prod_{z < j <= k} x_j
            after = xp.cumprod(xp.where(pos <= first, one, x), axis=-1)
            tail = xp.where(pos >= first, g * after, 0).sum(axis=-1, keepdims=True)
            prev = xp.take_along_axis(y, xp.maximum(first - 1, 0), axis=-1)
            prev = xp.where(first > 0, prev, one)
            gx = xp.where((pos == first) & has_zero, prev * tail, gx)
        return xp.moveaxis(gx.astype(g.dtype, copy=False), -1, a), None


def _scan(fn, name: str, input, dim: int, dtype) -> Tensor:
    input = _as_tensor(input, name)
    x = input.array
    axis = normalize_dim(dim, x.ndim)
    target = _scan_dtype(x, dtype)
    if target != x.dtype:
        from zengrad.ops.elementwise import cast

        input = cast(input, target)
    if x.ndim == 0:  # a 0-d tensor is its own cumulative sum/product
        from zengrad.ops.elementwise import clone

        return clone(input)
    return fn.apply(input, axis)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """y_k = x_0 + ... + x_k along dim (integers and bools sum in int64 unless dtype=).

    Gradient: dL/dx_i = sum_{k >= i} g_k.
    """
    return _scan(CumSum, "cumsum", input, dim, dtype)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """y_k = x_0 * ... * x_k along dim (integers and bools in int64 unless dtype=).

    Gradient: dL/dx_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j, exact when x has zeros.
    """
    return _scan(CumProd, "cumprod", input, dim, dtype)


# ------------------------------------------------------------------ sorting


class TakeSorted(Function):
    """y = x taken at idx along axis (a sort or top-k permutation);
    dL/dx = zeros with g put back at idx (the indices are distinct along axis)."""

    @staticmethod
    def forward(ctx, x, idx, axis):
        xp = ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.idx, ctx.axis = x.shape, idx, axis
        return xp.take_along_axis(x, idx, axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.shape, g.dtype)
        xp.put_along_axis(gx, ctx.idx, g, ctx.axis)
        return gx, None, None


def _stable_argsort(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort; descending keeps equal elements in their original order too: sort the
    reversed array ascending, reverse the result and map the positions back. NumPy puts NaN
    last ascending (first descending), as torch does."""
    xp = backend.xp_of(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    rev = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(rev, axis)


def _sortable(x: np.ndarray, op: str) -> None:
    if x.dtype.kind == "c":
        raise RuntimeError(f"{op}(): complex tensors have no order; sort .real or .abs()")


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """(values, indices): input sorted along dim, ascending unless descending=True, and where
    each value came from (values = input.gather(dim, indices)). The sort is always stable.

    Gradient: dL/dinput = g put back at indices (values only; indices are int64, no grad).
    """
    input = _as_tensor(input, "sort")
    x = input.array
    _sortable(x, "sort")
    axis = normalize_dim(dim, x.ndim)
    xp = backend.xp_of(input.array)
    if x.ndim == 0:
        from zengrad.ops.elementwise import clone

        return sort_result(clone(input), Tensor._make(xp.zeros((), np.int64), False, None))
    idx = _stable_argsort(x, axis, descending)
    values = TakeSorted.apply(input, idx, axis)
    return sort_result(values, Tensor._make(idx.astype(np.int64, copy=False), False, None))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    """The int64 indices that sort input along dim (sort(...).indices); no gradient."""
    input = _as_tensor(input, "argsort")
    x = input.array
    _sortable(x, "argsort")
    axis = normalize_dim(dim, x.ndim)
    xp = backend.xp_of(input.array)
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), np.int64), False, None)
    return Tensor._make(_stable_argsort(x, axis, descending).astype(np.int64), False, None)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """(values, indices) of the k largest (largest=False: smallest) entries along dim, in
    order largest-first (smallest-first); sorted=False also returns them in that order.
    Ties keep the lower index first.

    Gradient: dL/dinput = g put back at indices, 0 at the entries not selected.
    """
    input = _as_tensor(input, "topk")
    x = input.array
    _sortable(x, "topk")
    if x.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes (as torch on CPU)")
    axis = normalize_dim(dim, x.ndim)
    k = int(k)
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(
            f"topk: selected index k out of range (k = {k}, dim {dim} has size {n})"
        )
    xp = backend.xp_of(input.array)
    if x.ndim == 0:
        from zengrad.ops.elementwise import clone

        return topk_result(clone(input), Tensor._make(xp.zeros((), np.int64), False, None))
    # a full stable sort then the first k: O(n log n), simple and exact about ties
    idx = _stable_argsort(x, axis, largest)
    idx = xp.take(idx, xp.arange(k), axis=axis)
    values = TakeSorted.apply(input, idx, axis)
    return topk_result(values, Tensor._make(idx.astype(np.int64, copy=False), False, None))


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The distinct elements of the flattened input (dim=None), or the distinct slices along
    dim, ascending (slices compared lexicographically; sorted=False gives the same order, as
    torch on CPU). return_inverse: for each input element (each slice), the int64 position
    of its value in the output (input's shape; a 1-D tensor along dim); return_counts: how
    often each value occurs. NaNs are all distinct (dim=None), as in torch. No gradient.
    """
    input = _as_tensor(input, "unique")
    x = input.array
    _sortable(x, "unique")
    xp = backend.xp_of(input.array)
    if dim is None:
        values, inverse, counts = xp.unique(
            x.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False
        )
        inverse = inverse.reshape(x.shape)
    else:
        if x.ndim == 0:
            raise IndexError("unique: Dimension specified as 0 but tensor has no dimensions")
        axis = normalize_dim(dim, x.ndim)
        if x.size == 0 and x.shape[axis] != 0:
            raise RuntimeError(
                "unique: There are 0 sized dimensions, and they aren't selected, so unique "
                f"cannot be applied (shape {tuple(x.shape)}, dim {dim})"
            )
        if x.size == 0:
            values, inverse, counts = x, xp.zeros(0, np.int64), xp.zeros(0, np.int64)
        else:
            values, inverse, counts = xp.unique(
                x, return_inverse=True, return_counts=True, axis=axis
            )
            inverse = inverse.reshape(-1)
    out = [Tensor._make(values.astype(x.dtype, copy=False), False, None)]
    if return_inverse:
        out.append(Tensor._make(inverse.astype(np.int64, copy=False), False, None))
    if return_counts:
        out.append(Tensor._make(counts.astype(np.int64, copy=False), False, None))
    return out[0] if len(out) == 1 else tuple(out)


# ------------------------------------------------------------------ more scans and searches


class ScatterBack(Function):
    """y = x taken at idx along axis (idx may repeat: cummax, kthvalue);
    dL/dx = zeros with g added at idx (repeats accumulate)."""

    @staticmethod
    def forward(ctx, x, idx, axis):
        xp = ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.idx, ctx.axis = x.shape, idx, axis
        return xp.take_along_axis(x, idx, axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        from zengrad.ops.indexing import _along_index

        gx = xp.zeros(ctx.shape, g.dtype)
        xp.add.at(gx, _along_index(ctx.idx, ctx.axis, ctx.shape), g)
        return gx, None, None


def _cum_extreme(input, dim: int, is_min: bool, result: type, name: str):
    input = _as_tensor(input, name)
    x = input.array
    _sortable(x, name)
    axis = normalize_dim(dim, x.ndim)
    xp = backend.xp_of(input.array)
    if x.ndim == 0:
        from zengrad.ops.elementwise import clone

        return result(clone(input), Tensor._make(xp.zeros((), np.int64), False, None))
    run = (xp.minimum if is_min else xp.maximum).accumulate(x, axis=axis)
    # the index is the last position <= k where x reached the running extreme (ties move it
    # forward, as torch); NaN propagates and each NaN is a new record
    record = x == run
    if x.dtype.kind in "fc":
        record |= xp.isnan(x)
    shape = [1] * x.ndim
    shape[axis] = -1
    pos = xp.where(record, xp.arange(x.shape[axis]).reshape(shape), 0)
    idx = xp.maximum.accumulate(pos, axis=axis) if x.size else pos
    values = ScatterBack.apply(input, idx, axis)
    return result(values, Tensor._make(idx.astype(np.int64, copy=False), False, None))


def cummax(input: Tensor, dim: int):
    """(values, indices): values_k = max(x_0..x_k) along dim, indices_k = where that max was
    last reached (ties take the later index, NaN propagates, as torch).

    Gradient: dL/dx_i = sum of g_k over the k whose index is i.
    """
    return _cum_extreme(input, dim, False, cummax_result, "cummax")


def cummin(input: Tensor, dim: int):
    """(values, indices): values_k = min(x_0..x_k) along dim, indices_k = where that min was
    last reached. Gradient: dL/dx_i = sum of g_k over the k whose index is i."""
    return _cum_extreme(input, dim, True, cummin_result, "cummin")


class LogCumSumExp(Function):
    """y_k = log sum_{i <= k} exp(x_i) (np.logaddexp.accumulate: no overflow);
    dL/dx_i = sum_{k >= i} g_k exp(x_i - y_k), computed in log space for the positive and the
    negative parts of g separately: exp(x_i + log sum_{k >= i} exp(log g_k^+ - y_k)) - (same
    for g^-), so neither exp(x) nor exp(-y) is ever formed."""

    @staticmethod
    def forward(ctx, x, axis):
        xp = ctx.xp = backend.xp_of(x)
        out = xp.logaddexp.accumulate(x, axis=axis)
        ctx.x, ctx.out, ctx.axis = x, out, axis
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, x, y = ctx.axis, ctx.x, ctx.out
        if x.size == 0:
            return xp.zeros_like(g), None

        def rev_logcumsumexp(v):
            return xp.flip(xp.logaddexp.accumulate(xp.flip(v, a), axis=a), a)

        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            pos = xp.exp(x + rev_logcumsumexp(xp.log(xp.maximum(g, 0)) - y))
            neg = xp.exp(x + rev_logcumsumexp(xp.log(xp.maximum(-g, 0)) - y))
            gx = pos - neg
        # an x_i = -inf after a finite entry gets exp(-inf) = 0; a leading run of -inf (where
        # y is -inf too) gets nan, as torch: the slope is undefined there
        return gx.astype(g.dtype, copy=False), None


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """y_k = log(exp(x_0) + ... + exp(x_k)) along dim, stable for any range of x.

    Gradient: dL/dx_i = sum_{k >= i} g_k softmax-like weights exp(x_i - y_k).
    """
    input = _as_tensor(input, "logcumsumexp")
    x = input.array
    if x.dtype.kind not in "fc":
        raise NotImplementedError(
            f"logcumsumexp: not implemented for integer/bool tensors (got {x.dtype}); "
            "convert to a floating dtype first"
        )
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        from zengrad.ops.elementwise import clone

        return clone(input)
    return LogCumSumExp.apply(input, axis)


def msort(input: Tensor) -> Tensor:
    """sort(input, dim=0).values. Gradient: g put back where each value came from."""
    return sort(input, 0).values


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the k-th smallest entry along dim (k counts from 1); keepdim keeps
    dim with size 1. Which of tied entries is reported is unspecified (as torch).

    Gradient: dL/dinput = g put at the index, 0 elsewhere.
    """
    input = _as_tensor(input, "kthvalue")
    x = input.array
    _sortable(x, "kthvalue")
    axis = normalize_dim(dim, x.ndim)
    x1 = x.reshape(x.shape or (1,))
    n = x1.shape[axis]
    k = int(k)
    if not 1 <= k <= n:
        raise RuntimeError(
            f"kthvalue(): selected number k out of range for dimension {dim} (k = {k}, size "
            f"{n})"
        )
    # a partial sort: the k-th smallest lands at position k-1, O(n) per slice
    xp = backend.xp_of(input.array)
    idx = xp.take(xp.argpartition(x1, k - 1, axis=axis), [k - 1], axis=axis)
    src = input if x.ndim else _reshape(input, (1,))
    values = ScatterBack.apply(src, idx, axis)
    if x.ndim == 0:
        return kthvalue_result(_reshape(values, ()),
                               Tensor._make(xp.zeros((), np.int64), False, None))
    if not keepdim:
        values = _reshape(values, values.array.shape[:axis] + values.array.shape[axis + 1:])
        idx = xp.squeeze(idx, axis)
    return kthvalue_result(values, Tensor._make(idx.astype(np.int64, copy=False), False, None))


def _reshape(t: Tensor, shape) -> Tensor:
    from zengrad.ops.shape import reshape

    return reshape(t, shape)


def _search(seq: np.ndarray, v: np.ndarray, right: bool) -> np.ndarray:
    """searchsorted of v in seq along the last dim, batched over seq's leading dims: the count
    of entries < v (<= v when right), which is the insertion point in a sorted row."""
    xp = backend.xp_of(seq)
    if seq.ndim == 1:
        return xp.searchsorted(seq, v, side="right" if right else "left")
    # batched rows (NumPy has no batched searchsorted): sort each row of values and boundaries
    # together, stably, the values first when ties should count as "after" them (left) and
    # last otherwise (right); a value's answer is the number of boundaries sorted before it
    m, n = seq.shape[-1], v.shape[-1]
    joint = xp.concatenate([seq, v] if right else [v, seq], axis=-1)
    order = xp.argsort(joint, axis=-1, kind="stable")
    is_seq = (order < m) if right else (order >= n)
    before = xp.cumsum(is_seq, axis=-1) - is_seq  # boundaries sorted before each position
    value_pos = order - m if right else order  # where each sorted entry came from in v
    out = xp.empty(v.shape, np.int64)
    at = xp.nonzero(~is_seq)  # the sorted positions holding values
    out[at[:-1] + (value_pos[at],)] = before[at]
    return out


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter=None) -> Tensor:
    """For each value v of input, the index i with seq[i-1] < v <= seq[i] (right=True or
    side='right': seq[i-1] <= v < seq[i]) in the innermost dim of sorted_sequence; a 1-D
    sequence serves every value, an N-D one matches input's leading dims row by row. sorter:
    the indices that sort an unsorted sequence. No gradient (int64 or int32 out)."""
    seq_t = _as_tensor(sorted_sequence, "searchsorted")
    seq = seq_t.array
    scalar = not isinstance(input, Tensor)
    xp = backend.xp_of(sorted_sequence.array)
    v = xp.asarray(input) if scalar else input.array
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError(
                "searchsorted(): side and right can't be set to opposites, got side of left "
                "while right was True"
            )
        right = side == "right"
    if seq.ndim == 0:
        raise RuntimeError("searchsorted(): boundaries tensor should have at least 1 dimension")
    if sorter is not None:
        order = _as_tensor(sorter, "searchsorted").array
        if order.shape != seq.shape or order.dtype.kind != "i":
            raise RuntimeError(
                f"searchsorted(): sorter must be an int64 tensor of the boundaries' shape "
                f"{list(seq.shape)}, got {order.dtype} {list(order.shape)}"
            )
        seq = xp.take_along_axis(seq, order, axis=-1)
    if seq.ndim > 1 and (v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(
            f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            f"dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor {list(v.shape)}"
        )
    out = _search(seq, v, right)
    return Tensor._make(xp.asarray(out).astype(np.int32 if out_int32 else np.int64), False, None)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """For each value v, the index i of its bucket: boundaries[i-1] < v <= boundaries[i]
    (right=True: boundaries[i-1] <= v < boundaries[i]); boundaries is 1-D and ascending.
    No gradient."""
    b = _as_tensor(boundaries, "bucketize").array
    if b.ndim != 1:
        raise RuntimeError(
            f"bucketize: boundaries tensor must be 1 dimension, but got dim({b.ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def unique_consecutive(input: Tensor, return_inverse: bool = False,
                       return_counts: bool = False, dim: int | None = None):
    """Each run of equal consecutive elements (of the flattened input; of slices along dim)
    collapsed to one: [1, 1, 2, 2, 1] -> [1, 2, 1]. return_inverse: each element's run number
    (input's shape; 1-D along dim); return_counts: each run's length. NaNs never compare equal,
    as in torch. No gradient."""
    input = _as_tensor(input, "unique_consecutive")
    x = input.array
    xp = backend.xp_of(input.array)
    if dim is None:
        rows, shape = x.reshape(-1, 1), x.shape
        axis = 0
    else:
        if x.ndim == 0:
            raise IndexError(
                "unique_consecutive: Dimension specified as 0 but tensor has no dimensions"
            )
        axis = normalize_dim(dim, x.ndim)
        if x.size == 0 and x.shape[axis] != 0:
            raise RuntimeError(
                "unique_consecutive: There are 0 sized dimensions, and they aren't selected, so "
                f"unique cannot be applied (shape {tuple(x.shape)}, dim {dim})"
            )
        moved = xp.moveaxis(x, axis, 0)
        width = int(xp.prod(moved.shape[1:], dtype=np.int64))
        rows, shape = moved.reshape(moved.shape[0], width), (moved.shape[0],)
    n = rows.shape[0]
    # a run starts where a row differs from the one before it (NaN != NaN starts one too)
    starts = xp.ones(n, bool)
    if n > 1:
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1) if rows.shape[1] else False
    first = xp.flatnonzero(starts)
    if dim is None:
        values = x.reshape(-1)[first]
    else:
        values = xp.take(x, first, axis=axis)
    out = [Tensor._make(values, False, None)]
    if return_inverse:
        inverse = (xp.cumsum(starts) - 1).astype(np.int64).reshape(shape)
        out.append(Tensor._make(inverse, False, None))
    if return_counts:
        counts = xp.diff(xp.append(first, n)).astype(np.int64)
        out.append(Tensor._make(counts, False, None))
    return out[0] if len(out) == 1 else tuple(out)


# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {
    "cumsum": cumsum, "cumprod": cumprod, "sort": sort, "argsort": argsort, "topk": topk,
    "unique": unique, "cummax": cummax, "cummin": cummin, "logcumsumexp": logcumsumexp,
    "msort": msort, "kthvalue": kthvalue, "unique_consecutive": unique_consecutive,
}
