"""Namespaces and small surface a PyTorch program touches even on a CPU, compared with torch:
zengrad.cuda / accelerator / backends / utils.data, legacy constructors, Size, __format__,
nelement and NumPy's axis=/keepdims= names."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import zengrad as zg


# ----- cuda / accelerator / backends -------------------------------------------------
def test_cuda_answers_as_torch_cpu_build():
    assert zg.cuda.is_available() is torch.cuda.is_available() is False
    assert zg.cuda.device_count() == torch.cuda.device_count() == 0
    assert zg.cuda.is_initialized() is False
    state = zg.default_generator.get_state()
    assert zg.cuda.manual_seed(3) is None and zg.cuda.manual_seed_all(3) is None
    assert zg.cuda.seed() is None and zg.cuda.empty_cache() is None
    # seeding cuda leaves the CPU generator alone
    np.testing.assert_array_equal(zg.default_generator.get_state().numpy(), state.numpy())
    assert zg.cuda.memory_allocated() == torch.cuda.memory_allocated() == 0


@pytest.mark.parametrize("name", ["synchronize", "current_device", "get_device_name"])
def test_cuda_device_queries_raise_as_torch(name):
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        getattr(torch.cuda, name)()
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        getattr(zg.cuda, name)()


def test_accelerator_as_torch():
    assert zg.accelerator.is_available() is torch.accelerator.is_available() is False
    assert zg.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert zg.accelerator.device_count() == torch.accelerator.device_count() == 0
    with pytest.raises(RuntimeError, match="none is available"):
        torch.accelerator.current_device_index()
    with pytest.raises(RuntimeError, match="none is available"):
        zg.accelerator.current_device_index()


def test_backends_flags_as_torch():
    assert zg.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert zg.backends.mps.is_built() is torch.backends.mps.is_built()
    for flag in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert getattr(zg.backends.cudnn, flag) == getattr(torch.backends.cudnn, flag), flag
    assert zg.backends.cudnn.is_available() is torch.backends.cudnn.is_available()
    assert zg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    old = zg.backends.cudnn.benchmark, zg.backends.cudnn.deterministic
    try:  # programs set these; they read back and change nothing
        zg.backends.cudnn.benchmark, zg.backends.cudnn.deterministic = True, True
        assert zg.backends.cudnn.benchmark and zg.backends.cudnn.deterministic
    finally:
        zg.backends.cudnn.benchmark, zg.backends.cudnn.deterministic = old


def test_manual_seed_returns_the_generator():
    g = zg.manual_seed(0)
    assert isinstance(g, zg.Generator) and g is zg.default_generator


# ----- utils.data ------------------------------------------------------------------------
def test_utils_data_is_an_attribute_namespace_without_import():
    # a fresh interpreter: `import zengrad as torch` alone must make torch.utils.data work
    code = (
        "import zengrad as torch\n"
        "ds = torch.utils.data.TensorDataset(torch.arange(6.0).reshape(3, 2))\n"
        "dl = torch.utils.data.DataLoader(ds, batch_size=2)\n"
        "print(sum(1 for _ in dl), type(torch.utils.data.Dataset).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "type"]


def test_from_utils_data_import():
    from zengrad.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert DataLoader is zg.data.DataLoader and Dataset is zg.data.Dataset
    ds = TensorDataset(zg.arange(10.0))
    a, b = random_split(ds, [7, 3])
    assert (len(a), len(b)) == (7, 3)
    with pytest.raises(AttributeError, match="no attribute"):
        zg.utils.data.NoSuchThing  # noqa: B018


def test_utils_data_submodules_as_torch():
    from zengrad.utils.data.dataloader import DataLoader, default_collate
    from zengrad.utils.data.dataset import Dataset, Subset, TensorDataset
    from zengrad.utils.data.sampler import RandomSampler, Sampler

    assert DataLoader is zg.utils.data.DataLoader and Dataset is zg.data.Dataset
    assert issubclass(RandomSampler, Sampler) and callable(default_collate)
    ds = TensorDataset(zg.arange(4.0))
    assert len(Subset(ds, [0, 2])) == 2
    with pytest.raises(ImportError):
        from zengrad.utils.data.sampler import NoSuchSampler  # noqa: F401


# ----- legacy constructors ------------------------------------------------------------------
LEGACY = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_typed_constructors_as_torch(name):
    for args in [([1.5, 0.0, 2.0],), ([[1, 0], [2, 3]],), (2, 3), (4,), ()]:
        z, t = getattr(zg, name)(*args), getattr(torch, name)(*args)
        assert z.shape == tuple(t.shape) and str(z.dtype) == str(t.dtype).replace("torch.", "")
        if args and isinstance(args[0], list):
            np.testing.assert_array_equal(z.numpy(), t.numpy())
    assert isinstance(getattr(zg, name)([1]), getattr(zg, name))
    assert isinstance(getattr(zg, name)([1]), zg.Tensor)


def test_isinstance_of_typed_tensor_checks_dtype_as_torch():
    for z, t in [(zg.zeros(2), torch.zeros(2)), (zg.arange(3), torch.arange(3))]:
        for name in LEGACY:
            assert isinstance(z, getattr(zg, name)) == isinstance(t, getattr(torch, name))
    assert not isinstance(np.zeros(2), zg.FloatTensor)


def test_tensor_legacy_forms_as_torch():
    for args in [(2, 3), ([1.0, 2.0],), ([1, 2],), ([True, False],), (), (zg.Size([2, 2]),)]:
        targs = tuple(torch.Size(a) if isinstance(a, zg.Size) else a for a in args)
        z, t = zg.Tensor(*args), torch.Tensor(*targs)
        assert z.shape == tuple(t.shape) and z.dtype == zg.float32 and t.dtype == torch.float32
        if args and isinstance(args[0], list):
            np.testing.assert_array_equal(z.numpy(), t.numpy())
    np.testing.assert_array_equal(zg.Tensor(2, 3).numpy(), np.zeros((2, 3), np.float32))


def test_tensor_legacy_data_rules_as_torch():
    cases = [np.arange(3), np.zeros(3), np.array(2.0), np.array([True, False]), range(3),
             np.int64(3)]
    for data in cases:
        z, t = zg.Tensor(data), torch.Tensor(data)
        assert z.shape == tuple(t.shape) and z.dtype == zg.float32 and t.dtype == torch.float32
    for make in (lambda m: m.Tensor(m.arange(3)), lambda m: m.Tensor(m.zeros(3))):
        z, t = make(zg), make(torch)  # a tensor keeps its dtype
        assert str(z.dtype) == str(t.dtype).replace("torch.", "")
    src = zg.zeros(3)
    zg.Tensor(src)[0] = 5.0  # shares the data, as torch
    assert src[0].item() == 5.0
    assert zg.LongTensor(np.zeros(3)).dtype == zg.int64
    for bad in (lambda m: m.Tensor(3.0), lambda m: m.Tensor(np.float64(3.0)),
                lambda m: m.LongTensor(m.zeros(3))):
        with pytest.raises(TypeError):
            bad(torch)
        with pytest.raises(TypeError, match="Tensor"):
            bad(zg)
    with pytest.raises(TypeError):  # torch refuses a Python number here; zengrad takes it
        torch.sqrt(4)
    assert zg.sqrt(4).item() == 2.0  # (and never reads it as a size: not zeros(4))


def test_tensor_legacy_bad_inputs():
    with pytest.raises(RuntimeError, match="negative dimension"):
        zg.Tensor(-1)
    with pytest.raises(TypeError, match="str"):
        zg.Tensor("a")
    with pytest.raises(TypeError, match="sizes"):
        zg.Tensor([1.0], 2)
    with pytest.raises(AssertionError, match="CUDA"):
        zg.LongTensor([1], device="cuda")


# ----- Size ------------------------------------------------------------------------
def test_size_as_torch():
    z, t = zg.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    for got, want in [(z.size(), t.size()), (z.shape, t.shape)]:
        assert type(got) is zg.Size and isinstance(got, tuple) and got == tuple(want)
        assert got.numel() == want.numel()
        assert type(got[1:]) is zg.Size and got[1:] == tuple(want[1:])
        assert got[0] == 2 and type(got[0]) is int
        assert type(got + (5,)) is zg.Size and got + (5,) == tuple(want + (5,))
        assert type((1,) + got) is zg.Size and (1,) + got == tuple((1,) + want)
    assert repr(zg.Size([2, 3])) == repr(torch.Size([2, 3])).replace("torch", "zengrad")
    assert zg.Size().numel() == torch.Size().numel() == 1
    assert zg.zeros(2, 3).reshape(zg.Size([3, 2])).shape == (3, 2)
    assert zg.zeros(zg.Size([2, 2])).shape == (2, 2)
    with pytest.raises(TypeError, match="int"):
        zg.Size([2.5])
    assert zg.zeros(2, 3).size(-1) == 3


# ----- __format__ / nelement ----------------------------------------------------------------
@pytest.mark.parametrize("spec", ["{:.2f}", "{:>8.3f}", "{:e}", "{}", "{:d}"])
def test_format_of_0d_tensor_as_torch(spec):
    for z, t in [(zg.tensor(3.14159), torch.tensor(3.14159)), (zg.tensor(7), torch.tensor(7))]:
        try:
            want = spec.format(t)
        except (ValueError, TypeError) as e:
            with pytest.raises(type(e)):
                spec.format(z)
            continue
        assert spec.format(z) == want


def test_format_of_nd_tensor_as_torch():
    z, t = zg.zeros(2), torch.zeros(2)
    assert f"{z}" == repr(z) and f"{t}" == repr(t)
    with pytest.raises(TypeError):
        f"{t:.2f}"
    with pytest.raises(TypeError, match="0-d"):
        f"{z:.2f}"


def test_nelement():
    assert zg.zeros(2, 3).nelement() == torch.zeros(2, 3).nelement() == 6


# ----- NumPy's names: axis= / keepdims= ---------------------------------------------------
AXIS_CASES = [
    ("sum", {"axis": 1}), ("sum", {"axis": 0, "keepdims": True}), ("mean", {"axis": 1}),
    ("mean", {"axis": 1, "keepdims": True}), ("prod", {"axis": 0}), ("amax", {"axis": 1}),
    ("amin", {"axis": 0}), ("argmax", {"axis": 1}), ("argmin", {"axis": 0}),
    ("var", {"axis": 1}), ("std", {"axis": 0, "keepdims": True}), ("logsumexp", {"axis": 1}),
    ("cumsum", {"axis": 1}), ("softmax", {"axis": 1}), ("log_softmax", {"axis": 0}),
    ("unsqueeze", {"axis": 0}),
]


@pytest.mark.parametrize("name,kw", AXIS_CASES, ids=[f"{n}-{sorted(k)}" for n, k in AXIS_CASES])
def test_axis_alias_as_torch(name, kw):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    want = getattr(torch, name)(torch.tensor(a), **kw)
    for got in (getattr(zg, name)(zg.tensor(a), **kw), getattr(zg.tensor(a), name)(**kw)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_axis_alias_in_max_and_cat():
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    got, want = zg.tensor(a).max(axis=1), torch.tensor(a).max(axis=1)
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    x = zg.tensor(a)
    assert zg.cat([x, x], axis=1).shape == (3, 8) and zg.stack([x, x], axis=0).shape == (2, 3, 4)


def test_axis_alias_gradient_and_conflict():
    x = zg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x.sum(axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))
    with pytest.raises(TypeError, match="both 'dim' and its alias 'axis'"):
        x.sum(dim=0, axis=1)
