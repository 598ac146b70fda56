"""Special functions and the ops PyTorch programs reach for that the core families lack:
erf/erfc, tan, log2/log10, atan2, lerp, addmm and einsum.

Each Function states its forward and its gradient; broadcast operands get their gradient
summed back to their shape by `unbroadcast`.
"""

from __future__ import annotations

import math
import string

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function, unbroadcast
from zengrad.autograd.tensor import Tensor
from zengrad.ops.dims import (
    as_tensor_operand,
    broadcast_shapes,
    normalize_dim,
    normalize_dims,
    shape_of,
)
from zengrad.ops.elementwise import clamp, div

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# --------------------------------------------------------------------- unary functions


class Erf(Function):
    """y = erf x = 2/sqrt(pi) int_0^x e^(-t^2) dt;  dL/dx = g 2/sqrt(pi) e^(-x^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.xp = backend.xp_of(x)
        ctx.x = x
        return backend.special(ctx.xp).erf(x)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x = ctx.x
        with backend.errstate(xp, over="ignore"):  # x^2 = inf for huge x: e^-inf = 0 is right
            return g * (_TWO_OVER_SQRT_PI * xp.exp(-(x * x)))


class Erfc(Function):
    """y = erfc x = 1 - erf x (accurate in the tail);  dL/dx = -g 2/sqrt(pi) e^(-x^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.xp = backend.xp_of(x)
        ctx.x = x
        return backend.special(ctx.xp).erfc(x)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x = ctx.x
        with backend.errstate(xp, over="ignore"):
            return g * (-_TWO_OVER_SQRT_PI * xp.exp(-(x * x)))


class Tan(Function):
    """y = tan x;  dL/dx = g (1 + y^2)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        with backend.errstate(xp, invalid="ignore"):  # tan(+-inf) is nan, as torch: not a warning
            ctx.out = xp.tan(x)
        return ctx.out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        y = ctx.out
        with backend.errstate(xp, over="ignore"):  # next to a pole the slope is inf
            return g * (1 + y * y)


class _LogBase(Function):
    """y = log_b x;  dL/dx = g / (x ln b) (subclasses name b: the module function and ln b)."""

    _fn: str
    _ln: float

    @classmethod
    def forward(cls, ctx, x):
        xp = ctx.xp = backend.xp_of(x)
        ctx.x = x
        # log of 0 or a negative number is -inf / nan, as in torch: not worth a warning
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            return getattr(xp, cls._fn)(x)

    @classmethod
    def backward(cls, ctx, g):
        with backend.errstate(ctx.xp, divide="ignore"):
            return g / (ctx.x * cls._ln)


class Log2(_LogBase):
    """y = log2 x;  dL/dx = g / (x ln 2)."""

    _fn, _ln = "log2", math.log(2.0)


class Log10(_LogBase):
    """y = log10 x;  dL/dx = g / (x ln 10)."""

    _fn, _ln = "log10", math.log(10.0)


def _float_tensor(x, name: str) -> Tensor:
    """A Tensor argument as floating point: integers/bools become the default dtype."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor as input, got {type(x).__name__}")
    if x.array.dtype.kind == "f":
        return x
    if x.array.dtype.kind not in "biu":
        raise TypeError(f"{name}: expected a real tensor, got dtype {x.array.dtype}")
    return Tensor._make(x.array.astype(backend.get_default_dtype()), False, None)


def erf(input: Tensor) -> Tensor:
    """Error function, elementwise (integer input gives the default float dtype)."""
    return Erf.apply(_float_tensor(input, "erf"))


def erfc(input: Tensor) -> Tensor:
    """Complementary error function 1 - erf(x), elementwise."""
    return Erfc.apply(_float_tensor(input, "erfc"))


def tan(input: Tensor) -> Tensor:
    """Tangent, elementwise."""
    return Tan.apply(_float_tensor(input, "tan"))


def log2(input: Tensor) -> Tensor:
    """Base-2 logarithm, elementwise (-inf at 0, nan below, as torch)."""
    return Log2.apply(_float_tensor(input, "log2"))


def log10(input: Tensor) -> Tensor:
    """Base-10 logarithm, elementwise."""
    return Log10.apply(_float_tensor(input, "log10"))


# ---------------------------------------------------------------------------- atan2


class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a);
    dL/da = g b / (a^2 + b^2),  dL/db = -g a / (a^2 + b^2)  (both 0 at a = b = 0, as torch)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp = backend.xp_of(a)
        ctx.a, ctx.b = a, b
        return xp.arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, b = ctx.a, ctx.b
        n = ctx.needs_input_grad
        # hypot: a^2 + b^2 would overflow (or underflow) long before the gradient does
        r = xp.hypot(a, b)
        zero = r == 0
        # the origin has no direction: torch gives 0 there, and so do we (not 0/0)
        r = xp.where(zero, 1, r)

        def part(u):  # g u / r^2 as (g (u / r)) / r: |u / r| <= 1, so no overflow midway
            with backend.errstate(xp, invalid="ignore"):  # inf / inf at inf inputs: nan (torch)
                return xp.where(zero, 0, g * (u / r) / r).astype(g.dtype, copy=False)

        return (
            unbroadcast(part(b), shape_of(a)) if n[0] else None,
            unbroadcast(-part(a), shape_of(b)) if n[1] else None,
        )


def _float_pair(name: str, a, b) -> tuple[Tensor, Tensor]:
    """Two operands (at least one a Tensor) as float tensors of one dtype, shapes checked."""
    a, b = as_tensor_operand(a), as_tensor_operand(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    kinds = [x.array.dtype for x in (a, b) if isinstance(x, Tensor)]
    floats = [d for d in kinds if d.kind == "f"]
    if any(d.kind not in "biuf" for d in kinds):
        raise TypeError(f"{name}: expected real tensors, got dtypes {kinds}")
    dtype = np.result_type(*floats) if floats else np.dtype(backend.get_default_dtype())

    xp = backend.xp_of((a if isinstance(a, Tensor) else b).array)

    def conv(x):
        if not isinstance(x, Tensor):  # a number: a 0-d array on the tensor's device
            return Tensor._make(xp.asarray(x, dtype), False, None)
        return x if x.array.dtype == dtype else x.to(dtype)

    a, b = conv(a), conv(b)
    broadcast_shapes(name, a.array.shape, b.array.shape)
    return a, b


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise angle atan(input / other) in (-pi, pi], quadrant from both signs;
    broadcasts; integers give the default float dtype."""
    return Atan2.apply(*_float_pair("atan2", input, other))


arctan2 = atan2


# ----------------------------------------------------------------------------- lerp


class Lerp(Function):
    """y = a + w (b - a);  dL/da = g (1 - w),  dL/db = g w,  dL/dw = g (b - a)."""

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.a, ctx.b, ctx.w = a, b, w
        return a + w * (b - a)

    @staticmethod
    def backward(ctx, g):
        a, b, w = ctx.a, ctx.b, ctx.w
        n = ctx.needs_input_grad
        return (
            unbroadcast(g * (1 - w), shape_of(a)) if n[0] else None,
            unbroadcast(g * w, shape_of(b)) if n[1] else None,
            unbroadcast(g * (b - a), shape_of(w)) if n[2] else None,
        )


def lerp(input: Tensor, end: Tensor, weight: Tensor | float) -> Tensor:
    """Linear interpolation input + weight (end - input); weight is a number or a tensor,
    all three broadcast. input and end must be floating tensors of one dtype (as torch)."""
    for what, x in (("input", input), ("end", end)):
        if not isinstance(x, Tensor):
            raise TypeError(f"lerp: {what} must be a Tensor, got {type(x).__name__}")
        if x.array.dtype.kind != "f":
            raise TypeError(f"lerp: {what} must be a floating point tensor, got {x.array.dtype}")
    if end.array.dtype != input.array.dtype:
        raise TypeError(f"lerp: expected dtype {input.array.dtype} for end but got "
                        f"{end.array.dtype}")
    shapes = [input.array.shape, end.array.shape]
    if not isinstance(weight, (Tensor, int, float, np.number)) or isinstance(weight, bool):
        raise TypeError(f"lerp: weight must be a real number or a Tensor, got {weight!r}")
    w = as_tensor_operand(weight)
    if isinstance(w, Tensor):
        if w.array.dtype != input.array.dtype:
            if w.array.ndim != 0 or w.array.dtype.kind != "f":
                raise TypeError(f"lerp: expected dtype {input.array.dtype} for weight but got "
                                f"{w.array.dtype}")
            w = w.to(input.array.dtype)  # a 0-d float weight acts like a number, as in torch
        shapes.append(w.array.shape)
    elif isinstance(w, bool) or not isinstance(w, (int, float)):
        raise TypeError(f"lerp: weight must be a real number or a Tensor, got {weight!r}")
    else:
        w = input.array.dtype.type(w)  # keep input's precision (no float64 upcast)
    broadcast_shapes("lerp", *shapes)
    return Lerp.apply(input, end, w)


# ---------------------------------------------------------------------------- addmm


class Addmm(Function):
    """Y = beta C + alpha A @ B;  dL/dC = beta G (summed to C's shape),
    dL/dA = alpha G B^T,  dL/dB = alpha A^T G.  beta = 0 ignores C entirely (nan too)."""

    @staticmethod
    def forward(ctx, c, a, b, beta, alpha):
        ctx.a, ctx.b, ctx.sc, ctx.beta, ctx.alpha = a, b, c.shape, beta, alpha
        out = a @ b
        if alpha != 1:
            out *= alpha
        if beta != 0:  # torch's rule: with beta = 0, nan/inf in C do not propagate
            out += c if beta == 1 else beta * c
        return out

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        alpha, beta = ctx.alpha, ctx.beta
        ga = g * alpha if alpha != 1 else g
        gc = None
        if n[0]:
            gc = unbroadcast(g * beta if beta != 1 else g, ctx.sc).astype(g.dtype, copy=False)
        return (
            gc,
            ga @ ctx.b.T if n[1] else None,
            ctx.a.T @ ga if n[2] else None,
            None,
            None,
        )


def addmm(
    input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1
) -> Tensor:
    """beta input + alpha (mat1 @ mat2); mat1 (n, k), mat2 (k, m), input broadcastable to
    (n, m). All three share one dtype (as torch)."""
    for what, x in (("input", input), ("mat1", mat1), ("mat2", mat2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"addmm: {what} must be a Tensor, got {type(x).__name__}")
    for what, x in (("mat1", mat1), ("mat2", mat2)):
        if x.array.ndim != 2:
            raise ValueError(f"addmm: {what} must be a matrix, got {x.array.ndim}-D tensor "
                             f"of shape {tuple(x.array.shape)}")
    (n, k), (k2, m) = mat1.array.shape, mat2.array.shape
    if k != k2:
        raise ValueError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({n}x{k} and "
                         f"{k2}x{m})")
    dts = {x.array.dtype for x in (input, mat1, mat2)}
    if len(dts) > 1:
        raise TypeError(f"addmm: input, mat1 and mat2 must have one dtype, got "
                        f"{input.array.dtype}, {mat1.array.dtype} and {mat2.array.dtype}")
    dtype = mat1.array.dtype
    if dtype.kind not in "fiu":
        raise TypeError(f"addmm: unsupported dtype {dtype}")
    sc = input.array.shape
    if len(sc) > 2 or not _bcast_ok(sc, (n, m)) or np.broadcast_shapes(sc, (n, m)) != (n, m):
        raise ValueError(f"addmm: input of shape {tuple(sc)} does not broadcast to the "
                         f"product's shape ({n}, {m})")
    for what, v in (("beta", beta), ("alpha", alpha)):
        if isinstance(v, Tensor) or not isinstance(v, (int, float, np.number)):
            raise TypeError(f"addmm: {what} must be a number, got {type(v).__name__}")
        if dtype.kind != "f" and float(v) != int(v):
            # torch truncates silently here; a wrong result is worse than an error
            raise TypeError(f"addmm: {what} must be an integer for integer tensors, got {v}")
    return Addmm.apply(input, mat1, mat2, beta, alpha)


def _bcast_ok(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- einsum

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # torch's order: A-Z, then a-z


def _parse_einsum(equation: str, shapes: list[tuple[int, ...]]):
    """The equation with every '...' spelled out in fresh letters, the sizes of all letters
    (size-1 dims broadcast, as torch), and the output letters.

    Returns (input subscripts (one str per operand), output subscripts, {letter: size})."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
        if "->" in rhs:
            raise ValueError(f"einsum: more than one '->' in the equation {equation!r}")
    else:
        lhs, rhs = eq, None
    specs = lhs.split(",")
    if len(specs) != len(shapes):
        raise ValueError(
            f"einsum: the equation {equation!r} names {len(specs)} operand(s) but "
            f"{len(shapes)} were given"
        )
    for part in specs + ([rhs] if rhs is not None else []):
        rest = part.replace("...", "", 1)
        for ch in rest:
            if ch == ".":
                raise ValueError(f"einsum: found '.' in {part!r} that is not part of an "
                                 f"ellipsis '...' (equation {equation!r})")
            if ch not in _LETTERS:
                raise ValueError(f"einsum: invalid subscript {ch!r} in {equation!r}; "
                                 f"subscripts must be in [a-zA-Z]")
    used = set(eq) & set(_LETTERS)
    fresh = [c for c in _LETTERS if c not in used]
    # how many dims each operand's ellipsis covers
    ell = []
    for k, (spec, shape) in enumerate(zip(specs, shapes)):
        n_letters = len(spec.replace("...", ""))
        if "..." in spec:
            if len(shape) < n_letters:
                raise ValueError(f"einsum: operand {k} has {len(shape)} dims but its "
                                 f"subscripts {spec!r} name {n_letters}")
            ell.append(len(shape) - n_letters)
        else:
            if len(shape) != n_letters:
                raise ValueError(
                    f"einsum: the subscripts {spec!r} of operand {k} name {n_letters} dims "
                    f"but it has {len(shape)} (shape {tuple(shape)}) and no ellipsis"
                )
            ell.append(0)
    n_ell = max(ell, default=0)
    if n_ell > len(fresh):
        raise ValueError("einsum: too many dims under '...' (52 subscripts at most)")
    ell_letters = "".join(fresh[:n_ell])
    ins = []
    for spec, e in zip(specs, ell):
        # an ellipsis of e dims takes the last e fresh letters: broadcast aligns on the right
        ins.append(spec.replace("...", ell_letters[n_ell - e:]))
    sizes: dict[str, int] = {}
    for k, (sub, shape) in enumerate(zip(ins, shapes)):
        mine: dict[str, int] = {}
        for ch, s in zip(sub, shape):
            if ch in mine and mine[ch] != s:
                raise ValueError(f"einsum: subscript {ch} is repeated for operand {k} but "
                                 f"the sizes don't match, {mine[ch]} != {s}")
            mine[ch] = s
        for ch, s in mine.items():
            old = sizes.get(ch)
            if old is None or old == 1:
                sizes[ch] = s
            elif s != 1 and s != old:
                raise ValueError(
                    f"einsum: operands do not broadcast: subscript {ch} has size {s} in "
                    f"operand {k} but {old} in an earlier one (shapes "
                    f"{[tuple(x) for x in shapes]})"
                )
    if rhs is None:
        counts = {}
        for sub in ins:
            for ch in sub:
                counts[ch] = counts.get(ch, 0) + 1
        once = sorted((c for c, v in counts.items() if v == 1 and c not in ell_letters),
                      key=_LETTERS.index)
        out = ell_letters + "".join(once)
    else:
        out = rhs.replace("...", ell_letters)
        for ch in rhs.replace("...", ""):
            if ch not in sizes:
                raise ValueError(f"einsum: output subscript {ch} does not appear in the "
                                 f"equation for any input operand ({equation!r})")
        if len(set(out)) != len(out):
            dup = next(c for c in out if out.count(c) > 1)
            raise ValueError(f"einsum: output subscript {dup} appears more than once in "
                             f"the output ({equation!r})")
    return ins, out, sizes


def _einsum(subs: list[str], out: str, arrays: list[np.ndarray]) -> np.ndarray:
    eq = ",".join(subs) + "->" + out
    # With 3+ operands the contraction order matters: optimize finds it. With two, optimize
    # routes matrix-like products through BLAS but costs ~12 us of path search; measured
    # (float32, 1 thread): 8^3 matmul 2.3 us plain vs 13 us optimized, 64^3 46 vs 18 us,
    # 256^3 2.2 ms vs 0.26 ms, a 256x256 matrix-vector 9 vs 18 us. So optimize when the
    # naive loop (the product of all subscript sizes) is large.
    optimize = len(arrays) > 2
    if len(arrays) == 2:
        sizes = {c: n for sub, a in zip(subs, arrays) for c, n in zip(sub, a.shape)}
        optimize = math.prod(sizes.values()) > 100_000
    return backend.xp_of_all("einsum", *arrays).einsum(eq, *arrays, optimize=optimize)


class Einsum(Function):
    """y = einsum(eq, x_1, ..., x_n): products of the operands summed over the letters not
    in the output.  dL/dx_k = einsum(g, x_j for j != k -> letters of x_k): the output
    gradient contracted with all the other operands; letters only x_k has are broadcast
    back, repeated letters (diagonals) scattered into a zero array, size-1 dims that
    broadcast summed back."""

    @staticmethod
    def forward(ctx, subs, out, sizes, *arrays):
        xp = ctx.xp = backend.xp_of_all("einsum", *arrays)
        full = [xp.broadcast_to(a, tuple(sizes[c] for c in s)) for a, s in zip(arrays, subs)]
        ctx.subs, ctx.out, ctx.sizes, ctx.full = subs, out, sizes, full
        ctx.shapes = [a.shape for a in arrays]
        return xp.asarray(_einsum(subs, out, full))

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        subs, out, sizes, full = ctx.subs, ctx.out, ctx.sizes, ctx.full
        grads = [None, None, None]
        for k, sub in enumerate(subs):
            if not ctx.needs_input_grad[3 + k]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(subs) if j != k]
            arrs = [a for j, a in enumerate(full) if j != k]
            unique = "".join(dict.fromkeys(sub))
            have = set(out).union(*others)
            present = "".join(c for c in unique if c in have)
            gu = xp.asarray(_einsum([out, *others], present, [g, *arrs]))
            # letters only this operand had were summed in forward: the gradient is
            # constant along them
            if len(present) != len(unique):
                gu = gu.reshape([sizes[c] if c in present else 1 for c in unique])
                gu = xp.broadcast_to(gu, [sizes[c] for c in unique])
            shape = tuple(sizes[c] for c in sub)
            if len(unique) == len(sub):
                gk = gu if unique == sub else xp.einsum(unique + "->" + sub, gu)
            else:
                # a repeated letter reads a diagonal: write gu into that diagonal of zeros
                gk = xp.zeros(shape, g.dtype)
                st = gk.strides
                strides = [sum(st[i] for i, c in enumerate(sub) if c == u) for u in unique]
                # (no writeable=: CuPy's as_strided takes only shape and strides; NumPy's
                # view of the fresh, writable gk is writable by default)
                view = xp.lib.stride_tricks.as_strided(gk, [sizes[c] for c in unique], strides)
                view[...] = gu
            gk = unbroadcast(gk, ctx.shapes[k]) if gk.shape != ctx.shapes[k] else gk
            grads.append(xp.asarray(gk, dtype=g.dtype))
        return tuple(grads)


def _sublist_equation(args: tuple) -> tuple[str, list]:
    """einsum(op1, [0, 1], op2, [1, 2], [0, 2]) as ('ab,bc->ac', [op1, op2])."""
    ops, parts = [], []

    def letters(sub) -> str:
        s = ""
        for v in sub:
            if v is Ellipsis:
                s += "..."
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and \
                    0 <= v < len(_LETTERS):
                s += _LETTERS[int(v)]
            else:
                raise ValueError(f"einsum: sublist subscripts must be integers in [0, 52) "
                                 f"or Ellipsis, got {v!r}")
        return s

    items = list(args)
    while len(items) >= 2:
        ops.append(items.pop(0))
        parts.append(letters(items.pop(0)))
    eq = ",".join(parts)
    if items:
        eq += "->" + letters(items[0])
    return eq, ops


def einsum(equation: str | Tensor, *operands) -> Tensor:
    """Einstein summation, as torch.einsum: einsum('ij,jk->ik', a, b) == a @ b.

    Subscripts are letters [a-zA-Z]; '...' stands for broadcast leading dims; without '->'
    the output is '...' then the letters that appear once, in alphabetical order (A-Z
    before a-z). Size-1 dims broadcast; operands may be given as one list; the sublist form
    einsum(a, [0, 1], b, [1, 2], [0, 2]) is accepted too. Operands of different float
    dtypes are promoted (float32 with float64 gives float64).
    """
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation, *operands))
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for k, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operand {k} must be a Tensor, got {type(x).__name__}")
    if not operands:
        raise ValueError("einsum: at least one operand is needed")
    dts = [x.array.dtype for x in operands]
    if any(d.kind not in "biuf" for d in dts):
        raise TypeError(f"einsum: expected real tensors, got dtypes {dts}")
    dtype = np.result_type(*dts)
    if dtype.kind == "b":
        dtype = np.dtype(np.bool_)
    ops = [x if x.array.dtype == dtype else x.to(dtype) for x in operands]
    subs, out, sizes = _parse_einsum(equation, [x.array.shape for x in ops])
    return Einsum.apply(subs, out, sizes, *ops)


# ---------------------------------------------------------------- norms and similarity

_INF = float("inf")


def _reduce_keep(x: np.ndarray, p: float, axes) -> np.ndarray:
    """(sum_i |x_i|^p)^(1/p) over axes, keepdims=True; p = 0 counts nonzeros, +-inf is
    max/min |x_i|. Overflow to inf is torch's result too (no rescaling): not a warning."""
    xp = backend.xp_of(x)
    a = abs(x)
    with backend.errstate(xp, over="ignore", divide="ignore", invalid="ignore"):
        if p == _INF:
            return a.max(axis=axes, keepdims=True)
        if p == -_INF:
            return a.min(axis=axes, keepdims=True)
        if p == 0:
            return (a != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
        if p == 1:
            return a.sum(axis=axes, keepdims=True)
        if p == 2:
            return xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        # |0|^p = inf for p < 0 makes the sum inf and the norm 0, as torch
        return (a**p).sum(axis=axes, keepdims=True) ** (1.0 / p)


class VectorNorm(Function):
    """y = ||x||_p = (sum_i |x_i|^p)^(1/p) over axes (p = 0: count of nonzeros; inf/-inf:
    max/min |x_i|).
    dL/dx = g sign(x) |x|^(p-1) / y^(p-1)  (0 where y = 0; for p < 1 also 0 where x = 0),
    p = 2: g x / y;  p = 1: g sign(x);  p = 0: 0;  p = +-inf: g sign(x) split evenly over
    the elements where |x| reaches y (torch's rule)."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        xp = ctx.xp = backend.xp_of(x)
        out = _reduce_keep(x, p, axes)
        ctx.x, ctx.p, ctx.out_k, ctx.axes, ctx.keepdim = x, p, out, axes, keepdim
        if keepdim:
            return out
        return out.reshape(()) if axes is None else xp.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, p, y, axes = ctx.x, ctx.p, ctx.out_k, ctx.axes
        g = g.reshape(y.shape)  # back to keepdim form: broadcasts against x
        if p == 0:
            return xp.zeros(x.shape, g.dtype)
        sgn = xp.sign(x)
        if p == 1:
            return g * sgn
        if p in (_INF, -_INF):
            mask = xp.abs(x) == y
            count = xp.sum(mask, axis=axes, keepdims=True)
            return (g / xp.maximum(count, 1)).astype(g.dtype, copy=False) * (sgn * mask)
        zero = y == 0
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            if p == 2:
                scale = xp.where(zero, 0, g / xp.where(zero, 1, y))
                return (x * scale).astype(g.dtype, copy=False)
            a = xp.abs(x)
            if p < 1:
                part = xp.where(x == 0, 0, sgn * a ** (p - 1))
                out = part * (g * y ** (1 - p))
                return xp.where(zero, 0, out).astype(g.dtype, copy=False)
            scale = xp.where(zero, 0, g / xp.where(zero, 1, y ** (p - 1)))
            part = x * a ** (p - 2) if p >= 2 else sgn * a ** (p - 1)
            return (part * scale).astype(g.dtype, copy=False)


def _check_ord(ord, name: str) -> float:
    if isinstance(ord, (bool, str)) or not isinstance(ord, (int, float, np.number)):
        raise TypeError(f"{name}: ord must be a number (inf, -inf and 0 included), got "
                        f"{ord!r}")
    return float(ord)


def norm_input(x, dtype, name: str) -> Tensor:
    """The input of a norm as a floating tensor, cast to dtype first when given (as torch:
    float input only, and no narrowing cast)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor as input, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor as input, got "
                        f"{x.array.dtype}")
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"{name}: dtype should be floating point, got {dt}")
        if np.promote_types(x.array.dtype, dt) != dt:
            raise TypeError(f"{name}: the dtype of the input ({x.array.dtype}) should be "
                            f"convertible without narrowing to the specified dtype ({dt})")
        x = x.to(dt)
    return x


def vector_norm(
    input: Tensor,
    ord: float = 2,
    dim: int | tuple[int, ...] | None = None,
    keepdim: bool = False,
    *,
    dtype=None,
    out=None,
) -> Tensor:
    """||x||_ord over dim (int, tuple; None or () = all elements), as torch.linalg.vector_norm.
    ord: any real, inf, -inf, 0 (number of nonzeros)."""
    if out is not None:
        raise TypeError("linalg.vector_norm: out= is not supported; use the returned tensor")
    p = _check_ord(ord, "linalg.vector_norm")
    x = norm_input(input, dtype, "linalg.vector_norm")
    axes = None if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0) else (
        normalize_dims(dim, x.array.ndim))
    if x.array.ndim == 0:
        axes = None
    if p < 0 or p in (_INF, -_INF):
        # no identity for max/min/harmonic sums: an empty reduction has no value
        reduced = range(x.array.ndim) if axes is None else axes
        empty = x.array.size == 0 if axes is None else any(x.array.shape[a] == 0 for a in axes)
        if empty:
            where = "an empty tensor" if axes is None else "a dimension of size 0 " + (
                f"(dims {tuple(reduced)} of shape {tuple(x.array.shape)})")
            raise ValueError(f"linalg.vector_norm cannot compute the {ord} norm on {where}: "
                             f"the operation has no identity")
    return VectorNorm.apply(x, p, axes, keepdim)


class CosineSimilarity(Function):
    """y = sum_d (a / c_a)(b / c_b),  n_a = ||a||_2 over d,  c_a = max(n_a, eps) (same for b).

    As torch 2.x: each norm is clamped separately, and the clamp is invisible to the
    gradient (torch clamps under no_grad), so
        dL/da = g (b / (c_a c_b) - y a / (c_a n_a))   (second term 0 where n_a = 0),
    which for norms >= eps is g / n_a (b_hat - y a_hat)."""

    @staticmethod
    def forward(ctx, a, b, axis, eps):
        xp = ctx.xp = backend.xp_of(a)
        shape = np.broadcast_shapes(a.shape, b.shape)
        ctx.sa, ctx.sb = a.shape, b.shape
        a, b = xp.broadcast_to(a, shape), xp.broadcast_to(b, shape)
        # like torch, no rescaling: a norm that overflows is inf (not a warning)
        with backend.errstate(xp, over="ignore"):
            na = xp.sqrt(xp.sum(a * a, axis=axis, keepdims=True))
            nb = xp.sqrt(xp.sum(b * b, axis=axis, keepdims=True))
        ca, cb = xp.maximum(na, eps), xp.maximum(nb, eps)
        y = xp.sum((a / ca) * (b / cb), axis=axis, keepdims=True)
        ctx.a, ctx.b, ctx.na, ctx.nb, ctx.ca, ctx.cb, ctx.y = a, b, na, nb, ca, cb, y
        return y.reshape(()) if axis is None else xp.squeeze(y, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, b, na, nb, ca, cb, y = ctx.a, ctx.b, ctx.na, ctx.nb, ctx.ca, ctx.cb, ctx.y
        g = g.reshape(y.shape)
        n = ctx.needs_input_grad

        def one(u, v, nu, cu, cv):
            radial = xp.where(nu == 0, 0, y / (cu * xp.where(nu == 0, 1, nu)))
            return (g * (v / (cu * cv) - radial * u)).astype(g.dtype, copy=False)

        return (
            unbroadcast(one(a, b, na, ca, cb), ctx.sa) if n[0] else None,
            unbroadcast(one(b, a, nb, cb, ca), ctx.sb) if n[1] else None,
            None,
            None,
        )


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along dim (they broadcast), each norm clamped
    to at least eps, as torch 2.x. Integer inputs take the other input's float dtype."""
    for what, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"cosine_similarity: {what} must be a Tensor, got "
                            f"{type(x).__name__}")
    d1, d2 = x1.array.dtype, x2.array.dtype
    if d1.kind != "f" and d2.kind != "f":
        raise TypeError(f"cosine_similarity: expected common dtype to be floating point, got "
                        f"{d1} and {d2}")
    if d1.kind == "f" and d2.kind == "f":
        dtype = np.promote_types(d1, d2)
    else:
        dtype = d1 if d1.kind == "f" else d2
    x1, x2 = (x if x.array.dtype == dtype else x.to(dtype) for x in (x1, x2))
    shape = broadcast_shapes("cosine_similarity", x1.array.shape, x2.array.shape)
    axis = normalize_dim(dim, len(shape))
    return CosineSimilarity.apply(x1, x2, axis if shape else None, eps)


def normalize(
    input: Tensor, p: float | str = 2.0, dim: int | tuple[int, ...] = 1, eps: float = 1e-12,
    out=None,
) -> Tensor:
    """x / max(||x||_p, eps), the norm taken over dim (int or tuple) and kept for broadcast.
    The gradient through the clamp is torch's: 0 from the norm where ||x||_p < eps."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    if p == "fro":
        p = 2.0
    denom = vector_norm(input, p, dim, keepdim=True)
    return div(input, clamp(denom, min=eps))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (*, num_classes) with a 1 at each value's index; num_classes = -1 takes
    max + 1. Values must be int64 in [0, num_classes) (as torch)."""
    if not isinstance(tensor, Tensor) or tensor.array.dtype != np.int64:
        got = tensor.array.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"one_hot is only applicable to index tensors of dtype int64 (long), "
                        f"got {got}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    x = tensor.array
    if x.size and x.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(x.min())}")
    if num_classes == -1:
        if x.size == 0:
            raise ValueError("one_hot: can not infer the number of classes from an empty "
                             "tensor; pass num_classes")
        num_classes = int(x.max()) + 1
    elif num_classes < 0 or (x.size and x.max() >= num_classes):
        top = int(x.max()) if x.size else None
        raise ValueError(f"one_hot: class values must be smaller than num_classes="
                         f"{num_classes}, got max value {top}")
    out = (x[..., None] == backend.xp_of(x).arange(num_classes)).astype(np.int64)
    return Tensor._make(out, False, None)


__all__ = ["addmm", "arctan2", "atan2", "cosine_similarity", "einsum", "erf", "erfc", "lerp",
           "log10", "log2", "tan"]
# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {
    "erf": erf, "erfc": erfc, "tan": tan, "log2": log2, "log10": log10, "atan2": atan2,
    "arctan2": atan2, "lerp": lerp, "addmm": addmm,
}
