"""Views in the graph after in-place writes: how a view reads its base, and how a write
through a view lands in its base (torch's view rebase).

A view V of a base B (V made from B by basic indexing, reshape, transpose, expand, ...)
holds some of B's elements: V = B.flat[pos], with pos the C-order positions in B of V's
elements, computed from the two arrays' memory layout (so any NumPy view works). Then

    ViewOfBase:       V = B.flat[pos]                     dL/dB = g scattered to pos
    ScatterIntoBase:  B_new = B_old with r at pos          dL/dB_old = g with 0 at pos,
                      (V.op_(y): r = op(V_old, y))         dL/dr = g.flat[pos]

so `V.op_(y)` is recorded as `B[pos] = op(B[pos], y)` on the base (torch's CopySlices), V
becomes B_new.flat[pos], and a view taken before the write and used after it reads B_new.
"""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import EPOCH, GRAFTED, graft, storage_root
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor


def _offsets(a, start: int) -> np.ndarray:  # host
    """The byte offset of each element of a (a NumPy or device array; the offsets in a's
    shape, on the host) from address `start`."""
    off = np.full(a.shape, backend.address_of(a) - start, dtype=np.int64)
    for d, (n, s) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[d] = n
        off = off + (np.arange(n, dtype=np.int64) * s).reshape(shape)
    return off


def positions(base: np.ndarray, view: np.ndarray) -> np.ndarray | None:  # host
    """The C-order flat positions in base of view's elements (view's shape), or None when
    some element of view is not one of base's (a host plan from the arrays' addresses and
    strides: the nodes below move it to their arrays' device)."""
    start = backend.address_of(base)
    ov = _offsets(view, start)
    if base.flags.c_contiguous:
        pos, rem = np.divmod(ov, base.itemsize)
        if ov.size and (rem.any() or pos.min() < 0 or pos.max() >= base.size):
            return None
        return pos
    ob = _offsets(base, start).reshape(-1)
    order = np.argsort(ob, kind="stable")
    sorted_ob = ob[order]
    i = np.searchsorted(sorted_ob, ov)
    i_clip = np.minimum(i, max(sorted_ob.size - 1, 0))
    if ov.size and (sorted_ob.size == 0 or (sorted_ob[i_clip] != ov).any()):
        return None
    return order[i_clip]


def _on(xp, pos):
    """A host plan of positions as an array of xp (itself on NumPy)."""
    return pos if xp is np or pos is None else xp.asarray(pos)


class ViewOfBase(Function):
    """V = B.flat[pos] (V's memory is B's: forward returns V's array);
    dL/dB = zeros with g added at pos (np.add.at where pos repeats, an expanded view)."""

    @staticmethod
    def forward(ctx, base, view, pos):
        xp = ctx.xp = backend.xp_of(base)
        ctx.shape, ctx.pos = base.shape, _on(xp, pos)
        ctx.repeats = 0 in view.strides and view.size > 1
        return view

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gb = xp.zeros(ctx.shape, g.dtype)
        if ctx.repeats:
            xp.add.at(gb.reshape(-1), ctx.pos, g)
        else:
            gb.reshape(-1)[ctx.pos] = g
        return gb, None, None

    def name(self) -> str:
        return "AsStridedBackward0"


class ScatterIntoBase(Function):
    """B_new = B_old with r at pos (written by the caller; forward returns B's array):
    dL/dB_old = g with 0 at pos;  dL/dr = g.flat[pos]."""

    @staticmethod
    def forward(ctx, base, r, pos):
        xp = ctx.xp = backend.xp_of(base)
        ctx.pos = _on(xp, pos)
        return base

    @staticmethod
    def backward(ctx, g):
        gb = gr = None
        flat = ctx.xp.ascontiguousarray(g).reshape(-1)
        if ctx.needs_input_grad[1]:
            gr = flat[ctx.pos]
        if ctx.needs_input_grad[0]:
            gb = flat.copy()
            gb[ctx.pos] = 0
            gb = gb.reshape(g.shape)
        return gb, gr, None

    def name(self) -> str:
        return "CopySlices"


def view_base(t):
    """The tensor in the graph that t is a view of (following view ops back through parents
    that share t's memory, and ViewOfBase nodes to their base), or t itself."""
    root = storage_root(t.array)
    while True:
        fn = t.grad_fn
        if fn is None:
            return t
        if type(fn) is ViewOfBase:
            base = fn.__dict__.get("base")
            if base is None:  # freed by a backward
                return t
            t = base
            continue
        if hasattr(fn, "_prev"):
            return t  # the node of an in-place op on t: t is a base
        for p in fn.parents:
            if isinstance(p, Tensor) and p.requires_grad and storage_root(p.array) is root:
                t = p
                break
        else:
            return t


def regenerate(view_array: np.ndarray, base):
    """A tensor holding view_array's values as a view of base in the graph (ViewOfBase), or
    None when view_array's elements are not all base's."""
    pos = positions(base.array, view_array)
    if pos is None:
        return None
    r = ViewOfBase.apply(base, view_array, pos)
    r.grad_fn.base = base  # for view_base (the node's parents hold base too)
    return r


def regenerate_for(parent, node):
    """At backward: `parent`, a view consumed by node, was written through another tensor
    sharing its memory after parent's producer ran; the values node used are those of
    parent's base at node's time. Rewire node to read parent as a view of its base (the
    base's producer at node's epoch is found by the engine); None when parent is not a
    view of a tensor in the graph."""
    base = view_base(parent)
    if base is parent:
        return None
    pos = positions(base.array, parent.array)
    if pos is None:
        return None
    r = _view_node(base, parent.array, pos, node._epoch)
    node.parents = tuple(r if p is parent else p for p in node.parents)
    return r.grad_fn


def _view_node(base, view_array: np.ndarray, pos: np.ndarray, epoch: int):
    fn = object.__new__(ViewOfBase)
    fn.parents, fn.needs_input_grad = (base, None, None), [True, False, False]
    fn._retained, fn._freed, fn._epoch = None, False, epoch
    fn.xp = xp = backend.xp_of(base.array)
    fn.shape, fn.pos = base.array.shape, _on(xp, pos)
    fn.repeats = 0 in view_array.strides and view_array.size > 1
    fn.base = base
    return Tensor._make(view_array, True, fn)


def resolve_stale(args: tuple, needs: list) -> None:
    """Before an op (grad mode on, engine.GRAFTED not empty): a float tensor argument that
    doesn't require grad but shares a storage that an in-place write put into the graph
    after it was taken (a stale alias: v = buf[0]; buf[0] = w) is made to read that storage
    in the graph, as torch's views do: a view of the written tensor G when its elements are
    G's, or its own old values with G's written in (ScatterIntoBase) when G's are among
    its; otherwise it is refused (its gradient would be silently missed)."""
    for i, a in enumerate(args):
        if needs[i] or not isinstance(a, Tensor) or a.array.dtype.kind not in "fc":
            continue
        root = storage_root(a.array)
        entry = GRAFTED.get(id(root))
        if entry is None or getattr(a, "_cut", False) or getattr(a, "_untracked", None) is not None:
            continue
        resolve(a, grafted_tensor(entry, root))
        needs[i] = True


def grafted_tensor(entry: tuple, root: np.ndarray):
    """The tensor of an engine.GRAFTED entry: itself while alive, else a stand-in with its
    memory and the node of its write (None once that graph was freed by a backward)."""
    ref, node, offset, shape, strides = entry
    g = ref()
    if g is not None:
        return g
    if node is None or node._freed:
        return None
    if not root.flags.c_contiguous:
        return None
    data = root.reshape(-1).view(np.uint8)[offset:]
    data = data[: data.size - data.size % root.itemsize].view(root.dtype)
    arr = backend.xp_of(root).lib.stride_tricks.as_strided(data, shape, strides)
    return Tensor._make(arr, True, node)


def _written_into(a, g, pos: np.ndarray) -> None:
    """a = its current values with g's at pos (ScatterIntoBase with a constant base)."""
    fn = object.__new__(ScatterIntoBase)
    fn.parents = (Tensor._make(a.array, False, None), g, None)
    fn.needs_input_grad = [False, True, False]
    fn._retained, fn._freed, fn._epoch, fn._prev = None, False, EPOCH[0], None
    fn.xp = xp = backend.xp_of(a.array)
    fn.pos = _on(xp, pos)
    a.grad_fn, a.requires_grad = fn, True


def resolve(a, g) -> None:
    """Make the stale alias a (see resolve_stale) read the storage written by g."""

    if g is not None and g.requires_grad:
        pos = positions(g.array, a.array)
        if pos is not None:
            r = _view_node(g, a.array, pos, EPOCH[0])
            a.grad_fn, a.requires_grad = r.grad_fn, True
            return
        pos = positions(a.array, g.array)
        if pos is not None:  # a holds g: a = its old values with g written in
            _written_into(a, g, pos)
            graft(a)  # later aliases read the larger tensor
            return
        root = storage_root(a.array)
        pos = positions(root, g.array) if root.flags.c_contiguous else None
        if pos is not None:  # through the whole storage: g written into it, a a view of it
            whole = Tensor._make(root, False, None)
            _written_into(whole, g, pos)
            graft(whole)
            r = _view_node(whole, a.array, positions(root, a.array), EPOCH[0])
            a.grad_fn, a.requires_grad = r.grad_fn, True
            return
    raise RuntimeError(
        f"a tensor of shape {list(a.array.shape)} that does not require grad shares its "
        f"memory with a tensor that an in-place op put into the autograd graph after this "
        f"one was taken (e.g. v = buf[0] before buf[1].add_(w)), and zengrad can't read it "
        f"through that tensor (neither holds the other's elements): its gradient would be "
        f"missed. Take the alias after the write, write through the base (buf[1] += w), "
        f"or .detach() it if it should stay out of the graph"
    )
