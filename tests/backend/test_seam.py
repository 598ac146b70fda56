"""Every registry entry (tests/ops/registry/) run on device 'cuda' through the seam, against
the same call on NumPy: the outputs and the input gradients must be the same.

The 'cuda' backend is the fake CuPy (no GPU needed; tests/backend/conftest.py), or the real
one with ZENGRAD_TEST_CUDA=cupy. The fake refuses NumPy, so an op that still calls `np.`
on its arrays, or converts them silently, fails here, naming the file and line. Files not
migrated to the seam yet (PHASE2) turn such a failure into an xfail naming that line; a
failure anywhere else fails the test.
"""

from __future__ import annotations

import os
import traceback
import zlib

import numpy as np
import pytest

import zengrad as zg
from tests.backend.fake_cupy import HostArrayError
from tests.ops.registry import ENTRIES
from tests.ops.registry.opinfo import F64, Maker, OpInfo, cast_sample, leaves, to_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# files still computing with NumPy directly (issue 15, phase 2): a failure raised there
# is expected until they are migrated
PHASE2: set[str] = set()


def _samples(entry: OpInfo):
    return entry.samples(Maker(F64, zlib.crc32(entry.name.encode())))


def _cases() -> list:
    return [pytest.param(entry, i, id=f"{entry.name}-{s.desc or i}")
            for entry in ENTRIES for i, s in enumerate(_samples(entry))]


def _to(x, device: str):
    """Tensors in a nested argument moved to device (a copy in the graph)."""
    if isinstance(x, zg.Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device) for v in x)
    return x


def _host(x):
    """An output as host values: tensors copied to the CPU, others as they are."""
    return x.cpu() if isinstance(x, zg.Tensor) else x


def _where(err: BaseException) -> str | None:
    """The zengrad file:line that made the call the fake CuPy refused (the innermost frame
    in zengrad/, or a NumPy frame called from there)."""
    frames = traceback.extract_tb(err.__traceback__)
    for f in reversed(frames):
        path = os.path.relpath(f.filename, ROOT)
        if path.startswith("zengrad/"):
            return f"{path}:{f.lineno}"
    return None


def _run(entry: OpInfo, s, device: str):
    """(inputs that require grad, outputs, input grads) of one call on device."""
    grad = entry.grad and s.grad
    args = to_lib(s.args, "zg", grad)
    kwargs = {k: to_lib(v, "zg", grad) for k, v in s.kwargs.items()}
    inputs = [t for t in leaves((args, list(kwargs.values()))) if isinstance(t, zg.Tensor)]
    if device != "cpu":
        args, kwargs = _to(args, device), {k: _to(v, device) for k, v in kwargs.items()}
    out = entry.zg_callable()(*args, **kwargs)
    outs = [_host(o) for o in leaves(out)]
    rng = np.random.default_rng(0)
    total = None
    for o in outs:
        if isinstance(o, zg.Tensor) and o.requires_grad and o.dtype.kind == "f":
            cot = zg.from_numpy(rng.standard_normal(o.shape).astype(o.dtype))
            term = (o * cot).sum()
            total = term if total is None else total + term
    grads = []
    if total is not None:
        total.backward()
        grads = [None if t.grad is None else t.grad.numpy() for t in inputs if t.requires_grad]
    return outs, grads


def _same(actual, expected, what: str) -> None:
    if isinstance(expected, zg.Tensor):
        assert isinstance(actual, zg.Tensor), f"{what}: {type(actual).__name__}, not a Tensor"
        assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
        np.testing.assert_allclose(actual.detach().numpy(), expected.detach().numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=what)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12, err_msg=what)
    else:
        assert actual == expected or (actual != actual and expected != expected), what


@pytest.mark.parametrize("entry,i", _cases())
def test_entry_on_cuda_matches_numpy(cuda, entry: OpInfo, i: int):
    s = cast_sample(_samples(entry)[i], F64)
    zg.manual_seed(0)
    expected = _run(entry, s, "cpu")
    zg.manual_seed(0)
    try:
        actual = _run(entry, s, "cuda")
    except Exception as err:
        where = _where(err)
        phase2 = where is not None and where.rsplit(":", 1)[0] in PHASE2
        if phase2 and isinstance(err, (HostArrayError, TypeError, AttributeError)):
            pytest.xfail(f"phase 2: {where}: {type(err).__name__}: {str(err)[:120]}")
        raise AssertionError(f"on cuda, at {where}: {type(err).__name__}: {err}") from err
    outs, grads = actual
    assert len(outs) == len(expected[0]), "number of outputs"
    for k, (a, b) in enumerate(zip(outs, expected[0])):
        _same(a, b, f"output {k}")
    assert len(grads) == len(expected[1]), "number of input grads"
    for k, (a, b) in enumerate(zip(grads, expected[1])):
        if b is None:
            assert a is None or not np.any(a), f"grad {k}: cpu has none"
        else:
            assert a is not None, f"grad {k}: none on cuda"
            _same(a, b, f"grad {k}")
