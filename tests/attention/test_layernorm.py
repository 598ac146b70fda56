"""LayerNorm: gradcheck of the fused op and parity with torch.nn.LayerNorm."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zengrad as zg
from tests.attention.parity import check_module
from tests.helpers import assert_parity, rand_array
from zengrad.nn.layernorm import LayerNorm
from zengrad.ops.layernorm import layer_norm


@pytest.mark.parametrize("shape,norm", [((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((4,), (4,))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_gradcheck(rng, shape, norm, affine):
    x = zg.tensor(rand_array(rng, shape), requires_grad=True)
    w = zg.tensor(rand_array(rng, norm), requires_grad=True) if affine != "none" else None
    b = zg.tensor(rand_array(rng, norm), requires_grad=True) if affine == "both" else None
    inputs = [t for t in (x, w, b) if t is not None]

    def fn(*ts):
        it = iter(ts[1:])
        wi = next(it) if w is not None else None
        bi = next(it) if b is not None else None
        return layer_norm(ts[0], norm, wi, bi, eps=1e-3)

    assert zg.gradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,norm", [((6, 8), 8), ((2, 5, 16), (16,)), ((3, 4, 5), (4, 5))])
def test_functional_parity(rng, dtype, shape, norm):
    n = (norm,) if isinstance(norm, int) else norm
    x = rand_array(rng, shape, dtype, -3, 5)  # an offset mean: the centring matters
    w, b = rand_array(rng, n, dtype), rand_array(rng, n, dtype)
    assert_parity(lambda x, w, b: layer_norm(x, norm, w, b),
                  lambda x, w, b: torch.nn.functional.layer_norm(x, n, w, b), [x, w, b])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"eps": 1e-2}])
def test_module_parity(rng, dtype, kw):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.LayerNorm((4, 6), dtype=tdt, **kw)
    with torch.no_grad():  # not the identity init, so weight and bias matter
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, dtype=tdt))
    zm = LayerNorm((4, 6), dtype=dtype, **kw)
    check_module(zm, tm, {"x": rand_array(rng, (3, 4, 6), dtype)}, lambda m, t: m(t["x"]),
                 grads=("x",))


def test_no_affine_and_init():
    m = LayerNorm(5, elementwise_affine=False)
    assert m.weight is None and m.bias is None and list(m.state_dict()) == []
    m = LayerNorm([2, 3])
    assert m.normalized_shape == (2, 3) and m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.data, np.ones((2, 3)))
    np.testing.assert_array_equal(m.bias.data, np.zeros((2, 3)))
    y = m(zg.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)))
    flat = y.detach().numpy().reshape(4, -1)
    np.testing.assert_allclose(flat.mean(1), 0, atol=1e-6)
    np.testing.assert_allclose(flat.var(1), 1, rtol=1e-3)  # eps shrinks it a little


def test_errors():
    m = LayerNorm(4)
    with pytest.raises(ValueError, match=r"does not end with normalized_shape \[4\]"):
        m(zg.ones(3, 5))
    with pytest.raises(TypeError, match="floating point"):
        m(zg.tensor(np.ones((2, 4), np.int64)))
    with pytest.raises(TypeError, match="dtype"):
        m(zg.ones(2, 4, dtype=np.float64))
    with pytest.raises(ValueError, match="positive"):
        LayerNorm(0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_blocks_match_torch_and_any_thread_count(rng, dtype, monkeypatch):
    """Past ROW_SPLIT_MIN elements the rows run in blocks on zengrad's threads: the result
    matches torch and is the same bits at one thread and at two."""
    from zengrad.ops import blas_threads, threads
    from zengrad.ops import layernorm as ln_op

    shape = (3, 350, 130)  # 136,500 elements: 4 blocks, the last one short
    monkeypatch.setattr(ln_op, "ROW_THREAD_MIN", ln_op.ROW_SPLIT_MIN)  # on the threads
    assert np.prod(shape) >= ln_op.ROW_SPLIT_MIN
    x = rand_array(rng, shape, dtype, -3, 5)
    w, b = rand_array(rng, (130,), dtype), rand_array(rng, (130,), dtype)
    assert_parity(lambda x, w, b: layer_norm(x, 130, w, b),
                  lambda x, w, b: torch.nn.functional.layer_norm(x, (130,), w, b), [x, w, b])
    g = rand_array(rng, shape, dtype)
    before = threads.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            threads.set_num_threads(n)
            xt, wt, bt = (zg.tensor(a, requires_grad=True) for a in (x, w, b))
            with blas_threads.one_blas_thread():  # zengrad's thread count is what is checked
                y = layer_norm(xt, 130, wt, bt)
                y.backward(zg.tensor(g))
            results.append([t.detach().numpy().tobytes() for t in (y, xt.grad, wt.grad, bt.grad)])
    finally:
        threads.set_num_threads(before)
    assert results[0] == results[1]
