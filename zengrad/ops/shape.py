"""Shape ops: views and rearrangements. Each backward puts g back in the input's layout."""

from __future__ import annotations

import numpy as np

from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import normalize_dim


class Reshape(Function):
    """y = x viewed with a new shape;  dL/dx = g reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    """y = x with axes reordered;  dL/dx = g with the inverse order."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.axes)), None


class Expand(Function):
    """y = x broadcast to shape (no copy);  dL/dx = g summed over the broadcast axes."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


class Repeat(Function):
    """y = x tiled reps times along each dim;  dL/dx = sum of g over the tiles."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        shape = (1,) * (len(ctx.reps) - len(ctx.shape)) + tuple(ctx.shape)
        # split each axis into (rep, size) and sum the rep axes
        split = []
        for r, n in zip(ctx.reps, shape):
            split += [r, n]
        gx = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return gx.reshape(ctx.shape), None


class GetItem(Function):
    """y = x[index];  dL/dx = zeros with g added at index (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.shape, ctx.dtype, ctx.index, ctx.advanced = x.shape, x.dtype, index, advanced
        out = x[index]
        return out

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, g.dtype)
        if ctx.advanced:
            np.add.at(gx, _bool_masks_as_indices(ctx.index), g)
        else:
            gx[ctx.index] = g
        return gx, None, None


class Cat(Function):
    """y = [x1, x2, ...] joined along axis;  dL/dxk = the slice of g that xk filled."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    """y = [x1, x2, ...] stacked on a new axis;  dL/dxk = g[..., k, ...]."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return np.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return (None, *(np.take(g, k, axis=ctx.axis) for k in range(g.shape[ctx.axis])))


class Pad(Function):
    """y = x padded with a constant;  dL/dx = g with the padding cut off."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices], None, None


class Flip(Function):
    """y = x reversed along axes;  dL/dx = g reversed back."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes)

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.axes), None


def _bool_masks_as_indices(index):
    """np.add.at takes integer indices: spell each boolean mask as its nonzero() arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, np.ndarray) and p.dtype == np.bool_:
            out.extend(np.nonzero(p))
        else:
            out.append(p)
    return tuple(out)


# ------------------------------------------------------------------ public functions


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements in a new shape (one dim may be -1)."""
    shape = _shape_arg(shape)
    size = input.data.size
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    ok = shape.count(-1) <= 1 and (
        known == size if -1 not in shape else known != 0 and size % known == 0
    )
    if not ok:
        raise RuntimeError(
            f"shape {list(shape)} is invalid for input of size {size} "
            f"(shape {tuple(input.data.shape)})"
        )
    if shape == input.data.shape:
        return input
    return Reshape.apply(input, shape)


def view(input: Tensor, *shape) -> Tensor:
    """reshape under PyTorch's other name (a separate function so Tensor.view exists)."""
    return reshape(input, *shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    nd = input.data.ndim
    s, e = normalize_dim(start_dim, nd), normalize_dim(end_dim, nd)  # 0-d: dims 0 or -1
    if nd == 0:
        return reshape(input, (1,))
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.data.shape
    return reshape(input, shape[:s] + (-1,) + shape[e + 1 :])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    d = normalize_dim(dim, input.data.ndim)
    shape = input.data.shape
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1 :])


def permute(input: Tensor, *dims) -> Tensor:
    dims = _shape_arg(dims)
    nd = input.data.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute: number of dims don't match: the input has {nd} dims but "
            f"{len(dims)} were given ({dims})"
        )
    axes = tuple(normalize_dim(d, nd) for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return Permute.apply(input, axes)


def reverse_dims(input: Tensor) -> Tensor:
    """x.T: all dims in reverse order (a matrix transpose for 2-D)."""
    nd = input.data.ndim
    if nd < 2:
        return input
    return Permute.apply(input, (1, 0) if nd == 2 else tuple(range(nd - 1, -1, -1)))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    nd = input.data.ndim
    a, b = normalize_dim(dim0, nd), normalize_dim(dim1, nd)
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


def t(input: Tensor) -> Tensor:
    if input.data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dims, got {input.data.ndim}")
    return input if input.data.ndim < 2 else transpose(input, 0, 1)


def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input.data.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = {normalize_dim(d, len(shape)) for d in dims}
        new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return reshape(input, new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shape = input.data.shape
    d = normalize_dim(dim, len(shape) + 1)
    return reshape(input, shape[:d] + (1,) + shape[d:])


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to sizes without copying; -1 keeps a dim."""
    sizes = _shape_arg(sizes)
    shape = input.data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
            f"dims ({len(shape)})"
        )
    target = tuple(
        shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
    )
    for i, n in enumerate(shape):
        if n != 1 and n != target[i + lead]:
            raise RuntimeError(
                f"expand: the expanded size {target[i + lead]} must match the existing size "
                f"{n} at non-singleton dim {i}; target sizes {list(sizes)}, tensor shape "
                f"{tuple(shape)}"
            )
    if target == shape:
        return input
    return Expand.apply(input, target)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape) -> Tensor:
    return expand(input, tuple(shape))


def repeat(input: Tensor, *repeats) -> Tensor:
    reps = _shape_arg(repeats)
    if len(reps) < input.data.ndim:
        raise RuntimeError(
            f"repeat: number of repeat dims ({len(reps)}) can not be smaller than the "
            f"number of tensor dims ({input.data.ndim})"
        )
    return Repeat.apply(input, reps)


def flip(input: Tensor, dims) -> Tensor:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(input, tuple(normalize_dim(d, input.data.ndim) for d in dims))


def unwrap_index(index):
    """Tensors in an index become arrays; returns (index, advanced?)."""
    if isinstance(index, tuple):
        return tuple(_unwrap_one(i) for i in index)
    return _unwrap_one(index)


def _unwrap_one(i):
    if isinstance(i, Tensor):
        return i.data
    if isinstance(i, list):
        return np.asarray(i)
    return i


def _is_advanced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) or isinstance(i, (list, tuple)) for i in parts)


def getitem(input: Tensor, index) -> Tensor:
    """x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    index = unwrap_index(index)
    advanced = _is_advanced(index)
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, np.ndarray) and p.dtype.kind == "f":
            raise IndexError(
                "tensors used as indices must be long, int or bool tensors, got " f"{p.dtype}"
            )
    try:
        if input.requires_grad:
            return GetItem.apply(input, index, advanced)
        return Tensor._make(input.data[index], False, None)
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(input.data.shape)})") from None


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other dims must match."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    for k, t_ in enumerate(tensors):
        if t_.data.ndim == 0:
            raise ValueError(
                f"cat: zero-dimensional tensor (at position {k}) cannot be concatenated; "
                "use stack or reshape(1)"
            )
    ref = tensors[0].data
    axis = normalize_dim(dim, ref.ndim)
    for k, t_ in enumerate(tensors[1:], 1):
        s = t_.data.shape
        if len(s) != ref.ndim or any(
            a != b for i, (a, b) in enumerate(zip(s, ref.shape)) if i != axis
        ):
            raise ValueError(
                f"cat: sizes of tensors must match except in dim {dim}: tensor 0 has shape "
                f"{tuple(ref.shape)}, tensor {k} has shape {tuple(s)}"
            )
    return Cat.apply(axis, *tensors)


concat = cat
concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shape = tensors[0].data.shape
    for k, t_ in enumerate(tensors[1:], 1):
        if t_.data.shape != shape:
            raise ValueError(
                f"stack expects each tensor to be equal size, but got {tuple(shape)} at entry "
                f"0 and {tuple(t_.data.shape)} at entry {k}"
            )
    axis = normalize_dim(dim, len(shape) + 1)
    return Stack.apply(axis, *tensors)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of split_size (the last may be smaller), or of the listed sizes."""
    axis = normalize_dim(dim, input.data.ndim)
    n = input.data.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(
                f"split: sizes {sizes} sum to {sum(sizes)} but dim {dim} has size {n}"
            )
    out, start = [], 0
    lead = (slice(None),) * axis
    for s in sizes:
        out.append(getitem(input, lead + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """chunks pieces of size ceil(n / chunks) (fewer if that covers the dim), as PyTorch."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.data.shape[normalize_dim(dim, input.data.ndim)]
    step = max(-(-n // chunks), 1)
    return split(input, step, dim)


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0):
    """Pad the last len(pad)//2 dims: pad = (left_last, right_last, left_prev, right_prev, ...)."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    if len(pad) % 2:
        raise ValueError(f"pad: the padding length must be even, got {len(pad)} ({pad})")
    nd = input.data.ndim
    k = len(pad) // 2
    if k > nd:
        raise ValueError(f"pad: {k} dims padded but the input has only {nd} ({pad})")
    if any(p < 0 for p in pad):
        raise NotImplementedError("pad: negative padding (cropping) is not supported")
    widths = [(0, 0)] * (nd - k) + [(pad[2 * i], pad[2 * i + 1]) for i in range(k)][::-1]
    return Pad.apply(input, widths, value)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    axis = normalize_dim(dim, input.data.ndim)
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))
