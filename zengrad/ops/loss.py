"""Loss functions, fused and numerically stable, with PyTorch's semantics.

Each heavy loss is one Function whose backward is written from its formula:
    cross_entropy    l_n = -sum_c q_nc w_c log softmax(x_n)_c   (q = one-hot or given probs,
                     mixed with the uniform distribution by label smoothing)
                     dl/dx_n = p_n sum_c q_nc w_c - q_n w           (= p - onehot without weights)
    bce_with_logits  l = (1 - y) x + (1 + (pw - 1) y) softplus(-x);  dl/dx = (1 + (pw-1) y) s - pw y
    binary_cross_entropy, huber, smooth_l1, mse, l1, kl_div, nll_loss likewise.
`reduction` is 'mean' | 'sum' | 'none' ('batchmean' too for kl_div). Arguments are checked
here, at the boundary, so that errors name the loss and the offending shapes or values.
Loss weights (`weight`, `pos_weight`) are constants, as in PyTorch: passing one that
requires grad is an error.
"""

from __future__ import annotations

import warnings

import numpy as np

from zengrad import backend
from zengrad.autograd.engine import grad_mode
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.activation import _sigmoid

_REDUCTIONS = ("mean", "sum", "none")

# ------------------------------------------------------------------ shared helpers


def _check_reduction(name: str, reduction: str, extra: tuple[str, ...] = ()) -> None:
    allowed = _REDUCTIONS + extra
    if reduction not in allowed:
        shown = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction ({shown})")


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        if loss.size and type(loss) is np.ndarray and loss.dtype.itemsize >= 4:
            # NumPy's float32/64 mean bit for bit (its sum, divided by an intp count, cast
            # back) without its ~5 us of Python-level argument handling per loss
            total = np.add.reduce(loss, axis=None)  # host
            return total.dtype.type(total / np.intp(loss.size))
        xp = backend.xp_of(loss)
        with backend.errstate(xp, invalid="ignore", divide="ignore"):  # empty -> nan, as torch
            return loss.mean() if loss.size else xp.full((), np.nan, loss.dtype)
    if reduction == "sum":
        return loss.sum()
    return loss


def _scale(g: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """The incoming gradient spread back over the elements: g / count for a mean."""
    return g / count if reduction == "mean" else g


def _check_float_tensor(name: str, arg: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {arg} must be a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        raise TypeError(f"{name}: {arg} must be a floating point tensor, got {x.array.dtype}")
    return x


def _shape(t) -> tuple[int, ...]:
    return tuple(t.array.shape)


def _float_target(name: str, input: Tensor, target) -> Tensor:
    """A float target of the input's exact shape, in the input's dtype (no upcast)."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a Tensor, got {type(target).__name__}")
    if target.array.dtype.kind != "f":
        raise TypeError(
            f"{name}: target must be a floating point tensor, got {target.array.dtype} "
            "(convert it with .float())"
        )
    if target.array.shape != input.array.shape:
        raise ValueError(
            f"{name}: target shape {_shape(target)} does not match input shape "
            f"{_shape(input)}; they must be equal (zengrad does not broadcast loss targets)"
        )
    if target.array.dtype != input.array.dtype:
        return _cast(target, input.array.dtype)
    return target


def _cast(t: Tensor, dtype) -> Tensor:
    """t in another float dtype, keeping its place in the graph (target grads)."""
    from zengrad.ops.elementwise import cast

    return cast(t, dtype)


def _constant(name: str, arg: str, t, input: Tensor) -> np.ndarray | None:
    """A loss weight as an array in the input's dtype; weights take no gradient."""
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: {arg} must be a Tensor or None, got {type(t).__name__}")
    if t.array.dtype.kind not in "fiub":
        raise TypeError(f"{name}: {arg} must be a real tensor, got {t.array.dtype}")
    if t.requires_grad and grad_mode.enabled:
        raise ValueError(
            f"{name}: {arg} requires grad, but the loss is not differentiable with respect to "
            f"{arg} (as in PyTorch); pass {arg}.detach()"
        )
    return t.array.astype(input.array.dtype, copy=False)


def _broadcast_constant(name: str, arg: str, w: np.ndarray | None, shape) -> None:
    if w is None:
        return
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name}: {arg} of shape {tuple(w.shape)} cannot be broadcast to the input shape "
            f"{tuple(shape)}"
        )


_F16 = np.dtype(np.float16)


def _float32_math(cls: type[Function]) -> type[Function]:
    """Class decorator: gives the loss a twin, `cls.half`, that computes a float16 loss in
    float32 and rounds the results to float16 once, as torch's CPU kernels do (opmath).

    In half precision the intermediates go wrong before the result does: x^2 and sums pass
    65504 and overflow, BCE's 1e-12 clamp underflows to 0 (0/0 = nan at x = 0), e^-|x|
    underflows, and every step rounds. Results beyond float16's range become inf without a
    RuntimeWarning, as in torch. `_apply` picks the twin, so float32/float64 losses run the
    plain class with no extra call in forward or backward.
    """
    forward, backward = cls.forward, cls.backward

    def forward_f32(ctx, *args, **kwargs):
        args = [a.astype(np.float32) if backend.is_array(a) and a.dtype == _F16 else a
                for a in args]
        out = forward(ctx, *args, **kwargs)
        with backend.errstate(backend.xp_of(out), over="ignore"):
            return backend.as_result(out).astype(_F16)

    def backward_f32(ctx, g):
        grads = backward(ctx, g.astype(np.float32))
        with backend.errstate(backend.xp_of(g), over="ignore"):
            if type(grads) is not tuple:
                return grads.astype(_F16)
            return tuple(None if gr is None else gr.astype(_F16) for gr in grads)

    # same name, so grad_fn reads e.g. <MSEBackward> in both precisions
    cls.half = type(cls.__name__, (cls,), {
        "__module__": cls.__module__,
        "__doc__": cls.__doc__,
        "forward": staticmethod(forward_f32),
        "backward": staticmethod(backward_f32),
    })
    return cls


def _apply(cls: type[Function], input: Tensor, *args) -> Tensor:
    """cls.apply(input, *args), through the float32-math twin when input is float16 (the
    other float arguments have already been cast to the input's dtype)."""
    return (cls.half if input.array.dtype == _F16 else cls).apply(input, *args)


# ------------------------------------------------------------------ class-score layout


def _to_rows(x: np.ndarray) -> np.ndarray:
    """Scores with the class axis at 1 (or 0 when unbatched) as an (M, C) matrix."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, -1)
    return backend.xp_of(x).moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of _to_rows for a gradient."""
    if len(shape) <= 2:
        return g.reshape(shape)
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return backend.xp_of(g).moveaxis(g.reshape(moved), -1, 1)


class _IndexTarget:
    """Class-index targets flattened to rows, with the ignore mask and per-row weights."""

    __slots__ = ("y", "rows", "valid", "wy", "denom")

    def __init__(self, target: np.ndarray, weight, ignore_index: int, m: int, dtype) -> None:
        xp = backend.xp_of(target)
        y = target.reshape(-1)
        valid = None
        if (y == ignore_index).any():
            valid = y != ignore_index
            y = xp.where(valid, y, 0)
        self.y, self.rows, self.valid = y, xp.arange(m), valid
        # wy: the weight of each row's target class, 0 on ignored rows (None = all ones)
        wy = None if weight is None else weight[y]
        if valid is not None:
            wy = valid.astype(dtype) if wy is None else wy * valid
        self.wy = wy
        # the 'mean' divisor: total weight of the rows that count (their number without weights)
        self.denom = m if wy is None else wy.sum()

    def reduce(self, loss: np.ndarray, reduction: str, shape, dtype) -> np.ndarray:
        """The row losses shaped as the target ('none'), summed, or summed / denom."""
        if reduction == "none":
            return loss.reshape(shape)
        total = loss.sum()
        if reduction == "sum":
            return total
        xp = backend.xp_of(total)
        with backend.errstate(xp, invalid="ignore", divide="ignore"):  # all ignored: 0/0 = nan
            return (total / self.denom).astype(dtype)

    def row_grad(self, g: np.ndarray, reduction: str) -> np.ndarray:
        """dL/dl_n from the incoming gradient: g per row ('none'), g ('sum'), g / denom."""
        if reduction == "none":
            return g.reshape(-1)
        if reduction == "sum":
            return g
        # every row ignored (denominator 0): nothing flowed forward, no gradient flows back
        return g / self.denom if self.denom != 0 else g * 0


# ------------------------------------------------------------------ cross entropy


@_float32_math
class CrossEntropy(Function):
    """l_n = -(1 - eps) w_{y_n} log p_{n,y_n} - (eps / C) sum_c w_c log p_nc,  p = softmax(x_n);
    index targets, 'mean' divides by sum_n w_{y_n} over non-ignored n.
    dl_n/dx_nc = (1-eps) w_y (p_c - [c = y]) + (eps/C) (p_c sum_k w_k - w_c)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        xp = ctx.xp = backend.xp_of(x)
        x2 = _to_rows(x)
        m, c = x2.shape
        t = _IndexTarget(target, weight, ignore_index, m, x.dtype)
        eps = label_smoothing
        shifted = x2 - x2.max(axis=1, keepdims=True)
        # log p at the target: only the M picked entries, no dense one-hot
        picked = shifted[t.rows, t.y]
        if eps > 0:  # sum_c w_c log p_c = sum_c w_c shifted_c - logz sum_c w_c
            wshift = shifted.sum(axis=1) if weight is None else shifted @ weight
        p = xp.exp(shifted, out=shifted)  # shifted is not needed any more: reuse its memory
        sumexp = p.sum(axis=1, keepdims=True)
        logz = xp.log(sumexp)[:, 0]
        p *= 1 / sumexp
        nll = logz - picked
        loss = nll if t.wy is None else nll * t.wy
        if eps > 0:
            smooth = logz * (c if weight is None else weight.sum()) - wshift
            if t.valid is not None:
                smooth *= t.valid
            loss = (1 - eps) * loss + (eps / c) * smooth
        loss = loss.astype(x.dtype, copy=False)
        ctx.p, ctx.t, ctx.weight, ctx.eps = p, t, weight, eps
        ctx.reduction, ctx.shape = reduction, x.shape
        return t.reduce(loss, reduction, target.shape, x.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        p, t, w, eps = ctx.p, ctx.t, ctx.weight, ctx.eps
        m, c = p.shape
        b = t.row_grad(g, ctx.reduction)
        # r_n: the row's factor; wy already carries the ignore mask
        r = b if t.wy is None else b * t.wy
        if eps == 0:
            grad = p * (r if r.ndim == 0 else r[:, None])  # a scalar for plain 'mean'
            grad[t.rows, t.y] -= r
            return _from_rows(grad, ctx.shape), None, None, None, None, None
        r = xp.broadcast_to(r, (m,))
        bv = xp.broadcast_to(b, (m,))
        if t.valid is not None:
            bv = bv * t.valid
        wsum = c if w is None else w.sum()
        grad = p * ((1 - eps) * r + (eps / c) * wsum * bv)[:, None]
        grad[t.rows, t.y] -= (1 - eps) * r
        grad -= (eps / c) * (bv[:, None] if w is None else bv[:, None] * w)
        return _from_rows(grad, ctx.shape), None, None, None, None, None


@_float32_math
class CrossEntropyProbs(Function):
    """l_n = -sum_c q_nc w_c log p_nc,  q = (1 - eps) target + eps / C,  p = softmax(x_n);
    'mean' divides by the number of rows.  dl_n/dx_n = p_n sum_c q_nc w_c - q_n w,
    dl_n/dtarget_n = -(1 - eps) w log p_n."""

    @staticmethod
    def forward(ctx, x, target, weight, reduction, label_smoothing):
        xp = ctx.xp = backend.xp_of(x)
        x2, q = _to_rows(x), _to_rows(target)
        m, c = x2.shape
        shifted = x2 - x2.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        eps = label_smoothing
        if eps > 0:
            q = q * (1 - eps) + eps / c
        qw = q if weight is None else q * weight
        loss = -(logp * qw).sum(axis=1)
        ctx.logp, ctx.qw, ctx.weight, ctx.eps = logp, qw, weight, eps
        ctx.reduction, ctx.shape, ctx.m = reduction, x.shape, m
        if reduction == "none":
            return loss.reshape(x.shape[:1] + x.shape[2:] if x.ndim > 1 else ())
        total = loss.sum()
        if reduction == "sum":
            return total
        with backend.errstate(xp, invalid="ignore", divide="ignore"):
            return (total / m).astype(x.dtype) if m else xp.full((), np.nan, x.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        logp, qw, w = ctx.logp, ctx.qw, ctx.weight
        if ctx.reduction == "none":
            b = g.reshape(-1, 1)
        else:
            b = _scale(g, ctx.reduction, ctx.m)
        need = ctx.needs_input_grad
        gx = gt = None
        if need[0]:
            gx = _from_rows(b * (xp.exp(logp) * qw.sum(axis=1, keepdims=True) - qw), ctx.shape)
        if need[1]:
            dq = logp if w is None else logp * w
            gt = _from_rows(dq * (-(1 - ctx.eps) * b), ctx.shape)
        return gx, gt, None, None, None


@_float32_math
class NLLLossFn(Function):
    """l_n = -w_{y_n} x_{n,y_n} (x = log-probabilities), 0 on ignored rows;
    'mean' divides by sum_n w_{y_n}.  dl_n/dx_nc = -w_{y_n} [c = y_n]."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        ctx.xp = backend.xp_of(x)
        x2 = _to_rows(x)
        m = x2.shape[0]
        t = _IndexTarget(target, weight, ignore_index, m, x.dtype)
        loss = -x2[t.rows, t.y]
        if t.wy is not None:
            loss = (loss * t.wy).astype(x.dtype, copy=False)
        ctx.t, ctx.reduction, ctx.shape, ctx.dtype = t, reduction, x.shape, x.dtype
        return t.reduce(loss, reduction, target.shape, x.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        t = ctx.t
        m = t.rows.size
        b = t.row_grad(g, ctx.reduction)
        r = xp.broadcast_to(b if t.wy is None else b * t.wy, (m,))
        c = ctx.shape[1] if len(ctx.shape) > 1 else ctx.shape[0]
        grad = xp.zeros((m, c), dtype=ctx.dtype)
        grad[t.rows, t.y] = -r
        return _from_rows(grad, ctx.shape), None, None, None, None


def _class_setup(name: str, input, weight) -> tuple[int, np.ndarray | None]:
    _check_float_tensor(name, "input", input)
    if input.array.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    c = input.array.shape[1] if input.array.ndim > 1 else input.array.shape[0]
    w = _constant(name, "weight", weight, input)
    if w is not None and w.shape != (c,):
        raise ValueError(
            f"{name}: weight must be a 1-D tensor of C = {c} class weights, got shape "
            f"{tuple(w.shape)}"
        )
    return c, w


def _index_target(name: str, input: Tensor, target, c: int, ignore_index: int) -> np.ndarray:
    """Check class-index targets: integer, shape (N, d1, ...), classes in [0, C)."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a Tensor, got {type(target).__name__}")
    shape = _shape(input)
    want = shape[:1] + shape[2:] if len(shape) > 1 else ()
    y = target.array
    if y.shape != want:
        layout = {0: "()", 1: "", 2: "(N,)"}.get(len(shape), "(N, d1, ...)")
        raise ValueError(
            f"{name}: expected target of shape {layout} = {want} for input of shape {shape}, "
            f"got {tuple(y.shape)}"
        )
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index targets must be integers (int64), got {y.dtype}; "
            "class-probability targets must be floats of the input's shape "
            f"{shape}"
        )
    if y.size:
        lo, hi = y.min(), y.max()
        if lo < 0 or hi >= c:
            bad = y[(y != ignore_index) & ((y < 0) | (y >= c))]
            if bad.size:
                raise ValueError(
                    f"{name}: target contains class {int(bad[0])} but input has {c} classes "
                    f"(valid targets are 0..{c - 1} or ignore_index={ignore_index})"
                )
    return y


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy from logits, log-softmax fused with the NLL (never softmax then log).

    input (N, C), (N, C, d1, ...) or (C,); target class indices (N,) / (N, d1, ...) / ()
    as integers, or class probabilities of the input's shape as floats.
    l_n = -sum_c q_nc w_c log softmax(x_n)_c, q the one-hot (or given) target smoothed as
    (1 - eps) q + eps / C. 'mean' divides by the total target weight of non-ignored items
    (index targets) or by the number of items (probability targets), as PyTorch.
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    c, w = _class_setup(name, input, weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    eps = float(label_smoothing)
    if isinstance(target, Tensor) and target.array.dtype.kind == "f" and (
        target.array.shape == input.array.shape
    ):
        if ignore_index >= 0:
            raise ValueError(
                f"{name}: ignore_index={ignore_index} is not supported for class-probability "
                "(floating point) targets"
            )
        target = _float_target(name, input, target)
        return _apply(CrossEntropyProbs, input, target, w, reduction, eps)
    if isinstance(target, Tensor) and target.array.dtype.kind == "f":
        shape = _shape(input)
        index_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        if target.array.shape == index_shape:
            raise TypeError(
                f"{name}: class-index targets must be integers (int64), got "
                f"{target.array.dtype}; use target.long()"
            )
        raise ValueError(
            f"{name}: target shape {_shape(target)} does not match input shape {shape}: "
            f"expected class indices of shape {index_shape} or class probabilities of shape "
            f"{shape}"
        )
    y = _index_target(name, input, target, c, ignore_index)
    return _apply(CrossEntropy, input, y, w, ignore_index, reduction, eps)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities: l_n = -w_{y_n} input[n, y_n].

    input (N, C), (N, C, d1, ...) or (C,); target integer class indices (N,) / (N, d1, ...).
    'mean' divides by the total weight of the non-ignored targets.
    """
    name = "nll_loss"
    _check_reduction(name, reduction)
    c, w = _class_setup(name, input, weight)
    y = _index_target(name, input, target, c, ignore_index)
    return _apply(NLLLossFn, input, y, w, ignore_index, reduction)


# ------------------------------------------------------------------ binary cross entropy


@_float32_math
class BinaryCrossEntropy(Function):
    """l = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100));
    dl/dx = w (x - y) / max(x (1 - x), 1e-12),  dl/dy = w (max(log(1-x),-100) - max(log x,-100))."""

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        xp = ctx.xp = backend.xp_of(x)
        with backend.errstate(xp, divide="ignore"):
            logx = xp.maximum(xp.log(x), -100)
            log1mx = xp.maximum(xp.log1p(-x), -100)
        loss = (y - 1) * log1mx - y * logx
        if w is not None:
            loss = loss * w
        ctx.x, ctx.y, ctx.w, ctx.reduction = x, y, w, reduction
        if ctx.needs_input_grad[1]:
            ctx.dlog = log1mx - logx
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, y, w = ctx.x, ctx.y, ctx.w
        b = _scale(g, ctx.reduction, x.size)
        if w is not None:
            b = b * w
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            gx = b * (x - y) / xp.maximum(x * (1 - x), x.dtype.type(1e-12))
        if need[1]:
            gy = xp.broadcast_to(b * ctx.dlog, x.shape)
        return gx, gy, None, None


@_float32_math
class BCEWithLogits(Function):
    """l = w ((1 - y) x + (1 + (pw - 1) y) softplus(-x)),  softplus(-x) = log(1 + e^-|x|) +
    max(-x, 0); dl/dx = w ((1 + (pw - 1) y) sigmoid(x) - pw y),
    dl/dy = w (-x + (pw - 1) softplus(-x))."""

    @staticmethod
    def forward(ctx, x, y, w, pw, reduction):
        xp = ctx.xp = backend.xp_of(x)
        sp = xp.log1p(xp.exp(-xp.abs(x)))
        sp += xp.maximum(-x, 0)
        if pw is None:
            loss = (1 - y) * x + sp
        else:
            loss = (1 - y) * x + (1 + (pw - 1) * y) * sp
        if w is not None:
            loss = loss * w
        ctx.x, ctx.y, ctx.w, ctx.pw, ctx.reduction = x, y, w, pw, reduction
        if pw is not None and ctx.needs_input_grad[1]:
            ctx.sp = sp
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, y, w, pw = ctx.x, ctx.y, ctx.w, ctx.pw
        b = _scale(g, ctx.reduction, x.size)
        if w is not None:
            b = b * w
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            s = _sigmoid(x, xp)
            d = s - y if pw is None else (1 + (pw - 1) * y) * s - pw * y
            gx = b * d
        if need[1]:
            d = -x if pw is None else (pw - 1) * ctx.sp - x
            gy = xp.broadcast_to(b * d, x.shape)
        return gx, gy, None, None, None


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross entropy of probabilities in [0, 1], logs clamped at -100 as PyTorch:
    l = -w (y log x + (1 - y) log(1 - x)).  weight broadcasts to the input's shape."""
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    _check_float_tensor(name, "input", input)
    target = _float_target(name, input, target)
    x, y = input.array, target.array
    if x.size:
        lo, hi = x.min(), x.max()
        if not (lo >= 0 and hi <= 1):
            raise ValueError(
                f"{name}: input values must be in [0, 1], found min {lo:.4g} / max {hi:.4g} "
                "(apply sigmoid first, or use binary_cross_entropy_with_logits)"
            )
        lo, hi = y.min(), y.max()
        if not (lo >= 0 and hi <= 1):
            raise ValueError(
                f"{name}: target values must be in [0, 1], found min {lo:.4g} / max {hi:.4g}"
            )
    w = _constant(name, "weight", weight, input)
    _broadcast_constant(name, "weight", w, x.shape)
    return _apply(BinaryCrossEntropy, input, target, w, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid + binary cross entropy fused, finite for any logit x:
    l = w ((1 - y) x + (1 + (pw - 1) y) (log(1 + e^-|x|) + max(-x, 0))).
    pos_weight (typically shape (C,)) and weight broadcast to the input's shape."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    _check_float_tensor(name, "input", input)
    target = _float_target(name, input, target)
    w = _constant(name, "weight", weight, input)
    pw = _constant(name, "pos_weight", pos_weight, input)
    _broadcast_constant(name, "weight", w, input.array.shape)
    _broadcast_constant(name, "pos_weight", pw, input.array.shape)
    return _apply(BCEWithLogits, input, target, w, pw, reduction)


# ------------------------------------------------------------------ regression losses


@_float32_math
class MSE(Function):
    """l = (x - y)^2;  dl/dx = 2 (x - y) = -dl/dy."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        d = x - y
        ctx.d, ctx.reduction = d, reduction
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, g):
        d = ctx.d
        gx = (_scale(g, ctx.reduction, d.size) * 2) * d
        return _pair(ctx, gx)


@_float32_math
class L1(Function):
    """l = |x - y|;  dl/dx = sign(x - y) = -dl/dy (0 at x = y)."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        xp = backend.xp_of(x)
        d = x - y
        ctx.sign, ctx.reduction = xp.sign(d), reduction
        return _reduce(xp.abs(d), reduction)

    @staticmethod
    def backward(ctx, g):
        gx = _scale(g, ctx.reduction, ctx.sign.size) * ctx.sign
        return _pair(ctx, gx)


@_float32_math
class Huber(Function):
    """l = d^2 / 2 if |d| < delta else delta (|d| - delta / 2),  d = x - y;
    dl/dx = clip(d, -delta, delta) = -dl/dy."""

    @staticmethod
    def forward(ctx, x, y, reduction, delta):
        xp = ctx.xp = backend.xp_of(x)
        d = x - y
        ad = xp.abs(d)
        loss = xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
        ctx.d, ctx.reduction, ctx.delta = d, reduction, delta
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        d, delta = ctx.d, ctx.delta
        gx = _scale(g, ctx.reduction, d.size) * xp.clip(d, -delta, delta)
        return _pair(ctx, gx) + (None,)


@_float32_math
class SmoothL1(Function):
    """l = d^2 / (2 beta) if |d| < beta else |d| - beta / 2,  d = x - y (|d| when beta = 0);
    dl/dx = clip(d / beta, -1, 1) (sign(d) when beta = 0) = -dl/dy."""

    @staticmethod
    def forward(ctx, x, y, reduction, beta):
        xp = ctx.xp = backend.xp_of(x)
        d = x - y
        ad = xp.abs(d)
        if beta == 0:
            loss = ad
        else:
            loss = xp.where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta)
        ctx.d, ctx.reduction, ctx.beta = d, reduction, beta
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        d, beta = ctx.d, ctx.beta
        slope = xp.sign(d) if beta == 0 else xp.clip(d / beta, -1, 1)
        gx = _scale(g, ctx.reduction, d.size) * slope
        return _pair(ctx, gx) + (None,)


def _pair(ctx, gx: np.ndarray) -> tuple:
    """(dl/dx, dl/dy, None) for losses of d = x - y, where dl/dy = -dl/dx."""
    need = ctx.needs_input_grad
    return (gx if need[0] else None, -gx if need[1] else None, None)


@_float32_math
class KLDiv(Function):
    """l = y (log y - x) (0 where y = 0), or e^y (y - x) with log_target;
    dl/dx = -y (-e^y);  dl/dy = log y + 1 - x (e^y (y - x + 1))."""

    @staticmethod
    def forward(ctx, x, y, reduction, log_target):
        xp = ctx.xp = backend.xp_of(x)
        if log_target:
            ey = xp.exp(y)
            loss = ey * (y - x)
            ctx.ey = ey
        else:
            with backend.errstate(xp, divide="ignore", invalid="ignore"):
                ylogy = xp.where(y > 0, y * xp.log(y), 0).astype(x.dtype, copy=False)
            loss = ylogy - y * x
        ctx.x, ctx.y, ctx.reduction, ctx.log_target = x, y, reduction, log_target
        if reduction == "batchmean":
            total = loss.sum()
            return total / x.shape[0] if x.ndim else total
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, y = ctx.x, ctx.y
        if ctx.reduction == "batchmean":
            b = g / x.shape[0] if x.ndim else g
        else:
            b = _scale(g, ctx.reduction, x.size)
        need = ctx.needs_input_grad
        gx = gy = None
        if ctx.log_target:
            if need[0]:
                gx = -b * ctx.ey
            if need[1]:
                gy = b * ctx.ey * (y - x + 1)
        else:
            if need[0]:
                gx = xp.broadcast_to(-b * y, x.shape)
            if need[1]:
                with backend.errstate(xp, divide="ignore"):
                    gy = xp.broadcast_to(b * (xp.log(y) + 1 - x), x.shape)
        return gx, gy, None, None


def _regression_args(name: str, input, target, reduction: str) -> Tensor:
    _check_reduction(name, reduction)
    _check_float_tensor(name, "input", input)
    return _float_target(name, input, target)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error l = (x - y)^2. Unlike PyTorch (which broadcasts with a warning),
    input and target must have the same shape: a mismatch raises ValueError."""
    target = _regression_args("mse_loss", input, target, reduction)
    return _apply(MSE, input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error l = |x - y|; input and target must have the same shape."""
    target = _regression_args("l1_loss", input, target, reduction)
    return _apply(L1, input, target, reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    """Huber loss: d^2 / 2 for |d| < delta, else delta (|d| - delta / 2); delta > 0.
    Input and target must have the same shape."""
    target = _regression_args("huber_loss", input, target, reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _apply(Huber, input, target, reduction, float(delta))


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Smooth L1: d^2 / (2 beta) for |d| < beta, else |d| - beta / 2 (= huber / beta);
    beta >= 0, beta = 0 gives L1. Input and target must have the same shape."""
    target = _regression_args("smooth_l1_loss", input, target, reduction)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _apply(SmoothL1, input, target, reduction, float(beta))


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """KL divergence with input as log-probabilities: l = y (log y - x), or e^y (y - x) when
    log_target. 'mean' averages over all elements (as PyTorch, which warns that
    'batchmean' = sum / batch size is the mathematically correct KL); same shapes required.
    The target gradient at y = 0 is -inf (log y), where PyTorch gives nan."""
    name = "kl_div"
    _check_reduction(name, reduction, ("batchmean",))
    _check_float_tensor(name, "input", input)
    target = _float_target(name, input, target)
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size and matches the math "
            "definition of KL divergence",
            UserWarning,
            stacklevel=2,
        )
    return _apply(KLDiv, input, target, reduction, bool(log_target))
