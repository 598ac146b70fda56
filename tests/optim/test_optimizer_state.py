"""state_dict / load_state_dict: plain data, exact resume, interchange with torch's layout."""

import json

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.optim.optim_helpers import (
    batch,
    dataset,
    init_weights,
    torch_backward,
    torch_params,
    train_zg,
    zg_params,
)
from zengrad import optim

CONFIGS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
]


def _plain(obj) -> bool:
    """Only numbers, strings, bools, None, NumPy arrays, lists/tuples and dicts."""
    if isinstance(obj, dict):
        return all(isinstance(k, (int, str)) and _plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_plain(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str, np.ndarray))


def _to_json(obj):
    if isinstance(obj, dict):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"array": obj.tolist(), "dtype": str(obj.dtype)}
    return obj


def _from_json(obj):
    if isinstance(obj, dict):
        if set(obj) == {"array", "dtype"}:
            return np.array(obj["array"], dtype=obj["dtype"])
        return {(int(k) if k.isdigit() else k): _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("through_json", [False, True])
def test_resume_is_bitwise_identical(name, kwargs, through_json):
    weights = init_weights(4, np.float32)
    data = dataset(4, np.float32)
    # uninterrupted 20 steps
    ref = zg_params(weights)
    train_zg(getattr(optim, name)(ref, **kwargs), ref, data, range(20))

    # 10 steps, checkpoint, fresh optimizer + copied weights, 10 more
    first = zg_params(weights)
    opt = getattr(optim, name)(first, **kwargs)
    train_zg(opt, first, data, range(10))
    saved = opt.state_dict()
    assert _plain(saved)
    if through_json:
        saved = _from_json(json.loads(json.dumps(_to_json(saved))))
    resumed = [zg.tensor(p.array.copy()).requires_grad_() for p in first]
    other = dict(kwargs, lr=123.0)  # hyperparameters come back from the checkpoint
    opt2 = getattr(optim, name)(resumed, **other)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    train_zg(opt2, resumed, data, range(10, 20))
    for a, b in zip(ref, resumed):
        assert np.array_equal(a.array, b.array)
    if name in ("Adam", "AdamW"):
        assert isinstance(opt2.param_groups[0]["betas"], tuple)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_state_dict_layout_matches_torch_and_is_a_copy(name, kwargs):
    weights = init_weights(5, np.float64)
    data = dataset(5, np.float64)
    zp, tp = zg_params(weights), torch_params(weights)
    zopt = getattr(optim, name)([{"params": zp[:1]}, {"params": zp[1:], "lr": 0.002}], **kwargs)
    topt = getattr(torch.optim, name)([{"params": tp[:1]}, {"params": tp[1:], "lr": 0.002}],
                                      **kwargs)
    train_zg(zopt, zp, data, range(3))
    for step in range(3):
        topt.zero_grad()
        torch_backward(tp, *batch(data, step))
        topt.step()
    zs, ts = zopt.state_dict(), topt.state_dict()
    assert [g["params"] for g in zs["param_groups"]] == [[0], [1, 2, 3]]
    assert [g["params"] for g in zs["param_groups"]] == [g["params"] for g in ts["param_groups"]]
    for zg_group, t_group in zip(zs["param_groups"], ts["param_groups"]):
        for key, value in zg_group.items():
            assert t_group[key] == value, key  # our keys are a subset of torch's, same values
    assert sorted(zs["state"]) == sorted(ts["state"])
    for i in zs["state"]:
        assert set(zs["state"][i]) == set(ts["state"][i])
        for key, value in zs["state"][i].items():
            np.testing.assert_allclose(value, ts["state"][i][key].numpy(), rtol=1e-9, atol=1e-12)
    # the saved arrays are copies: stepping on doesn't change them
    snapshot = {
        i: {k: np.array(v, copy=True) for k, v in s.items()} for i, s in zs["state"].items()
    }
    train_zg(zopt, zp, data, range(3, 5))
    for i, s in zs["state"].items():
        for k, v in s.items():
            assert np.array_equal(v, snapshot[i][k])


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_load_torch_state_dict_and_continue_in_parity(name, kwargs):
    """A torch optimizer's state_dict, as NumPy, resumes the same trajectory in zengrad."""
    weights = init_weights(6, np.float64)
    data = dataset(6, np.float64)
    tp = torch_params(weights)
    topt = getattr(torch.optim, name)(tp, **kwargs)
    for step in range(20):
        topt.zero_grad()
        torch_backward(tp, *batch(data, step))
        topt.step()
        if step == 9:
            ts = topt.state_dict()
            saved = {
                "state": {i: {k: v.numpy().copy() for k, v in s.items()}
                          for i, s in ts["state"].items()},
                "param_groups": [dict(g) for g in ts["param_groups"]],
            }
            zp = [zg.tensor(p.detach().numpy().copy()).requires_grad_() for p in tp]
    zopt = getattr(optim, name)(zp, **kwargs)
    zopt.load_state_dict(saved)
    train_zg(zopt, zp, data, range(10, 20))
    for z, t in zip(zp, tp):
        np.testing.assert_allclose(z.array, t.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_load_state_dict_rejects_mismatched_groups():
    a, b = zg.randn(2, requires_grad=True), zg.randn(3, requires_grad=True)
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)


def test_load_state_dict_rejects_wrong_state_shape():
    a = zg.randn(2, requires_grad=True)
    opt = optim.Adam([a])
    a.grad = zg.ones(2)
    opt.step()
    saved = opt.state_dict()
    b = zg.randn(4, requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(4,\)"):
        optim.Adam([b]).load_state_dict(saved)
