"""Adam's small parameters updated as one pack (zengrad/optim/flat.py): bit for bit the
one-by-one update, torch's per-parameter state_dict, and never stale after the user swaps
storage or state."""

import numpy as np
import pytest

import zengrad as zg
from zengrad import optim
from zengrad.optim.flat import SmallParams

SHAPES = [(7, 3), (5,), (1,), (0,), (300, 200), (4, 4)]  # one large, the rest small


def _params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [zg.nn.Parameter(zg.from_numpy(rng.standard_normal(s).astype(dtype)))
            for s in SHAPES]


def _grads(params, rng):
    for p in params:
        p.grad = zg.from_numpy(rng.standard_normal(p.shape).astype(p.array.dtype))


def _run(params, steps, pack, **kw):
    import zengrad.optim.adam as adam_mod

    rng = np.random.default_rng(1)
    opt = optim.Adam(params, lr=1e-2, **kw)
    with pytest.MonkeyPatch.context() as mp:
        if not pack:
            mp.setattr(adam_mod, "small_param_runs",
                       lambda ps, limit: ([p for p in ps if p._grad is not None], {}))
        for _ in range(steps):
            _grads(params, rng)
            opt.step()
    return opt


@pytest.mark.parametrize("kw", [{}, {"amsgrad": True}, {"weight_decay": 0.1},
                                {"weight_decay": 0.1, "decoupled_weight_decay": True,
                                 "maximize": True}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pack_equals_one_by_one_bit_for_bit(kw, dtype):
    packed, single = _params(dtype), _params(dtype)
    opt_p, opt_s = _run(packed, 3, True, **kw), _run(single, 3, False, **kw)
    assert opt_p._small_params  # the pack was used
    for a, b in zip(packed, single):
        np.testing.assert_array_equal(a.array, b.array)
    sp, ss = opt_p.state_dict()["state"], opt_s.state_dict()["state"]
    assert sp.keys() == ss.keys()
    for k in sp:
        for name in ss[k]:
            np.testing.assert_array_equal(np.asarray(sp[k][name]), np.asarray(ss[k][name]))
            if name != "step":  # per parameter, of its shape, a copy
                assert sp[k][name].shape == SHAPES[k]


def test_state_is_per_parameter_and_load_state_dict_rebuilds_the_pack():
    params = _params()
    opt = _run(params, 2, True)
    pack = next(iter(opt._small_params.values()))
    saved = opt.state_dict()
    # the state of a packed parameter is a live view into the pack
    p = params[0]
    assert np.shares_memory(opt.state[p]["exp_avg"], pack.flat["exp_avg"])
    # load a changed state: the next step must use it, not the pack's old arrays
    changed = {"state": {k: dict(v) for k, v in saved["state"].items()},
               "param_groups": saved["param_groups"]}
    changed["state"][0]["exp_avg"] = np.full(SHAPES[0], 3.0, np.float32)
    twin = _params()
    for a, b in zip(twin, params):
        a.array[...] = b.array
    twin_opt = optim.Adam(twin, lr=1e-2)
    twin_opt.load_state_dict(changed)
    opt.load_state_dict(changed)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    _grads(params, rng_a)
    _grads(twin, rng_b)
    opt.step()
    twin_opt.step()  # a fresh optimizer: its first step builds the pack from loaded state
    for a, b in zip(params, twin):
        np.testing.assert_array_equal(a.array, b.array)
    assert len(opt._small_params) == 1  # the pack of the replaced group was dropped


def test_swapped_storage_and_replaced_state_are_followed():
    params = _params()
    opt = _run(params, 1, True)
    rng = np.random.default_rng(2)
    # p.data swapped for new storage: the update must land in the new array
    new = np.ones(SHAPES[1], np.float32)
    params[1].data = zg.from_numpy(new)
    # a state array replaced by the user
    opt.state[params[2]]["exp_avg_sq"] = np.full(SHAPES[2], 4.0, np.float32)
    _grads(params, rng)
    g1 = params[1].grad.array.copy()
    opt.step()
    assert params[1].array is new or np.shares_memory(params[1].array, new)
    assert not np.array_equal(new, np.ones(SHAPES[1], np.float32))  # it moved
    assert np.all(g1 != 0)
    # the replaced state took part: the pack was rebuilt around it
    pack = next(iter(opt._small_params.values()))
    where = next(i for i, q in enumerate(pack.params) if q is params[2])
    assert opt.state[params[2]]["exp_avg_sq"] is pack.views["exp_avg_sq"][where]


def test_parameters_with_unequal_steps_or_shared_arrays_go_one_by_one():
    params = _params()
    twin = _params()
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    opt, opt_t = optim.Adam(params, lr=1e-2), optim.Adam(twin, lr=1e-2)
    for step in range(3):
        for ps, rng, o in ((params, rng_a, opt), (twin, rng_b, opt_t)):
            _grads(ps, rng)
            if step == 0:
                ps[1].grad = None  # skipped once: its step count lags
            o.step()
    for a, b in zip(params, twin):
        np.testing.assert_array_equal(a.array, b.array)
    assert opt.state[params[1]]["step"] == 2 and opt.state[params[0]]["step"] == 3

    a = zg.nn.Parameter(zg.ones(3))
    b = zg.nn.Parameter(zg.ones(3))
    b.array = a.array  # two parameters over one array: both updates must land
    opt = optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = zg.ones(3), zg.ones(3)
    opt.step()
    np.testing.assert_allclose(a.array, 1 - 0.2, rtol=1e-6)


def test_pack_matches_only_its_own_parameters_and_slots():
    params = _params()[:2]
    states = {p: {"exp_avg": np.zeros(p.shape, np.float32)} for p in params}
    pack = SmallParams(params, states, ("exp_avg",))
    assert pack.matches(params, states, ("exp_avg",))
    assert not pack.matches(params[::-1], states, ("exp_avg",))
    assert not pack.matches(params, states, ("exp_avg", "exp_avg_sq"))
    states[params[0]]["exp_avg"] = np.zeros(params[0].shape, np.float32)
    assert not pack.matches(params, states, ("exp_avg",))
