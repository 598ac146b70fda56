"""The zoo's models exported to ONNX run in onnxruntime and match zengrad's eval outputs to
1e-5, also at other batch sizes (and sequence lengths) when those axes are dynamic."""

from __future__ import annotations

import pytest

import zengrad as zg
from tests.onnx.conftest import check_export, onnx
from zengrad import models, nn

BATCH = {"in0": {0: "batch"}}
BATCH_SEQ = {"in0": {0: "batch", 1: "seq"}}


@pytest.fixture(autouse=True)
def _seed():
    zg.manual_seed(0)


def test_mlp(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    proto = check_export(model, (zg.randn(4, 3, 4),), [(zg.randn(1, 3, 4),),
                                                      (zg.randn(9, 3, 4),)],
                         tmp_path, dynamic_axes=BATCH)
    ops = {n.op_type for n in proto.graph.node}
    assert "Gemm" in ops and "Relu" in ops and "Dropout" not in ops
    # weights are initializers under their state_dict names
    assert {i.name for i in proto.graph.initializer} >= {"1.weight", "1.bias", "6.bias"}
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_lenet5(tmp_path):
    model = models.LeNet5(1, 10, 28)
    check_export(model, (zg.randn(2, 1, 28, 28),), [(zg.randn(5, 1, 28, 28),)], tmp_path,
                 dynamic_axes=BATCH)


def test_lenet5_digits_size_fixed_batch(tmp_path):
    model = models.LeNet5(1, 10, 8)
    proto = check_export(model, (zg.randn(3, 1, 8, 8),), (), tmp_path)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3


def test_resnet8(tmp_path):
    model = models.resnet8(3, 10, 8)
    model.train()
    with zg.no_grad():  # non-trivial running statistics
        for _ in range(2):
            model(zg.randn(8, 3, 16, 16) * 2 + 0.5)
    proto = check_export(model, (zg.randn(2, 3, 16, 16),), [(zg.randn(3, 3, 16, 16),)],
                         tmp_path, dynamic_axes=BATCH)
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" in ops and "GlobalAveragePool" in ops
    assert not model.training  # export puts the model in eval mode ...


def test_export_restores_training_mode():
    model = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5))
    model.train()
    from tests.onnx.conftest import zonnx

    zonnx.export(model, (zg.randn(2, 3),))
    assert model.training and model[1].training  # ... and restores each module's mode after


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_classifier(tmp_path, bidirectional):
    model = models.SequenceClassifier(5, 4, hidden_size=6, num_layers=2, cell="lstm",
                                      bidirectional=bidirectional)
    proto = check_export(model, (zg.randn(3, 7, 5),),
                         [(zg.randn(1, 7, 5),), (zg.randn(4, 2, 5),), (zg.randn(2, 11, 5),)],
                         tmp_path, dynamic_axes=BATCH_SEQ)
    lstms = [n for n in proto.graph.node if n.op_type == "LSTM"]
    assert len(lstms) == (4 if bidirectional else 2)


def test_lstm_classifier_images(tmp_path):
    model = models.SequenceClassifier(8, 10, hidden_size=5, num_layers=2)
    check_export(model, (zg.randn(2, 1, 8, 8),), [(zg.randn(6, 1, 8, 8),)], tmp_path,
                 dynamic_axes=BATCH)


@pytest.mark.parametrize("target_size", [1, 2])
def test_lstm_forecaster(tmp_path, target_size):
    model = models.LSTMForecaster(2, hidden_size=6, num_layers=2, horizon=3,
                                  target_size=target_size)
    check_export(model, (zg.randn(2, 9, 2),), [(zg.randn(5, 9, 2),), (zg.randn(3, 4, 2),)],
                 tmp_path, dynamic_axes=BATCH_SEQ)


def test_lstm_forecaster_univariate(tmp_path):
    model = models.LSTMForecaster(1, hidden_size=4, num_layers=2, horizon=2)
    check_export(model, (zg.randn(3, 10),), [(zg.randn(1, 10),)], tmp_path,
                 dynamic_axes=BATCH)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_classifier(tmp_path, bidirectional):
    model = models.SequenceClassifier(5, 3, hidden_size=6, num_layers=2, cell="gru",
                                      bidirectional=bidirectional)
    proto = check_export(model, (zg.randn(2, 7, 5),), [(zg.randn(4, 3, 5),)], tmp_path,
                         dynamic_axes=BATCH_SEQ)
    gru = next(n for n in proto.graph.node if n.op_type == "GRU")
    assert next(a.i for a in gru.attribute if a.name == "linear_before_reset") == 1


def test_transformer_classifier_tokens(tmp_path):
    model = models.TransformerClassifier(vocab_size=20, d_model=16, nhead=2, num_layers=2,
                                         num_classes=3)
    check_export(model, (zg.randint(0, 20, (2, 7)),),
                 [(zg.randint(0, 20, (5, 7)),), (zg.randint(0, 20, (3, 12)),)], tmp_path,
                 dynamic_axes=BATCH_SEQ)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_classifier_features(tmp_path, norm_first, activation):
    model = models.TransformerClassifier(d_model=16, nhead=4, num_layers=2, num_classes=3,
                                         input_dim=5, norm_first=norm_first,
                                         activation=activation)
    check_export(model, (zg.randn(2, 6, 5),), [(zg.randn(4, 6, 5),), (zg.randn(1, 9, 5),)],
                 tmp_path, dynamic_axes=BATCH_SEQ)


@pytest.mark.parametrize("opset", [17, 20])
def test_transformer_other_opsets(tmp_path, opset):
    model = models.TransformerClassifier(vocab_size=11, d_model=8, nhead=2, num_layers=1,
                                         num_classes=2, activation="gelu")
    proto = check_export(model, (zg.randint(0, 11, (2, 5)),), [(zg.randint(0, 11, (3, 5)),)],
                         tmp_path, dynamic_axes={"in0": {0: "batch"}}, opset_version=opset)
    assert proto.opset_import[0].version == opset
    assert any(n.op_type == "Gelu" for n in proto.graph.node) == (opset >= 20)


def test_file_object_and_loaded_file(tmp_path):
    import io

    from tests.onnx.conftest import session, zonnx

    model = models.LeNet5(1, 10, 8).eval()
    buf = io.BytesIO()
    zonnx.export(model, zg.randn(2, 1, 8, 8), buf, input_names=["image"],
                 output_names=["logits"], dynamic_axes={"image": [0], "logits": [0]})
    loaded = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(loaded)
    assert loaded.graph.output[0].name == "logits"
    assert loaded.graph.input[0].type.tensor_type.shape.dim[0].dim_param == \
        "image_dynamic_axes_1"
    x = zg.randn(3, 1, 8, 8)
    got = session(loaded).run(["logits"], {"image": x.numpy()})[0]
    with zg.no_grad():
        want = model(x).numpy()
    assert abs(got - want).max() < 1e-5
