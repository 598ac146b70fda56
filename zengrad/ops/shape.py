"""Shape ops: views and rearrangements. Each backward puts g back in the input's layout."""

from __future__ import annotations

import itertools
import math

import numpy as np

from zengrad import backend
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


class Contiguous(Function):
    """y = x laid out in C order (a copy of a strided x);  dL/dx = g."""

    @staticmethod
    def forward(ctx, x):
        return backend.xp_of(x).ascontiguousarray(x)

    @staticmethod
    def backward(ctx, g):
        return (g,)


class Permute(Function):
    """y = x with axes reordered;  dL/dx = g with the inverse order."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inverse = sorted(range(len(ctx.axes)), key=ctx.axes.__getitem__)
        return g.transpose(inverse), None


class Expand(Function):
    """y = x broadcast to shape (no copy);  dL/dx = g summed over the broadcast axes."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return backend.xp_of(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


class Repeat(Function):
    """y = x tiled reps times along each dim;  dL/dx = sum of g over the tiles."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return backend.xp_of(x).tile(x, reps)

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
        ctx.xp = backend.xp_of(x)
        out = x[index]
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = xp.zeros(ctx.shape, g.dtype)
        if ctx.advanced:
            xp.add.at(gx, _bool_masks_as_indices(xp, ctx.index), g)
        else:
            gx[ctx.index] = g
        return gx, None, None


class Cat(Function):
    """y = [x1, x2, ...] joined along axis;  dL/dxk = the slice of g that xk filled."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.bounds = list(itertools.accumulate(x.shape[axis] for x in xs))[:-1]
        ctx.xp = xp = backend.xp_of_all("cat", *xs)
        return xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return (None, *ctx.xp.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    """y = [x1, x2, ...] stacked on a new axis;  dL/dxk = g[..., k, ...]."""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return backend.xp_of_all("stack", *xs).stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = backend.xp_of(g)
        return (None, *(xp.take(g, k, axis=ctx.axis) for k in range(g.shape[ctx.axis])))


class Pad(Function):
    """Constant padding, a negative width crops:  y = x[kept] placed in a buffer of value;
    dL/dx = g[placed] put back at the kept positions, 0 at the cropped ones."""

    @staticmethod
    def forward(ctx, x, widths, value):
        # per axis: keep x[max(-lo, 0) : n - max(-hi, 0)], place it at max(lo, 0) in y
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, x.shape))
        dst = tuple(
            slice(max(lo, 0), max(lo, 0) + (s.stop - s.start)) for (lo, _), s in zip(widths, src)
        )
        shape = tuple(n + lo + hi for (lo, hi), n in zip(widths, x.shape))
        ctx.src, ctx.dst, ctx.shape = src, dst, x.shape
        ctx.xp = xp = backend.xp_of(x)
        y = xp.full(shape, value, x.dtype)
        y[dst] = x[src]
        return y

    @staticmethod
    def backward(ctx, g):
        dx = ctx.xp.zeros(ctx.shape, g.dtype)
        dx[ctx.src] = g[ctx.dst]
        return dx, None, None


def _border_index(mode: str, n: int, lo: int, hi: int) -> np.ndarray:
    """Input position read by each output position j (pos = j - lo, past-the-edge positions
    folded back):  reflect: -pos / 2 (n - 1) - pos (the edge not repeated);  replicate: the
    nearest edge;  circular: the kept (cropped) part x[a : b] wrapped, a + (j - max(lo, 0))
    mod (b - a), as PyTorch (it wraps what is left after cropping)."""
    # host: integer positions of one axis, never array data
    pos = np.arange(-lo, n + hi)  # host
    if mode == "reflect":
        pos = np.abs(pos)  # host
        return np.where(pos > n - 1, 2 * (n - 1) - pos, pos)  # host
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)  # host
    a, b = max(-lo, 0), n - max(-hi, 0)
    return a + (np.arange(n + lo + hi) - max(lo, 0)) % max(b - a, 1)  # host


class BorderPad(Function):
    """Reflect / replicate / circular padding (a negative width crops), y[j] = x[index(j)]
    per padded axis (index from _border_index). Along each axis the index splits into
    (left border, inside, right border) runs, each a slice of x: step +1 or -1 (reflect's
    mirrored borders), or one edge element broadcast (replicate). So y is filled block by
    block (3^k slice copies for k padded axes, one pass, no fancy indexing) and
    dL/dx = the same blocks of g added back (an edge block summed over its broadcast axis)."""

    @staticmethod
    def forward(ctx, x, shape, blocks):
        # blocks: [(y slices, x slices, axes where x's slice is one broadcast edge)]
        ctx.xp = xp = backend.xp_of(x)
        y = xp.empty(shape, x.dtype)
        for dst, src, _ in blocks:
            y[dst] = x[src]
        ctx.xshape, ctx.blocks = x.shape, blocks
        return y

    @staticmethod
    def backward(ctx, g):
        dx = ctx.xp.zeros(ctx.xshape, g.dtype)
        for dst, src, edges in ctx.blocks:
            part = g[dst]
            if edges:
                part = part.sum(axis=edges, keepdims=True)
            dx[src] += part  # within a block the x positions are distinct
        return dx, None, None


class Flip(Function):
    """y = x reversed along axes;  dL/dx = g reversed back."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return backend.xp_of(x).flip(x, axes)

    @staticmethod
    def backward(ctx, g):
        return backend.xp_of(g).flip(g, ctx.axes), None


class ToDevice(Function):
    """y = x copied to another device (NumPy <-> CuPy);  dL/dx = g copied back to x's."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        return backend.to_device(g, ctx.source), None


def _bool_masks_as_indices(xp, index):
    """add.at takes integer indices: spell each boolean mask as its nonzero() arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if backend.is_array(p) and p.dtype == np.bool_:
            out.extend(xp.nonzero(p))
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
    size = input.array.size
    known = math.prod(s for s in shape if s != -1)
    ok = shape.count(-1) <= 1 and (
        known == size if -1 not in shape else known != 0 and size % known == 0
    )
    if not ok:
        raise RuntimeError(
            f"shape {list(shape)} is invalid for input of size {size} "
            f"(shape {tuple(input.array.shape)})"
        )
    if shape == input.array.shape:
        return input
    return Reshape.apply(input, shape)


def contiguous(input: Tensor, memory_format=None) -> Tensor:
    """The tensor itself when its elements are already in C order, else a C-ordered copy (in
    the graph), as torch's x.contiguous(): what view() needs after transpose/permute."""
    if memory_format is not None and str(memory_format) not in (
            "torch.contiguous_format", "contiguous_format"):
        raise TypeError(f"contiguous(): memory_format {memory_format!r} is not supported "
                        "(only the default contiguous format exists)")
    if input.array.flags.c_contiguous:
        return input
    return Contiguous.apply(input)


def is_contiguous(input: Tensor, memory_format=None) -> bool:
    """Whether the elements are laid out in C order (torch's default memory format)."""
    return bool(input.array.flags.c_contiguous)


def view(input: Tensor, *shape) -> Tensor:
    """reshape that never copies, as torch's view: a shape that the input's strides can't
    give without a copy (a transposed input flattened, say) raises torch's RuntimeError, so
    writes through the result always reach the input."""
    arr = input.array if isinstance(input, Tensor) else None
    if arr is not None and not arr.flags.c_contiguous and arr.size:
        probe = arr.view()
        try:
            probe.shape = _shape_arg(shape)  # NumPy refuses where a copy would be needed
        except AttributeError:
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (at least "
                f"one dimension spans across two contiguous subspaces; input shape "
                f"{tuple(arr.shape)}, strides in elements "
                f"{tuple(st // arr.itemsize for st in arr.strides)}). Use .reshape(...) "
                f"instead."
            ) from None
        except (TypeError, ValueError):
            pass  # a bad shape: reshape says what is wrong with it
    return reshape(input, *shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    nd = input.array.ndim
    s, e = normalize_dim(start_dim, nd), normalize_dim(end_dim, nd)  # 0-d: dims 0 or -1
    if nd == 0:
        return reshape(input, (1,))
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.array.shape
    return reshape(input, shape[:s] + (-1,) + shape[e + 1 :])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    d = normalize_dim(dim, input.array.ndim)
    shape = input.array.shape
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1 :])


def permute(input: Tensor, *dims) -> Tensor:
    dims = _shape_arg(dims)
    nd = input.array.ndim
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
    nd = input.array.ndim
    if nd < 2:
        return input
    return Permute.apply(input, (1, 0) if nd == 2 else tuple(range(nd - 1, -1, -1)))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    nd = input.array.ndim
    a, b = normalize_dim(dim0, nd), normalize_dim(dim1, nd)
    if nd == 0:  # dims 0 and -1 name the one (empty) axis list of a 0-d tensor, as in torch
        return Permute.apply(input, ())
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


def t(input: Tensor) -> Tensor:
    if input.array.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dims, got {input.array.ndim}")
    return input if input.array.ndim < 2 else transpose(input, 0, 1)


def squeeze(input: Tensor, dim=None) -> Tensor:
    shape = input.array.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = {normalize_dim(d, len(shape)) for d in dims}
        new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return reshape(input, new)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shape = input.array.shape
    d = normalize_dim(dim, len(shape) + 1)
    return reshape(input, shape[:d] + (1,) + shape[d:])


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to sizes without copying; -1 keeps a dim."""
    sizes = _shape_arg(sizes)
    shape = input.array.shape
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
    if len(reps) < input.array.ndim:
        raise RuntimeError(
            f"repeat: number of repeat dims ({len(reps)}) can not be smaller than the "
            f"number of tensor dims ({input.array.ndim})"
        )
    return Repeat.apply(input, reps)


def flip(input: Tensor, dims) -> Tensor:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(input, tuple(normalize_dim(d, input.array.ndim) for d in dims))


def unwrap_index(index):
    """Tensors in an index become arrays; returns (index, advanced?)."""
    if isinstance(index, tuple):
        return tuple(_unwrap_one(i) for i in index)
    return _unwrap_one(index)


def _unwrap_one(i):
    if isinstance(i, Tensor):
        return i.array
    if isinstance(i, list):
        return np.asarray(i)  # host: an index list (CuPy takes host index arrays)
    return i


def _is_advanced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(backend.is_array(i) or isinstance(i, (list, tuple)) for i in parts)


def getitem(input: Tensor, index) -> Tensor:
    """x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    index = unwrap_index(index)
    advanced = _is_advanced(index)
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if backend.is_array(p) and p.dtype.kind == "f":
            raise IndexError(
                "tensors used as indices must be long, int or bool tensors, got " f"{p.dtype}"
            )
    try:
        if input.requires_grad:
            return GetItem.apply(input, index, advanced)
        return Tensor._make(input.array[index], False, None)
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(input.array.shape)})") from None


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other dims must match."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    for k, t_ in enumerate(tensors):
        if t_.array.ndim == 0:
            raise ValueError(
                f"cat: zero-dimensional tensor (at position {k}) cannot be concatenated; "
                "use stack or reshape(1)"
            )
    ref = tensors[0].array
    axis = normalize_dim(dim, ref.ndim)
    for k, t_ in enumerate(tensors[1:], 1):
        s = t_.array.shape
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
    shape = tensors[0].array.shape
    for k, t_ in enumerate(tensors[1:], 1):
        if t_.array.shape != shape:
            raise ValueError(
                f"stack expects each tensor to be equal size, but got {tuple(shape)} at entry "
                f"0 and {tuple(t_.array.shape)} at entry {k}"
            )
    axis = normalize_dim(dim, len(shape) + 1)
    return Stack.apply(axis, *tensors)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of split_size (the last may be smaller), or of the listed sizes."""
    axis = normalize_dim(dim, input.array.ndim)
    n = input.array.shape[axis]
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
    n = input.array.shape[normalize_dim(dim, input.array.ndim)]
    step = max(-(-n // chunks), 1)
    return split(input, step, dim)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _border_runs(mode: str, n: int, lo: int, hi: int):
    """[(y slice, x slice, is_edge)] for one axis: the (left, inside, right) runs of the
    index, each an x slice of step +1 / -1, or a single edge element (is_edge)."""
    index = _border_index(mode, n, lo, hi)
    out = len(index)
    cuts = [0, max(lo, 0), out - max(hi, 0), out]
    runs = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        if b <= a:
            continue
        idx = index[a:b]
        step = int(idx[1] - idx[0]) if len(idx) > 1 else 1
        if step == 0:  # replicate: every position reads the edge
            runs.append((slice(a, b), slice(int(idx[0]), int(idx[0]) + 1), True))
            continue
        assert np.all(np.diff(idx) == step) and abs(step) == 1, (mode, n, lo, hi)  # host
        stop = int(idx[-1]) + step
        runs.append((slice(a, b), slice(int(idx[0]), None if stop < 0 else stop, step), False))
    return runs


def _border_blocks(mode: str, shape, pairs):
    """Every combination of one run per padded axis: the blocks BorderPad copies."""
    lead = len(shape) - len(pairs)
    blocks = [((slice(None),) * lead, (slice(None),) * lead, ())]
    for k, ((lo, hi), n) in enumerate(zip(pairs, shape[lead:])):
        axis = lead + k
        runs = _border_runs(mode, n, lo, hi) if (lo or hi) else [(slice(None),) * 2 + (False,)]
        blocks = [
            (dst + (d,), src + (s_,), edges + ((axis,) if edge else ()))
            for dst, src, edges in blocks
            for d, s_, edge in runs
        ]
    return blocks


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims: pad = (left_last, right_last, left_prev, right_prev, ...).

    constant: fill with value (default 0); a negative width crops that side.
    reflect: x[-pos] past the left edge (the edge itself not repeated), x[2 (n-1) - pos] past
    the right; replicate: the edge value; circular: x[pos mod n]. These three pad the last
    1, 2 or 3 dims of a (batched or not) input: pad of length 2 for 2-D/3-D inputs, 4 for
    3-D/4-D, 6 for 4-D/5-D, as PyTorch; negative widths crop.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: unrecognised padding mode {mode!r}, should be one of {_PAD_MODES}")
    if not isinstance(pad, (tuple, list)) or not all(
        isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad
    ):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: the padding length must be even, got {len(pad)} ({pad})")
    shape = input.array.shape
    nd = len(shape)
    k = len(pad) // 2
    if k > nd:
        raise ValueError(f"pad: {k} dims padded but the input has only {nd} ({pad})")
    # pairs per padded axis, first axis first
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)][::-1]
    axes = range(nd - k, nd)
    if mode == "constant":
        for axis, (lo, hi) in zip(axes, pairs):
            n = shape[axis]
            if n - max(-lo, 0) - max(-hi, 0) < 0:
                raise ValueError(
                    f"pad: negative padding ({lo}, {hi}) crops more than the {n} elements of "
                    f"dim {axis} (input of shape {tuple(shape)})"
                )
        widths = [(0, 0)] * (nd - k) + pairs
        return Pad.apply(input, widths, 0.0 if value is None else value)
    if value is not None and value != 0:  # (torch allows only the default here)
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: padding of length {len(pad)} is not supported for a {nd}-D input in mode "
            f"{mode!r} (non-constant modes pad the last 1, 2 or 3 dims: length 2 for 2-D or "
            "3-D inputs, 4 for 3-D or 4-D, 6 for 4-D or 5-D)"
        )
    if any(shape[a] == 0 for a in range(1 if nd == k + 2 else 0, nd)):
        raise ValueError(
            f"pad: mode {mode!r} needs non-empty dims (but the batch), got input of shape "
            f"{tuple(shape)}"
        )
    out_shape = list(shape)
    for axis, (lo, hi) in zip(axes, pairs):
        n = shape[axis]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(
                f"pad: padding size should be less than the corresponding input dimension in "
                f"mode 'reflect', but got padding ({lo}, {hi}) at dim {axis} of input of "
                f"shape {tuple(shape)}"
            )
        kept = n - max(-lo, 0) - max(-hi, 0)  # what circular wraps
        if mode == "circular" and (lo > kept or hi > kept):
            # (torch checks against n only, and reads uninitialized memory when a crop on
            # one side leaves less than the other side's padding)
            raise ValueError(
                f"pad: padding ({lo}, {hi}) at dim {axis} of input of shape {tuple(shape)} "
                f"causes wrapping around more than once in mode 'circular' ({kept} elements "
                "left after cropping)"
            )
        out_shape[axis] = n + lo + hi
        if out_shape[axis] < (0 if mode == "circular" else 1):
            raise ValueError(
                f"pad: input of shape {tuple(shape)} is too small for padding ({lo}, {hi}) at "
                f"dim {axis}: calculated output size {out_shape[axis]}"
            )
    blocks = _border_blocks(mode, shape, pairs)
    return BorderPad.apply(input, tuple(out_shape), blocks)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    axis = normalize_dim(dim, input.array.ndim)
    size = input.array.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {size} "
                         f"(expected in [{-size}, {size}])")
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        # slicing would silently return fewer than length elements
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                           f"({size})" if length >= 0 else "narrow: length must be non-negative")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def to_device(input: Tensor, device) -> Tensor:
    """input on `device` (a zengrad.device or its name): itself when it is there already,
    else a copy in the graph (the gradient goes back to input's device)."""
    dev = backend.check_device(device, "to")
    if backend.device_of(input.array) == dev or (
        dev.index is None and backend.device_of(input.array).type == dev.type
    ):
        return input
    return ToDevice.apply(input, dev)
