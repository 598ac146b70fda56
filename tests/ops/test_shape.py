"""Shape ops and indexing: gradcheck (float64) and parity with torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, check_grad, rand_array

DTYPES = [np.float64, np.float32]

# name -> (input shape, zengrad fn, torch fn); the same lambda usually serves both
SAME = {
    "reshape": ((2, 3, 4), lambda x: x.reshape(4, -1)),
    "reshape_tuple": ((2, 3, 4), lambda x: x.reshape((6, 4))),
    "view": ((2, 3, 4), lambda x: x.view(-1)),
    "view_0d": ((), lambda x: x.view(1, 1)),
    "flatten": ((2, 3, 4), lambda x: x.flatten()),
    "flatten_1": ((2, 3, 4, 2), lambda x: x.flatten(1)),
    "flatten_mid": ((2, 3, 4, 2), lambda x: x.flatten(1, -2)),
    "transpose": ((2, 3, 4), lambda x: x.transpose(0, -1)),
    "T": ((3, 4), lambda x: x.T),
    "mT": ((2, 3, 4), lambda x: x.mT),
    "t": ((3, 4), lambda x: x.t()),
    "permute": ((2, 3, 4), lambda x: x.permute(2, 0, 1)),
    "permute_neg": ((2, 3, 4), lambda x: x.permute((-1, -3, -2))),
    "squeeze": ((1, 3, 1, 2), lambda x: x.squeeze()),
    "squeeze_dim": ((1, 3, 1, 2), lambda x: x.squeeze(-2)),
    "squeeze_non1": ((1, 3, 1, 2), lambda x: x.squeeze(1)),
    "unsqueeze": ((3, 2), lambda x: x.unsqueeze(0)),
    "unsqueeze_neg": ((3, 2), lambda x: x.unsqueeze(-1)),
    "unsqueeze_0d": ((), lambda x: x.unsqueeze(0)),
    "expand": ((3, 1), lambda x: x.expand(2, 3, 4)),
    "expand_keep": ((3, 1), lambda x: x.expand(-1, 5)),
    "repeat": ((2, 3), lambda x: x.repeat(2, 1, 3)),
    "repeat_same": ((2, 3), lambda x: x.repeat(1, 2)),
    "flip": ((2, 3, 4), lambda x: x.flip((0, -1))),
    "narrow": ((5, 3), lambda x: x.narrow(0, 1, 3)),
    "split_int": ((7, 3), lambda x: x.split(3)),
    "split_sizes": ((3, 7), lambda x: x.split([2, 4, 1], dim=-1)),
    "chunk": ((7, 3), lambda x: x.chunk(3)),
    "chunk_uneven": ((5, 2), lambda x: x.chunk(4, 0)),
    "unflatten": ((2, 12), lambda x: x.unflatten(1, (3, 4))),
}

INDEX = {
    "int": ((4, 5), lambda x: x[1]),
    "neg_int": ((4, 5), lambda x: x[-1, 2]),
    "slice": ((4, 5), lambda x: x[1:3]),
    "step_slice": ((6, 5), lambda x: x[::2, 1::3]),
    "neg_slice": ((6, 5), lambda x: x[-3:, :-1]),
    "none": ((4, 5), lambda x: x[None, :, None]),
    "ellipsis": ((2, 3, 4), lambda x: x[..., 1]),
    "ellipsis_none": ((2, 3, 4), lambda x: x[0, ..., None, 1:]),
    "int_array": ((5, 3), lambda x: x[np.array([0, 3, 4])]),
    "repeated_ints": ((5, 3), lambda x: x[np.array([1, 1, 4, 1])]),
    "list": ((5, 3), lambda x: x[[2, 0, 2]]),
    "two_arrays": ((4, 5), lambda x: x[np.array([0, 1, 1, 3]), np.array([4, 4, 4, 0])]),
    "array_and_slice": ((4, 5), lambda x: x[1:, np.array([0, 0, 2])]),
    "broadcast_arrays": ((4, 5), lambda x: x[np.array([[0], [3]]), np.array([1, 1, 2])]),
    "bool_mask": ((4, 5), lambda x: x[x > 0]),
    "bool_rows": ((4, 5), lambda x: x[np.array([True, False, True, True])]),
    "bool_then_int": ((4, 5), lambda x: x[np.array([True, False, True, False]), 2]),
    "neg_int_array": ((5, 3), lambda x: x[:, np.array([-1, 0, -1])]),
    "0d": ((), lambda x: x[None]),
}


def _tensor_index(x):
    """An index given as an int64 tensor (zengrad or torch, matching x)."""
    idx = np.array([2, 0, 2, 1])
    if isinstance(x, torch.Tensor):
        return x[torch.from_numpy(idx)]
    return x[zg.tensor(idx)]


INDEX["tensor_index"] = ((3, 4), _tensor_index)


@pytest.mark.parametrize("name", sorted(SAME) + [f"index_{k}" for k in sorted(INDEX)])
def test_shape_ops_gradcheck_and_parity(name, rng):
    if name.startswith("index_"):
        shape, fn = INDEX[name[len("index_") :]]
    else:
        shape, fn = SAME[name]
    x64 = rand_array(rng, shape)
    assert check_grad(lambda t: _join(fn(t)), x64)
    for dtype in DTYPES:
        assert_parity(fn, fn, [x64.astype(dtype)])


def _join(out):
    """A tuple of outputs (split, chunk) as one tensor, so gradcheck sees all pieces."""
    if isinstance(out, tuple):
        return zg.cat([o.reshape(-1) for o in out])
    return out


@pytest.mark.parametrize("name", ["split_int", "split_sizes", "chunk", "chunk_uneven"])
def test_split_pieces_gradcheck_each(name, rng):
    shape, fn = SAME[name]
    x = rand_array(rng, shape)
    pieces = fn(zg.tensor(x))
    w = [rand_array(rng, p.shape) for p in pieces]  # weigh pieces differently
    assert check_grad(
        lambda t: zg.stack([(p * zg.tensor(wk)).sum() for p, wk in zip(fn(t), w)]), x
    )


def test_repeated_indices_accumulate_gradient():
    x = zg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_stack(dtype, rng):
    a, b, c = (rand_array(rng, s, dtype) for s in [(2, 3), (4, 3), (1, 3)])
    assert_parity(lambda *t: zg.cat(t), lambda *t: torch.cat(t), [a, b, c])
    p, q = rand_array(rng, (3, 2), dtype), rand_array(rng, (3, 5), dtype)
    assert_parity(lambda *t: zg.cat(t, dim=-1), lambda *t: torch.cat(t, dim=-1), [p, q])
    u, v = rand_array(rng, (2, 3), dtype), rand_array(rng, (2, 3), dtype)
    for d in (0, 1, 2, -1, -3):
        assert_parity(
            lambda *t, d=d: zg.stack(t, d), lambda *t, d=d: torch.stack(t, d), [u, v, u]
        )
    if dtype == np.float64:
        assert check_grad(lambda *t: zg.cat(t, 0), a, b, c)
        assert check_grad(lambda *t: zg.stack(t, 1), u, v)
        # the same tensor twice: gradients from both slots add up
        assert check_grad(lambda t: zg.cat([t, t * 2], 1), p)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pad(dtype, rng):
    x = rand_array(rng, (2, 3, 4), dtype)
    for pads, value in [((1, 2), 0.0), ((0, 1, 2, 0), -1.5), ((1, 1, 1, 1, 1, 1), 2.0)]:
        assert_parity(
            lambda t, p=pads, v=value: zg.pad(t, p, value=v),
            lambda t, p=pads, v=value: TF.pad(t, p, value=v),
            [x],
        )
    assert check_grad(lambda t: zg.pad(t, (1, 0, 2, 3)), x.astype(np.float64))


def test_matrix_of_views_shares_no_state_between_backwards(rng):
    # backward of reshape/expand hands back views of g; leaves must own their grad
    x = zg.tensor(rand_array(rng, (3,)), requires_grad=True)
    g = zg.ones(3)
    x.reshape(3).backward(g)
    g.data[...] = 5.0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_setitem_under_no_grad_and_refused_with_grad():
    x = zg.zeros(2, 3)
    x[0, 1:] = 1.0
    x[1] = zg.tensor([4.0, 5.0, 6.0])
    np.testing.assert_array_equal(x.numpy(), [[0, 1, 1], [4, 5, 6]])
    w = zg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w[0] = 1.0
    with zg.no_grad():
        w[0] = 1.0
    assert w.data[0] == 1.0


def test_shape_errors_are_clear():
    x = zg.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"shape \[4, 2\] is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="number of dims don't match"):
        x.permute(1, 0, 2)
    with pytest.raises(RuntimeError, match="must match the existing size 3"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match=r"tensor 0 has shape \(2, 3\), tensor 1 has shape"):
        zg.cat([x, zg.ones(2, 4)])
    with pytest.raises(ValueError, match=r"zero-dimensional tensor \(at position 1\)"):
        zg.cat([zg.ones(1), zg.tensor(2.0)])
    with pytest.raises(ValueError, match=r"\(2, 3\) at entry 0 and \(3, 2\) at entry 1"):
        zg.stack([x, zg.ones(3, 2)])
    with pytest.raises(ValueError, match="sum to 5 but dim 1 has size 3"):
        x.split([2, 3], dim=1)
    with pytest.raises(ValueError, match="padding length must be even"):
        zg.pad(x, (1, 2, 3))


def test_index_out_of_range_names_shape():
    x = zg.ones(3, 4, requires_grad=True)
    with pytest.raises(IndexError, match=r"index 5 .*shape \(3, 4\)"):
        x[5]
    with pytest.raises(IndexError, match=r"shape \(3, 4\)"):
        zg.ones(3, 4)[:, np.array([0, 9])]
    with pytest.raises(IndexError, match="long, int or bool"):
        x[zg.tensor([0.0, 1.0])]
