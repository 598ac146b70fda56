"""Generic tests made from the registry: every (entry x sample) against torch 2.13.

    forward     values, shapes and dtypes equal torch's (float32 and float64 samples)
    grad        input gradients equal torch autograd's, for a random output cotangent
    gradcheck   float64 finite differences agree with the engine's gradients
    dtype       the output dtypes for float32, float64 and int64 inputs are torch's (or
                both libraries refuse the input)
    method      x.op(...) equals torch's x.op(...) where both have the method
    errors      bad inputs raise a clear exception raised by zengrad, not NumPy
    coverage    every public op has an entry (non-ops are in an explicit skip-list)
"""

from __future__ import annotations

import traceback
import zlib

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.ops.registry import ENTRIES
from tests.ops.registry.coverage import uncovered_public_ops
from tests.ops.registry.opinfo import (
    F32,
    F64,
    I64,
    KINDS,
    Maker,
    OpInfo,
    Sample,
    cast_sample,
    leaves,
    resolve,
    to_lib,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:The reduce argument of torch.scatter:UserWarning")  # (the scatter reduce= sample)

CLEAR_ERRORS = (TypeError, ValueError, RuntimeError, IndexError, NotImplementedError)


def _seed(entry: OpInfo) -> int:
    return zlib.crc32(entry.name.encode())


def _samples(entry: OpInfo, dtype) -> list[Sample]:
    return entry.samples(Maker(dtype, _seed(entry)))


def _cases(kind: str) -> list:
    """pytest params (entry, sample index) for a kind of test, with the samples' xfails."""
    params = []
    for entry in ENTRIES:
        if kind != "forward" and not entry.grad:
            continue
        if kind == "gradcheck" and not entry.gradcheck:
            continue
        for i, s in enumerate(_samples(entry, F64)):
            if kind != "forward" and not s.grad or kind == "gradcheck" and not s.gradcheck:
                continue
            marks = []
            reason = s.xfail.get(kind) or entry.xfail.get(kind)
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            params.append(pytest.param(entry, i, id=f"{entry.name}-{s.desc or i}", marks=marks))
    return params


def _entry_cases(kind: str, applies=lambda e: True) -> list:
    params = []
    for entry in ENTRIES:
        if not applies(entry):
            continue
        reason = entry.xfail.get(kind)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(entry, id=entry.name, marks=marks))
    return params


def _call(entry: OpInfo, s: Sample, lib: str, grad: bool):
    args = to_lib(s.args, lib, grad)
    kwargs = {k: to_lib(v, lib, grad) for k, v in s.kwargs.items()}
    fn = entry.zg_callable() if lib == "zg" else entry.torch_callable()
    return args, kwargs, fn(*args, **kwargs)


def _dtype_name(dt) -> str:
    return str(dt).split(".")[-1] if isinstance(dt, torch.dtype) else np.dtype(dt).name


def _assert_close(actual: np.ndarray, expected: np.ndarray, tol, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.kind not in "fc":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    rtol, atol = tol
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]), initial=1.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def _assert_same(zg_out, th_out, tol, what: str = "output") -> None:
    zl, tl = leaves(zg_out), leaves(th_out)
    assert len(zl) == len(tl), f"{what}: {len(zl)} values, torch gives {len(tl)}"
    for k, (a, b) in enumerate(zip(zl, tl)):
        name = f"{what} {k}"
        if isinstance(b, torch.Tensor):
            assert isinstance(a, zg.Tensor), f"{name} is {type(a).__name__}, not a Tensor"
            assert _dtype_name(a.dtype) == _dtype_name(b.dtype), (
                f"{name}: dtype {a.dtype} != torch's {b.dtype}")
            _assert_close(a.detach().numpy(), b.detach().numpy(), tol, name)
        elif isinstance(b, float):
            assert a == pytest.approx(b, rel=tol[0], nan_ok=True), f"{name}: {a} != {b}"
        else:
            assert type(a) is type(b) or isinstance(b, torch.Size), (
                f"{name}: {type(a).__name__} != torch's {type(b).__name__}")
            assert a == b, f"{name}: {a!r} != torch's {b!r}"


@pytest.mark.parametrize("entry,i", _cases("forward"))
def test_forward(entry: OpInfo, i: int):
    for dtype in entry.dtypes:
        s = _samples(entry, dtype)[i]
        _, _, expected = _call(entry, s, "torch", False)
        _, _, actual = _call(entry, s, "zg", False)
        _assert_same(actual, expected, entry.tolerance(dtype), f"{dtype.name} output")
        for path in entry.covers:  # aliases compute the same
            alias = OpInfo(path, entry.samples, zg_fn=resolve(path, zengrad=True))
            _, _, actual = _call(alias, s, "zg", False)
            _assert_same(actual, expected, entry.tolerance(dtype), f"{path}: {dtype.name} output")


def _tensor_leaves(x, lib_type) -> list:
    return [v for v in leaves(x) if isinstance(v, lib_type)]


@pytest.mark.parametrize("entry,i", _cases("grad"))
def test_grad_parity(entry: OpInfo, i: int):
    checked = False
    for dtype in entry.dtypes:
        s = _samples(entry, dtype)[i]
        th_args, th_kw, th_out = _call(entry, s, "torch", True)
        zg_args, zg_kw, zg_out = _call(entry, s, "zg", True)
        rng = np.random.default_rng(0)
        th_pairs, zg_pairs = [], []
        for k, (zo, to) in enumerate(zip(leaves(zg_out), leaves(th_out))):
            if isinstance(to, torch.Tensor) and to.requires_grad:
                assert isinstance(zo, zg.Tensor) and zo.requires_grad, (
                    f"output {k} requires grad in torch, not in zengrad")
                cot = rng.standard_normal(to.shape).astype(_dtype_name(to.dtype))
                th_pairs.append((to, torch.from_numpy(cot.copy())))
                zg_pairs.append((zo, cot))
        if not th_pairs:
            continue
        torch.autograd.backward([t for t, _ in th_pairs], [c for _, c in th_pairs])
        total = None
        for zo, cot in zg_pairs:
            term = (zo * zg.from_numpy(cot)).sum()
            total = term if total is None else total + term
        total.backward()
        th_in = _tensor_leaves((th_args, list(th_kw.values())), torch.Tensor)
        zg_in = _tensor_leaves((zg_args, list(zg_kw.values())), zg.Tensor)
        for k, (zi, ti) in enumerate(zip(zg_in, th_in)):
            if not ti.requires_grad:
                continue
            expected = np.zeros(ti.shape, _dtype_name(ti.dtype)) if ti.grad is None else (
                ti.grad.numpy())
            got = zi.grad
            assert got is not None or not np.any(expected), f"input {k}: no grad in zengrad"
            actual = np.zeros_like(expected) if got is None else got.numpy()
            assert got is None or got.dtype == zi.dtype, (
                f"input {k}: grad dtype {got.dtype} != input dtype {zi.dtype}")
            _assert_close(actual, expected, entry.tolerance(dtype), f"{dtype.name} grad {k}")
        checked = True
    if not checked:
        pytest.skip("no output requires grad in torch for this sample")


@pytest.mark.parametrize("entry,i", _cases("gradcheck"))
def test_gradcheck(entry: OpInfo, i: int):
    s = cast_sample(_samples(entry, F64)[i], F64)
    args, kwargs, _ = _call(entry, s, "zg", True)
    diff = [t for t in _tensor_leaves((args, list(kwargs.values())), zg.Tensor)
            if t.requires_grad]
    if not diff:
        pytest.skip("no floating input")
    fn = entry.zg_callable()
    atol, rtol = entry.gradcheck_tol
    # gradcheck perturbs the inputs' arrays in place, so the call can close over args
    assert zg.gradcheck(lambda *_: fn(*args, **kwargs), diff, atol=atol, rtol=rtol)


@pytest.mark.parametrize("entry", _entry_cases("dtype"))
def test_output_dtype(entry: OpInfo):
    for dtype in (F32, F64, I64) if entry.int_dtype else (F32, F64):
        s = _samples(entry, dtype)[0]
        try:
            _, _, expected = _call(entry, s, "torch", False)
        except Exception as err:  # torch refuses this dtype: so must zengrad, clearly
            with pytest.raises(CLEAR_ERRORS) as info:
                _call(entry, s, "zg", False)
            _assert_own_error(info, f"torch: {err}")
            continue
        _, _, actual = _call(entry, s, "zg", False)
        for k, (a, b) in enumerate(zip(leaves(actual), leaves(expected))):
            if isinstance(b, torch.Tensor):
                assert isinstance(a, zg.Tensor), f"{dtype.name} input: output {k} not a Tensor"
                assert _dtype_name(a.dtype) == _dtype_name(b.dtype), (
                    f"{dtype.name} input: output {k} dtype {a.dtype} != torch's {b.dtype}")
                assert tuple(a.shape) == tuple(b.shape)


def _method_cases() -> list:
    params = []
    for entry in ENTRIES:
        names = [entry.method_name(), *entry.method_aliases] if entry.method_name() else []
        reason = entry.xfail.get("method")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params += [pytest.param(entry, n, id=f"{entry.name}-x.{n}", marks=marks) for n in names]
    return params


@pytest.mark.parametrize("entry,name", _method_cases())
def test_method(entry: OpInfo, name: str):
    for s in _samples(entry, F64):
        if s.args and isinstance(s.args[0], np.ndarray):
            break
    else:
        pytest.skip("no sample with a tensor first")
    results = []
    for lib in ("torch", "zg"):
        args = to_lib(s.args, lib, False)
        kwargs = {k: to_lib(v, lib, False) for k, v in s.kwargs.items()}
        results.append(getattr(args[0], name)(*args[1:], **kwargs))
    _assert_same(results[1], results[0], entry.tolerance(F64), f"x.{name}()")


def _error_cases() -> list:
    params = []
    for entry in ENTRIES:
        if entry.errors is None:
            continue
        for k, e in enumerate(entry.errors()):
            params.append(pytest.param(entry, k, id=f"{entry.name}-{e.desc or k}"))
    return params


def _assert_own_error(info, context: str) -> None:
    """The exception was raised by zengrad's code (not inside NumPy) and says something."""
    frames = traceback.extract_tb(info.tb)
    where = frames[-1].filename if frames else ""
    assert "/numpy/" not in where, (
        f"raw NumPy error {info.type.__name__}: {info.value} ({context})")
    assert str(info.value), f"{info.type.__name__} without a message ({context})"


@pytest.mark.parametrize("entry,k", _error_cases())
def test_error_input(entry: OpInfo, k: int):
    e = entry.errors()[k]
    s = Sample(e.args, e.kwargs)
    with pytest.raises(Exception) as torch_info:
        _call(entry, s, "torch", False)
    with pytest.raises(e.exc, match=e.match) as info:
        _call(entry, s, "zg", False)
    _assert_own_error(info, f"torch: {torch_info.value}")


def test_every_public_op_has_an_entry():
    missing = uncovered_public_ops(ENTRIES)
    assert not missing, (
        "public ops without a registry entry (add one to tests/ops/registry/, or, for a "
        f"non-op, to coverage.SKIP with a reason): {missing}")


def test_entries_are_unique_and_sampled():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names)), "duplicate entries"
    for e in ENTRIES:
        samples = _samples(e, F64)
        assert samples, f"{e.name}: no samples"
        for s in samples:
            assert set(s.xfail) <= set(KINDS), f"{e.name}: unknown xfail kind {s.xfail}"
