"""inplace=True activations and dropout act in place as torch's: the result IS the input,
recorded in the graph (values and gradients against torch in float64), a leaf that requires
grad is refused, and an input saved for backward raises the version error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg

RNG = np.random.default_rng(3)

# name -> (module factory, functional call), both given the library
ACTIVATIONS = {
    "relu": (lambda nn: nn.ReLU(inplace=True), lambda F, h: F.relu(h, inplace=True)),
    "relu_fn_": (None, lambda F, h: F.relu_(h)),
    "leaky_relu": (lambda nn: nn.LeakyReLU(0.2, inplace=True),
                   lambda F, h: F.leaky_relu(h, 0.2, inplace=True)),
    "leaky_relu_positional": (None, lambda F, h: F.leaky_relu(h, 0.1, True)),
    "elu": (lambda nn: nn.ELU(0.7, inplace=True), lambda F, h: F.elu(h, 0.7, inplace=True)),
    "hardtanh": (lambda nn: nn.Hardtanh(-0.5, 0.8, inplace=True),
                 lambda F, h: F.hardtanh(h, -0.5, 0.8, inplace=True)),
    "hardtanh_": (None, lambda F, h: F.hardtanh_(h, -0.5, 0.8)),
    "relu6": (lambda nn: nn.ReLU6(inplace=True), lambda F, h: F.relu6(h, inplace=True)),
    "silu": (lambda nn: nn.SiLU(inplace=True), lambda F, h: F.silu(h, inplace=True)),
    "mish": (lambda nn: nn.Mish(inplace=True), lambda F, h: F.mish(h, inplace=True)),
    "hardswish": (lambda nn: nn.Hardswish(inplace=True),
                  lambda F, h: F.hardswish(h, inplace=True)),
    "hardsigmoid": (lambda nn: nn.Hardsigmoid(inplace=True),
                    lambda F, h: F.hardsigmoid(h, inplace=True)),
    "dropout_eval": (lambda nn: nn.Dropout(0.3, inplace=True).eval(),
                     lambda F, h: F.dropout(h, 0.3, False, inplace=True)),
}
CASES = [(n, kind) for n, (m, _) in sorted(ACTIVATIONS.items())
         for kind in (("module", "functional") if m else ("functional",))]


def _call(lib, name, kind, h):
    module, functional = ACTIVATIONS[name]
    return module(lib.nn)(h) if kind == "module" else functional(lib.nn.functional, h)


@pytest.mark.parametrize("name,kind", CASES)
def test_in_the_graph_the_result_is_the_input_and_gradients_match_torch(name, kind):
    xs = RNG.standard_normal((4, 5)) * 3
    cot = RNG.standard_normal((4, 5))
    results = []
    for lib in (zg, torch):
        x = lib.tensor(xs, dtype=lib.float64, requires_grad=True)
        h = x * 1.5
        before = h._version
        out = _call(lib, name, kind, h)
        assert out is h
        assert h._version == before + (0 if name == "dropout_eval" else 1)
        (out * 2).backward(lib.tensor(cot, dtype=lib.float64))
        results.append((out.detach().numpy().copy(), x.grad.numpy().copy()))
    (zo, zgr), (to, tgr) = results
    np.testing.assert_allclose(zo, to, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(zgr, tgr, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,kind", CASES)
def test_on_a_plain_tensor_the_values_are_written_in_place(name, kind):
    xs = RNG.standard_normal((3, 4)) * 3
    got = []
    for lib in (zg, torch):
        h = lib.tensor(xs, dtype=lib.float64)
        out = _call(lib, name, kind, h)
        assert out is h and not h.requires_grad
        got.append(h.numpy().copy())
    np.testing.assert_allclose(got[0], got[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,kind", [c for c in CASES if c[0] != "dropout_eval"])
def test_a_leaf_that_requires_grad_is_refused_as_torch(name, kind):
    for lib in (torch, zg):
        w = lib.tensor(RNG.standard_normal(3), requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            _call(lib, name, kind, w)


def test_an_input_saved_for_backward_raises_the_version_error_as_torch():
    for lib in (torch, zg):
        x = lib.tensor(RNG.standard_normal(4), requires_grad=True)
        h = x * 2
        y = h.sin()  # saves h
        lib.nn.ReLU(inplace=True)(h)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (y + h).sum().backward()


def _shared_nets():
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(inplace=True),
                               torch.nn.Linear(6, 2)).double()
    znet = zg.nn.Sequential(zg.nn.Linear(4, 6), zg.nn.ReLU(inplace=True),
                            zg.nn.Linear(6, 2)).double()
    znet.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    return znet, tnet


def test_relu_inplace_between_layers_gives_torchs_gradients():
    znet, tnet = _shared_nets()
    xs = RNG.standard_normal((5, 4))
    for lib, net in ((zg, znet), (torch, tnet)):
        net(lib.tensor(xs, dtype=lib.float64)).pow(2).sum().backward()
    for (name, zp), tp in zip(znet.named_parameters(), tnet.parameters()):
        np.testing.assert_allclose(zp.grad.numpy(), tp.grad.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("make,shape", [
    (lambda: zg.nn.Dropout(0.4, inplace=True), (6, 5, 8)),
    (lambda: (lambda h: zg.nn.functional.dropout(h, 0.4, True, True)), (6, 5, 8)),
    (lambda: zg.nn.Dropout2d(0.4, inplace=True), (6, 5, 2, 4)),
    (lambda: zg.nn.Dropout1d(0.4, inplace=True), (6, 5, 8)),
    (lambda: zg.nn.Dropout3d(0.4, inplace=True), (6, 5, 2, 2, 2)),
])
def test_dropout_in_training_writes_the_mask_into_the_input(make, shape):
    zg.manual_seed(0)
    x = zg.tensor(RNG.standard_normal(shape) + 5.0, dtype=zg.float64, requires_grad=True)
    h = x * 1.0
    out = make()(h)
    assert out is h
    kept = h.detach().numpy() != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(h.detach().numpy()[kept], x.detach().numpy()[kept] / 0.6,
                               rtol=1e-12)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6, rtol=1e-12)


def test_unbatched_channel_dropout_in_place_drops_whole_channels():
    zg.manual_seed(1)
    h = zg.tensor(RNG.standard_normal((8, 5)) + 5.0)
    out = zg.nn.functional.dropout1d(h, 0.5, True, inplace=True)
    assert out is h
    zero_rows = (h.numpy() == 0).all(axis=1)
    assert ((h.numpy() == 0).any(axis=1) == zero_rows).all() and 0 < zero_rows.sum() < 8


def test_repr_shows_inplace():
    assert repr(zg.nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(zg.nn.Dropout(0.2, inplace=True)) == repr(torch.nn.Dropout(0.2, inplace=True))
