"""Shared test helpers: parity against torch (the oracle) and float64 gradient checks.

Use from any test module:
    from tests.helpers import assert_parity, check_grad, rand_array

`assert_parity(zg_fn, torch_fn, inputs)` runs the same function in zengrad and in torch on
copies of the same NumPy inputs and compares every output (shape, dtype, values) and the
gradient of every floating input (from one backward with a random seeded cotangent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

import zengrad as zg

# (rtol, atol scale): atol = scale * max|reference|, so values near zero in a result of
# magnitude M are compared to M's precision rather than to their own
TOLERANCES = {np.dtype(np.float64): (1e-10, 1e-10), np.dtype(np.float32): (1e-5, 1e-5)}


def rand_array(rng: np.random.Generator, shape, dtype=np.float64, low=-2.0, high=2.0):
    """Uniform values in [low, high) as a NumPy array of shape and dtype."""
    return np.asarray(rng.uniform(low, high, size=shape), dtype=dtype)


def away_from_zero(rng: np.random.Generator, shape, dtype=np.float64, low=0.5, high=2.0):
    """Values with |x| in [low, high) and a random sign (for div, abs, reciprocal ...)."""
    mag = rng.uniform(low, high, size=shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return np.asarray(mag * sign, dtype=dtype)


def _as_list(out) -> list:
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _dtype_name(dt) -> str:
    if isinstance(dt, torch.dtype):
        return str(dt).split(".")[-1]
    return np.dtype(dt).name


def _close(actual: np.ndarray, expected: np.ndarray, what: str, rtol=None, atol=None) -> None:
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != torch's {expected.shape}"
    )
    if expected.dtype.kind not in "fc":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    r, a = TOLERANCES.get(np.dtype(expected.dtype), (1e-5, 1e-5))
    r = r if rtol is None else rtol
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]), initial=1.0))
    a = a * scale if atol is None else atol
    np.testing.assert_allclose(actual, expected, rtol=r, atol=a, err_msg=what)


def assert_parity(
    zg_fn: Callable,
    torch_fn: Callable,
    inputs: Sequence,
    *,
    grad: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> None:
    """Outputs and input gradients of zg_fn(*inputs) equal those of torch_fn(*inputs).

    inputs: NumPy arrays (floating ones require grad when grad=True) or other values passed
    unchanged to both functions. Outputs may be a tensor or a tuple/list of tensors;
    integer and bool outputs are compared exactly, floating ones with TOLERANCES (float64
    tight, float32 1e-5 relative) unless rtol/atol are given.
    """
    zg_in, th_in = [], []
    for x in inputs:
        if isinstance(x, (np.ndarray, np.generic)):
            x = np.asarray(x)
            needs = grad and x.dtype.kind == "f"
            zg_in.append(zg.from_numpy(x.copy()).requires_grad_(needs))
            th_in.append(torch.from_numpy(x.copy()).requires_grad_(needs))
        else:
            zg_in.append(x)
            th_in.append(x)
    zg_out = _as_list(zg_fn(*zg_in))
    th_out = _as_list(torch_fn(*th_in))
    assert len(zg_out) == len(th_out), f"{len(zg_out)} outputs, torch gives {len(th_out)}"
    for k, (zo, to) in enumerate(zip(zg_out, th_out)):
        assert isinstance(zo, zg.Tensor), f"output {k} is {type(zo).__name__}, not a Tensor"
        assert _dtype_name(zo.dtype) == _dtype_name(to.dtype), (
            f"output {k}: dtype {zo.dtype} != torch's {to.dtype}"
        )
        _close(zo.detach().numpy(), to.detach().numpy(), f"output {k}", rtol, atol)
    if not grad:
        return

    # one backward with a random cotangent per differentiable output
    rng = np.random.default_rng(seed)
    zg_pairs, th_pairs = [], []
    for zo, to in zip(zg_out, th_out):
        if to.requires_grad:
            assert zo.requires_grad, "torch output requires grad but zengrad's does not"
            cot = rng.standard_normal(to.shape).astype(zo.dtype)
            zg_pairs.append((zo, cot))
            th_pairs.append((to, torch.from_numpy(cot.copy())))
    if not th_pairs:
        return
    torch.autograd.backward([t for t, _ in th_pairs], [c for _, c in th_pairs])
    if len(zg_pairs) == 1:
        zo, cot = zg_pairs[0]
        zo.backward(zg.from_numpy(cot))
    else:
        zg.stack([(zo * zg.from_numpy(c)).sum() for zo, c in zg_pairs]).sum().backward()
    for i, (zi, ti) in enumerate(zip(zg_in, th_in)):
        if not isinstance(ti, torch.Tensor) or not ti.requires_grad:
            continue
        expected = np.zeros(ti.shape, _dtype_name(ti.dtype)) if ti.grad is None else (
            ti.grad.numpy()
        )
        assert zi.grad is not None or not np.any(expected), f"input {i}: no grad in zengrad"
        actual = np.zeros_like(expected) if zi.grad is None else zi.grad.numpy()
        assert zi.grad is None or zi.grad.dtype == zi.dtype, (
            f"input {i}: grad dtype {zi.grad.dtype} != input dtype {zi.dtype}"
        )
        _close(actual, expected, f"grad of input {i}", rtol, atol)


def check_grad(fn: Callable, *arrays, **kwargs) -> bool:
    """zengrad.gradcheck of fn on float64 copies of arrays (all requiring grad)."""
    inputs = [zg.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    return zg.gradcheck(fn, inputs, **kwargs)


def assert_same_bits_at_one_and_two_threads(run: Callable[[], list]) -> None:
    """run() (a list of arrays) gives the same bits at 1 and at 2 zengrad threads, BLAS held
    at one thread in both: how zengrad cuts and spreads its work must not change a bit, but
    OpenBLAS's own split of one product may (with its Haswell and Zen kernels a product's
    last bits depend on its thread count; ZENGRAD_TEST_THREADS=2 runs BLAS at two)."""
    from zengrad.ops.blas_threads import one_blas_thread

    before = zg.get_num_threads()
    try:
        zg.set_num_threads(1)
        with one_blas_thread():  # (after set_num_threads, which sets BLAS's count too)
            one = run()
        zg.set_num_threads(2)
        with one_blas_thread():
            two = run()
    finally:
        zg.set_num_threads(before)
    assert len(one) == len(two)
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)
