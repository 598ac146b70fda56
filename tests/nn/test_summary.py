"""zengrad.nn.utils.summary against parameter counts worked out by hand."""

import pytest

from zengrad import nn
from zengrad.models import LeNet5
from zengrad.nn.utils import summary


def _rows(s):
    return {layer.name: (layer.type, layer.output_shape, layer.params) for layer in s.layers}


def test_lenet5_on_digits_and_on_mnist():
    # 8x8: conv1 1*6*25+6, conv2 6*16*25+16, fc1 (16*4*4)*120+120, fc2 120*84+84, fc3 84*10+10
    s = summary(LeNet5(1, 10, input_size=8), (2, 1, 8, 8))
    assert _rows(s) == {"conv1": ("Conv2d", (2, 6, 8, 8), 156),
                        "conv2": ("Conv2d", (2, 16, 8, 8), 2416),
                        "fc1": ("Linear", (2, 120), 30840),
                        "fc2": ("Linear", (2, 84), 10164),
                        "fc3": ("Linear", (2, 10), 850)}
    assert s.total_params == s.trainable_params == 156 + 2416 + 30840 + 10164 + 850 == 44426
    # the classic 28x28 LeNet-5: fc1 sees 16*5*5 = 400 features; 61,706 parameters
    s = summary(LeNet5(1, 10, input_size=28), (1, 1, 28, 28))
    assert _rows(s)["conv2"][1] == (1, 16, 10, 10) and _rows(s)["fc1"][2] == 400 * 120 + 120
    assert s.total_params == 61706
    text = str(s)
    for needle in ("Layer (type)", "Output Shape", "Param #", "fc1 (Linear)", "[1, 120]",
                   "48,120", "Total params: 61,706", "Trainable params: 61,706",
                   "Non-trainable params: 0"):
        assert needle in text, needle


def test_mlp_nested_frozen_and_hooks_removed():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(),
                          nn.Sequential(nn.Linear(32, 16), nn.Tanh()), nn.Linear(16, 10))
    for p in model[1].parameters():
        p.requires_grad = False
    model.train()
    s = summary(model, (5, 1, 8, 8))
    rows = _rows(s)
    assert rows["0"] == ("Flatten", (5, 64), 0)
    assert rows["1"] == ("Linear", (5, 32), 64 * 32 + 32)
    assert rows["3"] == ("Sequential", (5, 16), 0)
    assert rows["3.0"] == ("Linear", (5, 16), 32 * 16 + 16)
    assert rows["4"] == ("Linear", (5, 10), 16 * 10 + 10)
    assert s.total_params == 2080 + 528 + 170
    assert s.trainable_params == 528 + 170 and s.non_trainable_params == 2080
    assert [x.depth for x in s.layers] == [1, 1, 1, 1, 2, 2, 1]
    assert model.training  # the mode is restored
    assert all(not m._forward_hooks for _, m in model.named_modules())
    # a failing forward (wrong input size) still removes every hook
    with pytest.raises(ValueError):
        summary(model, (1, 3, 8, 8))
    assert all(not m._forward_hooks for _, m in model.named_modules())


def test_lstm_tuple_outputs_and_bad_size():
    model = nn.LSTM(8, 16, batch_first=True)
    s = summary(model, (2, 5, 8))
    assert s.total_params == 4 * 16 * (8 + 16) + 2 * 4 * 16
    with pytest.raises(ValueError, match="input_size"):
        summary(model, (0, 5, 8))
