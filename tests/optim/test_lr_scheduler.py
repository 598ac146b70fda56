"""LR schedules against torch.optim.lr_scheduler: the same lr sequence (rtol 1e-12) over 100
steps, two param groups with different lrs; momentum cycling; state_dict round trips."""

import math

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad import optim
from zengrad.optim import lr_scheduler as zsched

TS = torch.optim.lr_scheduler
STEPS = 100


def _optimizers(kind="SGD", **kwargs):
    zp = [zg.zeros(2, requires_grad=True), zg.zeros(3, requires_grad=True)]
    tp = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    kwargs = {"lr": 0.1, **kwargs}

    def groups(p):
        return [{"params": [p[0]]}, {"params": [p[1]], "lr": 0.03}]

    return (getattr(optim, kind)(groups(zp), **kwargs),
            getattr(torch.optim, kind)(groups(tp), **kwargs))


def _lambda(epoch):
    return 0.95**epoch + 0.1 * math.sin(epoch)


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[10, 30, 30, 75], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=13, eta_min=0.002),
    "CosineAnnealingLR-no-min": lambda m, o: m.CosineAnnealingLR(o, T_max=20),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=40),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05,
                                              total_iters=60),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=12),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=70, power=2.0),
    "LambdaLR": lambda m, o: m.LambdaLR(o, _lambda),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [_lambda, lambda e: 1 / (1 + e)]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.99),
    "SequentialLR-warmup-cosine": lambda m, o: m.SequentialLR(
        o,
        [m.LinearLR(o, start_factor=0.01, total_iters=10),
         m.CosineAnnealingLR(o, T_max=30, eta_min=1e-4)],
        milestones=[10],
    ),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o,
        [m.ConstantLR(o, factor=0.5, total_iters=5), m.ExponentialLR(o, gamma=0.9),
         m.StepLR(o, step_size=10, gamma=0.5)],
        milestones=[8, 40],
    ),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.95)]
    ),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.4], total_steps=STEPS + 1),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.8, epochs=11, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=100.0, base_momentum=0.8,
        max_momentum=0.93,
    ),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(
        o, max_lr=0.5, total_steps=STEPS, pct_start=0.4, cycle_momentum=False
    ),
}


def _assert_same(zopt, topt, zs, ts, where):
    z_lrs, t_lrs = zs.get_last_lr(), ts.get_last_lr()
    np.testing.assert_allclose(z_lrs, t_lrs, rtol=1e-12, atol=0, err_msg=where)
    for zg_group, t_group in zip(zopt.param_groups, topt.param_groups):
        np.testing.assert_allclose(zg_group["lr"], t_group["lr"], rtol=1e-12, err_msg=where)
        for key in ("momentum", "betas"):
            if key in zg_group:
                np.testing.assert_allclose(zg_group[key], t_group[key], rtol=1e-12,
                                           err_msg=f"{key} at {where}")


# the optimizer kind only matters where OneCycleLR cycles momentum (SGD) or beta1 (Adam)
RUNS = [(n, "SGD") for n in SCHEDULES] + [(n, "Adam") for n in SCHEDULES if "OneCycle" in n]


@pytest.mark.parametrize("name,kind", RUNS)
def test_lr_sequence_matches_torch(name, kind):
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    zopt, topt = _optimizers(kind, **extra)
    zs, ts = SCHEDULES[name](zsched, zopt), SCHEDULES[name](TS, topt)
    _assert_same(zopt, topt, zs, ts, "init")
    seen = set()
    steps = STEPS - 1 if name == "OneCycleLR-no-momentum" else STEPS
    for i in range(steps):
        topt.step()
        ts.step()
        zs.step()
        _assert_same(zopt, topt, zs, ts, f"step {i}")
        seen.add(round(zs.get_last_lr()[0], 12))
    assert len(seen) > 1 or name == "ConstantLR"  # the schedule really changed the lr
    assert [g["initial_lr"] for g in zopt.param_groups] == [
        g["initial_lr"] for g in topt.param_groups
    ]


def test_cosine_annealing_follows_the_closed_form_over_periods():
    zopt, _ = _optimizers()
    sched = zsched.CosineAnnealingLR(zopt, T_max=10, eta_min=0.01)
    for t in range(1, 45):
        sched.step()
        expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2
        assert abs(sched.get_last_lr()[0] - expected) < 1e-12


def test_onecycle_raises_past_total_steps():
    zopt, _ = _optimizers()
    sched = zsched.OneCycleLR(zopt, max_lr=1.0, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 6 times"):
        sched.step()


METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89999, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.69,
           0.69, 0.69, 0.69, 0.69, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2},
        {"patience": 1, "cooldown": 2, "factor": 0.5},
        {"mode": "max", "patience": 1, "threshold": 0.05},
        {"patience": 0, "threshold_mode": "abs", "threshold": 0.02, "min_lr": [0.02, 0.001]},
        {"patience": 0, "min_lr": 0.009, "eps": 1e-3},
        {"mode": "max", "threshold_mode": "abs", "patience": 2, "cooldown": 1},
    ],
)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    zopt, topt = _optimizers()
    zs, ts = zsched.ReduceLROnPlateau(zopt, **kwargs), TS.ReduceLROnPlateau(topt, **kwargs)
    metrics = METRICS * 3 + list(np.linspace(1, 0, 20))
    lrs = set()
    for i, m in enumerate(metrics):
        topt.step()
        ts.step(m)
        zs.step(zg.tensor(m, dtype=zg.float64) if i % 2 else m)  # tensor or float
        _assert_same(zopt, topt, zs, ts, f"step {i}")
        assert zs.num_bad_epochs == ts.num_bad_epochs and zs.best == ts.best
        lrs.add(zs.get_last_lr()[0])
    assert len(lrs) > 1  # the scripted metric triggered reductions


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LambdaLR",
                                  "SequentialLR-warmup-cosine", "OneCycleLR-cos",
                                  "ChainedScheduler"])
def test_scheduler_state_dict_round_trip(name):
    """Save after 30 steps, restore into a fresh optimizer + scheduler: same lrs after."""
    zopt, _ = _optimizers("SGD", momentum=0.9)
    sched = SCHEDULES[name](zsched, zopt)
    for _ in range(30):
        sched.step()
    opt_state, sched_state = zopt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_state
    if name == "LambdaLR":
        assert sched_state["lr_lambdas"] == [None, None]
    fresh_opt, _ = _optimizers("SGD", momentum=0.9)
    fresh = SCHEDULES[name](zsched, fresh_opt)
    fresh_opt.load_state_dict(opt_state)
    fresh.load_state_dict(sched_state)
    for i in range(40):
        sched.step()
        fresh.step()
        assert fresh.get_last_lr() == sched.get_last_lr(), i
        assert fresh_opt.param_groups[0]["momentum"] == zopt.param_groups[0]["momentum"]


def test_reduce_lr_on_plateau_state_round_trip():
    zopt, _ = _optimizers()
    sched = zsched.ReduceLROnPlateau(zopt, patience=1, cooldown=1)
    for m in METRICS[:12]:
        sched.step(m)
    fresh_opt, _ = _optimizers()
    fresh = zsched.ReduceLROnPlateau(fresh_opt)
    fresh_opt.load_state_dict(zopt.state_dict())
    fresh.load_state_dict(sched.state_dict())
    for m in METRICS[12:] * 2:
        sched.step(m)
        fresh.step(m)
        assert fresh.get_last_lr() == sched.get_last_lr()


def test_training_resume_with_optimizer_and_scheduler_is_bitwise():
    from tests.optim.optim_helpers import dataset, init_weights, train_zg, zg_params

    weights, data = init_weights(7, np.float32), dataset(7, np.float32)

    def build(params):
        opt = optim.Adam(params, lr=0.01)
        return opt, zsched.OneCycleLR(opt, max_lr=0.05, total_steps=20)

    ref = zg_params(weights)
    opt, sched = build(ref)
    train_zg(opt, ref, data, range(20), sched)
    first = zg_params(weights)
    opt, sched = build(first)
    train_zg(opt, first, data, range(10), sched)
    saved = (opt.state_dict(), sched.state_dict())
    resumed = [zg.tensor(p.data.copy()).requires_grad_() for p in first]
    opt2, sched2 = build(resumed)
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    train_zg(opt2, resumed, data, range(10, 20), sched2)
    for a, b in zip(ref, resumed):
        assert np.array_equal(a.data, b.data)


def test_scheduler_validation():
    zopt, _ = _optimizers()
    with pytest.raises(TypeError, match="not an Optimizer"):
        zsched.StepLR(object(), step_size=3)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        zsched.ReduceLROnPlateau(zopt, factor=1.5)
    with pytest.raises(ValueError, match="mode 'mid'"):
        zsched.ReduceLROnPlateau(zopt, mode="mid")
    with pytest.raises(ValueError, match="one more scheduler than milestones"):
        zsched.SequentialLR(zopt, [zsched.StepLR(zopt, 3)], milestones=[2])
    with pytest.raises(ValueError, match="pct_start"):
        zsched.OneCycleLR(zopt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="total_steps OR"):
        zsched.OneCycleLR(zopt, max_lr=1.0)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        zsched.OneCycleLR(zopt, max_lr=[1.0], total_steps=10)
    with pytest.raises(KeyError, match="initial_lr"):
        fresh, _ = _optimizers()
        zsched.StepLR(fresh, 3, last_epoch=4)
    with pytest.raises(ValueError, match="momentum or beta1"):
        zsched.OneCycleLR(optim.Adagrad([zg.zeros(1, requires_grad=True)]), max_lr=1.0,
                          total_steps=10)
