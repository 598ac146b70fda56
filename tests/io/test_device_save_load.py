"""Saving from a device and loading back (the fake 'cuda' of tests/backend/conftest.py):
zengrad.save / zengrad.load with torch's map_location, the safetensors weights API and
training checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import zengrad as zg
from tests.backend.conftest import (
    KIND,
    cuda,  # noqa: F401  (the fixture)
)
from zengrad import backend, nn
from zengrad.io import CheckpointError, load_checkpoint, save_checkpoint
from zengrad.io.checkpoint import FORMAT_KEY, FORMAT_VERSION
from zengrad.io.safetensors_io import to_bytes


def _trained(device: str):
    """A Linear and its Adam after one step on device (optimizer state on the device)."""
    zg.manual_seed(0)
    model = nn.Linear(3, 2).to(device)
    opt = zg.optim.Adam(model.parameters(), lr=0.1)
    model(zg.randn(4, 3).to(device)).sum().backward()
    opt.step()
    return model, opt


def _host(sd: dict) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in sd.items()}


def test_state_dict_from_cuda_round_trips_to_cuda(cuda, tmp_path):  # noqa: F811
    model, _ = _trained("cuda")
    zg.save(model.state_dict(), tmp_path / "m.safetensors")
    back = zg.load(tmp_path / "m.safetensors")
    assert {v.device.type for v in back.values()} == {"cuda"}
    want = _host(model.state_dict())
    for k, v in _host(back).items():
        np.testing.assert_array_equal(v, want[k])
    # a plain safetensors file: other readers see the host bytes
    for k, v in load_file(tmp_path / "m.safetensors").items():
        np.testing.assert_array_equal(v, want[k])


@pytest.mark.parametrize("loc, device", [
    ("cpu", "cpu"), (zg.device("cpu"), "cpu"), ({"cuda:0": "cpu"}, "cpu"),
    ({"cpu": "cuda:0"}, "cuda"), ("cuda", "cuda"), (zg.device("cuda", 0), "cuda"),
    (lambda storage, loc: storage, "cpu"), (lambda storage, loc: storage.cuda(), "cuda"),
    (lambda storage, loc: None, "cuda"),
])
def test_map_location(cuda, tmp_path, loc, device):  # noqa: F811
    model, _ = _trained("cuda")
    zg.save(model.state_dict(), tmp_path / "m.pt")
    back = zg.load(tmp_path / "m.pt", map_location=loc)
    assert {v.device.type for v in back.values()} == {device}
    np.testing.assert_array_equal(back["weight"].cpu().numpy(),
                                  model.weight.detach().cpu().numpy())


def test_map_location_to_cuda_for_a_cpu_file_and_a_foreign_file(cuda, tmp_path):  # noqa: F811
    zg.save({"a": zg.ones(2)}, tmp_path / "a.pt")
    assert zg.load(tmp_path / "a.pt")["a"].device.type == "cpu"
    assert zg.load(tmp_path / "a.pt", map_location="cuda")["a"].device.type == "cuda"
    (tmp_path / "f.safetensors").write_bytes(to_bytes({"w": np.ones(3, np.float32)}))
    assert zg.load(tmp_path / "f.safetensors", map_location="cuda")["w"].device.type == "cuda"


def test_map_location_callable_must_return_a_tensor(cuda, tmp_path):  # noqa: F811
    zg.save({"a": zg.ones(2)}, tmp_path / "a.pt")
    with pytest.raises(TypeError, match="map_location returned a ndarray"):
        zg.load(tmp_path / "a.pt", map_location=lambda storage, loc: storage.numpy())


def test_whole_module_comes_back_where_it_was_saved(cuda, tmp_path):  # noqa: F811
    model, _ = _trained("cuda")
    zg.save(model, tmp_path / "m.pt")
    x = zg.randn(5, 3)
    want = model(x.to("cuda")).detach().cpu().numpy()
    on_cuda = zg.load(tmp_path / "m.pt")
    assert on_cuda.weight.device.type == "cuda"
    np.testing.assert_allclose(on_cuda(x.to("cuda")).detach().cpu().numpy(), want)
    on_cpu = zg.load(tmp_path / "m.pt", map_location="cpu")
    assert on_cpu.weight.device.type == "cpu"
    np.testing.assert_allclose(on_cpu(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_weights_api_from_and_into_a_cuda_model(cuda, tmp_path):  # noqa: F811
    model, _ = _trained("cuda")
    zg.io.save(model, tmp_path / "w.safetensors")
    arrays = zg.io.load(tmp_path / "w.safetensors")
    assert all(type(a) is np.ndarray for a in arrays.values())
    other = nn.Linear(3, 2).to("cuda")
    zg.io.load_into(other, tmp_path / "w.safetensors")
    assert other.weight.device.type == "cuda"
    for k, v in _host(other.state_dict()).items():
        np.testing.assert_array_equal(v, arrays[k])


def test_checkpoint_with_optimizer_state_on_cuda(cuda, tmp_path):  # noqa: F811
    model, opt = _trained("cuda")
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}
    save_checkpoint(state, tmp_path / "ck.safetensors")
    back = load_checkpoint(tmp_path / "ck.safetensors")
    exp_avg = back["optimizer"]["state"][0]["exp_avg"]
    assert backend.device_of(exp_avg).type == "cuda" and back["epoch"] == 3
    assert back["model"]["weight"].device.type == "cuda"
    np.testing.assert_array_equal(backend.asnumpy(exp_avg),
                                  backend.asnumpy(opt.state_dict()["state"][0]["exp_avg"]))
    host = load_checkpoint(tmp_path / "ck.safetensors", map_location="cpu")
    assert type(host["optimizer"]["state"][0]["exp_avg"]) is np.ndarray
    assert host["model"]["weight"].device.type == "cpu"
    # resuming on the device from a CPU-mapped checkpoint: load_state_dict moves it back
    model2, opt2 = _trained("cuda")
    model2.load_state_dict(host["model"])
    opt2.load_state_dict(host["optimizer"])
    assert model2.weight.device.type == "cuda"
    assert backend.device_of(opt2.state[model2.weight]["exp_avg"]).type == "cuda"


@pytest.mark.skipif(KIND == "cupy", reason="needs a machine without CUDA")
def test_a_cuda_file_without_cuda_names_map_location(cuda, tmp_path):  # noqa: F811
    model, opt = _trained("cuda")
    zg.save(model.state_dict(), tmp_path / "m.pt")
    save_checkpoint({"optimizer": opt.state_dict()}, tmp_path / "ck.safetensors")
    backend.unregister_array_module("cuda")  # now CUDA is gone (CuPy is not installed)
    with pytest.raises(RuntimeError, match="deserialize object on device 'cuda:0'.*"
                                           "map_location='cpu'"):
        zg.load(tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        load_checkpoint(tmp_path / "ck.safetensors")
    assert zg.load(tmp_path / "m.pt", map_location="cpu")["weight"].device.type == "cpu"
    ck = load_checkpoint(tmp_path / "ck.safetensors", map_location="cpu")
    assert type(ck["optimizer"]["state"][0]["exp_avg"]) is np.ndarray


@pytest.mark.parametrize("device", [5, "gpu", "cuda:x"])
def test_a_damaged_device_record_is_refused(tmp_path, device):
    state = {"w": {"__tensor__": "w", "type": "Tensor", "device": device}}
    meta = {FORMAT_KEY: FORMAT_VERSION, "state": json.dumps(state)}
    (tmp_path / "ck.safetensors").write_bytes(to_bytes({"w": np.ones(2)}, meta))
    with pytest.raises(CheckpointError, match="field 'w' has a bad device"):
        load_checkpoint(tmp_path / "ck.safetensors")
