"""What the op layer alone doesn't see: comparisons and masks built with tensor ops,
argmax / max over a dim, triangles, and custom autograd.Functions (the symbolic hook)."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
import zengrad.nn.functional as F
from tests.onnx.conftest import check_export, zonnx
from zengrad import nn
from zengrad.autograd.function import Function

BATCH = {"in0": {0: "n"}}


class Fn(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


CASES = {
    "argmax": lambda x: (x.argmax(1), zg.argmin(x, dim=-1, keepdim=True), x.argmax()),
    "max_dim": lambda x: (*x.max(1), *zg.min(x, 2, keepdim=True)),
    "max_all_and_pairs": lambda x: x.max() + zg.min(x, x * 2) + zg.max(x, dim=0).values,
    "compare_masked_fill": lambda x: x.masked_fill(x > 0.5, -1.0) + (x <= -0.2).float()
    + (~(x < 0)).float() * (x != x[:, :1]).float() + (x >= 0).logical_and(x < 1).float(),
    "eq_where": lambda x: zg.where(x.abs().argmax(-1, keepdim=True) == 1, x, -x),
    "tril_triu": lambda x: x.tril() + x.triu(1) * 2,
    "index_select": lambda x: x.index_select(1, zg.tensor([0, 2, 2])),
    "contiguous": lambda x: x.transpose(1, 2).contiguous().view(x.shape[0], -1),
    "relu6_clamp": lambda x: F.relu6(x * 4) + F.hardtanh(x, -0.5, 0.5),
    "isfinite": lambda x: zg.where((x.log()).isfinite(), x, zg.zeros(())),
    "gelu_tanh_cumsum": lambda x: F.gelu(x, approximate="tanh").cumsum(1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_function(tmp_path, name):
    zg.manual_seed(4)
    check_export(Fn(CASES[name]), (zg.randn(2, 4, 3),),
                 [(zg.randn(5, 4, 3),), (zg.randn(1, 4, 3),)], tmp_path, dynamic_axes=BATCH)


def test_argmax_picks_the_first_of_ties(tmp_path):
    x = zg.tensor(np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]], np.float32))
    check_export(Fn(lambda t: (t.argmax(1), t.max(1).indices, t.min(1).indices)), (x,), (),
                 tmp_path)


def test_zero_dim_max(tmp_path):
    check_export(Fn(lambda t: (t.max(0).values * 2, t.argmax(0))), (zg.tensor(1.5),), (),
                 tmp_path)


# ----- custom autograd.Functions ---------------------------------------------------------------
class ScaledLeaky(Function):
    """y = scale * leaky_relu(x, alpha), with its ONNX form."""

    @staticmethod
    def forward(ctx, x, alpha, scale):
        ctx.save = (x > 0, alpha, scale)
        return np.where(x > 0, x, x * alpha) * scale

    @staticmethod
    def backward(ctx, g):
        pos, alpha, scale = ctx.save
        return np.where(pos, g, g * alpha) * scale, None, None

    @staticmethod
    def symbolic(g, x, alpha, scale):
        y = g.op("LeakyRelu", x, alpha_f=alpha)
        return g.op("Mul", y, g.constant(scale, g.dtype(x)))


class NoMapping(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


class Exp(Function):
    """A user's class named like a zengrad op: it must not take that op's mapping."""

    @staticmethod
    def forward(ctx, x):
        return x + 1

    @staticmethod
    def backward(ctx, g):
        return g


def test_custom_function_with_symbolic(tmp_path):
    model = Fn(lambda x: ScaledLeaky.apply(x * 2, 0.1, 3.0).sum(-1))
    proto = check_export(model, (zg.randn(2, 4, 3),), [(zg.randn(6, 4, 3),)], tmp_path,
                         dynamic_axes=BATCH)
    assert "LeakyRelu" in {n.op_type for n in proto.graph.node}


def test_custom_function_without_symbolic_is_named():
    with pytest.raises(zonnx.UnsupportedOperatorError, match="NoMapping.*symbolic"):
        zonnx.export(Fn(lambda x: NoMapping.apply(x)), (zg.randn(2, 3),))
    with pytest.raises(zonnx.UnsupportedOperatorError, match="custom autograd.Function"):
        zonnx.export(Fn(lambda x: Exp.apply(x)), (zg.randn(2, 3),))


def test_symbolic_must_return_a_value():
    class Bad(ScaledLeaky):
        @staticmethod
        def symbolic(g, x, alpha, scale):
            return "y"

    with pytest.raises(zonnx.ExportError, match="Bad.symbolic returned str"):
        zonnx.export(Fn(lambda x: Bad.apply(x, 0.1, 1.0)), (zg.randn(2, 3),))


# ----- torch's protocol (zengrad.autograd.Function: forward on Tensors) ------------------------
class SoftClip(zg.autograd.Function):
    """Tensor ops inside: exported as those ops, no symbolic needed."""

    @staticmethod
    def forward(ctx, x, bound):
        y = (x / bound).tanh() * bound
        ctx.save_for_backward(y)
        ctx.bound = bound
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - (y / ctx.bound) ** 2), None


class NumpySquare(zg.autograd.Function):
    """Leaves the ops (NumPy inside): needs its symbolic."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return zg.from_numpy(np.square(x.detach().numpy()))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class NumpySquareSymbolic(NumpySquare):
    @staticmethod
    def symbolic(g, x):
        return g.op("Mul", x, x)


def test_tensor_protocol_function_is_traced_through_its_ops(tmp_path):
    model = Fn(lambda x: SoftClip.apply(x * 3, 2.0) + NumpySquareSymbolic.apply(x))
    check_export(model, (zg.randn(2, 4),), [(zg.randn(5, 4),)], tmp_path, dynamic_axes=BATCH)


def test_tensor_protocol_function_leaving_the_ops_needs_symbolic():
    with pytest.raises(zonnx.ExportError, match="symbolic"):
        zonnx.export(Fn(lambda x: NumpySquare.apply(x) + 1), (zg.randn(2, 3),))
