"""Nested training state <-> one safetensors file (tensors + JSON metadata)."""

import math

import numpy as np
import pytest
import safetensors.numpy

import zengrad as zg
from zengrad import nn, optim
from zengrad.io import SafetensorsFormatError, load_checkpoint, save, save_checkpoint


def test_nested_state_round_trips_exactly(tmp_path):
    state = {
        "epoch": 3,
        "opt": {"state": {0: {"step": np.float32(7), "exp_avg": np.arange(4.0)},
                          1: {"momentum_buffer": None}},
                "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                                  "nesterov": False}]},
        "t": zg.ones(2, 3),
        "rng": zg.get_rng_state(),
        "floats": [math.inf, -0.0, 1e-300],
        "odd_keys": {"1": "str one", 1: "int one", "__tensor__": "not a marker"},
        "empty": {},
    }
    path = tmp_path / "c.safetensors"
    save_checkpoint(state, path)
    back = load_checkpoint(path)
    assert back["epoch"] == 3 and back["empty"] == {}
    s0 = back["opt"]["state"][0]
    assert isinstance(s0["step"], np.float32) and s0["step"] == 7
    np.testing.assert_array_equal(s0["exp_avg"], np.arange(4.0))
    assert back["opt"]["state"][1] == {"momentum_buffer": None}
    assert back["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert isinstance(back["t"], zg.Tensor) and back["t"].shape == (2, 3)
    assert back["rng"] == state["rng"]
    assert back["floats"][0] == math.inf and math.copysign(1, back["floats"][1]) == -1
    assert back["odd_keys"] == state["odd_keys"]
    # still a plain safetensors file
    assert "opt/state/0/exp_avg" in safetensors.numpy.load_file(str(path))


def test_optimizer_state_survives_a_checkpoint(tmp_path):
    zg.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        model(zg.randn(4, 3)).sum().backward()
        opt.step()
    save_checkpoint({"opt": opt.state_dict()}, tmp_path / "c.safetensors")
    opt2 = optim.Adam(model.parameters(), lr=0.5)
    opt2.load_state_dict(load_checkpoint(tmp_path / "c.safetensors")["opt"])
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for k in a["state"]:
        for name, v in a["state"][k].items():
            np.testing.assert_array_equal(b["state"][k][name], v)


def test_plain_weights_are_not_a_checkpoint(tmp_path):
    save({"w": np.zeros(2, np.float32)}, tmp_path / "w.safetensors")
    with pytest.raises(SafetensorsFormatError, match="not a zengrad training checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors")


def test_unstorable_values_are_named(tmp_path):
    with pytest.raises(TypeError, match="at a/fn"):
        save_checkpoint({"a": {"fn": print}}, tmp_path / "c.safetensors")


def test_checkpoint_error_is_a_format_error_and_a_value_error(tmp_path):
    from zengrad.io import CheckpointError
    from zengrad.io.checkpoint import FORMAT_KEY, FORMAT_VERSION
    from zengrad.io.safetensors_io import to_bytes

    assert issubclass(CheckpointError, SafetensorsFormatError)
    assert issubclass(CheckpointError, ValueError)
    path = tmp_path / "c.safetensors"
    path.write_bytes(to_bytes({}, {FORMAT_KEY: FORMAT_VERSION,
                                   "state": '{"opt": {"lr": {"__scalar__": 3}}}'}))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(err.value) == (f"{path}: field 'opt/lr' must name a stored tensor "
                              "(__scalar__: a string), got 3")


def test_deeply_nested_but_reasonable_state_round_trips(tmp_path):
    state = {"x": 1}
    for i in range(40):
        state = {"k": [state, (i,)]}
    save_checkpoint(state, tmp_path / "c.safetensors")
    assert load_checkpoint(tmp_path / "c.safetensors") == state
