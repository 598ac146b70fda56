"""zengrad.save / zengrad.load as torch programs use them: state_dicts, training checkpoints
and whole modules (rebuilt only from zengrad's layers and the safe_globals allow-list), with
paths and file objects; hostile records are refused without importing or calling anything."""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import pytest
import safetensors.torch
import torch

import zengrad
import zengrad.nn as nn
import zengrad.nn.functional as F
from zengrad.io import CheckpointError, SafetensorsFormatError
from zengrad.io.safetensors_io import from_bytes, to_bytes
from zengrad.serialization import UnsafeGlobalError, safe_globals


class Net(nn.Module):
    """An MNIST-style CNN, as in pytorch/examples."""

    def __init__(self, channels: int = 4, classes: int = 10, dropout: float = 0.25) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, 1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, 1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * channels * 16, classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(self.dropout(zengrad.flatten(x, 1)))


class Wrapper(nn.Module):
    """Takes a module as a constructor argument."""

    def __init__(self, body: nn.Module, scale: float) -> None:
        super().__init__()
        self.body = body
        self.scale = scale

    def forward(self, x):
        return self.body(x) * self.scale


class NeedsCallable(nn.Module):
    def __init__(self, act) -> None:
        super().__init__()
        self.act = act


def _x() -> zengrad.Tensor:
    return zengrad.tensor(np.random.default_rng(0).standard_normal((2, 1, 12, 12)),
                          dtype=zengrad.float32)


def _same_outputs(a: nn.Module, b: nn.Module) -> None:
    with zengrad.no_grad():
        np.testing.assert_array_equal(a(_x()).numpy(), b(_x()).numpy())


def _edit_state(data: bytes, edit) -> bytes:
    """The file bytes with its JSON state description replaced by edit(description)."""
    tensors, meta = from_bytes(data)
    meta["state"] = json.dumps(edit(json.loads(meta["state"])))
    return to_bytes(tensors, meta)


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    zengrad.save(obj, buf)
    return buf.getvalue()


# ----- state_dicts and checkpoints -----------------------------------------------------------

@pytest.mark.parametrize("where", ["path", "bytesio", "file"])
def test_state_dict_round_trip(tmp_path, where):
    model = Net()
    sd = model.state_dict()
    path = tmp_path / "model.pt"
    if where == "path":
        zengrad.save(sd, path)
        back = zengrad.load(str(path))
    elif where == "bytesio":
        buf = io.BytesIO()
        zengrad.save(sd, buf)
        buf.seek(0)
        back = zengrad.load(buf)
        assert buf.read() == b""  # left at the end, as torch.load leaves it
    else:
        with open(path, "wb") as f:
            zengrad.save(sd, f)
        with open(path, "rb") as f:
            back = zengrad.load(f)
    assert list(back) == list(sd)
    for k in sd:
        assert isinstance(back[k], zengrad.Tensor)
        np.testing.assert_array_equal(back[k].numpy(), sd[k].numpy())
    fresh = Net()
    fresh.load_state_dict(back)
    _same_outputs(model.eval(), fresh.eval())


def test_state_dict_file_is_plain_safetensors_for_torch(tmp_path):
    model = Net()
    zengrad.save(model.state_dict(), tmp_path / "m.pt")
    theirs = safetensors.torch.load_file(str(tmp_path / "m.pt"))
    assert set(theirs) == set(model.state_dict())
    np.testing.assert_array_equal(theirs["fc.weight"].numpy(), model.fc.weight.data)


def test_load_reads_a_safetensors_file_torch_wrote(tmp_path):
    tensors = {"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(3)}
    safetensors.torch.save_file(tensors, str(tmp_path / "t.safetensors"))
    back = zengrad.load(tmp_path / "t.safetensors")
    np.testing.assert_array_equal(back["w"].numpy(), tensors["w"].numpy())
    assert back["n"].item() == 3


def test_training_checkpoint_round_trip(tmp_path):
    model = Net()
    opt = zengrad.optim.Adam(model.parameters(), lr=1e-3)
    loss = F.cross_entropy(model(_x()), zengrad.tensor([1, 2]))
    loss.backward()
    opt.step()
    ckpt = {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "loss": 0.25, "name": "run-1", "history": [1.5, 0.5], "best": None}
    buf = io.BytesIO()
    zengrad.save(ckpt, buf)
    buf.seek(0)
    back = zengrad.load(buf, map_location="cpu", weights_only=False)
    assert (back["epoch"], back["loss"], back["name"], back["history"], back["best"]) == (
        3, 0.25, "run-1", [1.5, 0.5], None)
    model2 = Net()
    model2.load_state_dict(back["model"])
    opt2 = zengrad.optim.Adam(model2.parameters(), lr=1e-3)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for a, b in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values()):
        for key in a:
            np.testing.assert_array_equal(np.asarray(getattr(a[key], "data", a[key])),
                                          np.asarray(getattr(b[key], "data", b[key])))
    _same_outputs(model.eval(), model2.eval())


def test_a_bare_tensor_and_a_list(tmp_path):
    t = zengrad.arange(5)
    zengrad.save(t, tmp_path / "t.pt")
    np.testing.assert_array_equal(zengrad.load(tmp_path / "t.pt").numpy(), t.numpy())
    zengrad.save([t, (1, "a")], tmp_path / "l.pt")
    back = zengrad.load(tmp_path / "l.pt")
    assert back[1] == (1, "a")
    np.testing.assert_array_equal(back[0].numpy(), t.numpy())


@pytest.mark.parametrize("loc", [None, "cpu", "cpu:0", {"cuda:0": "cpu"}, {"cuda:1": "cuda:0"},
                                 {"cpu": "cpu"}, lambda storage, loc: storage])
def test_map_location_accepted(tmp_path, loc):
    zengrad.save({"a": zengrad.ones(2)}, tmp_path / "a.pt")
    assert zengrad.load(tmp_path / "a.pt", map_location=loc)["a"].numpy().tolist() == [1, 1]


@pytest.mark.skipif(zengrad.cuda.is_available(), reason="needs a machine without CUDA")
def test_map_location_to_a_device_that_does_not_exist(tmp_path):
    zengrad.save({"a": zengrad.ones(2)}, tmp_path / "a.pt")
    with pytest.raises(RuntimeError, match="map_location 'cuda:0'.*not available.*CuPy"):
        zengrad.load(tmp_path / "a.pt", map_location="cuda:0")
    with pytest.raises(RuntimeError, match="map_location 'cuda:0'.*not available.*CuPy"):
        zengrad.load(tmp_path / "a.pt", map_location={"cpu": "cuda:0"})
    with pytest.raises(RuntimeError, match="not available"):
        zengrad.load(tmp_path / "a.pt", map_location="mps")
    with pytest.raises(TypeError, match="map_location must be"):
        zengrad.load(tmp_path / "a.pt", map_location=3.5)


# ----- whole modules ---------------------------------------------------------------------------

def test_whole_module_round_trip_under_safe_globals(tmp_path):
    model = Net(channels=6, dropout=0.5)
    model.eval()
    model.fc.weight.requires_grad_(False)
    zengrad.save(model, tmp_path / "model.pt")
    with safe_globals([Net]):
        back = zengrad.load(tmp_path / "model.pt", weights_only=True)
    assert type(back) is Net and back is not model
    assert back.conv1.out_channels == 6 and back.dropout.p == 0.5
    assert not back.training and not back.fc.training
    assert not back.fc.weight.requires_grad and back.fc.bias.requires_grad
    _same_outputs(model, back)


def test_whole_module_from_a_file_object_and_inside_a_checkpoint():
    model = Net()
    buf = io.BytesIO()
    zengrad.save({"epoch": 2, "model": model}, buf)
    buf.seek(0)
    with safe_globals([Net]):
        back = zengrad.load(buf)
    assert back["epoch"] == 2
    _same_outputs(model.eval(), back["model"].eval())


def test_refused_without_the_allow_list(tmp_path):
    zengrad.save(Net(), tmp_path / "model.pt")
    with pytest.raises(UnsafeGlobalError) as err:
        zengrad.load(tmp_path / "model.pt")
    msg = str(err.value)
    assert "model.pt" in msg
    assert f"{__name__}.Net is not allowed" in msg
    assert "zengrad.serialization.safe_globals([Net])" in msg
    with safe_globals([Net]):
        zengrad.load(tmp_path / "model.pt")
    with pytest.raises(UnsafeGlobalError):  # the block's permission ends with it
        zengrad.load(tmp_path / "model.pt")


def test_add_safe_globals_allows_for_the_process(tmp_path):
    zengrad.save(Net(), tmp_path / "model.pt")
    try:
        zengrad.serialization.add_safe_globals([Net])
        assert Net in zengrad.serialization.get_safe_globals()
        assert type(zengrad.load(tmp_path / "model.pt")) is Net
    finally:
        zengrad.serialization.clear_safe_globals()
    with pytest.raises(UnsafeGlobalError):
        zengrad.load(tmp_path / "model.pt")


def test_zengrad_layers_need_no_allow_list():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(300, 4))
    model.append(nn.Softmax(dim=1))
    back = zengrad.load(io.BytesIO(_saved(model)))
    assert [type(m) for m in back] == [type(m) for m in model]
    _same_outputs(model, back)


def test_children_changed_after_construction_are_rebuilt():
    model = Net()
    model.fc = nn.Linear(128, 3)  # a new head, as in fine-tuning
    model.extra = nn.Identity()  # a child the constructor doesn't make
    del model.dropout  # and one removed
    with safe_globals([Net]):
        back = zengrad.load(io.BytesIO(_saved(model)))
    assert list(back._modules) == list(model._modules)
    assert back.fc.out_features == 3 and isinstance(back.extra, nn.Identity)
    assert "dropout" not in back._modules


def test_module_argument_and_shared_module():
    body = nn.Linear(3, 3)
    model = Wrapper(nn.Sequential(body, nn.Tanh(), body), scale=2.0)
    with safe_globals([Wrapper]):
        back = zengrad.load(io.BytesIO(_saved(model)))
    assert back.body[0] is back.body[2] and back.scale == 2.0
    x = zengrad.randn(4, 3)
    with zengrad.no_grad():
        np.testing.assert_array_equal(back(x).numpy(), model(x).numpy())


def test_dtype_after_construction_is_kept():
    model = nn.Linear(2, 2).double()
    back = zengrad.load(io.BytesIO(_saved(model)))
    assert back.weight.data.dtype == np.float64
    np.testing.assert_array_equal(back.weight.data, model.weight.data)


def test_unsaveable_constructor_argument_named():
    with pytest.raises(TypeError, match="argument 'act' of .*NeedsCallable"):
        zengrad.save(NeedsCallable(np.tanh), io.BytesIO())


def test_class_defined_in_a_function_refused_at_save():
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()

    with pytest.raises(TypeError, match="defined inside a function"):
        zengrad.save(Local(), io.BytesIO())


# ----- hostile and damaged files ---------------------------------------------------------------

def _set_root_class(name: str):
    def edit(desc):
        desc["__module__"]["tree"]["class"] = name
        return desc
    return edit


def test_record_naming_os_system_is_refused_without_calling_it(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    data = _edit_state(_saved(nn.Linear(2, 2)), _set_root_class("os.system"))
    (tmp_path / "evil.pt").write_bytes(data)
    with pytest.raises(UnsafeGlobalError, match=r"evil\.pt: os\.system is not allowed"):
        zengrad.load(tmp_path / "evil.pt", weights_only=False)
    assert calls == []


def test_record_naming_an_unknown_module_imports_nothing():
    name = "zg_not_a_real_module_xyz"
    data = _edit_state(_saved(nn.Linear(2, 2)), _set_root_class(f"{name}.Payload"))
    with pytest.raises(UnsafeGlobalError, match="is not allowed"):
        zengrad.load(io.BytesIO(data))
    assert name not in sys.modules


def test_allowed_class_that_is_not_a_module_is_refused():
    data = _edit_state(_saved(nn.Linear(2, 2)), _set_root_class("builtins.dict"))
    with safe_globals([dict]), pytest.raises(UnsafeGlobalError, match="not a Module"):
        zengrad.load(io.BytesIO(data))


def test_zengrad_class_that_is_not_a_layer_is_refused():
    data = _edit_state(_saved(nn.Linear(2, 2)),
                       _set_root_class("zengrad.autograd.tensor.Tensor"))
    with pytest.raises(UnsafeGlobalError, match="is not allowed"):
        zengrad.load(io.BytesIO(data))


def test_missing_constructor_argument(tmp_path):
    def drop_args(desc):
        desc["__module__"]["tree"]["args"] = [2]
        return desc
    (tmp_path / "m.pt").write_bytes(_edit_state(_saved(nn.Linear(2, 3)), drop_args))
    with pytest.raises(CheckpointError, match=r"m\.pt: can't rebuild the module at '<root>'"
                                              r": zengrad\.nn\.linear\.Linear\(2\) raised "
                                              "TypeError"):
        zengrad.load(tmp_path / "m.pt")


def test_record_whose_weights_do_not_fit(tmp_path):
    def grow(desc):
        desc["__module__"]["tree"]["args"] = [2, 5]
        return desc
    (tmp_path / "m.pt").write_bytes(_edit_state(_saved(nn.Linear(2, 3)), grow))
    with pytest.raises(CheckpointError, match=r"(?s)m\.pt: the saved weights don't fit .*size "
                                              "mismatch"):
        zengrad.load(tmp_path / "m.pt")


@pytest.mark.parametrize("edit, problem", [
    (lambda d: {"__module__": {"tree": 5, "state_dict": {}, "frozen": [], "tied": []}},
     "expected an object"),
    (lambda d: {"__module__": {"tree": d["__module__"]["tree"]}}, "must have the keys"),
    (lambda d: {**d, "__module__": {**d["__module__"], "tree": {
        **d["__module__"]["tree"], "args": [{"__eval__": "1"}, 3]}}}, "bad constructor argument"),
])
def test_damaged_module_record(edit, problem):
    data = _edit_state(_saved(nn.Linear(2, 3)), edit)
    with pytest.raises(CheckpointError, match=problem):
        zengrad.load(io.BytesIO(data))


def test_damaged_file(tmp_path):
    data = _saved({"w": zengrad.ones(100)})
    (tmp_path / "cut.pt").write_bytes(data[:-10])
    with pytest.raises(SafetensorsFormatError, match=r"cut\.pt: not a valid safetensors"):
        zengrad.load(tmp_path / "cut.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02not a safetensors file at all")
    with pytest.raises(SafetensorsFormatError, match=r"junk\.pt"):
        zengrad.load(tmp_path / "junk.pt")
    with pytest.raises(SafetensorsFormatError, match="BytesIO"):
        zengrad.load(io.BytesIO(data[:-10]))


def test_damaged_state_description(tmp_path):
    tensors, meta = from_bytes(_saved({"w": zengrad.ones(2)}))
    meta["state"] = '{"w": {"__tensor__": "nope"'
    (tmp_path / "bad.pt").write_bytes(to_bytes(tensors, meta))
    with pytest.raises(CheckpointError, match=r"bad\.pt: damaged checkpoint.*not valid JSON"):
        zengrad.load(tmp_path / "bad.pt")


def test_text_mode_file_refused(tmp_path):
    zengrad.save({"w": zengrad.ones(2)}, tmp_path / "a.pt")
    with open(tmp_path / "a.pt") as f, pytest.raises(TypeError, match="binary mode"):
        zengrad.load(f)


def test_load_checkpoint_refuses_a_whole_module(tmp_path):
    zengrad.save({"model": nn.Linear(2, 2)}, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="holds a whole module"):
        zengrad.io.load_checkpoint(tmp_path / "m.pt")


def test_zengrad_models_and_a_copied_template_layer():
    from zengrad.models import LeNet5

    model = nn.Sequential(
        nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, dim_feedforward=32,
                                                         batch_first=True), num_layers=2),
        nn.Linear(16, 3))
    model.eval()
    back = zengrad.load(io.BytesIO(_saved(model)))
    assert len(back[0].layers) == 2 and back[0].layers[0].self_attn.num_heads == 2
    x = zengrad.randn(2, 5, 16)
    with zengrad.no_grad():
        np.testing.assert_allclose(back(x).numpy(), model(x).numpy(), rtol=0, atol=0)
    lenet = LeNet5(num_classes=7).eval()
    again = zengrad.load(io.BytesIO(_saved(lenet)))
    x = zengrad.randn(1, 1, 28, 28)
    with zengrad.no_grad():
        np.testing.assert_array_equal(again(x).numpy(), lenet(x).numpy())


def test_record_asking_for_more_memory_than_the_file_holds(tmp_path):
    def huge(desc):
        desc["__module__"]["tree"]["args"] = [100_000, 100_000]
        return desc
    (tmp_path / "bomb.pt").write_bytes(_edit_state(_saved(nn.Linear(2, 3)), huge))
    with pytest.raises(CheckpointError, match=r"bomb\.pt: .*ask for about 10,000,000,000 "
                                              r"tensor elements .*holds 9"):
        zengrad.load(tmp_path / "bomb.pt")


# ----- a torch program, run unchanged on torch and on zengrad ------------------------------------

PROGRAM = '''
class Net(torch.nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc1 = torch.nn.Linear(4 * 6 * 6, hidden)
        self.fc2 = torch.nn.Linear(hidden, 3)

    def forward(self, x):
        x = torch.flatten(torch.relu(self.conv(x)), 1)
        return self.fc2(torch.relu(self.fc1(x)))


def run(weights, x, y, path):
    model = Net(hidden=16)
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.tensor(x), torch.tensor(y)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    torch.save({"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict()},
               path + ".ckpt")
    torch.save(model, path)
    ckpt = torch.load(path + ".ckpt", map_location="cpu", weights_only=True)
    resumed = Net(hidden=16)
    resumed.load_state_dict(ckpt["model"])
    opt2 = torch.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(ckpt["optimizer"])
    with torch.serialization.safe_globals([Net]):
        whole = torch.load(path, weights_only=False)
    whole.eval()
    with torch.no_grad():
        return (losses, ckpt["epoch"], model(x).numpy(), resumed(x).numpy(),
                whole(x).numpy())
'''


def _run_program(lib, weights: dict, x: np.ndarray, tmp_path):
    """PROGRAM run with `torch` bound to lib, from the given initial weights."""
    import types

    name = f"zg_io_port_{lib.__name__}"
    mod = types.ModuleType(name)
    mod.torch = lib
    sys.modules[name] = mod  # (torch's pickle finds Net by its module's name)
    try:
        exec(compile(PROGRAM, name, "exec"), mod.__dict__)
        return mod.run(weights, x, np.array([0, 1, 2, 1]), str(tmp_path / name))
    finally:
        del sys.modules[name]


def test_a_torch_program_saving_and_loading_runs_on_both(tmp_path):
    rng = np.random.default_rng(3)
    shapes = {"conv.weight": (4, 1, 3, 3), "conv.bias": (4,), "fc1.weight": (16, 144),
              "fc1.bias": (16,), "fc2.weight": (3, 16), "fc2.bias": (3,)}
    weights = {k: (rng.standard_normal(s) * 0.2).astype(np.float32) for k, s in shapes.items()}
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    ours = _run_program(zengrad, weights, x, tmp_path)
    theirs = _run_program(torch, weights, x, tmp_path)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    assert ours[1] == theirs[1] == 3
    for got, want in zip(ours[2:], theirs[2:]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ours[4], ours[2])  # the reloaded module is the saved one
    np.testing.assert_array_equal(ours[3], ours[2])


def test_plain_attributes_set_after_construction_are_restored():
    model = Net()
    model.dropout.p = 0.1
    model.class_names = ["cat", "dog"]
    model.input_shape = (1, 12, 12)
    model.callback = print  # not JSON-able: left to the constructor (here: absent)
    with safe_globals([Net]):
        back = zengrad.load(io.BytesIO(_saved(model)))
    assert back.dropout.p == 0.1
    assert back.class_names == ["cat", "dog"] and back.input_shape == (1, 12, 12)
    assert not hasattr(back, "callback")


@pytest.mark.parametrize("name", ["forward", "__class__", "_parameters", "training",
                                  "weight", "not an identifier"])
def test_attrs_may_not_set_methods_private_or_registered_names(name):
    def edit(desc):
        desc["__module__"]["tree"]["attrs"][name] = 1
        return desc
    data = _edit_state(_saved(nn.Linear(2, 2)), edit)
    with pytest.raises(CheckpointError, match="attrs may not set"):
        zengrad.load(io.BytesIO(data))


def test_attrs_may_not_hold_modules():
    def edit(desc):
        desc["__module__"]["tree"]["attrs"]["x"] = {"__submodule__": "0"}
        return desc
    data = _edit_state(_saved(nn.Sequential(nn.Linear(2, 2))), edit)
    with pytest.raises(CheckpointError, match="bad attribute value"):
        zengrad.load(io.BytesIO(data))


@pytest.mark.parametrize("via", ["path", "bytesio"])
def test_a_file_torch_save_wrote_is_refused_with_the_way_out(tmp_path, via):
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2).state_dict(), buf)
    (tmp_path / "torch.pt").write_bytes(buf.getvalue())
    src = tmp_path / "torch.pt" if via == "path" else io.BytesIO(buf.getvalue())
    with pytest.raises(SafetensorsFormatError, match="written by torch.save .*"
                                                     "safetensors.torch.save_file"):
        zengrad.load(src)


def test_weights_tied_after_construction_stay_tied():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    model[1].weight = model[0].weight  # (5, 4) both
    back = zengrad.load(io.BytesIO(_saved(model)))
    assert back[1].weight is back[0].weight
    np.testing.assert_array_equal(back[1].weight.data, model[0].weight.data)


def test_tied_pair_naming_no_parameter_is_refused():
    def edit(desc):
        desc["__module__"]["tied"] = [["weight", "nope"]]
        return desc
    with pytest.raises(CheckpointError, match="tied pair"):
        zengrad.load(io.BytesIO(_edit_state(_saved(nn.Linear(2, 2)), edit)))


def test_a_module_with_hooks_is_refused_at_save():
    model = nn.Sequential(nn.Linear(2, 2))
    handle = model[0].register_forward_hook(lambda m, a, out: out)
    with pytest.raises(TypeError, match=r"module at '0' .*has hooks registered"):
        zengrad.save(model, io.BytesIO())
    handle.remove()
    zengrad.save(model, io.BytesIO())
