"""Devices as torch has them on a CPU-only build: zengrad.device, Tensor.to/cpu/cuda,
factories' device=, Module.to, and the errors for devices that aren't there."""

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad import nn

FACTORIES = [
    ("zeros", lambda m, **k: m.zeros(2, 3, **k)),
    ("ones", lambda m, **k: m.ones(2, 3, **k)),
    ("empty", lambda m, **k: m.empty(2, 3, **k)),
    ("full", lambda m, **k: m.full((2, 3), 1.5, **k)),
    ("arange", lambda m, **k: m.arange(0.0, 3.0, **k)),
    ("linspace", lambda m, **k: m.linspace(0, 1, 5, **k)),
    ("eye", lambda m, **k: m.eye(3, **k)),
    ("rand", lambda m, **k: m.rand(2, 3, **k)),
    ("randn", lambda m, **k: m.randn(2, 3, **k)),
    ("tensor", lambda m, **k: m.tensor([1.0, 2.0], **k)),
    ("zeros_like", lambda m, **k: m.zeros_like(m.ones(2), **k)),
    ("ones_like", lambda m, **k: m.ones_like(m.ones(2), **k)),
    ("empty_like", lambda m, **k: m.empty_like(m.ones(2), **k)),
    ("full_like", lambda m, **k: m.full_like(m.ones(2), 3.0, **k)),
    ("rand_like", lambda m, **k: m.rand_like(m.ones(2), **k)),
    ("randn_like", lambda m, **k: m.randn_like(m.ones(2), **k)),
]


# ----- zengrad.device ----------------------------------------------------------------
@pytest.mark.parametrize("spec", ["cpu", "cpu:0", "cuda", "cuda:0", "cuda:1", "mps", "meta"])
def test_device_parses_as_torch(spec):
    z, t = zg.device(spec), torch.device(spec)
    assert (z.type, z.index, str(z)) == (t.type, t.index, str(t))
    assert repr(z) == repr(t)


def test_device_type_index_form_and_copy():
    z, t = zg.device("cuda", 1), torch.device("cuda", 1)
    assert (z.type, z.index, str(z)) == (t.type, t.index, str(t))
    assert zg.device(zg.device("cuda:2")) == zg.device("cuda", 2)


def test_device_equality_as_torch():
    # torch: devices equal devices only, and 'cpu' != 'cpu:0' (index None vs 0)
    for a, b in [("cpu", "cpu"), ("cpu", "cpu:0"), ("cuda", "cuda:0"), ("cuda:0", "cuda:0")]:
        assert (zg.device(a) == zg.device(b)) == (torch.device(a) == torch.device(b))
        assert (zg.device(a) == a) == (torch.device(a) == a)
    assert len({zg.device("cpu"), zg.device("cpu"), zg.device("cuda:0")}) == 2


@pytest.mark.parametrize("spec", ["cuda:x", "foo", "cuda:-1", "cuda:0:1", "cpu:"])
def test_bad_device_strings_raise_as_torch(spec):
    with pytest.raises(RuntimeError) as want:
        torch.device(spec)
    with pytest.raises(RuntimeError) as got:
        zg.device(spec)
    first = str(want.value).split(":")[0]
    assert first in str(got.value) or spec in str(got.value)


def test_device_bad_types():
    with pytest.raises(TypeError, match="device"):
        zg.device(1.5)
    with pytest.raises(RuntimeError, match="negative"):
        zg.device("cuda", -1)
    with pytest.raises(RuntimeError, match="accelerator"):
        zg.device(0)  # an int is an accelerator's index; there is none


# ----- Tensor.device / to / cpu / cuda ----------------------------------------------
def test_tensor_device_and_is_cuda():
    x = zg.zeros(2)
    assert isinstance(x.device, zg.device) and x.device == zg.device("cpu")
    assert str(x.device) == str(torch.zeros(2).device) == "cpu"
    assert x.is_cuda is False and x.cpu() is x


def test_to_positional_forms_as_torch():
    tz, tt = zg.ones(2, 3), torch.ones(2, 3)
    other_z, other_t = zg.zeros(1, dtype=zg.float64), torch.zeros(1, dtype=torch.float64)
    forms = [
        ((zg.float64,), (torch.float64,)),
        (("cpu",), ("cpu",)),
        ((zg.device("cpu"),), (torch.device("cpu"),)),
        (("cpu", zg.float64), ("cpu", torch.float64)),
        ((zg.device("cpu:0"), zg.int64), (torch.device("cpu:0"), torch.int64)),
        ((other_z,), (other_t,)),
        ((None, zg.float16), (None, torch.float16)),
    ]
    for az, at in forms:
        got, want = tz.to(*az), tt.to(*at)
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), az
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    got = tz.to(device="cpu", dtype=zg.float64, non_blocking=True)
    assert got.dtype == zg.float64


def test_to_returns_self_unless_copy():
    x, t = zg.ones(3), torch.ones(3)
    for args, kw in [(("cpu",), {}), ((zg.float32,), {}), ((), {"device": "cpu"}),
                     ((x,), {}), (("cpu",), {"non_blocking": True})]:
        targs = tuple(t if a is x else (torch.float32 if a is zg.float32 else a) for a in args)
        assert (x.to(*args, **kw) is x) == (t.to(*targs, **kw) is t)
    y = x.to("cpu", copy=True)
    assert y is not x and np.shares_memory(y.numpy(), x.numpy()) is False
    y = x.to("cpu", None, False, True)  # torch's positional (device, dtype, non_blocking, copy)
    assert y is not x


def test_to_copy_and_cast_are_differentiable():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    (x.to("cpu", copy=True) * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    x.grad = None
    (x.to(zg.float64) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_to_bad_combinations_raise_type_error():
    x = zg.zeros(2)
    for args in [(zg.float32, zg.float64), ("cpu", "cpu"), ("cpu", "float"), (x, zg.float64)]:
        with pytest.raises(TypeError, match="to"):
            x.to(*args)
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to("cpu", devise="cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", zg.device("cuda", 1)])
def test_to_cuda_raises_as_torch_on_cpu_build(spec):
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        torch.zeros(2).to(str(spec))
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        zg.zeros(2).to(spec)
    with pytest.raises(RuntimeError, match="not available"):  # also a RuntimeError
        zg.zeros(2).to(spec, zg.float64)


def test_cuda_method_raises_as_torch():
    with pytest.raises(AssertionError):
        torch.zeros(2).cuda()
    with pytest.raises(AssertionError, match="CUDA"):
        zg.zeros(2).cuda()
    with pytest.raises(AssertionError, match="cuda:1"):
        zg.zeros(2).cuda(1)


def test_to_mps_raises_as_torch():
    with pytest.raises(RuntimeError, match="mps"):
        torch.zeros(2).to("mps")
    with pytest.raises(RuntimeError, match="not linked with support for mps"):
        zg.zeros(2).to("mps")


# ----- factories' device= / dtype= / requires_grad= ------------------------------------
@pytest.mark.parametrize("name,make", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_factory_keywords_as_torch(name, make):
    for dev in ("cpu", zg.device("cpu"), None):
        tdev = torch.device("cpu") if isinstance(dev, zg.device) else dev
        z = make(zg, device=dev, dtype=zg.float64, requires_grad=True)
        t = make(torch, device=tdev, dtype=torch.float64, requires_grad=True)
        assert z.shape == t.shape and str(z.dtype) == "float64"
        assert z.requires_grad and z.is_leaf and z.device == zg.device("cpu")
    with pytest.raises(AssertionError, match="CUDA"):
        make(zg, device="cuda")
    with pytest.raises(RuntimeError, match="not available"):
        make(zg, device=zg.device("mps"))


def test_integer_factories_take_device_and_refuse_grad_as_torch():
    for make in (lambda m, **k: m.randint(0, 5, (3,), **k), lambda m, **k: m.randperm(4, **k)):
        assert make(zg, device="cpu").dtype == zg.int64
        with pytest.raises(RuntimeError, match="floating point"):
            make(torch, requires_grad=True)
        with pytest.raises(RuntimeError, match="floating point"):
            make(zg, requires_grad=True)
        with pytest.raises(AssertionError):
            make(zg, device="cuda:0")
    assert zg.as_tensor([1, 2], device="cpu").dtype == zg.int64
    assert zg.normal(0.0, 1.0, (2,), device="cpu").shape == (2,)


# ----- Module.to / cuda --------------------------------------------------------------
def test_module_to_device_and_dtype():
    m = nn.Linear(3, 2)
    w = m.weight
    assert m.to(zg.device("cpu")) is m and m.to("cpu:0") is m and m.weight is w
    m.to(zg.device("cpu"), zg.float64)
    assert m.weight is w and w.dtype == zg.float64
    m.to(zg.zeros(1))  # to(tensor): its dtype
    assert w.dtype == zg.float32
    with pytest.raises(AssertionError, match="CUDA"):
        m.to("cuda")
    with pytest.raises(AssertionError, match="CUDA"):
        m.cuda()
    with pytest.raises(AssertionError, match="CUDA"):
        nn.Linear(2, 2).to(torch.device("cuda").type)


def test_device_pattern_of_real_programs_runs():
    # the usual first lines of a PyTorch script, after `import zengrad as torch`
    device = zg.device("cuda" if zg.cuda.is_available() else "cpu")
    device = zg.device("mps" if zg.backends.mps.is_available() else device.type)
    acc = zg.accelerator.current_accelerator().type if zg.accelerator.is_available() else "cpu"
    model = nn.Linear(4, 1).to(device)
    x = zg.randn(8, 4, device=device)
    y = model(x.to(device, non_blocking=True)).to(acc)
    assert y.device == device and y.shape == (8, 1)


# ----- default device ----------------------------------------------------------------
def test_default_device_as_torch():
    assert zg.get_default_device() == zg.device("cpu")
    assert repr(zg.get_default_device()) == repr(torch.get_default_device())
    with zg.device("cpu") as d:
        assert d == zg.device("cpu") and zg.zeros(1).device == zg.device("cpu")
    try:
        zg.set_default_device("cuda")  # allowed, as torch; factories then raise
        assert zg.get_default_device() == zg.device("cuda")
        with pytest.raises(AssertionError, match="CUDA"):
            zg.zeros(2)
        assert zg.zeros(2, device="cpu").shape == (2,)  # an explicit device still wins
        with zg.device("cpu"):
            assert zg.ones(1).device == zg.device("cpu")
        with pytest.raises(AssertionError, match="CUDA"):
            zg.randn(2)
    finally:
        zg.set_default_device(None)
    assert zg.zeros(2).device == zg.device("cpu")
    with zg.device("mps"), pytest.raises(RuntimeError, match="mps"):
        zg.tensor([1.0])
    assert zg.tensor([1.0]).device == zg.device("cpu")


# ----- legacy type() -------------------------------------------------------------------
def test_tensor_type_as_torch():
    for make in (lambda m: m.zeros(2), lambda m: m.arange(3), lambda m: m.zeros(2) > 0,
                 lambda m: m.zeros(2, dtype=m.int32), lambda m: m.zeros(2, dtype=m.float64)):
        assert make(zg).type() == make(torch).type()
    x, t = zg.zeros(2), torch.zeros(2)
    for target in ("LongTensor", "DoubleTensor", "BoolTensor"):
        got, want = x.type(getattr(zg, target)), t.type(getattr(torch, target))
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        assert x.type("torch." + target).dtype == got.dtype
    assert x.type(zg.float16).dtype == zg.float16
    with pytest.raises(ValueError):
        t.type("float")
    with pytest.raises(ValueError, match="invalid type"):
        x.type("float")


def test_get_device_and_pinning_as_torch():
    x, t = zg.zeros(2), torch.zeros(2)
    assert x.get_device() == t.get_device() == -1
    assert x.is_pinned() is t.is_pinned() is False
    with pytest.raises(RuntimeError, match="accelerator"):
        t.pin_memory()
    with pytest.raises(RuntimeError, match="accelerator"):
        x.pin_memory()
