"""Adadelta and LBFGS against torch.optim, step by step in float64; state_dicts; bad input.

Adadelta: the tanh MLP of optim_helpers, 50 steps, each side with its own gradients.
LBFGS: a Rosenbrock function and a polynomial least-squares fit (two parameters, one 2-D,
plus one that never gets a gradient), each step(closure) of up to max_iter iterations
compared with torch's: the same iterates (relative 1e-9; <= 7e-11 seen), the same numbers
of closure calls and iterations, the same returned losses. The cases are ones where torch
agrees with itself: on Rosenbrock with a large lr and history_size=1, torch started from x0
nudged by one ulp drifts 1e-2 away from torch within 5 steps, and so does zengrad.
"""

import json

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.optim.optim_helpers import (
    batch,
    dataset,
    init_weights,
    step_both,
    step_both_with_zg_grads,
    torch_backward,
    torch_params,
    train_zg,
    zg_params,
)
from zengrad import optim


def _rel(z, t):
    """max |z - t| / max(|t|, 1e-3): relative, without blowing up at entries near 0."""
    t = t.detach().numpy()
    return float(np.max(np.abs(z.array - t) / np.maximum(np.abs(t), 1e-3)))


# ----------------------------------------------------------------------------- Adadelta
ADADELTA = [
    {},
    {"lr": 0.5, "rho": 0.5},
    {"rho": 0.99, "eps": 1e-3},
    {"weight_decay": 0.1},
    {"maximize": True},
    {"lr": 2.0, "rho": 0.7, "eps": 1e-4, "weight_decay": 0.05, "maximize": True},
    {"rho": 0.0},
    {"rho": 1.0},
]


@pytest.mark.parametrize("kwargs", ADADELTA, ids=[str(k) for k in ADADELTA])
def test_adadelta_float64_matches_torch_every_step(kwargs):
    weights, data = init_weights(0, np.float64), dataset(0, np.float64)
    zp, tp = zg_params(weights), torch_params(weights)
    zopt, topt = optim.Adadelta(zp, **kwargs), torch.optim.Adadelta(tp, **kwargs)
    worst = 0.0
    for step in range(50):
        step_both(zopt, topt, zp, tp, data, step)
        for z, t in zip(zp, tp):
            worst = max(worst, _rel(z, t))
    print(f"Adadelta {kwargs}: worst relative error {worst:.1e}")
    assert worst < 1e-10, worst
    moved = max(float(np.abs(z.array - weights[k]).max()) for z, k in zip(zp, weights))
    assert moved > 1e-3 or kwargs.get("rho") == 1.0  # rho=1: acc_delta stays 0, tiny steps


def test_adadelta_float32_same_gradients_and_state():
    weights, data = init_weights(1, np.float32), dataset(1, np.float32)
    zp, tp = zg_params(weights), torch_params(weights)
    kw = {"lr": 1.0, "rho": 0.8, "weight_decay": 0.01}
    zopt, topt = optim.Adadelta(zp, **kw), torch.optim.Adadelta(tp, **kw)
    for step in range(30):
        step_both_with_zg_grads(zopt, topt, zp, tp, data, step)
        for z, t in zip(zp, tp):
            assert z.array.dtype == np.float32
            np.testing.assert_allclose(z.array, t.detach().numpy(), rtol=2e-5, atol=2e-6)
    zs, ts = zopt.state_dict(), topt.state_dict()
    assert set(zs["state"][0]) == set(ts["state"][0]) == {"step", "square_avg", "acc_delta"}
    assert set(zs["param_groups"][0]) == set(ts["param_groups"][0])
    assert zs["state"][0]["step"] == float(ts["state"][0]["step"]) == 30
    for k in ("square_avg", "acc_delta"):
        assert zs["state"][0][k].dtype == np.float32
        np.testing.assert_allclose(zs["state"][0][k], ts["state"][0][k].numpy(), rtol=1e-4)


def test_adadelta_resume_is_bitwise_and_loads_torch_state():
    weights, data = init_weights(4, np.float64), dataset(4, np.float64)
    ref = zg_params(weights)
    train_zg(optim.Adadelta(ref, rho=0.8), ref, data, range(20))
    first = zg_params(weights)
    opt = optim.Adadelta(first, rho=0.8)
    train_zg(opt, first, data, range(10))
    resumed = [zg.tensor(p.array.copy()).requires_grad_() for p in first]
    opt2 = optim.Adadelta(resumed, rho=0.3)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["rho"] == 0.8
    train_zg(opt2, resumed, data, range(10, 20))
    for a, b in zip(ref, resumed):
        assert np.array_equal(a.array, b.array)

    # a torch Adadelta's state_dict (tensors made NumPy) continues as torch does
    tp = torch_params(weights)
    topt = torch.optim.Adadelta(tp, rho=0.8)
    for step in range(5):
        topt.zero_grad()
        torch_backward(tp, *batch(data, step))
        topt.step()
    tsd = topt.state_dict()
    converted = {
        "state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    }
    zp = [zg.tensor(t.detach().numpy().copy()).requires_grad_() for t in tp]
    zopt = optim.Adadelta(zp)
    zopt.load_state_dict(converted)
    for step in range(5, 10):
        step_both(zopt, topt, zp, tp, data, step)
    for z, t in zip(zp, tp):
        np.testing.assert_allclose(z.array, t.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"lr": -1.0}, "learning rate.*-1.0"),
        ({"rho": 1.5}, "rho.*1.5"),
        ({"rho": float("nan")}, "rho.*nan"),
        ({"eps": -1e-6}, "epsilon"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"capturable": True}, "capturable=True is not supported"),
        ({"differentiable": True}, "differentiable=True is not supported"),
    ],
)
def test_adadelta_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optim.Adadelta([zg.randn(3, requires_grad=True)], **kwargs)


def test_adadelta_step_leaves_grad_and_unused_params_alone():
    p, q = zg.randn(4, requires_grad=True), zg.ones(2, requires_grad=True)
    p.grad = zg.randn(4)
    before = p.grad.array.copy()
    opt = optim.Adadelta([p, q], weight_decay=0.1, maximize=True)
    opt.step()
    assert np.array_equal(p.grad.array, before)
    assert q not in opt.state and np.array_equal(q.array, np.ones(2, dtype=np.float32))


# ----------------------------------------------------------------------------- LBFGS
def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


class Rosenbrock:
    """f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 from x = linspace(-1.2, 1, 6)."""

    def __init__(self, lib, dtype=np.float64):
        x0 = np.linspace(-1.2, 1.0, 6).astype(dtype)
        self.lib = lib
        self.params = [lib.tensor(x0.copy()).requires_grad_()]

    def loss(self):
        return _rosenbrock(self.params[0])


class PolyFit:
    """mean((X w + b - y)^2): X the powers 1..4 of 40 points, w a (4, 1) column, b (1,);
    an extra parameter `unused` gets no gradient (its flat-gradient block stays 0)."""

    def __init__(self, lib, dtype=np.float64):
        rng = np.random.default_rng(5)
        t = np.linspace(-1, 1, 40)
        self.X = np.stack([t, t**2, t**3, t**4], axis=1).astype(dtype)
        self.y = (np.sin(2.5 * t) + 0.1 * rng.standard_normal(40)).astype(dtype)[:, None]
        w0 = (0.3 * rng.standard_normal((4, 1))).astype(dtype)
        self.lib = lib
        self.params = [lib.tensor(w0.copy()).requires_grad_(),
                       lib.tensor(np.zeros(1, dtype)).requires_grad_(),
                       lib.tensor(np.ones(3, dtype)).requires_grad_()]

    def loss(self):
        w, b, _ = self.params
        pred = self.lib.tensor(self.X) @ w + b
        return ((pred - self.lib.tensor(self.y)) ** 2).mean()


LBFGS_CASES = [
    ("rosenbrock", {"line_search_fn": "strong_wolfe"}),
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 7}),
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "lr": 0.7, "max_eval": 12,
                    "tolerance_change": 1e-6}),
    ("rosenbrock", {"lr": 0.1}),
    ("rosenbrock", {"lr": 0.2, "history_size": 5, "max_iter": 5}),
    ("polyfit", {}),
    ("polyfit", {"line_search_fn": "strong_wolfe"}),
    ("polyfit", {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 4,
                 "tolerance_grad": 1e-4}),
    ("polyfit", {"lr": 0.5, "max_iter": 3, "history_size": 1}),
    # the line search's other paths (each seen taken): extrapolation past a too-short
    # first step, running out of evaluations, a bracket too small to split, and the
    # early stops on a tiny step (max|t d|) and on a tiny loss change
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "lr": 0.01}),
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "max_iter": 1}),
    ("rosenbrock", {"lr": 0.1, "tolerance_change": 1e-2}),
    ("polyfit", {"line_search_fn": "strong_wolfe", "lr": 0.001, "max_eval": 4}),
    ("polyfit", {"line_search_fn": "strong_wolfe", "tolerance_grad": 0, "tolerance_change": 0,
                 "max_iter": 40}),
    ("polyfit", {"line_search_fn": "strong_wolfe", "tolerance_change": 1e-3}),
]
PROBLEMS = {"rosenbrock": Rosenbrock, "polyfit": PolyFit}


def _pair(problem, kwargs, dtype=np.float64):
    zm, tm = PROBLEMS[problem](zg, dtype), PROBLEMS[problem](torch, dtype)
    zopt, topt = optim.LBFGS(zm.params, **kwargs), torch.optim.LBFGS(tm.params, **kwargs)

    def closure(model, opt):
        def run():
            opt.zero_grad()
            loss = model.loss()
            loss.backward()
            return loss
        return run

    return zm, tm, zopt, topt, closure(zm, zopt), closure(tm, topt)


@pytest.mark.parametrize("problem,kwargs", LBFGS_CASES,
                         ids=[f"{p}-{k}" for p, k in LBFGS_CASES])
def test_lbfgs_float64_matches_torch_step_by_step(problem, kwargs):
    zm, tm, zopt, topt, zc, tc = _pair(problem, kwargs)
    first = tc().item()
    worst = 0.0
    for step in range(6):
        zl, tl = zopt.step(zc), topt.step(tc)
        assert isinstance(zl, zg.Tensor)  # the closure's own return value, as torch
        assert abs(zl.item() - tl.item()) <= 1e-9 * abs(tl.item()) + 1e-15, step
        zs, ts = zopt.state[zm.params[0]], topt.state[tm.params[0]]
        assert (zs["func_evals"], zs["n_iter"]) == (ts["func_evals"], ts["n_iter"]), step
        assert len(zs["old_dirs"]) == len(ts["old_dirs"])
        for z, t in zip(zm.params, tm.params):
            worst = max(worst, _rel(z, t))
    print(f"LBFGS {problem} {kwargs}: worst relative error {worst:.1e}")
    assert worst < 1e-9, worst
    assert tc().item() < 0.9 * first  # it really optimized
    if problem == "polyfit":
        assert np.array_equal(zm.params[2].array, np.ones(3))  # no gradient: never moved


def _wiggle(x):
    return (x * x).sum() + 0.5 * (x * 20).sin().sum()


@pytest.mark.parametrize("t0", [0.1, 1.0, 3.0, 10.0, 100.0])
@pytest.mark.parametrize("x0", [[0.3], [-2.0], [3.0], [0.1, -1.3]])
def test_strong_wolfe_line_search_matches_torch(x0, t0):
    """One line search along -g on a wiggly function, against torch's _strong_wolfe with
    the same start: the same chosen t, f and number of evaluations (x0=[3] with t=1 takes
    the zoom's 'insufficient progress' move away from a bracket end)."""
    from torch.optim.lbfgs import _strong_wolfe

    zx = zg.tensor(np.array(x0)).requires_grad_()
    tx = torch.tensor(np.array(x0)).requires_grad_()
    zopt, topt = optim.LBFGS([zx]), torch.optim.LBFGS([tx])

    def zc():
        zopt.zero_grad()
        loss = _wiggle(zx)
        loss.backward()
        return loss

    def tc():
        with torch.enable_grad():
            topt.zero_grad()
            loss = _wiggle(tx)
            loss.backward()
        return loss

    with torch.no_grad():
        tf = float(tc())
        tg = topt._gather_flat_grad()
        tf_new, _, tt, tevals = _strong_wolfe(
            lambda x, t, d: topt._directional_evaluate(tc, x, t, d),
            topt._clone_param(), t0, -tg, tf, tg, tg.dot(-tg))
    zf = zc().item()
    g = zopt._gather_flat_grad(zopt._buf("flat")).copy()
    zf_new, _, zt, zevals = zopt._strong_wolfe(
        zc, zopt._clone_param(zopt._buf("x_init")), t0, -g, zf, g, np.dot(g, -g))
    assert zevals == tevals
    assert abs(zt - float(tt)) <= 1e-10 * abs(float(tt))
    assert abs(zf_new - tf_new) <= 1e-10 * abs(tf_new) + 1e-15
    assert np.array_equal(zx.array, np.array(x0))  # the search puts x back


def test_lbfgs_float32_follows_torch():
    zm, tm, zopt, topt, zc, tc = _pair("polyfit", {"line_search_fn": "strong_wolfe"},
                                       np.float32)
    for _ in range(3):
        zopt.step(zc)
        topt.step(tc)
    for z, t in zip(zm.params, tm.params):
        assert z.array.dtype == np.float32
        np.testing.assert_allclose(z.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert zopt.state[zm.params[0]]["func_evals"] == topt.state[tm.params[0]]["func_evals"]
    st = zopt.state[zm.params[0]]
    assert st["d"].dtype == np.float32 and all(a.dtype == np.float32 for a in st["old_dirs"])


def test_lbfgs_stops_at_once_when_the_gradient_is_zero():
    x = zg.ones(3, dtype=zg.float64, requires_grad=True)
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}


@pytest.mark.parametrize("through_json", [False, True])
def test_lbfgs_state_dict_layout_and_bitwise_resume(through_json):
    kwargs = {"line_search_fn": "strong_wolfe", "history_size": 4, "max_iter": 5}
    ref, _, ropt, topt, rc, tc = _pair("rosenbrock", kwargs)
    for _ in range(4):
        ropt.step(rc)
        topt.step(tc)
    zsd, tsd = ropt.state_dict(), topt.state_dict()
    assert set(zsd["state"]) == set(tsd["state"]) == {0}
    assert set(zsd["state"][0]) == set(tsd["state"][0])
    assert set(zsd["param_groups"][0]) == set(tsd["param_groups"][0])
    assert zsd["param_groups"][0]["max_eval"] == tsd["param_groups"][0]["max_eval"] == 6

    # 2 steps, save, 2 more in a fresh optimizer == 4 uninterrupted steps
    run, _, opt, _, c, _ = _pair("rosenbrock", kwargs)
    for _ in range(2):
        opt.step(c)
    saved, x2 = opt.state_dict(), run.params[0].array.copy()
    if through_json:
        saved = json.loads(json.dumps(saved, default=_jsonable), object_hook=_unjson)
    opt.step(c)  # a later step must not change what was saved
    fresh = Rosenbrock(zg)
    fresh.params[0].array[...] = x2
    opt2 = optim.LBFGS(fresh.params, history_size=9)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["history_size"] == 4

    def c2():
        opt2.zero_grad()
        loss = fresh.loss()
        loss.backward()
        return loss

    for _ in range(2):
        opt2.step(c2)
    assert np.array_equal(fresh.params[0].array, ref.params[0].array)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return {"array": v.tolist()}
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v))


def _unjson(d):
    if set(d) == {"array"}:
        return np.array(d["array"])
    return d


def _numpy(v):
    if isinstance(v, torch.Tensor):
        return v.detach().numpy().copy()
    if isinstance(v, list):
        return [_numpy(a) for a in v]
    return v


def test_lbfgs_continues_from_a_torch_state_dict():
    """torch's LBFGS state (tensors made NumPy: 0-d ro/H_diag, lists, None in 'al') loads
    and zengrad then continues exactly as torch does."""
    kwargs = {"line_search_fn": "strong_wolfe", "history_size": 3}
    zm, tm, zopt, topt, zc, tc = _pair("rosenbrock", kwargs)
    for _ in range(2):
        topt.step(tc)
    tsd = topt.state_dict()
    zm.params[0].array[...] = tm.params[0].detach().numpy()
    zopt.load_state_dict({
        "state": {k: {n: _numpy(v) for n, v in s.items()} for k, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    })
    for _ in range(3):
        zopt.step(zc)
        topt.step(tc)
        assert zopt.state[zm.params[0]]["func_evals"] == topt.state[tm.params[0]]["func_evals"]
        assert _rel(zm.params[0], tm.params[0]) < 1e-12


def test_lbfgs_state_survives_a_checkpoint_file(tmp_path):
    from zengrad.io import load_checkpoint, save_checkpoint

    m, _, opt, _, c, _ = _pair("polyfit", {"line_search_fn": "strong_wolfe", "max_iter": 3})
    opt.step(c)
    save_checkpoint({"opt": opt.state_dict()}, tmp_path / "ck.safetensors")
    x = [p.array.copy() for p in m.params]
    opt.step(c)
    after = [p.array.copy() for p in m.params]
    for p, v in zip(m.params, x):
        p.array[...] = v
    opt2 = optim.LBFGS(m.params, line_search_fn="strong_wolfe", max_iter=3)
    opt2.load_state_dict(load_checkpoint(tmp_path / "ck.safetensors")["opt"])
    opt2.step(c)
    for p, v in zip(m.params, after):
        assert np.array_equal(p.array, v)


def test_lbfgs_load_state_dict_reports_problems_and_changes_nothing():
    m, _, opt, _, c, _ = _pair("polyfit", {"history_size": 2})
    opt.step(c)
    good = opt.state_dict()
    bad = {"state": {0: dict(good["state"][0], d=np.zeros(3), old_dirs="x", bogus=1)},
           "param_groups": good["param_groups"]}
    before = opt.state
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(bad)
    msg = str(err.value)
    assert "'d'" in msg and "shape (3,)" in msg and "'old_dirs'" in msg and "'bogus'" in msg
    assert opt.state is before
    too_long = {"state": {0: dict(good["state"][0], old_dirs=[np.zeros(8)] * 3,
                                  old_stps=[np.zeros(8)] * 3, ro=[1.0] * 3)},
                "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match="more than history_size 2"):
        opt.load_state_dict(too_long)


def test_lbfgs_validation():
    def p():
        return zg.randn(3, requires_grad=True)

    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p()]}, {"params": [p()]}])
    opt = optim.LBFGS([p()])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [p()]})
    for kwargs, match in [
        ({"lr": -1.0}, "learning rate"),
        ({"max_iter": 0}, "max_iter.*positive integer"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"max_eval": 0}, "max_eval"),
        ({"history_size": 0}, "history_size"),
        ({"tolerance_grad": -1.0}, "tolerance_grad"),
        ({"tolerance_change": float("nan")}, "tolerance_change"),
        ({"line_search_fn": "armijo"}, "strong_wolfe"),
    ]:
        with pytest.raises(ValueError, match=match):
            optim.LBFGS([p()], **kwargs)
    with pytest.raises(TypeError, match="one dtype"):
        optim.LBFGS([p(), zg.randn(2, dtype=zg.float64, requires_grad=True)])
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()
    x = opt.param_groups[0]["params"][0]

    def no_loss():
        (x * x).sum().backward()

    with pytest.raises(TypeError, match="must return the loss"):
        opt.step(no_loss)
    x.array = np.zeros(5, dtype=np.float32)
    with pytest.raises(ValueError, match="params\\[0\\] now has shape \\(5,\\)"):
        opt.step(lambda: 0.0)


def test_lbfgs_under_no_grad_runs_the_closure_with_grad():
    m, _, opt, _, c, _ = _pair("polyfit", {"max_iter": 3})
    with zg.no_grad():
        opt.step(c)
    assert opt.state[m.params[0]]["func_evals"] == 3
