"""ParameterList / ParameterDict against torch 2.13: registration, state_dict keys and order,
loading a torch state_dict, gradients through a model that uses them, the dict/list API."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.nn.parity import assert_module_parity
from zengrad import nn


def _arr(rng, *shape):
    return rng.standard_normal(shape)


class _ZgMixer(nn.Module):
    def __init__(self, arrays: dict) -> None:
        super().__init__()
        self.ws = nn.ParameterList([zg.tensor(arrays["w0"]), nn.Parameter(zg.tensor(arrays["w1"]))])
        self.bs = nn.ParameterDict({"b": zg.tensor(arrays["b"]), "a": zg.tensor(arrays["a"])})

    def forward(self, x):
        for w in self.ws:
            x = (x @ w).tanh()
        return x * self.bs["a"] + self.bs["b"]


class _TorchMixer(torch.nn.Module):
    def __init__(self, arrays: dict) -> None:
        super().__init__()
        t = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
        self.ws = torch.nn.ParameterList([t["w0"], torch.nn.Parameter(t["w1"])])
        self.bs = torch.nn.ParameterDict({"b": t["b"], "a": t["a"]})

    def forward(self, x):
        for w in self.ws:
            x = (x @ w).tanh()
        return x * self.bs["a"] + self.bs["b"]


def test_model_parity_and_state_dict(rng):
    arrays = {"w0": _arr(rng, 4, 5), "w1": _arr(rng, 5, 3), "b": _arr(rng, 3), "a": _arr(rng, 3)}
    zm, tm = _ZgMixer(arrays), _TorchMixer(arrays)
    # a plain dict is added sorted by key (torch's rule), so "a" comes before "b"
    assert list(zm.state_dict()) == list(tm.state_dict()) == ["ws.0", "ws.1", "bs.a", "bs.b"]
    assert [n for n, _ in zm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for p in zm.parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad
    zm.load_state_dict({k: np.zeros_like(v.numpy()) for k, v in zm.state_dict().items()})
    assert_module_parity(zm, tm, _arr(rng, 2, 4))  # copies torch's weights in, strictly


def test_parameter_list_api():
    pl = nn.ParameterList()
    assert len(pl) == 0 and list(pl) == []
    t = zg.ones(2)
    pl.append(t)
    assert isinstance(pl[0], nn.Parameter) and pl[0].array is t.array  # wrapped, data shared
    pl.extend([nn.Parameter(zg.zeros(3)), zg.zeros(1, 2)])
    pl += [zg.ones(4)]
    assert len(pl) == 4 and [tuple(p.shape) for p in pl] == [(2,), (3,), (1, 2), (4,)]
    assert pl[-1] is pl[3]
    sub = pl[1:3]
    assert isinstance(sub, nn.ParameterList) and list(sub) == [pl[1], pl[2]]
    assert list(sub.state_dict()) == ["0", "1"]
    new = nn.Parameter(zg.zeros(5))
    pl[0] = new
    assert pl[0] is new and list(pl.parameters())[0] is new
    pl.append("not a tensor")  # torch stores other objects as plain attributes
    assert pl[4] == "not a tensor" and len(list(pl.parameters())) == 4
    with pytest.raises(IndexError, match="out of range"):
        pl[7]
    with pytest.raises(TypeError, match="iterable"):
        pl.extend(zg.ones(3))
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(zg.ones(1))


def test_parameter_dict_api():
    pd = nn.ParameterDict(OrderedDict([("z", zg.ones(1)), ("y", zg.ones(2))]))
    assert list(pd) == ["z", "y"]  # an OrderedDict keeps its order
    pd.update([("x", zg.ones(3))])
    pd["w"] = nn.Parameter(zg.zeros(4))
    assert list(pd.keys()) == ["z", "y", "x", "w"] and list(reversed(pd)) == ["w", "x", "y", "z"]
    assert list(pd.state_dict()) == ["z", "y", "x", "w"]
    assert "x" in pd and "q" not in pd and len(pd) == 4
    assert pd.get("q") is None and pd.get("x") is pd["x"]
    p = pd.pop("y")
    assert p.shape == (2,) and "y" not in pd and "y" not in dict(pd.named_parameters())
    key, val = pd.popitem()
    assert key == "w" and val.shape == (4,)
    d = pd.setdefault("v", zg.zeros(2))
    assert isinstance(d, nn.Parameter) and pd["v"] is d
    c = pd.copy()
    assert list(c) == list(pd) and c["z"] is pd["z"]
    merged = pd | nn.ParameterDict({"u": zg.ones(1)})
    assert list(merged) == ["z", "x", "v", "u"] and "u" not in pd
    pd |= {"t": zg.ones(1)}
    assert list(pd) == ["z", "x", "v", "t"]
    f = pd.fromkeys(["a", "b"], zg.zeros(1))
    assert list(f) == ["a", "b"]
    del pd["z"]
    with pytest.raises(KeyError):
        pd["z"]
    with pytest.raises(AttributeError):  # torch's lookup error is an AttributeError
        pd["z"]
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = zg.ones(1)
    with pytest.raises(KeyError, match="contain"):
        pd["a.b"] = zg.ones(1)
    with pytest.raises(KeyError, match="clashes with an attribute"):
        pd["training"] = zg.ones(1)
    with pytest.raises(ValueError, match="length 3"):
        pd.update([("a", 1, 2)])
    pd.clear()
    assert len(pd) == 0 and list(pd.parameters()) == []


def test_repr_matches_torch():
    zl = nn.ParameterList([zg.ones(2, 3), zg.zeros(4)])
    tl = torch.nn.ParameterList([torch.ones(2, 3), torch.zeros(4)])
    assert repr(zl) == repr(tl).replace("torch.", "zengrad.")
    zd = nn.ParameterDict({"a": zg.ones(2), "b": zg.zeros(2, 1, dtype=zg.float64)})
    td = torch.nn.ParameterDict({"a": torch.ones(2), "b": torch.zeros(2, 1, dtype=torch.float64)})
    assert repr(zd) == repr(td).replace("torch.", "zengrad.")


def test_optimizer_steps_reach_container_parameters(rng):
    arrays = {"w0": _arr(rng, 4, 5), "w1": _arr(rng, 5, 3), "b": _arr(rng, 3), "a": _arr(rng, 3)}
    zm, tm = _ZgMixer(arrays), _TorchMixer(arrays)
    zo = zg.optim.SGD(zm.parameters(), lr=0.1)
    to = torch.optim.SGD(tm.parameters(), lr=0.1)
    x = _arr(rng, 6, 4)
    for _ in range(3):
        zo.zero_grad()
        to.zero_grad()
        zm(zg.tensor(x)).square().sum().backward()
        tm(torch.from_numpy(x)).square().sum().backward()
        zo.step()
        to.step()
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(zm.state_dict()[k].numpy(), v.numpy(), rtol=1e-10)
