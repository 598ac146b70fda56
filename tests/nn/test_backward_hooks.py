"""Module backward hooks (register_full_backward_hook, register_full_backward_pre_hook, the
legacy register_backward_hook) and forward hooks' prepend / with_kwargs, against torch 2.13:
the hooks see the same gradients, in the same order, and their replacements flow on alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.helpers import _close, rand_array
from tests.nn.parity import copy_weights
from zengrad import nn


def _np(g):
    return None if g is None else g.detach().numpy().copy()


def _recorder(log: list, tag: str = "", scale: float | None = None):
    """A full backward hook that records (tag, grad_input, grad_output) as arrays and, with
    scale, returns grad_input scaled."""
    def hook(module, grad_input, grad_output):
        log.append((tag, [_np(g) for g in grad_input], [_np(g) for g in grad_output]))
        if scale is not None:
            return tuple(None if g is None else g * scale for g in grad_input)
        return None
    return hook


def _same_logs(zlog: list, tlog: list) -> None:
    assert len(zlog) == len(tlog), (len(zlog), len(tlog))
    for (ztag, zin, zout), (ttag, tin, tout) in zip(zlog, tlog):
        assert ztag == ttag
        for what, zs, ts in (("grad_input", zin, tin), ("grad_output", zout, tout)):
            assert len(zs) == len(ts), (what, len(zs), len(ts))
            for z, t in zip(zs, ts):
                assert (z is None) == (t is None), (ztag, what)
                if z is not None:
                    _close(z, t, f"{ztag} {what}")


def _linear_pair(rng):
    tm = torch.nn.Linear(4, 3, dtype=torch.float64)
    zm = nn.Linear(4, 3, dtype=np.float64)
    copy_weights(zm, tm)
    return zm, tm


@pytest.mark.parametrize("scale", [None, 3.0])
def test_full_backward_hook_on_linear(rng, scale):
    zm, tm = _linear_pair(rng)
    zlog, tlog = [], []
    zm.register_full_backward_hook(_recorder(zlog, "lin", scale))
    tm.register_full_backward_hook(_recorder(tlog, "lin", scale))
    x = rand_array(rng, (5, 4))
    xz, xt = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (zm(xz).tanh() * 2).sum().backward()
    (tm(xt).tanh() * 2).sum().backward()
    _same_logs(zlog, tlog)
    _close(xz.grad.numpy(), xt.grad.numpy(), "x.grad (after the hook's replacement)")
    _close(zm.weight.grad.numpy(), tm.weight.grad.numpy(), "weight grad")


class _TwoInputs(torch.nn.Module):
    def forward(self, a, k, b):
        return a * b * k, (a - b).exp()


class _ZTwoInputs(nn.Module):
    def forward(self, a, k, b):
        return a * b * k, (a - b).exp()


@pytest.mark.parametrize("which", ["both", "first", "none"])
def test_several_inputs_and_outputs(rng, which):
    """grad_input has one entry per positional argument (None for the int and for inputs
    that need no grad), grad_output one per output; with no input needing grad the hook
    still runs (grad_input all None)."""
    a, b = rand_array(rng, (2, 3)), rand_array(rng, (2, 3))
    zlog, tlog = [], []
    zm, tm = _ZTwoInputs(), _TwoInputs()
    zm.register_full_backward_hook(_recorder(zlog, "m"))
    tm.register_full_backward_hook(_recorder(tlog, "m"))
    for mod, lib in ((zm, zg), (tm, torch)):
        ra, rb = which in ("both", "first"), which == "both"
        ta = lib.tensor(a, requires_grad=ra)
        tb = lib.tensor(b, requires_grad=rb)
        w = lib.tensor(np.ones((2, 3)), requires_grad=True)  # something to differentiate
        y1, y2 = mod(ta, 3, tb)
        ((y1 * w).square().sum() + (y2 * w).sum()).backward()
    _same_logs(zlog, tlog)


def test_unused_output_has_none_grad_output(rng):
    a = rand_array(rng, (2, 3))
    zlog, tlog = [], []
    zm, tm = _ZTwoInputs(), _TwoInputs()
    zm.register_full_backward_hook(_recorder(zlog, "m"))
    tm.register_full_backward_hook(_recorder(tlog, "m"))
    za = zg.tensor(a, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    zm(za, 2, zg.tensor(a))[0].sum().backward()
    tm(ta, 2, torch.tensor(a))[0].sum().backward()
    assert tlog[0][2][1] is None or np.all(tlog[0][2][1] == 0)
    assert zlog[0][2][1] is None or np.all(zlog[0][2][1] == 0)
    np.testing.assert_allclose(zlog[0][1][0], tlog[0][1][0])
    np.testing.assert_allclose(za.grad.numpy(), ta.grad.numpy())


def test_hooks_in_a_model_run_in_torchs_order_and_twice_for_a_shared_layer(rng):
    tl1, tl2 = torch.nn.Linear(4, 5, dtype=torch.float64), torch.nn.Linear(5, 5,
                                                                           dtype=torch.float64)
    tmodel = torch.nn.Sequential(tl1, torch.nn.ReLU(), tl2, torch.nn.Tanh(), tl2)
    zmodel = nn.Sequential(nn.Linear(4, 5, dtype=np.float64), nn.ReLU(),
                           nn.Linear(5, 5, dtype=np.float64), nn.Tanh())
    zmodel.append(zmodel[2])  # the same layer twice, as in torch's model
    copy_weights(zmodel, tmodel)
    zlog, tlog = [], []
    for log, model in ((zlog, zmodel), (tlog, tmodel)):
        for i in (0, 1, 2, 3):
            model[i].register_full_backward_hook(_recorder(log, f"layer{i}"))
        model.register_full_backward_hook(_recorder(log, "model"))
    x = rand_array(rng, (6, 4))
    xz, xt = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zmodel(xz).sum().backward()
    tmodel(xt).sum().backward()
    assert [e[0] for e in zlog] == [e[0] for e in tlog]
    _same_logs(zlog, tlog)
    for (_, zp), (_, tp) in zip(zmodel.named_parameters(), tmodel.named_parameters()):
        _close(zp.grad.numpy(), tp.grad.numpy(), "param grad")


def test_full_backward_pre_hook_replaces_grad_output(rng):
    zm, tm = _linear_pair(rng)
    zlog, tlog = [], []
    for log, m in ((zlog, zm), (tlog, tm)):
        def pre(module, grad_output, log=log):
            log.append(("pre", [], [_np(g) for g in grad_output]))
            return (grad_output[0] * -2.0,)
        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(_recorder(log, "full"))
    x = rand_array(rng, (5, 4))
    xz, xt = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zm(xz).square().sum().backward()
    tm(xt).square().sum().backward()
    _same_logs(zlog, tlog)
    _close(xz.grad.numpy(), xt.grad.numpy(), "x.grad")
    _close(zm.bias.grad.numpy(), tm.bias.grad.numpy(), "bias grad")


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")  # torch's own warning
def test_legacy_backward_hook_warns_and_matches_torch_on_a_one_op_module(rng):
    x = rand_array(rng, (3, 4))
    zlog, tlog = [], []
    with pytest.warns(FutureWarning, match="register_full_backward_hook"):
        nn.ReLU().register_backward_hook(_recorder(zlog))
    zr, tr = nn.ReLU(), torch.nn.ReLU()
    with pytest.warns(FutureWarning):
        zr.register_backward_hook(_recorder(zlog, "relu", 0.5))
    tr.register_backward_hook(_recorder(tlog, "relu", 0.5))
    xz, xt = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (zr(xz) * 3).sum().backward()
    (tr(xt) * 3).sum().backward()
    _same_logs(zlog, tlog)
    _close(xz.grad.numpy(), xt.grad.numpy(), "x.grad")


def test_remove_mixing_no_grad_and_errors(rng):
    zm, _ = _linear_pair(rng)
    log = []
    handle = zm.register_full_backward_hook(_recorder(log))
    x = zg.tensor(rand_array(rng, (2, 4)), requires_grad=True)
    with zg.no_grad():
        y = zm(x)
    assert not y.requires_grad and log == []
    handle.remove()
    zm(x).sum().backward()
    assert log == []
    with pytest.raises(RuntimeError, match="Cannot use both"):
        zm.register_backward_hook(_recorder(log))
    legacy = nn.Tanh()
    with pytest.warns(FutureWarning):
        legacy.register_backward_hook(_recorder(log))
    with pytest.raises(RuntimeError, match="Cannot use both"):
        legacy.register_full_backward_hook(_recorder(log))
    bad = nn.Tanh()
    bad.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2"):
        bad(zg.tensor(rand_array(rng, (2,)), requires_grad=True)).sum().backward()
    wrong = nn.Tanh()
    wrong.register_full_backward_hook(lambda m, gi, go: (zg.ones(5),))
    with pytest.raises(ValueError, match="shape"):
        wrong(zg.tensor(rand_array(rng, (2,)), requires_grad=True)).sum().backward()
    noinput = nn.Linear(2, 2)
    noinput.register_full_backward_hook(lambda m, gi, go: (zg.ones(3, 2),))
    with pytest.raises(RuntimeError, match="no input requires gradient"):
        noinput(zg.ones(3, 2)).sum().backward()
    with pytest.raises(TypeError, match="callable"):
        nn.Tanh().register_full_backward_hook("hook")


def test_forward_hooks_prepend_and_with_kwargs(rng):
    class Scale(torch.nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    class ZScale(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    x = rand_array(rng, (3,))
    results = []
    for mod, lib in ((ZScale(), zg), (Scale(), torch)):
        order = []
        mod.register_forward_pre_hook(lambda m, a, order=order: order.append("pre"))
        mod.register_forward_pre_hook(lambda m, a, order=order: order.append("pre-first"),
                                      prepend=True)
        mod.register_forward_pre_hook(
            lambda m, a, kw: (a, {**kw, "scale": kw.get("scale", 1.0) * 10}), with_kwargs=True)
        mod.register_forward_hook(lambda m, a, kw, out: out + kw["scale"], with_kwargs=True)
        h = mod.register_forward_hook(lambda m, a, out: out * 0, prepend=True)
        h.remove()
        out = mod(lib.tensor(x), scale=2.0)
        results.append((order, out.numpy()))
    assert results[0][0] == results[1][0] == ["pre-first", "pre"]
    np.testing.assert_allclose(results[0][1], results[1][1])
    m = ZScale()
    m.register_forward_pre_hook(lambda mod, a, kw: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match="new_kwargs"):
        m(zg.ones(2))
    with nn.Tanh().register_forward_hook(lambda m, a, o: o) as handle:
        assert handle.id in handle.hooks
    assert handle.id not in handle.hooks
