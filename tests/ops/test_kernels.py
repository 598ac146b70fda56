"""ops.kernels: a fused elementwise kernel gives the same bits compiled (Numba) and over whole
arrays (NumPy's ufuncs), in place or into outputs of its own, and falls back to the whole-array
form for arrays the compiled loop does not take."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from zengrad.ops import kernels
from zengrad.ops.activation import RELU_GRAD, RELU_GRAD_INPLACE
from zengrad.ops.kernels import Kernel, kmath
from zengrad.ops.norm_kernels import AFFINE, BATCH_DX, LAYER_DX, LAYER_DX_FROM_G
from zengrad.ops.recurrent import _STEP_KERNELS
from zengrad.optim.adam import _adam_kernel
from zengrad.optim.sgd import _PLAIN, _momentum_kernel

needs_numba = pytest.mark.skipif(not kernels.numba_enabled(), reason="Numba off or missing")


def _values(rng, n: int, dtype, special: bool) -> np.ndarray:
    a = rng.standard_normal(n).astype(dtype)
    if special and n >= 6:
        a[:6] = [np.inf, -np.inf, np.nan, -0.0, 0.0, np.finfo(dtype).tiny / 4]
    return a


_NUMBA = kernels.numba_module()  # the module (or False), whatever a test switches off


def _run(kernel: Kernel, arrays, scalars, outs, compiled: bool, monkeypatch) -> list:
    arrays = [a.copy() for a in arrays]
    outs = [o.copy() for o in outs]
    monkeypatch.setattr(kernels, "_numba", _NUMBA if compiled else False)
    assert kernel.compiles(arrays, outs) == compiled
    kernel(arrays, scalars, outs)
    monkeypatch.setattr(kernels, "_numba", _NUMBA)
    return [arrays[i] for i in kernel.outs if i is not None] + outs


# Adam's options (shrinks, l2, maximize, amsgrad, b_side): every pair of two options in each
# of its four combinations (6 of the 32 combinations, each a compiled loop per dtype); the
# optimizer parity tests run the others against torch.
_ADAM_OPTIONS = [tuple(bool(int(c)) for c in row)
                 for row in ("00000", "01111", "10110", "11010", "11101", "10001")]


def _cases():
    """(kernel, n arrays, scalars, n own outputs) for every kernel the project defines."""
    out = []
    for key in _ADAM_OPTIONS:
        k = _adam_kernel(*key)
        out.append((f"adam{key}", k, (0.99, 0.01, 0.1, 0.999, 1e-3, 1e-8, -1e-3)))
    out.append(("sgd", _PLAIN, (-0.05,)))
    for key in [(u, d, n) for u in (False, True) for d in (False, True) for n in (False, True)]:
        out.append((f"momentum{key}", _momentum_kernel(*key), (0.9, 0.7, -0.05)))
    out.append(("relu_grad", RELU_GRAD, (0.0,)))
    out.append(("relu_grad_inplace", RELU_GRAD_INPLACE, (0.0,)))
    for prev in (False, True):
        cell, grads = _STEP_KERNELS[prev]
        out.append((f"lstm_cell{prev}", cell, (0.5,)))
        out.append((f"lstm_grads{prev}", grads, (1.0, 0.0)))
    return out


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 1000])
@pytest.mark.parametrize("name,kernel,scalars", _cases(), ids=[c[0] for c in _cases()])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in the whole-array form
def test_compiled_and_whole_array_forms_give_the_same_bits(name, kernel, scalars, n, dtype,
                                                           monkeypatch):
    rng = np.random.default_rng(n)
    arrays = [_values(rng, n, dtype, special=True) for _ in range(kernel.n_arrays)]
    if name.startswith("adam"):  # second moments (and their maximum) are >= 0
        for i in range(3, kernel.n_arrays):
            arrays[i] = np.abs(arrays[i])
    outs = [np.empty(n, dtype) for i in kernel.outs if i is None]
    fast = _run(kernel, arrays, scalars, outs, True, monkeypatch)
    slow = _run(kernel, arrays, scalars, outs, False, monkeypatch)
    assert len(fast) == len(kernel.outs)
    for a, b in zip(fast, slow):
        assert a.dtype == dtype
        # bit for bit, signed zeros included; a NaN's sign and payload depend on the operand
        # order the compiler picks (IEEE leaves them open), so NaNs only need to match
        nan = np.isnan(a)
        np.testing.assert_array_equal(nan, np.isnan(b))
        np.testing.assert_array_equal(a[~nan].view(f"u{a.itemsize}"),
                                      b[~nan].view(f"u{b.itemsize}"))


@needs_numba
def test_a_scalar_is_converted_to_the_arrays_dtype(monkeypatch):
    """0.1 as float32 then multiplied, as NumPy does with a Python float: not in float64."""
    k = Kernel(lambda x, s: x * s, 1, 1, (None,))
    x = np.float32([3.0, 7.0])
    out = np.empty(2, np.float32)
    k([x], (0.1,), [out])
    np.testing.assert_array_equal(out, x * np.float32(0.1))


def test_arrays_the_loop_does_not_take_run_whole(monkeypatch):
    """Not contiguous, or another dtype: the same function over whole arrays."""
    calls = []
    k = Kernel(lambda a, b, s: a * s + b, 2, 1, (0,))
    monkeypatch.setattr(k, "_compile", lambda: calls.append(1))
    a = np.arange(12.0).reshape(3, 4)
    b = np.ones((3, 4))
    view = a[:, ::2]
    k([view, b[:, ::2]], (2.0,))
    np.testing.assert_array_equal(a[:, ::2], np.arange(12.0).reshape(3, 4)[:, ::2] * 2 + 1)
    h = np.float16([1, 2])
    k([h, np.float16([1, 1])], (3.0,))
    np.testing.assert_array_equal(h, np.float16([4, 7]))
    assert calls == []


def test_the_whole_array_form_calls_the_arrays_module():
    """`kmath` is the arrays' module there (CuPy's ufuncs for CuPy arrays)."""
    seen = []

    class Module:
        def __getattr__(self, name):
            seen.append(name)
            return getattr(kmath, name)

    k = Kernel(lambda x: kmath.sqrt(x), 1, 0, (0,))
    x = np.float64([4.0, 9.0])
    k._eager(Module())(x)
    assert seen == ["sqrt"]


def test_numba_off_by_environment():
    code = ("from zengrad.ops import kernels; import sys; "
            "sys.exit(0 if not kernels.numba_enabled() else 1)")
    env = {"ZENGRAD_NUMBA": "0", "PATH": ""}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def _same(a: np.ndarray, b: np.ndarray) -> None:
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    np.testing.assert_array_equal(a[~nan].view(f"u{a.itemsize}"), b[~nan].view(f"u{b.itemsize}"))


@needs_numba
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,cols", [(4, 37), (1, 1), (3, 0), (0, 5)])
def test_rows_and_columns_broadcast_alike_in_both_forms(rows, cols, dtype, monkeypatch):
    """A 2-D first array (R, C) with values per row (R, 1) and per column (C,): batch
    norm's kernels and a column one, compiled and whole-array."""
    rng = np.random.default_rng(rows * 100 + cols)
    full = [_values(rng, rows * cols, dtype, True).reshape(rows, cols) for _ in range(2)]
    row = [_values(rng, rows, dtype, False).reshape(rows, 1) for _ in range(3)]
    col = _values(rng, cols, dtype, False)
    cases = [(BATCH_DX, [*full, *row])]
    cases += [(k, [full[0], *row[: 1 + w + b]]) for (w, b), k in AFFINE.items()]
    cases += [(k, [full[0], row[0], *((col,) * (w + b))]) for (w, b), k in AFFINE.items()]
    cases += [(k, [*full, *row]) for k in (LAYER_DX, LAYER_DX_FROM_G)]
    cases.append((Kernel(lambda x, c, r: x * c + r, 3, 0, (None,)), [full[0], col, row[0]]))
    for kernel, arrays in cases:
        outs = [np.empty((rows, cols), dtype) for i in kernel.outs if i is None]
        assert kernel.compiles(arrays, outs)
        fast = _run(kernel, arrays, (), outs, True, monkeypatch)
        slow = _run(kernel, arrays, (), outs, False, monkeypatch)
        for a, b in zip(fast, slow):
            _same(a, b)


@needs_numba
def test_arrays_dense_in_another_memory_order_compile(monkeypatch):
    """Channel-major (N, C, H, W) views of one layout run through the flat loop."""
    rng = np.random.default_rng(0)
    g, y = (rng.standard_normal((3, 5, 4, 2)).transpose(1, 0, 2, 3) for _ in range(2))
    dx = np.empty_like(g)
    assert not g.flags.c_contiguous and RELU_GRAD.compiles([g, y], [dx])
    RELU_GRAD([g, y], (0,), [dx])
    np.testing.assert_array_equal(dx, g * (y > 0))
    assert not RELU_GRAD.compiles([g, np.ascontiguousarray(y)], [dx])  # two layouts
