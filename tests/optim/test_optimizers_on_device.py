"""Every optimizer on device 'cuda' (the fake CuPy of tests/backend, which refuses NumPy on
its arrays) takes the steps it takes on the CPU: the update math runs on the parameters'
module, the state is made on their device, and a state_dict round trip keeps it there.
Sizes above one block (ops/threads.BLOCK) check that device arrays skip the blocked pool."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import cuda  # noqa: F401  (the fixture)
from zengrad import backend
from zengrad.ops.threads import BLOCK

CASES = {
    "sgd": lambda ps: zg.optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: zg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                            weight_decay=0.01),
    "sgd_dampening": lambda ps: zg.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3,
                                             maximize=True),
    "adam": lambda ps: zg.optim.Adam(ps, lr=0.01, weight_decay=0.01),
    "adam_amsgrad": lambda ps: zg.optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: zg.optim.AdamW(ps, lr=0.01),
    "rmsprop": lambda ps: zg.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "rmsprop_plain": lambda ps: zg.optim.RMSprop(ps, lr=0.01),
    "adagrad": lambda ps: zg.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1),
    "adadelta": lambda ps: zg.optim.Adadelta(ps, lr=1.0, weight_decay=0.1),
    "lbfgs": lambda ps: zg.optim.LBFGS(ps, lr=0.5, max_iter=4),
    "lbfgs_wolfe": lambda ps: zg.optim.LBFGS(ps, lr=1, max_iter=4,
                                             line_search_fn="strong_wolfe"),
}
SHAPES = [(3, 4), (5,), (2 * BLOCK + 7,)]


def _train(name: str, device: str, steps: int = 3):
    rng = np.random.default_rng(7)
    host = [rng.standard_normal(s) for s in SHAPES]
    targets = [zg.from_numpy(rng.standard_normal(s)).to(device) for s in SHAPES]
    params = [zg.from_numpy(a.copy()).to(device).detach().requires_grad_() for a in host]
    opt = CASES[name](params)

    def closure():
        opt.zero_grad()
        loss = sum((((p - t) ** 2) * (1 + p.abs())).sum() for p, t in zip(params, targets))
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure) if name.startswith("lbfgs") else (closure(), opt.step())
    return params, opt


@pytest.mark.parametrize("name", sorted(CASES))
def test_optimizer_steps_on_cuda_match_cpu(cuda, name: str):  # noqa: F811
    expected, _ = _train(name, "cpu")
    actual, opt = _train(name, "cuda")
    for a, e in zip(actual, expected):
        assert a.device.type == "cuda"
        np.testing.assert_allclose(a.detach().cpu().numpy(), e.detach().numpy(),
                                   rtol=1e-12, atol=1e-12)
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, np.ndarray):
                raise AssertionError("optimizer state made on the host for cuda parameters")


@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "lbfgs"])
def test_state_dict_round_trip_stays_on_device(cuda, name: str):  # noqa: F811
    params, opt = _train(name, "cuda", steps=2)
    fresh = CASES[name](params)
    fresh.load_state_dict(opt.state_dict())
    arrays = [v for st in fresh.state.values() for v in st.values() if backend.is_array(v)]
    arrays += [a for st in fresh.state.values() for v in st.values() if isinstance(v, list)
               for a in v if backend.is_array(a)]
    assert arrays and all(backend.device_of(a).type == "cuda" for a in arrays)
