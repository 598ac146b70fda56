"""LR schedules against torch.optim.lr_scheduler: the same lr sequence (rtol 1e-12) over 100
steps, two param groups with different lrs; momentum cycling (OneCycleLR, CyclicLR with SGD's
momentum and Adam's beta1); CosineAnnealingWarmRestarts at fractional epochs; state_dict
round trips."""

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


def _scale(x):
    return 1.0 / (1.0 + 0.01 * x)


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
    "CyclicLR-triangular": lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=7, step_size_down=5
    ),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.1, step_size_up=6, mode="triangular2", base_momentum=0.7,
        max_momentum=0.95,
    ),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=[0.2, 0.1], step_size_up=9, step_size_down=4,
        mode="exp_range", gamma=0.97, base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.99],
    ),
    "CyclicLR-scale_fn-iterations": lambda m, o: m.CyclicLR(
        o, base_lr=0.005, max_lr=0.05, step_size_up=4, scale_fn=_scale,
        scale_mode="iterations",
    ),
    "CyclicLR-scale_fn-cycle-sawtooth": lambda m, o: m.CyclicLR(
        o, base_lr=0.005, max_lr=0.05, step_size_up=5, step_size_down=0, mode="nonsense",
        scale_fn=_scale,
    ),
    "CyclicLR-no-momentum": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=10, cycle_momentum=False
    ),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=7, eta_min=0.001
    ),
    "CosineAnnealingWarmRestarts-T_mult": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2
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
RUNS = [(n, "SGD") for n in SCHEDULES] + [
    (n, "Adam") for n in SCHEDULES if "OneCycle" in n or "CyclicLR" in n
]


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
                                  "ChainedScheduler", "CyclicLR-triangular2",
                                  "CyclicLR-exp_range", "CyclicLR-scale_fn-iterations",
                                  "CosineAnnealingWarmRestarts-T_mult"])
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
    resumed = [zg.tensor(p.array.copy()).requires_grad_() for p in first]
    opt2, sched2 = build(resumed)
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    train_zg(opt2, resumed, data, range(10, 20), sched2)
    for a, b in zip(ref, resumed):
        assert np.array_equal(a.array, b.array)


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


# ----- CyclicLR and CosineAnnealingWarmRestarts beyond the shared sequence test


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_match_torch(T_mult):
    """step(epoch) with fractional epochs, as inside an epoch's batches, jumping back too."""
    zopt, topt = _optimizers()
    zs = zsched.CosineAnnealingWarmRestarts(zopt, T_0=4, T_mult=T_mult, eta_min=0.003)
    ts = TS.CosineAnnealingWarmRestarts(topt, T_0=4, T_mult=T_mult, eta_min=0.003)
    epochs = [e + i / 7 for e in range(30) for i in range(7)] + [2.5, 0, 11.99, 100.25, 4, 3.999]
    for i, epoch in enumerate(epochs):
        topt.step()
        ts.step(epoch)
        zs.step(epoch)
        _assert_same(zopt, topt, zs, ts, f"epoch {epoch}")
        assert (zs.T_i, zs.last_epoch) == (ts.T_i, ts.last_epoch)
        assert abs(zs.T_cur - ts.T_cur) <= 1e-12 * max(1.0, abs(ts.T_cur))
        if i % 5 == 0:  # plain steps continue from wherever the jumps left off
            ts.step()
            zs.step()
            _assert_same(zopt, topt, zs, ts, f"after epoch {epoch}")


def test_warm_restarts_resume_with_last_epoch_matches_torch():
    zopt, topt = _optimizers()
    for opt in (zopt, topt):
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
    zs = zsched.CosineAnnealingWarmRestarts(zopt, T_0=5, T_mult=2, last_epoch=8)
    ts = TS.CosineAnnealingWarmRestarts(topt, T_0=5, T_mult=2, last_epoch=8)
    for i in range(30):
        _assert_same(zopt, topt, zs, ts, f"step {i}")
        topt.step()
        ts.step()
        zs.step()


class _Decay:
    """A callable object: its attributes travel in CyclicLR's state_dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, x):
        return self.rate**x


def test_cyclic_scale_fn_object_state_round_trip_and_torch_layout():
    zopt, topt = _optimizers("SGD", momentum=0.9)
    zs = zsched.CyclicLR(zopt, 0.01, 0.1, step_size_up=3, scale_fn=_Decay(0.9))
    ts = TS.CyclicLR(topt, 0.01, 0.1, step_size_up=3, scale_fn=_Decay(0.9))
    for _ in range(10):
        topt.step()
        zs.step()
        ts.step()
    _assert_same(zopt, topt, zs, ts, "10 steps")
    state = zs.state_dict()
    assert state["_scale_fn_custom"] == {"rate": 0.9}
    assert "_scale_fn_ref" not in state and "optimizer" not in state
    assert set(state) == set(ts.state_dict()) - {"_get_lr_called_within_step"}
    fresh_opt, _ = _optimizers("SGD", momentum=0.9)
    fresh = zsched.CyclicLR(fresh_opt, 0.01, 0.1, step_size_up=3, scale_fn=_Decay(0.5))
    fresh_opt.load_state_dict(zopt.state_dict())
    fresh.load_state_dict(state)
    assert fresh._scale_fn_custom.rate == 0.9 and "_scale_fn_custom" in state
    for i in range(20):
        zs.step()
        fresh.step()
        assert fresh.get_last_lr() == zs.get_last_lr(), i
        assert fresh_opt.param_groups[1]["momentum"] == zopt.param_groups[1]["momentum"]
    plain = zsched.CyclicLR(_optimizers()[0], 0.01, 0.1, cycle_momentum=False)
    with pytest.raises(ValueError, match="built without a scale_fn"):
        plain.load_state_dict(state)


def test_cyclic_and_warm_restarts_validation():
    zopt, _ = _optimizers("SGD", momentum=0.9)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None.*'tri'"):
        zsched.CyclicLR(zopt, 0.01, 0.1, mode="tri")
    with pytest.raises(ValueError, match="step_size_up must be > 0, got 0"):
        zsched.CyclicLR(zopt, 0.01, 0.1, step_size_up=0)
    with pytest.raises(ValueError, match="step_size_down must be >= 0, got -2"):
        zsched.CyclicLR(zopt, 0.01, 0.1, step_size_down=-2)
    with pytest.raises(ValueError, match="scale_mode must be 'cycle' or 'iterations'"):
        zsched.CyclicLR(zopt, 0.01, 0.1, scale_fn=_scale, scale_mode="epoch")
    with pytest.raises(TypeError, match="scale_fn must be callable"):
        zsched.CyclicLR(zopt, 0.01, 0.1, scale_fn=0.5)
    with pytest.raises(ValueError, match="base_lr must have the same length"):
        zsched.CyclicLR(zopt, [0.01], 0.1)
    with pytest.raises(ValueError, match="momentum or beta1.*Adadelta"):
        zsched.CyclicLR(optim.Adadelta([zg.zeros(1, requires_grad=True)]), 0.1, 1.0)
    zsched.CyclicLR(optim.Adadelta([zg.zeros(1, requires_grad=True)]), 0.1, 1.0,
                    cycle_momentum=False)
    for kwargs, match in [({"T_0": 0}, "positive integer T_0"),
                          ({"T_0": 2.0}, "positive integer T_0"),
                          ({"T_0": 3, "T_mult": 0}, "T_mult >= 1"),
                          ({"T_0": 3, "T_mult": 1.5}, "T_mult >= 1"),
                          ({"T_0": 3, "eta_min": "0"}, "eta_min")]:
        with pytest.raises(ValueError, match=match):
            zsched.CosineAnnealingWarmRestarts(zopt, **kwargs)
    sched = zsched.CosineAnnealingWarmRestarts(zopt, T_0=3)
    with pytest.raises(ValueError, match="non-negative epoch"):
        sched.step(-0.5)
    with pytest.raises(ValueError, match="finite number epoch"):
        sched.step(float("nan"))
