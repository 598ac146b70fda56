"""Indexing ops: gather/scatter along a dim, index_select/index_add, masks, triangles, diag.

Most of these move elements around without changing them, so each backward is the reverse
move: a gather's gradient is a scatter-add of g (repeated indices accumulate) and a
scatter's gradient is a gather of g. Index, mask and count outputs carry no gradient.
In-place variants (scatter_, index_add_, masked_fill_ ...) write into the tensor's array
without recording a node, so they are refused where the graph would need them (as add_).
"""

from __future__ import annotations

import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd import engine as _engine
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor, as_array
from zengrad.ops.dims import normalize_dim
from zengrad.ops.elementwise import clone, mul
from zengrad.ops.shape import expand, getitem, repeat, reshape

__all__ = [
    "gather", "scatter", "scatter_add", "index_select", "index_add", "masked_select",
    "masked_fill", "take_along_dim", "nonzero", "tril", "triu", "unbind", "roll", "tile",
    "repeat_interleave", "meshgrid", "diag", "outer", "argwhere", "take", "index_fill",
    "index_copy", "tril_indices", "triu_indices", "diagonal", "diag_embed", "scatter_reduce",
    "count_nonzero",
]

# ------------------------------------------------------------------ argument checks


class IndexOutOfBoundsError(IndexError, RuntimeError):
    """An index value outside its dim. torch raises RuntimeError for it on most paths and
    IndexError on others (index_select on a tensor that requires grad): this is both."""


def _as_tensor(x, op: str, what: str = "input") -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{op}(): argument '{what}' must be a Tensor, not {type(x).__name__}")


def _index_array(index, op: str) -> np.ndarray:
    """The index as an integer array; RuntimeError (torch's) for floats and bools."""
    arr = index.array if isinstance(index, Tensor) else as_array(index)
    if arr.dtype.kind != "i" or arr.dtype.itemsize not in (4, 8):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {arr.dtype}")
    return arr


def _bool_mask(mask, op: str) -> np.ndarray:
    arr = mask.array if isinstance(mask, Tensor) else as_array(mask)
    if arr.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {arr.dtype}")
    return arr


def _check_bounds(idx: np.ndarray, n: int, op: str, dim: int, allow_negative: bool = False):
    """idx in [0, n) (or [-n, n) when negatives wrap); returns idx with negatives wrapped."""
    if idx.size == 0:
        return idx
    lo, hi = int(idx.min()), int(idx.max())
    low = -n if allow_negative else 0
    if lo < low or hi >= n:
        bad = lo if lo < low else hi
        raise IndexOutOfBoundsError(
            f"{op}: index {bad} is out of bounds for dimension {dim} with size {n}"
        )
    return idx % n if allow_negative and lo < 0 else idx


def _check_grad_free_inplace(op: str, *others) -> None:
    """An in-place op is not recorded: a tensor argument that requires grad would silently
    get no gradient, so it is refused as the tensor written into is (Tensor._check_inplace)."""
    if not _engine.grad_mode.enabled:
        return
    for o in others:
        if isinstance(o, Tensor) and o.requires_grad:
            raise RuntimeError(
                f"{op}: an argument requires grad, but in-place ops are not recorded in the "
                f"graph; use the out-of-place op (zengrad.{op.rstrip('_')}) or run under no_grad"
            )


def _along_index(idx: np.ndarray, axis: int, xshape: tuple[int, ...]) -> tuple:
    """A fancy index selecting x[i0, .., idx[i0, .., ik, ..], ..] for each position of idx:
    idx along `axis`, the position itself (an arange) along every other dim, or 0 where x has
    size 1 there (broadcast, as take_along_dim allows)."""
    xp = backend.xp_of(idx)
    nd = idx.ndim
    parts = []
    for d in range(nd):
        if d == axis:
            parts.append(idx)
            continue
        shape = [1] * nd
        shape[d] = -1
        n = idx.shape[d] if xshape[d] != 1 else 1
        parts.append(xp.arange(n).reshape(shape))
    return tuple(parts)


# ------------------------------------------------------------------ gathers and scatters


class Gather(Function):
    """y[p] = x[p with p_axis replaced by idx[p]];  dL/dx = zeros with g added at those places."""

    @staticmethod
    def forward(ctx, x, full_index):
        ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.full_index = x.shape, full_index
        return x[full_index]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.shape, g.dtype)
        xp.add.at(gx, ctx.full_index, g)  # repeated indices accumulate
        return gx, None


class Scatter(Function):
    """y = x with y[p with p_axis = idx[p]] = src[p] (+= src[p] for reduce="add");
    dL/dx = g with the overwritten places zeroed (all of g for "add"),
    dL/dsrc[p] = g[place of p] for p within idx's shape, 0 elsewhere in src."""

    @staticmethod
    def forward(ctx, x, src, full_index, idx_shape, reduce):
        xp = ctx.xp = backend.xp_of(x)
        ctx.full_index, ctx.reduce = full_index, reduce
        ctx.src_shape = xp.shape(src)
        out = x.copy()
        _scatter_into(out, full_index, src, idx_shape, reduce)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        n = ctx.needs_input_grad
        gx = gsrc = None
        if n[0]:
            gx = g
            if ctx.reduce is None:
                gx = g.copy()
                gx[ctx.full_index] = 0
        if n[1]:
            gsrc = xp.zeros(ctx.src_shape or (1,), g.dtype)
            picked = g[ctx.full_index]
            gsrc[tuple(slice(0, s) for s in picked.shape)] = picked
            gsrc = gsrc.reshape(ctx.src_shape)
        return gx, gsrc, None, None, None


def _scatter_into(out: np.ndarray, full_index, src, idx_shape, reduce) -> None:
    """Write src into out at full_index (shared by scatter and scatter_)."""
    xp = backend.xp_of(out)
    if isinstance(src, np.ndarray) and src.ndim:
        src = src[tuple(slice(0, s) for s in idx_shape)]
    if reduce is None:
        out[full_index] = src
    elif reduce == "add":
        xp.add.at(out, full_index, src)
    else:
        xp.multiply.at(out, full_index, src)


def _same_ndim(a: np.ndarray, b: np.ndarray) -> bool:
    # a 0-d tensor counts as 1-d here, as torch's gather/scatter treat it
    return max(a.ndim, 1) == max(b.ndim, 1)


def _gather_checks(x: np.ndarray, idx: np.ndarray, dim: int, op: str) -> int:
    if not _same_ndim(x, idx):
        raise RuntimeError(
            f"{op}(): Index tensor must have the same number of dimensions as input tensor "
            f"(index has {idx.ndim}, input has {x.ndim})"
        )
    axis = normalize_dim(dim, x.ndim)
    xs, ixs = x.shape or (1,), idx.shape or (1,)
    for d, (a, b) in enumerate(zip(ixs, xs)):
        if d != axis and a > b:
            raise RuntimeError(
                f"{op}(): Size does not match at dimension {d}: expected index "
                f"{list(idx.shape)} to be no larger than input {list(x.shape)} apart from "
                f"dimension {axis}"
            )
    _check_bounds(idx, xs[axis], op, axis)
    return axis


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] (dim=0; likewise for the other dims).

    index has input's number of dims and is no larger than input apart from dim; out has
    index's shape. Gradient: dL/dinput = zeros with g scatter-added at the gathered places.
    """
    input = _as_tensor(input, "gather")
    x, idx = input.array, _index_array(index, "gather")
    axis = _gather_checks(x, idx, dim, "gather")
    idx1 = idx.reshape(idx.shape or (1,))
    full = _along_index(idx1, axis, x.shape or (1,))
    x1 = reshape(input, (1,)) if x.ndim == 0 else input
    out = Gather.apply(x1, full)
    return reshape(out, idx.shape) if idx.ndim == 0 else out


def _scatter_prepare(input, dim, index, src, op: str):
    """Checks of scatter/scatter_add (torch's rules); returns the arrays to scatter."""
    input = _as_tensor(input, op)
    x, idx = input.array, _index_array(index, op)
    axis = _gather_checks(x, idx, dim, op)
    if isinstance(src, Tensor):
        s = src.array
        if not _same_ndim(s, idx):
            raise RuntimeError(
                f"{op}(): Index tensor must have the same number of dimensions as src tensor "
                f"(index has {idx.ndim}, src has {s.ndim}); pass a number as value= to fill"
            )
        if any(a > b for a, b in zip(idx.shape, s.shape)):
            raise RuntimeError(
                f"{op}(): Expected index {list(idx.shape)} to be no larger than src "
                f"{list(s.shape)}"
            )
        if s.dtype != x.dtype:
            raise RuntimeError(
                f"{op}(): Expected self.dtype to be equal to src.dtype, got {x.dtype} and "
                f"{s.dtype}"
            )
    idx1 = idx.reshape(idx.shape or (1,))
    full = _along_index(idx1, axis, x.shape or (1,))
    return input, full, idx1.shape


def _src_or_value(op: str, src, value):
    if src is not None and value is not None:
        raise TypeError(f"{op}(): give either src or value, not both")
    if src is None:
        if value is None:
            raise TypeError(f"{op}(): missing the src tensor or the value to scatter")
        src = value
    if isinstance(src, Tensor) and src.array.ndim == 0 and value is not None:
        src = src.item()  # value= may be a 0-d tensor: a scalar, no gradient (as torch)
    if not isinstance(src, Tensor) and not isinstance(src, (int, float, bool, np.generic)):
        raise TypeError(f"{op}(): src must be a Tensor or value a number, got {type(src)}")
    return src


def _reduce_arg(op: str, reduce, needs_grad: bool):
    if reduce is None:
        return None
    if reduce not in ("add", "multiply"):
        raise RuntimeError(
            f"{op}(): reduce argument must be either add or multiply, got {reduce!r}"
        )
    if reduce == "multiply" and needs_grad:
        raise RuntimeError(
            f"{op}(): the derivative of reduce='multiply' is not implemented (as in torch); "
            "run it under no_grad or on tensors that don't require grad"
        )
    return reduce


def _as_src_array(src, x: np.ndarray):
    xp = backend.xp_of(x)
    if isinstance(src, Tensor):
        return src
    return xp.asarray(src).astype(x.dtype)  # a number takes the input's dtype, as torch


def scatter(input: Tensor, dim: int, index: Tensor, src=None, value=None, *, reduce=None):
    """out = input with out[index[i][j]][j] = src[i][j] (dim=0; likewise for other dims);
    src may be a tensor (same dims as index, no smaller) or a number (value=).
    reduce='add' / 'multiply' combine instead of overwriting (torch's deprecated option).

    Gradient: dL/dinput = g with the written places zeroed (g itself for reduce='add');
    dL/dsrc = g gathered at the written places (0 outside index's shape). Repeated indices
    write one of the values, as torch (which leaves the choice unspecified).
    """
    src = _src_or_value("scatter", src, value)
    input, full, ishape = _scatter_prepare(input, dim, index, src, "scatter")
    needs = input.requires_grad or (isinstance(src, Tensor) and src.requires_grad)
    reduce = _reduce_arg("scatter", reduce, needs and _engine.grad_mode.enabled)
    return _scatter_apply(input, _as_src_array(src, input.array), full, ishape, reduce)


def _scatter_apply(input, src, full, ishape, reduce) -> Tensor:
    if input.array.ndim == 0:  # scatter into a 0-d tensor as into its 1-element vector
        return reshape(Scatter.apply(reshape(input, (1,)), src, full, ishape, reduce), ())
    return Scatter.apply(input, src, full, ishape, reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """out = input with out[index[i][j]][j] += src[i][j] (dim=0); repeated indices add up.

    Gradient: dL/dinput = g;  dL/dsrc = g gathered at index (0 outside index's shape).
    """
    src = _as_tensor(src, "scatter_add", "src")
    input, full, ishape = _scatter_prepare(input, dim, index, src, "scatter_add")
    return _scatter_apply(input, src, full, ishape, "add")


def _scatter_inplace(self, op, dim, index, src, reduce):
    self._check_inplace()
    _check_grad_free_inplace(op, src)
    _, full, ishape = _scatter_prepare(self, dim, index, src, op.rstrip("_"))
    src = src.array if isinstance(src, Tensor) else _as_src_array(src, self.array)
    target = self.array.reshape(self.array.shape or (1,))  # a view: writes reach self.array
    _scatter_into(target, full, src, ishape, reduce)
    return self


def scatter_(self: Tensor, dim: int, index: Tensor, src=None, value=None, *, reduce=None):
    """In-place scatter (not recorded: refused on tensors in the graph, as add_)."""
    src = _src_or_value("scatter_", src, value)
    return _scatter_inplace(self, "scatter_", dim, index, src, _reduce_arg("scatter_", reduce,
                                                                            False))


def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In-place scatter_add (not recorded: refused on tensors in the graph, as add_)."""
    src = _as_tensor(src, "scatter_add_", "src")
    return _scatter_inplace(self, "scatter_add_", dim, index, src, "add")


# ------------------------------------------------------------------ index_select / index_add


class IndexSelect(Function):
    """y = x taken at idx along axis;  dL/dx = zeros with g added back at idx (repeats add)."""

    @staticmethod
    def forward(ctx, x, idx, axis):
        xp = ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.idx, ctx.axis = x.shape, idx, axis
        return xp.take(x, idx, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.shape, g.dtype)
        # moveaxis gives views, so add.at along axis 0 lands in gx
        xp.add.at(xp.moveaxis(gx, ctx.axis, 0), ctx.idx, xp.moveaxis(g, ctx.axis, 0))
        return gx, None, None


def _vector_index(index, op: str) -> np.ndarray:
    idx = _index_array(index, op)
    if idx.ndim > 1:
        raise IndexError(
            f"{op}(): Index is supposed to be a vector, but got dim: {idx.ndim} with size: "
            f"{list(idx.shape)}"
        )
    return idx.reshape(-1)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """out = input with dim replaced by index's entries: out[.., i, ..] = input[.., index[i], ..].

    Gradient: dL/dinput[.., j, ..] = sum of g[.., i, ..] over the i with index[i] = j.
    """
    input = _as_tensor(input, "index_select")
    x = input.array
    axis = normalize_dim(dim, x.ndim)
    idx = _vector_index(index, "index_select")
    if x.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(
                f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)"
            )
        if int(idx[0]) != 0:
            raise IndexError(f"index_select(): index {int(idx[0])} out of range for a 0-d tensor")
        return clone(input)
    _check_bounds(idx, x.shape[axis], "index_select", axis)
    return IndexSelect.apply(input, idx, axis)


class IndexAdd(Function):
    """y = x with y[.., idx[i], ..] += alpha * s[.., i, ..];
    dL/dx = g,  dL/ds[.., i, ..] = alpha * g[.., idx[i], ..]."""

    @staticmethod
    def forward(ctx, x, s, idx, axis, alpha):
        ctx.xp = backend.xp_of(x)
        ctx.idx, ctx.axis, ctx.alpha = idx, axis, alpha
        out = x.copy()
        _index_add_into(out, s, idx, axis, alpha)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        n = ctx.needs_input_grad
        gs = None
        if n[1]:
            gs = xp.take(g, ctx.idx, axis=ctx.axis)
            if ctx.alpha != 1:
                gs = gs * xp.asarray(ctx.alpha, g.dtype)
        return (g if n[0] else None), gs, None, None, None


def _index_add_into(out: np.ndarray, s: np.ndarray, idx, axis: int, alpha) -> None:
    xp = backend.xp_of(out)
    if alpha != 1:
        s = s * xp.asarray(alpha, out.dtype)
    xp.add.at(xp.moveaxis(out, axis, 0), idx, xp.moveaxis(s, axis, 0))


def _index_add_prepare(input, dim, index, source, op: str, count_error=RuntimeError):
    input = _as_tensor(input, op)
    source = _as_tensor(source, op, "source")
    x, s = input.array, source.array
    axis = normalize_dim(dim, x.ndim)
    idx = _vector_index(index, op)
    xs, ss = x.shape or (1,), s.shape or (1,)
    if len(xs) != len(ss) or any(a != b for d, (a, b) in enumerate(zip(xs, ss)) if d != axis):
        raise RuntimeError(
            f"{op}(): source tensor shape must match self tensor shape, excluding the "
            f"specified dimension. Got self.shape = {list(x.shape)} source.shape = "
            f"{list(s.shape)}"
        )
    if idx.size != ss[axis]:
        raise count_error(
            f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim): "
            f"({ss[axis]}), for dim: {dim}"
        )
    if s.dtype != x.dtype:
        raise RuntimeError(
            f"{op}(): self ({x.dtype}) and source ({s.dtype}) must have the same scalar type"
        )
    idx = _check_bounds(idx, xs[axis], op, axis)
    return input, source, idx, axis


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """out = input with out[.., index[i], ..] += alpha * source[.., i, ..] (repeats add up).

    Gradient: dL/dinput = g;  dL/dsource[.., i, ..] = alpha * g[.., index[i], ..].
    """
    input, source, idx, axis = _index_add_prepare(input, dim, index, source, "index_add")
    if input.array.ndim == 0:
        out = IndexAdd.apply(reshape(input, (1,)), reshape(source, (1,)), idx, 0, alpha)
        return reshape(out, ())
    return IndexAdd.apply(input, source, idx, axis, alpha)


def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """In-place index_add (not recorded: refused on tensors in the graph, as add_)."""
    self._check_inplace()
    _check_grad_free_inplace("index_add_", source)
    _, source, idx, axis = _index_add_prepare(self, dim, index, source, "index_add_")
    out = self.array.reshape(self.array.shape or (1,))
    _index_add_into(out, source.array.reshape(out.shape[:axis] + (-1,) + out.shape[axis + 1:]),
                    idx, axis, alpha)
    return self


# ------------------------------------------------------------------ masks


class MaskedSelect(Function):
    """y = the elements of x (broadcast with mask) where mask is True, as a 1-D tensor;
    dL/dx = zeros with g put back at the mask's places, summed over broadcast dims."""

    @staticmethod
    def forward(ctx, x, mask, shape):
        xp = ctx.xp = backend.xp_of(x)
        ctx.xshape, ctx.mask = x.shape, mask
        return xp.broadcast_to(x, shape)[mask]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.mask.shape, g.dtype)
        gx[ctx.mask] = g
        return unbroadcast(gx, ctx.xshape), None, None


def _broadcast(op: str, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        shown = " and ".join(str(list(s)) for s in shapes)
        raise RuntimeError(f"{op}: shapes {shown} cannot be broadcast together") from None


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """out = input[mask] after broadcasting input and mask together (a 1-D tensor).

    Gradient: dL/dinput = g put back where mask is True (0 elsewhere), summed over the dims
    broadcasting stretched.
    """
    input = _as_tensor(input, "masked_select")
    m = _bool_mask(mask, "masked_select:")
    shape = _broadcast("masked_select", input.array.shape, m.shape)
    xp = backend.xp_of(input.array)
    return MaskedSelect.apply(input, xp.broadcast_to(m, shape), shape)


class MaskedFill(Function):
    """y = value where mask else x (broadcast);  dL/dx = g where not mask (summed over
    broadcast dims),  dL/dvalue = sum of g where mask."""

    @staticmethod
    def forward(ctx, x, mask, value):
        xp = ctx.xp = backend.xp_of(x)
        ctx.xshape, ctx.mask = x.shape, mask
        ctx.vdtype = value.dtype if isinstance(value, np.ndarray) else None
        return xp.where(mask, xp.asarray(value).astype(x.dtype), x)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        n = ctx.needs_input_grad
        zero = xp.zeros((), g.dtype)
        gx = unbroadcast(xp.where(ctx.mask, zero, g), ctx.xshape) if n[0] else None
        gv = None
        if n[2]:
            gv = xp.asarray(xp.where(ctx.mask, g, zero).sum(), ctx.vdtype)
        return gx, None, gv


def _fill_value(value, op: str):
    if isinstance(value, Tensor):
        if value.array.ndim != 0:
            raise RuntimeError(
                f"{op} only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.array.ndim} dimension(s)."
            )
        return value
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return value
    raise TypeError(f"{op}(): value must be a number or a 0-d Tensor, got {type(value).__name__}")


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """out = value where mask else input; mask (bool) and input broadcast together, value is
    a number or a 0-d tensor, cast to input's dtype.

    Gradient: dL/dinput = g where mask is False (0 where filled);  dL/dvalue = sum of g over
    the filled places.
    """
    input = _as_tensor(input, "masked_fill")
    m = _bool_mask(mask, "masked_fill")
    value = _fill_value(value, "masked_fill")
    _broadcast("masked_fill", input.array.shape, m.shape)
    if isinstance(value, Tensor) and value.requires_grad and input.array.dtype.kind not in "fc":
        value = value.detach()  # an integer result carries no gradient
    return MaskedFill.apply(input, m, value)


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    """In-place masked_fill: mask must broadcast to self's shape (not recorded; refused on
    tensors in the graph, as add_)."""
    self._check_inplace()
    m = _bool_mask(mask, "masked_fill_")
    value = _fill_value(value, "masked_fill_")
    _check_grad_free_inplace("masked_fill_", value)
    shape = _broadcast("masked_fill_", self.array.shape, m.shape)
    if shape != self.array.shape:
        raise RuntimeError(
            f"masked_fill_: output with shape {list(self.array.shape)} doesn't match the "
            f"broadcast shape {list(shape)}"
        )
    v = value.array if isinstance(value, Tensor) else value
    xp = backend.xp_of(self.array)
    xp.copyto(self.array, xp.asarray(v).astype(self.array.dtype), where=m)
    return self


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """out = input's values at indices along dim (input and indices broadcast on the other
    dims); dim=None: both flattened. Negative indices count from the end when dim is given
    (as torch).

    Gradient: dL/dinput = zeros with g added at the taken places, summed over broadcast dims.
    """
    input = _as_tensor(input, "take_along_dim")
    x, idx = input.array, _index_array(indices, "take_along_dim")
    if dim is None:
        flat = reshape(input, (-1,))
        idx = _check_bounds(idx.reshape(-1), x.size, "take_along_dim", 0)
        return Gather.apply(flat, (idx,))
    if x.ndim != idx.ndim:
        raise RuntimeError(
            f"take_along_dim(): input and indices should have the same number of dimensions, "
            f"but got {x.ndim} dimensions for input, and {idx.ndim} dimensions for indices"
        )
    axis = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return gather(input, 0, Tensor._make(_check_bounds(idx, 1, "take_along_dim", 0, True),
                                             False, None))
    xs, ixs = list(x.shape), list(idx.shape)
    xs[axis] = ixs[axis] = 1
    shape = list(_broadcast("take_along_dim", tuple(xs), tuple(ixs)))
    shape[axis] = idx.shape[axis]
    xp = backend.xp_of(input.array)
    idx = xp.broadcast_to(idx, tuple(shape))
    idx = _check_bounds(idx, x.shape[axis], "take_along_dim", axis, allow_negative=True)
    return Gather.apply(input, _along_index(idx, axis, x.shape))


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or (as_tuple) one 1-D
    tensor per dim (a 0-d input counts as 1-d there, as torch). No gradient."""
    x = _as_tensor(input, "nonzero").array
    xp = backend.xp_of(input.array)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64), False, None)
                     for i in xp.nonzero(xp.atleast_1d(x)))
    return Tensor._make(xp.argwhere(x).astype(np.int64), False, None)


# ------------------------------------------------------------------ triangles and diagonals


class KeepWhere(Function):
    """y = x where mask else 0 (mask broadcast over leading dims);  dL/dx = g where mask."""

    @staticmethod
    def forward(ctx, x, mask):
        xp = ctx.xp = backend.xp_of(x)
        ctx.mask = mask
        return xp.where(mask, x, xp.zeros((), x.dtype))

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return xp.where(ctx.mask, g, xp.zeros((), g.dtype)), None


def _triangle_mask(input: Tensor, diagonal: int, lower: bool, op: str) -> np.ndarray:
    x = _as_tensor(input, op).array
    if x.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got {x.ndim}")
    n, m = x.shape[-2:]
    # tri(n, m, k)[i, j] = j <= i + k: the lower triangle; the upper is its complement at k-1
    xp = backend.xp_of(input.array)
    return xp.tri(n, m, diagonal, dtype=bool) if lower else ~xp.tri(n, m, diagonal - 1,
                                                                      dtype=bool)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """out[.., i, j] = input[.., i, j] if j <= i + diagonal else 0 (batched over leading dims).

    Gradient: dL/dinput = g on the kept triangle, 0 elsewhere.
    """
    return KeepWhere.apply(input, _triangle_mask(input, int(diagonal), True, "tril"))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """out[.., i, j] = input[.., i, j] if j >= i + diagonal else 0 (batched over leading dims).

    Gradient: dL/dinput = g on the kept triangle, 0 elsewhere.
    """
    return KeepWhere.apply(input, _triangle_mask(input, int(diagonal), False, "triu"))


def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place tril (not recorded; refused on tensors in the graph, as add_)."""
    self._check_inplace()
    xp = backend.xp_of(self.array)
    self.array[...] = xp.where(_triangle_mask(self, int(diagonal), True, "tril_"), self.array, 0)
    return self


def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place triu (not recorded; refused on tensors in the graph, as add_)."""
    self._check_inplace()
    xp = backend.xp_of(self.array)
    self.array[...] = xp.where(_triangle_mask(self, int(diagonal), False, "triu_"), self.array, 0)
    return self


class DiagEmbed(Function):
    """1-D x -> square matrix y with y[r_i, c_i] = x_i on the chosen diagonal, 0 elsewhere;
    dL/dx_i = g[r_i, c_i]."""

    @staticmethod
    def forward(ctx, x, size, rows, cols):
        xp = backend.xp_of(x)
        ctx.rows, ctx.cols = rows, cols
        out = xp.zeros((size, size), x.dtype)
        out[rows, cols] = x
        return out

    @staticmethod
    def backward(ctx, g):
        return g[ctx.rows, ctx.cols], None, None, None


class DiagTake(Function):
    """2-D x -> y_i = x[r_i, c_i] along the chosen diagonal;  dL/dx = zeros with g there."""

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.rows, ctx.cols = x.shape, rows, cols
        return x[rows, cols]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.shape, g.dtype)
        gx[ctx.rows, ctx.cols] = g
        return gx, None, None


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: the square matrix with input on diagonal `diagonal` (above the main one when
    > 0, below when < 0); 2-D input: that diagonal as a 1-D tensor (empty when outside).

    Gradient: the reverse move, dL/dx = g's diagonal (1-D case) or g put on it (2-D case).
    """
    x = _as_tensor(input, "diag").array
    k = int(diagonal)
    xp = backend.xp_of(input.array)
    if x.ndim == 1:
        n = x.shape[0]
        pos = xp.arange(n)
        return DiagEmbed.apply(input, n + abs(k), pos + max(-k, 0), pos + max(k, 0))
    if x.ndim == 2:
        n, m = x.shape
        length = max(0, min(n + min(k, 0), m - max(k, 0)))
        pos = xp.arange(length)
        return DiagTake.apply(input, pos + max(-k, 0), pos + max(k, 0))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """out[i, j] = input[i] * vec2[j] (both 1-D; the dtypes promote as in mul).

    Gradient: dL/dinput = g @ vec2,  dL/dvec2 = g^T @ input (through reshape and mul).
    """
    for name, v in (("self", input), ("vec2", vec2)):
        if _as_tensor(v, "outer", name).array.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.array.ndim}-D")
    return mul(reshape(input, (-1, 1)), reshape(vec2, (1, -1)))


# ------------------------------------------------------------------ rearrangements


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of input along dim, that dim removed (one tensor per index). Each slice's
    gradient goes back to its place."""
    x = _as_tensor(input, "unbind").array
    if x.ndim == 0:
        raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
    axis = normalize_dim(dim, x.ndim)
    lead = (slice(None),) * axis
    return tuple(getitem(input, lead + (i,)) for i in range(x.shape[axis]))


class Roll(Function):
    """y = x shifted cyclically by shifts along axes (flattened when axes is None);
    dL/dx = g shifted back."""

    @staticmethod
    def forward(ctx, x, shifts, axes):
        xp = ctx.xp = backend.xp_of(x)
        ctx.shifts, ctx.axes = shifts, axes
        return xp.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        back = -ctx.shifts if ctx.axes is None else tuple(-s for s in ctx.shifts)
        return xp.roll(g, back, ctx.axes), None, None


def _int_tuple(v) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    if isinstance(v, Tensor):
        return tuple(int(i) for i in v.array.reshape(-1))
    return tuple(int(i) for i in v)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """out = input shifted cyclically: out[(i + s) % n] = input[i] along each dim of dims with
    its shift; without dims, over the flattened tensor (shape kept).

    Gradient: dL/dinput = g rolled by -shifts.
    """
    x = _as_tensor(input, "roll").array
    shifts = _int_tuple(shifts)
    dims = () if dims is None else _int_tuple(dims)
    if not dims:
        if len(shifts) != 1:
            raise RuntimeError(
                f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: 0"
            )
        return Roll.apply(input, shifts[0], None)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}"
        )
    if x.ndim == 0:
        raise IndexError("roll: Dimension specified as 0 but tensor has no dimensions")
    axes = tuple(normalize_dim(d, x.ndim) for d in dims)
    return Roll.apply(input, shifts, axes)


def tile(input: Tensor, dims) -> Tensor:
    """input repeated dims[i] times along dim i; fewer dims than input's are padded with 1s
    in front (torch.tile), more add leading dims. Gradient: the sum of g over the copies."""
    input = _as_tensor(input, "tile")
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"tile(): argument 'dims' must be tuple of ints, not "
                        f"{type(dims).__name__}")
    reps = _int_tuple(dims)
    if any(r < 0 for r in reps):
        raise RuntimeError(f"tile: Trying to create tensor with negative dimension: {reps}")
    reps = (1,) * (input.array.ndim - len(reps)) + reps
    return repeat(input, reps)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element (dim=None: of the flattened input) or each slice along dim repeated
    repeats[i] times in place: [a, b] with repeats 2 -> [a, a, b, b]. repeats is an int or an
    int tensor (0-d, size 1, or one count per slice). repeat_interleave(counts) alone gives
    [0]*counts[0] + [1]*counts[1] + ...

    Gradient: dL/dinput_i = the sum of g over the copies of i.
    """
    xp = backend.xp_of(input.array)
    if repeats is None:  # torch.repeat_interleave(repeats): the index of each copy
        counts = _index_array(_as_tensor(input, "repeat_interleave"), "repeat_interleave")
        if counts.ndim > 1:
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor")
        counts = counts.reshape(-1)
        if counts.size and counts.min() < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        return Tensor._make(xp.repeat(xp.arange(counts.size), counts).astype(np.int64),
                            False, None)
    input = _as_tensor(input, "repeat_interleave")
    if dim is None:
        input = reshape(input, (-1,))
        axis = 0
    else:
        if input.array.ndim == 0:  # as torch (which words it "Dimension out of range")
            raise IndexError(
                f"repeat_interleave: a 0-d tensor has no dim {dim} to repeat along; use "
                "dim=None (which gives a 1-D result)"
            )
        axis = normalize_dim(dim, input.array.ndim)
    n = input.array.shape[axis]
    if isinstance(repeats, Tensor):
        counts = _index_array(repeats, "repeat_interleave")
        if counts.ndim > 1:
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor")
        counts = counts.reshape(-1)
        if counts.size == 1:
            counts = xp.broadcast_to(counts, (n,))
        elif counts.size != n:
            raise RuntimeError(
                f"repeat_interleave: repeats must have the same size as input along dim, but "
                f"got repeats.size(0) = {counts.size} and input.size({axis}) = {n}"
            )
    elif isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        counts = xp.full(n, int(repeats))
    else:
        raise TypeError(
            f"repeat_interleave: repeats must be an int or an int tensor, got "
            f"{type(repeats).__name__}"
        )
    if counts.size and counts.min() < 0:
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    if output_size is not None and int(counts.sum()) != output_size:
        raise RuntimeError(
            f"repeat_interleave: output_size {output_size} != the sum of repeats "
            f"{int(counts.sum())}"
        )
    return IndexSelect.apply(input, xp.repeat(xp.arange(n), counts), axis)


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D (or 0-d) tensors t0..tk of sizes n0..nk: out_i has shape
    (n0, .., nk) with out_i[.., j_i, ..] = t_i[j_i] (indexing='ij'); 'xy' swaps the first two
    dims (shape (n1, n0, ..)), as NumPy's default. indexing=None warns and means 'ij' (torch).
    Gradient: dL/dt_i = g summed over every dim but its own (through expand)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the "
            "indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f"meshgrid: indexing must be one of 'xy' or 'ij', but received: {indexing!r}"
        )
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    tensors = [_as_tensor(t, "meshgrid", "tensors") for t in tensors]
    for k, t_ in enumerate(tensors):
        if t_.array.ndim > 1:
            raise RuntimeError(
                f"meshgrid: Expected 0D or 1D tensor in the tensor list but got tensor {k} "
                f"with {t_.array.ndim} dims"
            )
        if t_.array.dtype != tensors[0].array.dtype:
            raise RuntimeError(
                f"meshgrid expects all tensors to have the same dtype, got "
                f"{tensors[0].array.dtype} and {t_.array.dtype}"
            )
    sizes = [t_.array.size for t_ in tensors]
    # axes[i]: the output dim tensor i runs along
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for t_, ax in zip(tensors, axes):
        shape = [1] * len(tensors)
        shape[ax] = -1
        out.append(expand(reshape(t_, tuple(shape)), tuple(sizes)))
    return tuple(out)


# ------------------------------------------------------------------ more of torch's family


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The int64 number of nonzero elements over dim (an int or a tuple; None: all). No
    gradient."""
    from zengrad.ops.dims import normalize_dims

    x = _as_tensor(input, "count_nonzero").array
    axes = normalize_dims(dim, x.ndim)
    xp = backend.xp_of(input.array)
    return Tensor._make(xp.count_nonzero(x, axis=axes).astype(np.int64), False, None)


def argwhere(input: Tensor) -> Tensor:
    """nonzero(input): the (n, ndim) int64 indices of the nonzero elements. No gradient."""
    return nonzero(input)


def take(input: Tensor, index: Tensor) -> Tensor:
    """out = input.flatten()[index] (index of any shape; negatives count from the end).

    Gradient: dL/dinput = zeros with g added at the taken places (repeats add up).
    """
    input = _as_tensor(input, "take")
    idx = _index_array(index, "take")
    n = input.array.size
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < -n else int(idx.max())
        raise IndexError(
            f"take: out of range: tried to access index {bad} on a tensor of {n} elements."
        )
    return Gather.apply(reshape(input, (-1,)), (idx % max(n, 1),))


def _dim_mask(x: np.ndarray, axis: int, idx: np.ndarray) -> np.ndarray:
    """A bool array that broadcasts against x: True on the slices idx along axis."""
    xp = backend.xp_of(x)
    hit = xp.zeros(x.shape[axis] if x.ndim else 1, bool)
    hit[idx] = True
    shape = [1] * x.ndim
    if x.ndim:
        shape[axis] = -1
    return hit.reshape(shape)


def _fill_index(input, dim, index, op: str):
    x = input.array
    axis = normalize_dim(dim, x.ndim)
    idx = _index_array(index, op)
    if idx.ndim > 1:
        raise RuntimeError(f"{op}(): Index has to be a vector/scalar, got shape {list(idx.shape)}")
    n = x.shape[axis] if x.ndim else 1
    return axis, _check_bounds(idx.reshape(-1), n, op, axis, allow_negative=True)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """out = input with the slices index (along dim) set to value (a number or a 0-d tensor).

    Gradient: dL/dinput = g off the filled slices, 0 on them;  dL/dvalue = sum of g on them.
    """
    input = _as_tensor(input, "index_fill")
    value = _fill_value(value, "index_fill")
    axis, idx = _fill_index(input, dim, index, "index_fill")
    if isinstance(value, Tensor) and value.requires_grad and input.array.dtype.kind not in "fc":
        value = value.detach()
    return MaskedFill.apply(input, _dim_mask(input.array, axis, idx), value)


def index_fill_(self: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """In-place index_fill (not recorded: refused on tensors in the graph, as add_)."""
    self._check_inplace()
    value = _fill_value(value, "index_fill_")
    _check_grad_free_inplace("index_fill_", value)
    axis, idx = _fill_index(self, dim, index, "index_fill_")
    v = value.array if isinstance(value, Tensor) else value
    xp = backend.xp_of(self.array)
    m = xp.broadcast_to(_dim_mask(self.array, axis, idx), self.array.shape)
    xp.copyto(self.array, xp.asarray(v).astype(self.array.dtype), where=m)
    return self


class IndexCopy(Function):
    """y = x with y[.., idx[i], ..] = s[.., i, ..];
    dL/dx = g with the copied slices zeroed,  dL/ds[.., i, ..] = g[.., idx[i], ..]."""

    @staticmethod
    def forward(ctx, x, s, idx, axis):
        xp = ctx.xp = backend.xp_of(x)
        ctx.idx, ctx.axis = idx, axis
        out = x.copy()
        xp.moveaxis(out, axis, 0)[idx] = xp.moveaxis(s, axis, 0)
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        n = ctx.needs_input_grad
        gx = gs = None
        if n[0]:
            gx = g.copy()
            xp.moveaxis(gx, ctx.axis, 0)[ctx.idx] = 0
        if n[1]:
            gs = xp.take(g, ctx.idx, axis=ctx.axis)
        return gx, gs, None, None


def _index_copy_prepare(input, dim, index, source, op: str):
    # torch raises IndexError for a count mismatch here (RuntimeError in index_add)
    input, source, idx, axis = _index_add_prepare(input, dim, index, source, op, IndexError)
    if input.array.ndim == 0:
        input, source = reshape(input, (1,)), reshape(source, (1,))
    return input, source, idx, axis


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """out = input with out[.., index[i], ..] = source[.., i, ..] (repeated indices: one of
    the slices, unspecified as in torch).

    Gradient: dL/dinput = g with the overwritten slices zeroed;
    dL/dsource[.., i, ..] = g[.., index[i], ..].
    """
    shape = _as_tensor(input, "index_copy").array.shape
    input, source, idx, axis = _index_copy_prepare(input, dim, index, source, "index_copy")
    out = IndexCopy.apply(input, source, idx, axis)
    return reshape(out, shape) if out.array.shape != shape else out


def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """In-place index_copy (not recorded: refused on tensors in the graph, as add_)."""
    self._check_inplace()
    _check_grad_free_inplace("index_copy_", source)
    _, source, idx, axis = _index_copy_prepare(self, dim, index, source, "index_copy_")
    out = self.array.reshape(self.array.shape or (1,))
    xp = backend.xp_of(self.array)
    xp.moveaxis(out, axis, 0)[idx] = xp.moveaxis(source.array, axis, 0)
    return self


def _tri_indices(row: int, col: int, offset: int, lower: bool, dtype) -> Tensor:  # host
    for name, v in (("row", row), ("col", col)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise RuntimeError(f"{'tril' if lower else 'triu'}_indices: {name} must be a "
                               f"non-negative int, got {v!r}")
    keep = np.tri(row, col, offset, dtype=bool)
    keep = keep if lower else ~np.tri(row, col, offset - 1, dtype=bool)
    return Tensor._make(np.stack(np.nonzero(keep)).astype(np.dtype(dtype)), False, None)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=np.int64, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a row x col matrix (j <= i +
    offset), in row-major order."""
    return _tri_indices(row, col, int(offset), True, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=np.int64, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle of a row x col matrix (j >= i +
    offset), in row-major order."""
    return _tri_indices(row, col, int(offset), False, dtype)


def _diag_positions(n: int, m: int, k: int):  # host
    length = max(0, min(n + min(k, 0), m - max(k, 0)))
    pos = np.arange(length)
    return pos + max(-k, 0), pos + max(k, 0)


class DiagonalTake(Function):
    """y[.., p] = x[.., r_p, c_p] (the two diagonal dims moved last);
    dL/dx = zeros with g put on that diagonal."""

    @staticmethod
    def forward(ctx, x, rows, cols, d1, d2):
        xp = ctx.xp = backend.xp_of(x)
        ctx.shape, ctx.rows, ctx.cols, ctx.d1, ctx.d2 = x.shape, rows, cols, d1, d2
        return xp.moveaxis(x, (d1, d2), (-2, -1))[..., rows, cols]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.shape, g.dtype)
        xp.moveaxis(gx, (ctx.d1, ctx.d2), (-2, -1))[..., ctx.rows, ctx.cols] = g
        return gx, None, None, None, None


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """out[.., p] = input[.., i_p, .., j_p, ..] with j_p - i_p = offset on the dims (dim1,
    dim2), which are removed, the diagonal becoming the last dim (torch.diagonal).

    Gradient: dL/dinput = zeros with g put back on that diagonal.
    """
    x = _as_tensor(input, "diagonal").array
    d1, d2 = normalize_dim(dim1, x.ndim), normalize_dim(dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rows, cols = _diag_positions(x.shape[d1], x.shape[d2], int(offset))
    return DiagonalTake.apply(input, rows, cols, d1, d2)


class DiagonalEmbed(Function):
    """y = zeros with y[.., r_p, c_p] = x[.., p] on the two new dims (moved to d1, d2);
    dL/dx[.., p] = g[.., r_p, c_p]."""

    @staticmethod
    def forward(ctx, x, size, rows, cols, d1, d2):
        xp = ctx.xp = backend.xp_of(x)
        ctx.rows, ctx.cols, ctx.d1, ctx.d2 = rows, cols, d1, d2
        out = xp.zeros(x.shape[:-1] + (size, size), x.dtype)
        out[..., rows, cols] = x
        return xp.moveaxis(out, (-2, -1), (d1, d2))

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        g = xp.moveaxis(g, (ctx.d1, ctx.d2), (-2, -1))
        return g[..., ctx.rows, ctx.cols], None, None, None, None, None


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Batched diag: the last dim of input (size n) placed on diagonal `offset` of two new
    dims of size n + |offset| at dim1 and dim2 of the output (which has one more dim).

    Gradient: dL/dinput = g's values on that diagonal.
    """
    x = _as_tensor(input, "diag_embed").array
    nd = x.ndim + 1
    d1, d2 = normalize_dim(dim1, nd), normalize_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if x.ndim == 0:
        raise IndexError("diag_embed: the input needs at least 1 dim (its last dim is the "
                         "diagonal)")
    k = int(offset)
    size = x.shape[-1] + abs(k)
    rows, cols = _diag_positions(size, size, k)
    return DiagonalEmbed.apply(input, size, rows, cols, d1, d2)


# ------------------------------------------------------------------ scatter_reduce

_SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _extreme_fill(dtype: np.dtype, is_max: bool):
    """The identity of max (min) in dtype: -inf (+inf) for floats, the dtype's bound else."""
    if dtype.kind == "f":
        return -np.inf if is_max else np.inf
    if dtype == np.bool_:
        return not is_max
    info = np.iinfo(dtype)
    return info.min if is_max else info.max


def _scatter_reduce_forward(x, src, full, reduce, include_self):
    """(out, count of scattered entries per place) of scatter_reduce on arrays."""
    xp = backend.xp_of(x)
    count = xp.zeros(x.shape, np.int64)
    xp.add.at(count, full, 1)
    hit = count > 0
    if reduce in ("sum", "mean"):
        out = x.copy() if include_self else xp.where(hit, xp.zeros((), x.dtype), x)
        xp.add.at(out, full, src)
        if reduce == "mean":
            denom = count + (1 if include_self else 0)
            safe = xp.maximum(denom, 1)
            mean = out // safe if x.dtype.kind in "iub" else out / safe.astype(x.dtype)
            out = xp.where(hit, mean, out).astype(x.dtype, copy=False)
    elif reduce == "prod":
        out = x.copy() if include_self else xp.where(hit, xp.ones((), x.dtype), x)
        xp.multiply.at(out, full, src)
    else:
        is_max = reduce == "amax"
        start = xp.asarray(_extreme_fill(x.dtype, is_max), x.dtype)
        out = x.copy() if include_self else xp.where(hit, start, x)
        (xp.maximum if is_max else xp.minimum).at(out, full, src)
    return out, count


class ScatterReduce(Function):
    """out[j] = reduce(input[j] (if include_self), src[p] for every p with place(p) = j);
    places that get nothing keep input[j].

    Gradients, per place j with cotangent g_j (n_j scattered entries, c_j = n_j + include):
      sum:  dL/dinput_j = g_j (0 if not include_self),  dL/dsrc_p = g_j
      mean: dL/dinput_j = g_j / c_j,  dL/dsrc_p = g_j / c_j
      prod: dL/dinput_j = g_j prod_p src_p;  dL/dsrc_p = g_j out_j / src_p for src_p != 0, and
            for src_p = 0: g_j times the product of the other factors when it is the only zero
            (0 when there are more), so zeros are exact
      amax/amin: g_j split evenly among the factors equal to out_j (input_j included when
            include_self).
    Places with no scattered entry pass g_j to the input.
    """

    @staticmethod
    def forward(ctx, x, src, full, idx_shape, reduce, include_self):
        ctx.xp = backend.xp_of(x)
        ctx.src_shape = src.shape
        src = src[tuple(slice(0, n) for n in idx_shape)]
        out, count = _scatter_reduce_forward(x, src, full, reduce, include_self)
        ctx.x, ctx.src, ctx.out, ctx.count, ctx.full = x, src, out, count, full
        ctx.reduce, ctx.include = reduce, include_self
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, src, out, count, full = ctx.x, ctx.src, ctx.out, ctx.count, ctx.full
        hit, inc, red = count > 0, ctx.include, ctx.reduce
        zero = xp.zeros((), g.dtype)
        if red == "sum":
            gx, gs = (g if inc else xp.where(hit, zero, g)), g[full]
        elif red == "mean":
            scaled = g / xp.maximum(count + (1 if inc else 0), 1).astype(g.dtype)
            gx = xp.where(hit, scaled if inc else zero, g)
            gs = scaled[full]
        elif red == "prod":
            prod_src = xp.ones(x.shape, x.dtype)
            xp.multiply.at(prod_src, full, src)
            gx = xp.where(hit, g * prod_src if inc else zero, g)
            is_zero = src == 0
            zeros = xp.zeros(x.shape, np.int64)
            xp.add.at(zeros, full, is_zero)
            others = xp.ones(x.shape, x.dtype)  # the product of the nonzero factors
            xp.multiply.at(others, full, xp.where(is_zero, 1, src))
            if inc:
                zeros = zeros + (x == 0)
                others = others * xp.where(x == 0, 1, x)
            with backend.errstate(xp, divide="ignore", invalid="ignore"):
                nonzero_part = (g * out)[full] / xp.where(is_zero, 1, src)
            gs = xp.where(is_zero, xp.where(zeros[full] == 1, (g * others)[full], zero),
                          nonzero_part)
        else:
            ties_src = src == out[full]
            ties = xp.zeros(x.shape, np.int64)
            xp.add.at(ties, full, ties_src)
            self_tie = (x == out) & hit if inc else xp.zeros(x.shape, bool)
            share = g / xp.maximum(ties + self_tie, 1).astype(g.dtype)
            gx = xp.where(hit, xp.where(self_tie, share, zero), g)
            gs = xp.where(ties_src, share[full], zero)
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = xp.zeros(ctx.src_shape, g.dtype)
            gsrc[tuple(slice(0, n) for n in gs.shape)] = gs
        return gx, gsrc, None, None, None, None


def _scatter_reduce_args(input, dim, index, src, reduce, op: str):
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # torch's aliases
    if reduce not in _SCATTER_REDUCES:
        raise RuntimeError(
            f"{op}(): reduce argument must be either sum, prod, mean, amax or amin, got "
            f"{reduce!r}"
        )
    src = _as_tensor(src, op, "src")
    return _scatter_prepare(input, dim, index, src, op) + (src, reduce)


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """out = input with every src[p] folded into the place index gives it along dim (as
    scatter) by reduce in ("sum", "prod", "mean", "amax", "amin"; "max"/"min" are aliases,
    as torch); include_self=False leaves
    input's value out of the places that receive something. Integer "mean" rounds down.

    Gradients (per place, see ScatterReduce): sum and mean pass g (divided by the count for
    mean); prod multiplies g by the other factors (exact with zeros); amax/amin split g
    evenly among the tied factors.
    """
    input, full, ishape, src, reduce = _scatter_reduce_args(input, dim, index, src, reduce,
                                                            "scatter_reduce")
    if input.array.ndim == 0:
        out = ScatterReduce.apply(reshape(input, (1,)), reshape(src, src.array.shape or (1,)),
                                  full, ishape, reduce, include_self)
        return reshape(out, ())
    return ScatterReduce.apply(input, src, full, ishape, reduce, include_self)


def scatter_reduce_(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    """In-place scatter_reduce (not recorded: refused on tensors in the graph, as add_)."""
    self._check_inplace()
    _check_grad_free_inplace("scatter_reduce_", src)
    _, full, ishape, src, reduce = _scatter_reduce_args(self, dim, index, src, reduce,
                                                        "scatter_reduce_")
    target = self.array.reshape(self.array.shape or (1,))
    s = src.array.reshape(src.array.shape or (1,))[tuple(slice(0, n) for n in ishape)]
    target[...] = _scatter_reduce_forward(target, s, full, reduce, include_self)[0]
    return self


# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {
    "gather": gather, "scatter": scatter, "scatter_": scatter_, "scatter_add": scatter_add,
    "scatter_add_": scatter_add_, "index_select": index_select, "index_add": index_add,
    "index_add_": index_add_, "masked_select": masked_select, "masked_fill": masked_fill,
    "masked_fill_": masked_fill_, "take_along_dim": take_along_dim, "nonzero": nonzero,
    "tril": tril, "triu": triu, "tril_": tril_, "triu_": triu_, "unbind": unbind,
    "roll": roll, "tile": tile, "repeat_interleave": repeat_interleave, "diag": diag,
    "outer": outer, "argwhere": argwhere, "take": take, "index_fill": index_fill,
    "index_fill_": index_fill_, "index_copy": index_copy, "index_copy_": index_copy_,
    "diagonal": diagonal, "diag_embed": diag_embed, "scatter_reduce": scatter_reduce,
    "scatter_reduce_": scatter_reduce_, "count_nonzero": count_nonzero,
}
