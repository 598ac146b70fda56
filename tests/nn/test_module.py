"""Module: registration, traversal, modes, dtype casting, state_dict and repr (vs torch)."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import zengrad as zg
import zengrad.nn as nn


class ZgBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(zg.ones(4))
        self.register_buffer("running", zg.zeros(4))
        self.register_buffer("steps", zg.tensor(0))
        self.register_buffer("cache", zg.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale + self.running


class ThBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.scale = torch.nn.Parameter(torch.ones(4))
        self.register_buffer("running", torch.zeros(4))
        self.register_buffer("steps", torch.tensor(0))
        self.register_buffer("cache", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale + self.running


def make_pair():
    """The same nested model in zengrad and torch."""
    def build(lib, block):
        return lib.Sequential(
            lib.Linear(3, 4),
            lib.ReLU(),
            lib.ModuleList([block(), lib.Linear(4, 4), lib.Linear(4, 4), lib.Linear(4, 4)]),
            lib.ModuleDict({"head": lib.Linear(4, 2), "aux": lib.Sequential(lib.Tanh())}),
        )
    return build(nn, ZgBlock), build(torch.nn, ThBlock)


# ----- registration --------------------------------------------------------------------


def test_registration_and_reassignment():
    m = ZgBlock()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "steps", "cache"]
    assert list(m.named_children()) == [("fc", m.fc)]
    with pytest.raises(TypeError, match="parameter 'scale'"):
        m.scale = zg.ones(4)  # a plain tensor can't replace a parameter
    m.running = zg.full((4,), 2.0)  # a tensor assigned to a buffer name updates the buffer
    assert m._buffers["running"] is m.running
    m.scale = None
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias"]
    m.scale = nn.Parameter(zg.zeros(4))
    assert m.get_parameter("scale") is m.scale
    del m.fc
    assert list(m.named_children()) == [] and not hasattr(m, "fc")
    m.fc = 3  # an ordinary attribute now
    assert "fc" not in m._modules and "fc" not in m._parameters


def test_register_methods_validate():
    m = nn.Module()
    with pytest.raises(KeyError, match=r"\."):
        m.register_parameter("a.b", nn.Parameter(zg.ones(1)))
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("w", zg.ones(1))
    m.register_parameter("b", None)
    assert m.b is None and list(m.parameters()) == []
    m.plain = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", zg.ones(1))
    m.add_module("sub", nn.ReLU())
    assert m.get_submodule("sub") is m.sub


def test_assign_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(zg.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_shared_parameters_counted_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert m.num_parameters() == 12
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "0", "1"]
    m[0].bias.requires_grad_(False)
    assert m.num_parameters(trainable_only=True) == 9


def test_traversal_names_match_torch():
    zm, th = make_pair()
    assert [n for n, _ in zm.named_modules()] == [n for n, _ in th.named_modules()]
    assert [n for n, _ in zm.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert [n for n, _ in zm.named_buffers()] == [n for n, _ in th.named_buffers()]
    assert [n for n, _ in zm.named_children()] == [n for n, _ in th.named_children()]
    assert zm.num_parameters() == sum(p.numel() for p in th.parameters())


# ----- state_dict ----------------------------------------------------------------------


def test_state_dict_keys_equal_torch_and_share_data():
    zm, th = make_pair()
    sd = zm.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(th.state_dict())
    assert "2.0.cache" not in sd  # non-persistent buffer
    assert not sd["0.weight"].requires_grad and type(sd["0.weight"]) is zg.Tensor
    assert sd["0.weight"].array is zm[0].weight.array  # shares the array
    assert zm.state_dict(keep_vars=True)["0.weight"] is zm[0].weight


def test_load_torch_state_dict_gives_same_outputs(rng):
    zm, th = make_pair()
    zm.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    x = rng.standard_normal((5, 3)).astype(np.float32)

    def run(model, lib, x):
        h = model[1](model[0](x))
        for layer in model[2]:
            h = layer(h)
        return model[3]["aux"](model[3]["head"](h))

    with zg.no_grad():
        yz = run(zm, nn, zg.from_numpy(x))
    with torch.no_grad():
        yt = run(th, torch.nn, torch.from_numpy(x))
    np.testing.assert_allclose(yz.numpy(), yt.numpy(), rtol=1e-5, atol=1e-6)


def test_load_casts_in_place_and_accepts_tensors():
    m = nn.Linear(3, 2)
    w_array = m.weight.array
    new_w = np.arange(6, dtype=np.float64).reshape(2, 3)
    result = m.load_state_dict({"weight": new_w, "bias": zg.tensor([1.0, 2.0])})
    assert m.weight.array is w_array and m.weight.dtype == np.float32  # same array, cast
    np.testing.assert_array_equal(m.weight.array, new_w)
    np.testing.assert_array_equal(m.bias.array, [1.0, 2.0])
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_strict_load_lists_every_problem_in_one_error():
    m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    before = m[0].weight.array.copy()
    bad = {
        "0.weight": np.zeros((3, 4)),
        "0.bias": np.zeros(4),
        "1.weight": np.zeros((2, 4)),
        "extra.weight": np.zeros(1),
    }
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(bad)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "1.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert (
        "size mismatch for 0.weight: copying a param with shape (3, 4) from checkpoint, "
        "the shape in current model is (4, 4)." in msg
    )
    assert msg.index("Missing") < msg.index("Unexpected") < msg.index("size mismatch")
    np.testing.assert_array_equal(m[0].weight.array, before)  # nothing copied


def test_non_strict_load_returns_keys_but_size_mismatch_raises():
    m = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    res = m.load_state_dict(
        {"0.weight": np.ones((4, 4)), "0.bias": np.ones(4), "junk": np.ones(1)}, strict=False
    )
    assert res.missing_keys == ["1.weight", "1.bias"]
    assert res.unexpected_keys == ["junk"]
    assert res == (["1.weight", "1.bias"], ["junk"])
    np.testing.assert_array_equal(m[0].weight.array, 1.0)
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        m.load_state_dict({"0.bias": np.ones(5)}, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([("0.bias", np.ones(4))])


def test_state_dict_round_trip_with_buffers():
    a, b = ZgBlock(), ZgBlock()
    a.running.array[:] = 7.0
    a.steps.array[...] = 3
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.running.array, 7.0)
    assert b.steps.item() == 3 and b.steps.dtype == np.int64
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.array, q.array)


# ----- modes, grads, dtype ---------------------------------------------------------------


def test_train_eval_reach_every_module():
    zm, _ = make_pair()
    assert all(m.training for m in zm.modules())
    assert zm.eval() is zm
    assert not any(m.training for m in zm.modules())
    zm.train()
    assert all(m.training for m in zm.modules())
    with pytest.raises(ValueError):
        zm.train("no")


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(zg.randn(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is not None and not m.weight.grad.array.any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert not m(zg.randn(4, 3)).requires_grad


def test_apply_visits_children_first():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    order = []
    assert m.apply(lambda mod: order.append(type(mod).__name__)) is m
    assert order == ["Linear", "Linear", "Sequential", "Sequential"]

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.ones_(mod.weight)

    m.apply(init_weights)
    assert all((p.array == 1).all() for n, p in m.named_parameters() if n.endswith("weight"))


def test_to_dtype_keeps_parameter_objects():
    m = ZgBlock()
    params = list(m.parameters())
    m(zg.randn(2, 4)).sum().backward()
    assert m.double() is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert m.running.dtype == np.float64 and m.steps.dtype == np.int64  # ints untouched
    assert m(zg.randn(2, 4, dtype=zg.float64)).dtype == np.float64
    m.to(zg.float32)
    assert m.fc.weight.dtype == np.float32
    m.to("cpu")
    with pytest.raises(RuntimeError, match="cuda"):
        m.to("cuda")
    with pytest.raises(TypeError, match="floating"):
        m.to(zg.int64)


def test_forward_hooks_and_removal():
    m = nn.Linear(2, 2)
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: seen.append(out.shape) or out + 1)
    y = m(zg.ones(3, 2))
    np.testing.assert_allclose(y.array, np.broadcast_to(m.bias.array + 1, (3, 2)), rtol=1e-6)
    assert seen == [(3, 2)]
    h1.remove()
    h2.remove()
    np.testing.assert_allclose(m(zg.ones(1, 2)).array, m.weight.array.sum(1)[None] + m.bias.array)


def test_deepcopy_is_independent():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight and isinstance(c[0].weight, nn.Parameter)
    assert c[0].weight is c._modules["0"]._parameters["weight"]
    np.testing.assert_array_equal(c[0].weight.array, m[0].weight.array)
    with zg.no_grad():
        c[0].weight.fill_(5.0)
    assert not (m[0].weight.array == 5.0).any()


def test_missing_forward():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# ----- repr --------------------------------------------------------------------------------


def test_repr_matches_torch():
    zm, th = make_pair()
    assert repr(zm).replace("ZgBlock", "ThBlock") == repr(th)
    assert repr(nn.Parameter(zg.tensor([1.0, 2.0]))) == (
        "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    )
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    assert repr(nn.Linear(2, 3, bias=False)) == repr(torch.nn.Linear(2, 3, bias=False))


# ----- containers --------------------------------------------------------------------------


def test_sequential_container_ops_match_torch():
    zs = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    ts = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU(), torch.nn.Tanh(),
                             torch.nn.Sigmoid())
    assert len(zs) == 4 and isinstance(zs[-1], nn.Sigmoid) and isinstance(zs[1], nn.ReLU)
    sub = zs[1:3]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == list(ts[1:3]._modules)
    assert [type(m).__name__ for m in zs] == [type(m).__name__ for m in ts]
    del zs[1]
    del ts[1]
    assert list(zs._modules) == list(ts._modules)
    zs.append(nn.ReLU())
    ts.append(torch.nn.ReLU())
    zs.insert(1, nn.Identity())
    ts.insert(1, torch.nn.Identity())
    assert repr(zs) == repr(ts)
    zs[0] = nn.Tanh()
    assert isinstance(zs[0], nn.Tanh)
    with pytest.raises(IndexError):
        zs[10]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.act is named[1]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), 3)


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml += [nn.Tanh()]
    assert isinstance(ml[-1], nn.Tanh) and len(ml) == 5
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and len(ml) == 5

    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    assert isinstance(md.pop("b"), nn.ReLU) and list(md.keys()) == ["a", "c"]
    md.clear()
    assert len(md) == 0


def test_load_refuses_strings_objects_and_complex_before_copying_anything():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    before = {k: v.array.copy() for k, v in m.state_dict().items()}
    good = {k: np.ones_like(v) for k, v in before.items()}
    for key, value, text in [
        ("1.bias", np.array(["1.5", "2"]), "wrong type for 1.bias: got dtype <U3"),
        ("1.bias", ["1.5", "2"], "wrong type for 1.bias: got dtype <U3 (list)"),
        ("1.bias", np.array([None, 1.0]), "wrong type for 1.bias: got dtype object"),
        ("1.bias", np.ones(2, np.complex64), "complex values (complex64) can't go into"),
    ]:
        for strict in (True, False):
            with pytest.raises(RuntimeError) as err:
                m.load_state_dict({**good, key: value}, strict=strict)
            assert text in str(err.value), str(err.value)
            for k, v in m.state_dict().items():  # 0.weight etc. were not overwritten
                np.testing.assert_array_equal(v.array, before[k], err_msg=k)
    # every problem in one error
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict({**good, "0.bias": "x", "1.bias": np.ones(3)})
    assert "wrong type for 0.bias" in str(err.value)
    assert "size mismatch for 1.bias" in str(err.value)
    # numbers and booleans of any real dtype are cast, as torch does
    m.load_state_dict({**good, "0.weight": np.ones((2, 3), np.int64),
                       "1.bias": np.array([True, False])})
    np.testing.assert_array_equal(m[1].bias.array, [1.0, 0.0])
