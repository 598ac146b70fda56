"""In-place ops in the graph, against torch: index assignment (CopySlices), the x_ methods on
non-leaf tensors, chains of them, version counters, refusals of leaves and views, no_grad
updates, out= and the deprecated add(input, alpha, other) order.

Each parity test runs one function in zengrad and in torch on float64 leaves made from the
same arrays and compares the output and every leaf's gradient (to 1e-12), or the error class
where torch raises.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad.autograd import gradcheck

RNG = np.random.default_rng(7)


def _leaves(lib, arrays):
    return [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=True) for a in arrays]


def both(fn, *arrays, seed: int = 0):
    """fn(lib, *leaves) in zengrad and torch: same output, same gradients of the leaves."""
    results = []
    for lib in (zg, torch):
        leaves = _leaves(lib, arrays)
        out = fn(lib, *leaves)
        cot = np.random.default_rng(seed).standard_normal(tuple(out.shape))
        out.backward(lib.tensor(cot, dtype=lib.float64))
        grads = [None if v.grad is None else v.grad.detach().numpy().copy() for v in leaves]
        results.append((out.detach().numpy().copy(), grads))
    (zo, zgrads), (to, tgrads) = results
    np.testing.assert_allclose(zo, to, rtol=1e-12, atol=1e-12)
    for k, (a, b) in enumerate(zip(zgrads, tgrads)):
        assert (a is None) == (b is None), f"leaf {k}: grad {a} vs torch's {b}"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"leaf {k}")


def both_raise(fn, *arrays, match: str | None = None, exc=RuntimeError):
    """fn raises exc in torch and in zengrad (whose message matches `match`)."""
    for lib in (torch, zg):
        with pytest.raises(exc, match=match if lib is zg else None):
            fn(lib, *_leaves(lib, arrays))


def r(*shape):
    return RNG.standard_normal(shape)


# ------------------------------------------------------------------ index assignment


def test_collecting_per_step_outputs_by_index_assignment():
    """out = zeros(T, B); out[t] = v_t: the gradient reaches every v_t (an RNN's outputs)."""

    def fn(lib, x, w):
        out = lib.zeros(4, 3, dtype=lib.float64)
        h = lib.zeros(3, dtype=lib.float64)
        for t in range(4):
            h = lib.tanh(x[t] * w + h)
            out[t] = h
        return out * out

    both(fn, r(4, 3), r(3))


@pytest.mark.parametrize("index", [
    (1,), (slice(None), 0), (slice(0, 2),), (Ellipsis, 1), ([0, 2],), (1, slice(1, None)),
])
def test_setitem_into_a_non_leaf_routes_gradient_inside_and_outside(index):
    def fn(lib, x, v):
        h = x * 2
        h[index] = v * 3
        return h.sin()

    shape = np.zeros((3, 4))[index].shape
    both(fn, r(3, 4), r(*shape))


def test_setitem_broadcasts_the_value_and_sums_its_gradient():
    def fn(lib, x, v):
        h = x * 2
        h[1:] = v  # v of shape (4,) broadcast over two rows
        h[0, :2] = 5.0  # a constant: no gradient to x there
        return h * x

    both(fn, r(3, 4), r(4))


def test_setitem_with_a_mask_and_a_value_with_a_leading_one():
    def fn(lib, x, v):
        h = x + 0
        h[x > 0] = 0.0
        h[0] = v  # v has shape (1, 4): NumPy and torch drop the leading 1
        return h

    both(fn, r(3, 4), r(1, 4))


def test_setitem_gradcheck():
    x = zg.tensor(r(3, 4), requires_grad=True)
    v = zg.tensor(r(2, 4), requires_grad=True)

    def fn(a, b):
        h = a * 1.5
        h[::2] = b.tanh()
        return h * a

    assert gradcheck(fn, (x, v))


def test_setitem_into_a_plain_tensor_makes_it_a_non_leaf():
    v = zg.tensor([1.0, 2.0], requires_grad=True)
    out = zg.zeros(3, 2)
    out[1] = v
    assert out.requires_grad and not out.is_leaf and out.grad_fn.name() == "CopySlices"
    t = torch.zeros(3, 2)
    t[1] = torch.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and type(t.grad_fn).__name__ == "CopySlices"


def test_setitem_shape_mismatch_is_a_clear_error():
    with pytest.raises(RuntimeError):
        torch.zeros(3)[:2] = torch.ones(3)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        zg.zeros(3)[:2] = zg.ones(3)
    v = zg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        zg.zeros(4)[:2] = v


# ------------------------------------------------------------------ x_ methods on non-leaves


METHODS = {
    "add_": lambda lib, h, y: h.add_(y, alpha=0.5),
    "sub_": lambda lib, h, y: h.sub_(y),
    "mul_": lambda lib, h, y: h.mul_(y),
    "div_": lambda lib, h, y: h.div_(y.exp()),
    "mul_scalar": lambda lib, h, y: h.mul_(3.0),
    "clamp_": lambda lib, h, y: h.clamp_(-0.5, 0.7),
    "clamp_tensor": lambda lib, h, y: h.clamp_(min=y),
    "copy_": lambda lib, h, y: h.copy_(y * 2),
    "copy_broadcast": lambda lib, h, y: h.copy_(y[0]),
    "fill_": lambda lib, h, y: h.fill_(2.5),
    "fill_tensor": lambda lib, h, y: h.fill_(y.sum()),
    "zero_": lambda lib, h, y: h.zero_(),
    "masked_fill_": lambda lib, h, y: h.masked_fill_(y > 0, -1.0),
    "relu_": lambda lib, h, y: h.relu_(),
    "sigmoid_": lambda lib, h, y: h.sigmoid_(),
    "tanh_": lambda lib, h, y: h.tanh_(),
    "exp_": lambda lib, h, y: h.exp_(),
    "pow_": lambda lib, h, y: h.pow_(2),
    "pow_tensor": lambda lib, h, y: h.abs_().pow_(y),
    "neg_": lambda lib, h, y: h.neg_(),
    "abs_": lambda lib, h, y: h.abs_(),
    "sqrt_": lambda lib, h, y: h.abs_().sqrt_(),
    "log_": lambda lib, h, y: h.abs_().log_(),
    "index_add_": lambda lib, h, y: h.index_add_(0, lib.tensor([2, 0]), y[:2], alpha=2),
    "scatter_": lambda lib, h, y: h.scatter_(1, lib.tensor([[1], [0], [3]]), y[:, :1]),
    "scatter_add_": lambda lib, h, y: h.scatter_add_(0, lib.tensor([[1, 0, 2, 1]]), y[:1]),
    "iadd": lambda lib, h, y: h.__iadd__(y),
    "isub": lambda lib, h, y: h.__isub__(y),
    "imul": lambda lib, h, y: h.__imul__(y),
    "idiv": lambda lib, h, y: h.__itruediv__(y.exp()),
    "unsqueeze_": lambda lib, h, y: h.unsqueeze_(1),
    "squeeze_": lambda lib, h, y: h.unsqueeze_(0).squeeze_(0),
    "t_": lambda lib, h, y: h.t_(),
    "transpose_": lambda lib, h, y: h.transpose_(0, 1),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_on_a_non_leaf_matches_torch(name):
    method = METHODS[name]

    def fn(lib, x, y):
        h = x * 1.5
        out = method(lib, h, y)
        assert out is h  # in place: the same tensor
        return h * 2

    both(fn, r(3, 4), r(3, 4))


@pytest.mark.parametrize("name", ["add_", "mul_", "copy_", "clamp_tensor", "index_add_",
                                  "scatter_", "iadd", "imul"])
def test_method_on_a_plain_tensor_with_an_operand_in_the_graph(name):
    method = METHODS[name]

    def fn(lib, x, y):
        z = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=lib.float64)
        method(lib, z, y * x)
        return z

    both(fn, r(3, 4), r(3, 4))


def test_chain_of_inplace_ops_and_uses_of_each_version():
    """Consumers of x before an in-place op keep the old x (its old grad_fn)."""

    def fn(lib, x, y):
        h = x * 2
        a = h + y  # add saves nothing: h may change afterwards
        h += 1
        b = h - y
        h.mul_(y)  # saves the old h (a copy) and y
        h[0] = a[1] + b[2]
        h.sigmoid_()
        return h * 2 + a.sum() + b.sum()

    both(fn, r(3, 4), r(3, 4))


def test_inplace_on_the_input_of_an_op_that_did_not_save_it():
    def fn(lib, x):
        h = x.exp() + 0
        y = h + 1  # add saves nothing: modifying h later is fine
        h.mul_(2)
        return y * h

    both(fn, r(5))


def test_self_as_its_own_operand():
    """h.mul_(h): torch raises (mul_ saved h, then modified); zengrad saved a copy of the old
    h, so the gradient is right: d/dx 2 (x+1)^2 = 4 (x+1)."""
    x = zg.tensor(r(4), requires_grad=True)
    h = x + 1
    h.mul_(h)
    h += h
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * (x.detach().numpy() + 1), rtol=1e-12)


def test_gradcheck_through_a_chain_of_inplace_ops():
    x = zg.tensor(r(3, 3), requires_grad=True)
    y = zg.tensor(r(3, 3), requires_grad=True)

    def fn(a, b):
        h = a * 1
        h.mul_(b).tanh_()
        h[1] = b[0]
        h.add_(a, alpha=2).clamp_(-0.9, 0.9)
        return h

    assert gradcheck(fn, (x, y))


def test_dtype_of_an_operand_is_cast_to_selfs():
    x = zg.tensor(r(3), dtype=zg.float32, requires_grad=True)
    y = zg.tensor(r(3), dtype=zg.float64, requires_grad=True)
    h = x * 1
    h.mul_(y)
    assert h.dtype == zg.float32
    h.sum().backward()
    assert x.grad.dtype == zg.float32 and y.grad.dtype == zg.float64
    np.testing.assert_allclose(y.grad.numpy(), x.detach().numpy(), rtol=1e-6)


# ------------------------------------------------------------------ version counters


def test_version_counts_inplace_writes_shared_by_views_not_by_data():
    for lib in (zg, torch):
        a = lib.zeros(3, 2)
        v = a[0]
        d = a.detach()
        assert a._version == 0
        a.add_(1)
        a[1] = 2.0
        v.mul_(3)
        assert a._version == v._version == d._version == 3
        a.data.add_(1)  # .data counts alone
        assert a._version == 3
        a.unsqueeze_(0)  # shape in place counts too
        assert a._version == 4, lib


SAVED = {
    "exp (saves its result)": lambda h: h.exp(),
    "sigmoid (saves its result)": lambda h: h.sigmoid(),
    "mul (saves its inputs)": lambda h: h * h,
    "tanh (saves its result)": lambda h: h.tanh(),
    "sin (saves its input)": lambda h: h.sin(),
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_modifying_a_saved_tensor_raises_the_version_error(name):
    op = SAVED[name]

    def fn(lib, x):
        y = op(x * 1)
        saved = y if "result" in name else None
        if saved is None:  # the input was saved: modify the input
            h = x * 1
            y = op(h)
            h.add_(1)
        else:
            y.add_(1)
        y.sum().backward()

    both_raise(fn, r(3), match=r"modified by an inplace operation.*is at version 1; expected "
                               r"version 0 instead")


def test_version_error_names_the_tensor():
    x = zg.tensor(r(3), requires_grad=True)
    y = x.sigmoid()
    y.mul_(2)
    with pytest.raises(RuntimeError, match=r"\[zengrad.DoubleTensor \[3\]\], saved by "
                                           r"SigmoidBackward0, is at version 1"):
        y.sum().backward()


def test_a_no_grad_update_of_a_saved_parameter_is_detected():
    """The classic bug: an update in place between forward and backward."""
    for lib in (torch, zg):
        w = lib.tensor(r(3), requires_grad=True)
        loss = (w * w).sum()
        with lib.no_grad():
            w.sub_(0.1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_a_write_through_data_is_not_detected_as_torch():
    for lib in (torch, zg):
        w = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        loss = (w * w).sum()
        w.data.mul_(2)
        loss.backward()  # torch: no error (and the new values are used)
        np.testing.assert_allclose(w.grad.numpy(), [4.0, 8.0])


def test_a_view_taken_before_a_write_reads_the_new_base_as_torch():
    """v = h[0] taken before h.mul_(2) and used after: torch regenerates v from h; so does
    zengrad (more in test_inplace_views.py)."""

    def fn(lib, x):
        h = x * 1
        v = h[0]
        y = (v + 3).sum()  # used before the write: the old values
        h.mul_(2)
        return v * 3 + y

    both(fn, r(3, 2))


# ------------------------------------------------------------------ refusals


def test_leaf_requiring_grad_refuses_inplace_under_grad_mode():
    for op in (lambda w: w.add_(1), lambda w: w.mul_(2), lambda w: w.zero_(),
               lambda w: w.__setitem__(0, 1.0), lambda w: w.exp_(), lambda w: w.unsqueeze_(0),
               lambda w: w.__iadd__(1), lambda w: w.copy_(w.detach())):
        both_raise(lambda lib, w, op=op: op(w), r(3),
                   match=r"^a leaf Variable that requires grad is being used in an in-place")


def test_view_of_a_leaf_refuses():
    both_raise(lambda lib, w: w[0].add_(1), r(3, 2),
               match="a view of a leaf Variable that requires grad")
    both_raise(lambda lib, w: w.t().mul_(2), r(3, 2),
               match="a view of a leaf Variable that requires grad")


def test_writes_through_views_of_a_non_leaf_are_rebased_as_torch():
    def fn(lib, x, v):
        h = x * 2
        h[0].mul_(3)
        h.view(6)[1:] = 0.0
        z = lib.zeros(3, 2, dtype=lib.float64)
        z[1].copy_(v[0])
        return h * x + z

    both(fn, r(3, 2), r(3, 2))


def test_expanded_tensor_refuses_as_torch():
    both_raise(lambda lib, x: lib.zeros(1, 3).expand(2, 3).add_(x), r(2, 3),
               match="more than one element of the written-to tensor")


def test_result_that_does_not_fit_self_raises_as_torch():
    both_raise(lambda lib, x: (x[0] * 1).add_(x), r(2, 3),
               match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]")


# ------------------------------------------------------------------ no_grad updates


def test_no_grad_updates_of_leaves_act_in_place():
    for lib in (zg, torch):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        ref = w
        with lib.no_grad():
            w -= 0.5
            w.mul_(2).clamp_(max=4.0)
            w[0] = 10.0
            w.add_(lib.ones(3), alpha=0.5)
        assert ref is w and w.is_leaf and w.requires_grad and w.grad_fn is None
        np.testing.assert_allclose(w.detach().numpy(), [10.5, 3.5, 4.5])


def test_no_grad_inplace_on_a_non_leaf_keeps_its_grad_fn_as_torch():
    def fn(lib, x):
        h = x * 2
        with lib.no_grad():
            h.add_(1)  # invisible to autograd: dh/dx stays 2
        return h * 3

    both(fn, r(3))


# ------------------------------------------------------------------ out=


OUT = {
    "add": (lambda lib, a, b, out: lib.add(a, b, out=out), (3, 4)),
    "sub": (lambda lib, a, b, out: lib.sub(a, b, alpha=2, out=out), (3, 4)),
    "mul": (lambda lib, a, b, out: lib.mul(a, b, out=out), (3, 4)),
    "div": (lambda lib, a, b, out: lib.div(a, b, out=out), (3, 4)),
    "matmul": (lambda lib, a, b, out: lib.matmul(a, b.T, out=out), (3, 3)),
    "mm": (lambda lib, a, b, out: lib.mm(a.T, b, out=out), (4, 4)),
    "cat": (lambda lib, a, b, out: lib.cat([a, b], 0, out=out), (6, 4)),
    "stack": (lambda lib, a, b, out: lib.stack([a, b], out=out), (2, 3, 4)),
    "exp": (lambda lib, a, b, out: lib.exp(a, out=out), (3, 4)),
    "log": (lambda lib, a, b, out: lib.log(a.abs(), out=out), (3, 4)),
    "clamp": (lambda lib, a, b, out: lib.clamp(a, -0.5, 0.5, out=out), (3, 4)),
    "sum": (lambda lib, a, b, out: lib.sum(a, 1, out=out), (3,)),
}


@pytest.mark.parametrize("name", sorted(OUT))
def test_out_writes_into_the_given_tensor(name):
    fn, shape = OUT[name]
    a, b = r(3, 4), r(3, 4)
    results = []
    for lib in (zg, torch):
        out = lib.zeros(shape, dtype=lib.float64)
        got = fn(lib, lib.tensor(a), lib.tensor(b), out)
        assert got is out and out._version == 1
        results.append(out.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_out_with_an_input_requiring_grad_raises_as_torch():
    both_raise(lambda lib, x: lib.add(x, 1, out=lib.zeros(3, dtype=lib.float64)), r(3),
               match="functions with out=... arguments don't support automatic differentiation")
    x = zg.tensor(r(3), requires_grad=True)
    with zg.no_grad():
        zg.mul(x, 2, out=zg.zeros(3, dtype=zg.float64))  # fine outside grad mode


def test_out_of_another_shape_is_resized_with_torchs_warning():
    for lib in (zg, torch):
        out = lib.zeros(2)
        with pytest.warns(UserWarning, match="resized"):
            lib.add(lib.ones(3), 1, out=out)
        assert tuple(out.shape) == (3,)
        empty = lib.zeros(0)
        lib.add(lib.ones(2, 2), 1, out=empty)  # no warning for an empty out
        assert tuple(empty.shape) == (2, 2)


def test_out_of_a_dtype_that_can_not_hold_the_result_raises_as_torch():
    for lib in (torch, zg):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            lib.add(lib.ones(3), 0.5, out=lib.zeros(3, dtype=lib.int64))


def test_out_must_be_a_tensor():
    with pytest.raises(TypeError, match="'out' must be Tensor"):
        zg.add(zg.ones(2), 1, out=np.zeros(2))


# ------------------------------------------------------------------ deprecated orders


def test_deprecated_add_alpha_other_order_works_as_torch():
    for lib in (zg, torch):
        x = lib.ones(3)
        with warnings.catch_warnings(record=True) as caught:  # torch warns once a process
            warnings.simplefilter("always")
            x.add_(2, lib.ones(3))
            y = lib.add(x, 2, lib.ones(3))
        if lib is zg:
            assert len(caught) == 2 and "deprecated" in str(caught[0].message)
        np.testing.assert_allclose(y.numpy(), [5.0, 5.0, 5.0])


def test_add_with_two_tensors_after_other_is_a_clear_error():
    with pytest.raises(TypeError, match="alpha is keyword-only"):
        zg.ones(3).add_(zg.ones(3), zg.ones(3))


def test_retain_grad_follows_the_newest_value_and_hooks_stay_with_the_old_as_torch():
    seen, grads = [], []
    for lib in (zg, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x * 2
        h.retain_grad()
        h.register_hook(lambda g: seen.append(g.numpy().copy()))
        h.mul_(3)
        (h * h).sum().backward()
        assert h.retains_grad
        grads.append(h.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1])  # d/dh_new of h_new^2 = 2 h_new
    np.testing.assert_allclose(seen[0], seen[1])  # the hook: d/dh_old = 3 * 2 h_new
