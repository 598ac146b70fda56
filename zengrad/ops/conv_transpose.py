"""Transposed convolution (conv_transpose1d, conv_transpose2d): the adjoint of conv2d.

    y[n, o, s h + d i - p, s w + d j - p] += sum_c x[n, G(o) + c, h, w] W[G(o) + c, o', i, j]

(G(o) = first input channel of o's group, o' = o's index in its group)

with weight (C_in, C_out/groups, KH, KW) as PyTorch, and output size
    H_out = (H - 1) s - 2 p + d (KH - 1) + output_padding + 1.
That is exactly the input-gradient of a conv2d whose weight is W (read as (OC=C_in,
C/G=C_out/G, KH, KW)) applied to an image of size H_out: so the forward is conv.py's col2im
(one GEMM W^T x, then KH*KW shifted slice-adds) and the backward is that conv's forward and
weight gradient, both read from one window matrix of the output gradient:
    cols = im2col(g_pad)  (C_out/G*KH*KW, N*H*W) per group
    dx = W_g cols,   dW = x_g cols^T,   db = sum of g over (N, H_out, W_out).
conv_transpose1d is conv_transpose2d on a height-1 image.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops.args import check_positive, ntuple, shape_str
from zengrad.ops.conv import (
    Conv2dFn,
    _channel_major_padded,
    as_strided,
    check_bias,
    check_input_and_weight,
    describe_call,
)

__all__ = ["conv_transpose1d", "conv_transpose2d"]
# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {}


class ConvTranspose2dFn(Function):
    """y = col2im(W^T x) + b;  dx = W * g (a conv2d), dW = x cols(g)^T, db = sum g.
    Inputs of rank 3 are conv_transpose1d (a height-1 image)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, out_size, dilation, groups):
        xp = ctx.xp = backend.xp_of(x)
        one_d = x.ndim == 3
        if one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        n, c_in, h, wd = x.shape
        _, cog, kh, kw = w.shape
        c_out = cog * groups
        oh, ow = out_size
        (ph, pw) = padding
        pads = ((ph, ph), (pw, pw))
        xm = x.transpose(1, 0, 2, 3).reshape(c_in, n * h * wd)  # free for channel-major x
        # conv2d's input gradient with x as its output gradient: H, W play conv's OH, OW
        if n == 0:  # (conv.py's flat col2im assumes a non-empty grid)
            y = xp.zeros((n, c_out, oh, ow), np.result_type(x.dtype, w.dtype))
        elif kh == kw == 1 and stride == (1, 1) and not (ph or pw) and (oh, ow) != (h, wd):
            # 1x1, stride 1: no kernel tap writes the rows/columns output_padding adds (and
            # conv.py's 1x1 shortcut assumes there are none), so compute H x W, pad with zeros
            y = xp.zeros((c_out, n, oh, ow), np.result_type(x.dtype, w.dtype)).transpose(1, 0, 2, 3)
            y[:, :, :h, :wd] = Conv2dFn._input_grad(
                w, xm, (n, c_out, h, wd), pads, stride, dilation, groups, h, wd
            )
        else:
            y = Conv2dFn._input_grad(
                w, xm, (n, c_out, oh, ow), pads, stride, dilation, groups, h, wd
            )
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)  # (a new array: _input_grad may return a view)
        ctx.geom = (one_d, x.shape, w.shape, pads, stride, dilation, groups)
        needs = ctx.needs_input_grad
        ctx.x = xm if needs[1] else None
        ctx.w = w if needs[0] else None
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        one_d, xshape, wshape, pads, stride, dilation, groups = ctx.geom
        if one_d:
            g = g[:, :, None, :]
        n, c_in, h, wd = xshape
        _, cog, kh, kw = wshape
        c_out = cog * groups
        needs = ctx.needs_input_grad
        dx = dw = db = None
        if needs[2]:
            db = g.sum(axis=(0, 2, 3))
        if needs[0] or needs[1]:
            # the conv's windows over g, one per position of x (H x W of them: a window past
            # them would start in the rows output_padding added, which no x position feeds)
            gp = _channel_major_padded(g, pads)
            s_c, s_n, s_h, s_w = gp.strides
            (sh, sw), (dh, dw_) = stride, dilation
            win = as_strided(
                xp, gp, (c_out, kh, kw, n, h, wd),
                (s_c, s_h * dh, s_w * dw_, s_n, s_h * sh, s_w * sw),
            )
            cols = win.reshape(groups, cog * kh * kw, n * h * wd)
            if needs[0]:
                wg = ctx.w.reshape(groups, c_in // groups, cog * kh * kw)
                dxm = xp.matmul(wg, cols).reshape(c_in, n, h, wd)
                dx = dxm.transpose(1, 0, 2, 3)
                if one_d:
                    dx = dx[:, :, 0, :]
            if needs[1]:
                xg = ctx.x.reshape(groups, c_in // groups, n * h * wd)
                dw = xp.matmul(xg, cols.transpose(0, 2, 1)).reshape(wshape)
                if one_d:
                    dw = dw[:, :, 0, :]
        return dx, dw, db, None, None, None, None, None


# ----- public functions -------------------------------------------------------------------
def transposed_out_size(size, kernel, stride, padding, dilation, output_padding):
    """(L - 1) s - 2 p + d (k - 1) + output_padding + 1 per spatial dim."""
    return tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, p, d, op in zip(size, kernel, stride, padding, dilation, output_padding)
    )


def output_padding_for(
    owner: str, output_size, size, kernel, stride, padding, dilation
) -> tuple[int, ...]:
    """The output_padding that gives output_size (its last nd entries), as nn.ConvTranspose*d:
    output_size must lie in [min, min + stride - 1], min being the size without padding."""
    nd = len(kernel)
    sizes = list(output_size) if isinstance(output_size, (tuple, list)) else None
    if sizes is None or len(sizes) not in (nd, nd + 2) or not all(
        isinstance(v, Integral) and not isinstance(v, bool) for v in sizes
    ):
        raise ValueError(
            f"{owner}: output_size must have {nd} or {nd + 2} int elements, got {output_size!r}"
        )
    sizes = [int(v) for v in sizes[-nd:]]
    mins = transposed_out_size(size, kernel, stride, padding, dilation, (0,) * nd)
    out = []
    for want, lo, s in zip(sizes, mins, stride):
        hi = lo + s - 1
        if not lo <= want <= hi:
            raise ValueError(
                f"{owner}: requested an output size of {tuple(sizes)}, but valid sizes range "
                f"from {mins} to {tuple(m + s - 1 for m, s in zip(mins, stride))} (for an "
                f"input of spatial size {tuple(size)})"
            )
        out.append(want - lo)
    return tuple(out)


def conv_transpose_nd(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    nd: int,
    stride,
    padding,
    output_padding,
    groups: int,
    dilation,
    owner: str | None = None,
    output_size=None,
) -> Tensor:
    """Validate the arguments of conv_transpose1d/2d (and nn.ConvTranspose*d) and apply the op."""
    name = f"conv_transpose{nd}d"
    check_input_and_weight(name, input, weight)
    pre = owner or name
    if isinstance(padding, str):
        raise ValueError(f"{pre}: padding must be an int or a tuple of ints, got {padding!r}")
    s = ntuple(stride, nd, "stride", pre)
    p = ntuple(padding, nd, "padding", pre)
    op = ntuple(output_padding, nd, "output_padding", pre)
    d = ntuple(dilation, nd, "dilation", pre)
    check_positive(s, "stride", pre)
    check_positive(d, "dilation", pre)
    if any(v < 0 for v in p):
        raise ValueError(f"{pre}: negative padding is not supported, got padding={p}")
    if isinstance(groups, bool) or not isinstance(groups, Integral) or groups <= 0:
        raise ValueError(f"{pre}: groups must be a positive integer, got {groups!r}")
    wshape = weight.array.shape
    if owner is None:
        owner = describe_call(name, wshape, s, p, d, groups)
    if len(wshape) != nd + 2:
        raise ValueError(f"{owner}: weight must be {nd + 2}-D, got shape {shape_str(wshape)}")
    if wshape[0] % groups:
        raise ValueError(
            f"{owner}: in_channels ({wshape[0]}, weight dim 0) must be divisible by groups "
            f"({groups})"
        )
    c_out = wshape[1] * groups
    check_bias(owner, bias, c_out)
    dtype = input.array.dtype
    if dtype.kind != "f":
        raise TypeError(f"{owner}: expected a floating-point input, got dtype {dtype}")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.array.dtype != dtype:
            raise TypeError(
                f"{owner}: {what} has dtype {t.array.dtype} but the input has {dtype} (mixed "
                "dtypes are refused, as torch)"
            )
    xshape = input.array.shape
    if len(xshape) not in (nd + 1, nd + 2):
        raise ValueError(
            f"{owner}: expected a {nd + 2}-D input (batched) or {nd + 1}-D input (unbatched), "
            f"got input of shape {shape_str(xshape)}"
        )
    unbatched = len(xshape) == nd + 1
    cdim = 0 if unbatched else 1
    if xshape[cdim] != wshape[0]:
        raise ValueError(
            f"{owner}: expected input with {wshape[0]} channels (weight dim 0), got input of "
            f"shape {shape_str(xshape)}"
        )
    kernel = tuple(wshape[2:])
    size = tuple(xshape[-nd:])
    if output_size is not None:
        op = output_padding_for(owner, output_size, size, kernel, s, p, d)
    if any(o >= si and o >= di for o, si, di in zip(op, s, d)):
        raise ValueError(
            f"{owner}: output padding must be smaller than either stride or dilation, got "
            f"output_padding={op}, stride={s}, dilation={d}"
        )
    out = transposed_out_size(size, kernel, s, p, d, op)
    if any(o <= 0 for o in out):
        raise ValueError(
            f"{owner}: calculated output size {out} is too small (input of shape "
            f"{shape_str(xshape)}, kernel {kernel})"
        )
    if unbatched:
        input = input.unsqueeze(0)
    if nd == 1:
        s, p, d, out = (1, *s), (0, *p), (1, *d), (1, *out)
    y = ConvTranspose2dFn.apply(input, weight, bias, s, p, out, d, int(groups))
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Transposed 1-D conv: input (N, C_in, L), weight (C_in, C_out/groups, K) ->
    (N, C_out, (L - 1) s - 2 p + d (K - 1) + output_padding + 1)."""
    return conv_transpose_nd(
        input, weight, bias, 1, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Transposed 2-D conv (the adjoint of conv2d): input (N, C_in, H, W), weight
    (C_in, C_out/groups, KH, KW) -> (N, C_out, H_out, W_out),
    H_out = (H - 1) s - 2 p + d (KH - 1) + output_padding + 1."""
    return conv_transpose_nd(
        input, weight, bias, 2, stride, padding, output_padding, groups, dilation
    )
