"""Op mappings one by one (small functional models through export + onnxruntime), and the
errors export gives for what it can't map."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
import zengrad.nn.functional as F
from tests.onnx.conftest import check_export, zonnx
from zengrad import nn


class Fn(nn.Module):
    """A module around a function of the inputs (and a few parameters)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.w = nn.Parameter(zg.randn(4, 3).array)
        self.conv = nn.Conv1d(3, 2, 3, padding=1, dilation=1)

    def forward(self, *xs):
        return self.fn(self, *xs)


CASES = {
    "arith": lambda m, x: (1 - x) * 0.5 + x / 2 - x ** 2,
    "unary": lambda m, x: x.exp() + x.abs().sqrt() + (x.abs() + 1).log() + x.sin() * x.cos(),
    "rsqrt_log1p": lambda m, x: (x.abs() + 1).rsqrt() + x.abs().log1p(),
    "act": lambda m, x: F.sigmoid(x) + F.tanh(x) + F.leaky_relu(x, 0.1) + F.elu(x) + F.silu(x),
    "gelu": lambda m, x: F.gelu(x) + F.gelu(x, approximate="tanh"),
    "softplus": lambda m, x: F.softplus(x) + F.softplus(x * 30, beta=2, threshold=5),
    "softmax": lambda m, x: F.softmax(x, -1) + F.log_softmax(x, 1),
    "hard": lambda m, x: F.hardswish(x) + F.hardsigmoid(x) + F.hardtanh(x) + F.softsign(x),
    "mish_logsigmoid": lambda m, x: F.mish(x) + F.logsigmoid(x),
    "clamp": lambda m, x: x.clamp(-0.5, 0.7) + x.clamp(min=0.1),
    "reduce": lambda m, x: x.sum(1) + x.mean((1,), keepdim=False) + x.amax(1) + x.amin(1)
    + x.logsumexp(1),
    "reduce_all": lambda m, x: x.sum() + x.mean(),
    "var_std": lambda m, x: x.var(1) + x.std(1, correction=0),
    "matmul": lambda m, x: x @ m.w,
    "shape": lambda m, x: x.permute(1, 0, 2).reshape(3, -1).t().unsqueeze(0).expand(2, -1, -1),
    "repeat_flip": lambda m, x: x.repeat(2, 1, 1, 2).flip((0, 3)),
    "cat_stack": lambda m, x: zg.cat([x, x * 2], 1) + zg.stack([x, x], 1).sum(1).repeat(1, 2, 1),
    "pad": lambda m, x: F.pad(x, (1, 2, 0, 1)),
    "getitem": lambda m, x: x[:, None, 1:, ...] + x[0, -1][None, None, None]
    + x[:, ::2][..., :1, :],
    "getitem_array": lambda m, x: x[:, [2, 0]].sum(-1)
    + x[1:, 1:][..., np.array([0, 0, 3])][:, :, :2].sum(-1),
    "conv1d": lambda m, x: m.conv(x)[:, :, 1:],
    "pools": lambda m, x: F.avg_pool2d(x.unsqueeze(1), 2) + F.max_pool2d(x.unsqueeze(1), 2)
    + F.adaptive_avg_pool2d(x.unsqueeze(1), (1, 2)),
    "layer_norm": lambda m, x: F.layer_norm(x, (4,)) + F.layer_norm(x, (3, 4), eps=1e-3),
    "sdpa": lambda m, x: F.scaled_dot_product_attention(x, x * 2, x + 1),
    "cumsum": lambda m, x: x.cumsum(1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op(tmp_path, name):
    zg.manual_seed(1)
    model = Fn(CASES[name])
    check_export(model, (zg.randn(2, 3, 4),), [(zg.randn(2, 3, 4),)], tmp_path)


@pytest.mark.parametrize("name", ["arith", "act", "reduce", "getitem", "layer_norm", "sdpa",
                                  "conv1d"])
def test_op_dynamic_batch(tmp_path, name):
    zg.manual_seed(2)
    model = Fn(CASES[name])
    check_export(model, (zg.randn(2, 3, 4),), [(zg.randn(5, 3, 4),), (zg.randn(1, 3, 4),)],
                 tmp_path, dynamic_axes={"in0": {0: "n"}})


def test_size_one_and_two_inputs(tmp_path):
    model = Fn(lambda m, x, y: (x * y).sum(-1, keepdim=True) + y[:, :1])
    check_export(model, (zg.randn(1, 1, 4), zg.randn(1, 1, 4)),
                 [(zg.randn(3, 1, 4), zg.randn(3, 1, 4))], tmp_path,
                 dynamic_axes={"in0": {0: "n"}, "in1": {0: "n"}})


def test_reshape_of_two_dynamic_axes(tmp_path):
    model = Fn(lambda m, x: (x.reshape(-1, 4) @ m.w).reshape(x.shape[0], x.shape[1], 3))
    check_export(model, (zg.randn(2, 3, 4),), [(zg.randn(4, 5, 4),)], tmp_path,
                 dynamic_axes={"in0": {0: "n", 1: "l"}})


def test_embedding_and_rnn_cells(tmp_path):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.rnn = nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True)
            self.rnn2 = nn.RNN(10, 3)

        def forward(self, tokens):
            out, h = self.rnn(self.emb(tokens))
            out2, _ = self.rnn2(out)
            return out2, h

    check_export(M(), (zg.randint(0, 10, (6, 2)),), [(zg.randint(0, 10, (3, 4)),)], tmp_path,
                 dynamic_axes={"in0": {0: "seq", 1: "batch"}})


def test_lstm_with_initial_state_and_outputs(tmp_path):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lstm

        def forward(self, x, h0, c0):
            out, (h, c) = self.lstm(x, (h0, c0))
            return out, h, c

    check_export(M(), (zg.randn(5, 2, 3), zg.randn(4, 2, 4), zg.randn(4, 2, 4)),
                 [(zg.randn(2, 3, 3), zg.randn(4, 3, 4), zg.randn(4, 3, 4))], tmp_path,
                 dynamic_axes={"in0": {0: "seq", 1: "batch"}, "in1": {1: "batch"},
                               "in2": {1: "batch"}})


def test_multihead_attention_with_weights(tmp_path):
    mha = nn.MultiheadAttention(8, 2, batch_first=True)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, q, kv):
            return self.mha(q, kv, kv)

    check_export(M(), (zg.randn(2, 3, 8), zg.randn(2, 5, 8)),
                 [(zg.randn(4, 3, 8), zg.randn(4, 5, 8))], tmp_path,
                 dynamic_axes={"in0": {0: "n"}, "in1": {0: "n"}})


# ----- errors ----------------------------------------------------------------------------------
def test_unmapped_op_is_named():
    model = Fn(lambda m, x: x.cumprod(1))
    with pytest.raises(zonnx.UnsupportedOperatorError, match="CumProd"):
        zonnx.export(model, (zg.randn(2, 3, 4),))


def test_input_dependent_constant_is_refused():
    # a mask computed in NumPy from the input is not traced: refused, not baked in
    model = Fn(lambda m, x: x * zg.tensor((x.detach().numpy() > 0).astype(np.float32)))
    with pytest.raises(zonnx.ExportError, match="outside zengrad's ops"):
        zonnx.export(model, (zg.randn(2, 3, 4),))


def test_size_dependent_control_flow_is_refused():
    model = Fn(lambda m, x: x.relu() if x.shape[0] < 3 else x.tanh())
    with pytest.raises(zonnx.ExportError, match="control flow"):
        zonnx.export(model, (zg.randn(2, 3, 4),), dynamic_axes={"input": {0: "n"}})


def test_non_affine_dynamic_size_is_refused():
    model = Fn(lambda m, x: F.max_pool2d(x.unsqueeze(1), 2))
    with pytest.raises(zonnx.ExportError, match="dynamic"):
        zonnx.export(model, (zg.randn(2, 4, 4),), dynamic_axes={"input": {1: "h"}})


@pytest.mark.parametrize("kwargs,match", [
    ({"opset_version": 11}, "opset_version"),
    ({"input_names": ["a", "a"]}, "input_names"),
    ({"dynamic_axes": {"nope": {0: "n"}}}, "nope"),
    ({"dynamic_axes": {"input": {5: "n"}}}, "axis 5"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, zonnx.ExportError), match=match):
        zonnx.export(nn.Linear(4, 2), (zg.randn(2, 4),), **kwargs)


def test_bad_model_and_args():
    with pytest.raises(TypeError, match="Module"):
        zonnx.export(lambda x: x, (zg.randn(2),))
    with pytest.raises(TypeError, match="Tensor"):
        zonnx.export(nn.Linear(4, 2), (np.zeros((2, 4)),))
