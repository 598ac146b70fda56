"""Custom autograd Functions written as torch writes them: each written once per framework
(the same source, run with `torch` bound to torch and to zengrad) gives the same gradients."""

import math

import numpy as np
import pytest
import torch as _torch

import zengrad as zg


def _define(torch):
    """The custom Functions of these tests, written for `torch` (either framework)."""

    class Exp(torch.autograd.Function):
        """y = e^x, saving the output: dL/dx = g y."""

        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class SortedAndIndex(torch.autograd.Function):
        """(x * scale, argmax of x): the index is non-differentiable."""

        @staticmethod
        def forward(ctx, x, scale):
            out = x * scale
            idx = x.argmax(dim=-1)
            ctx.mark_non_differentiable(idx)
            ctx.scale = scale  # a non-tensor argument kept on ctx
            return out, idx

        @staticmethod
        def backward(ctx, g_out, g_idx):
            return g_out * ctx.scale, None

    class MulAdd(torch.autograd.Function):
        """a * b + k (k a Python number): ctx attributes written in forward, read twice."""

        @staticmethod
        def forward(ctx, a, k, b):
            ctx.save_for_backward(a, b)
            ctx.k = k
            ctx.shapes = (a.shape, b.shape)
            return a * b + k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = gb = None
            if ctx.needs_input_grad[0]:
                ga = g * b
            if ctx.needs_input_grad[2]:
                gb = g * a
            assert ctx.shapes == (a.shape, b.shape)
            return ga, None, gb

    class TwoOut(torch.autograd.Function):
        """(sin x, x^2): both differentiable; backward sums what each got."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x * x

        @staticmethod
        def backward(ctx, g1, g2):
            (x,) = ctx.saved_tensors
            return g1 * x.cos() + g2 * 2 * x

    class LegendrePolynomial3(torch.autograd.Function):
        """The PyTorch tutorial's example: P3(x) = 1/2 (5x^3 - 3x)."""

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    return Exp, SortedAndIndex, MulAdd, TwoOut, LegendrePolynomial3


Z = _define(zg)
T = _define(_torch)


def _pair(rng, *shape):
    a = rng.standard_normal(shape)
    return zg.tensor(a, requires_grad=True), _torch.tensor(a, requires_grad=True)


def _close(z, t):
    np.testing.assert_allclose(z.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_exp_with_saved_output_matches_torch(rng):
    xz, xt = _pair(rng, 3, 4)
    yz, yt = Z[0].apply(xz), T[0].apply(xt)
    _close(yz, yt)
    assert yz.requires_grad and repr(yz.grad_fn) == "<ExpBackward>"
    assert yz.grad_fn.name() == yt.grad_fn.name() == "ExpBackward"
    (yz * yz).sum().backward()
    (yt * yt).sum().backward()
    _close(xz.grad, xt.grad)
    assert zg.gradcheck(Z[0].apply, [xz])


def test_non_differentiable_output_and_non_tensor_arg(rng):
    xz, xt = _pair(rng, 2, 5)
    (oz, iz), (ot, it) = Z[1].apply(xz, 3.0), T[1].apply(xt, 3.0)
    assert not iz.requires_grad and iz.grad_fn is None and iz.dtype == zg.int64
    assert oz.requires_grad and not it.requires_grad
    np.testing.assert_array_equal(iz.numpy(), it.numpy())
    (oz ** 2).sum().backward()
    (ot ** 2).sum().backward()
    _close(xz.grad, xt.grad)
    assert zg.gradcheck(lambda x: Z[1].apply(x, 3.0)[0], [xz])


def test_ctx_attributes_and_needs_input_grad(rng):
    (az, at), (bz, bt) = _pair(rng, 3), _pair(rng, 3)
    yz, yt = Z[2].apply(az, 2.0, bz), T[2].apply(at, 2.0, bt)
    assert yz.grad_fn.needs_input_grad == yt.grad_fn.needs_input_grad == (True, False, True)
    # retain_graph: backward reads the same ctx attributes a second time
    yz.sum().backward(retain_graph=True)
    yz.sum().backward()
    yt.sum().backward(retain_graph=True)
    yt.sum().backward()
    _close(az.grad, at.grad)
    _close(bz.grad, bt.grad)
    # a second call has its own ctx
    cz = zg.tensor(rng.standard_normal(3))  # no grad: needs_input_grad False, gradient None
    y2 = Z[2].apply(az, -1.0, cz)
    assert y2.grad_fn.needs_input_grad == (True, False, False) and y2.grad_fn.k == -1.0
    assert zg.gradcheck(lambda a, b: Z[2].apply(a, 0.5, b), [az, bz])


def test_two_outputs_and_materialized_grads(rng):
    xz, xt = _pair(rng, 4)
    (sz, qz), (st, qt) = Z[3].apply(xz), T[3].apply(xt)
    for out in (sz, qz):  # every output's grad_fn reads as the one ctx
        assert out.grad_fn.name() == "TwoOutBackward" and repr(out.grad_fn) == "<TwoOutBackward>"
        assert out.grad_fn.saved_tensors[0] is xz
        assert out.grad_fn.needs_input_grad == (True,)
    (sz.sum() + 3 * qz.sum()).backward()
    (st.sum() + 3 * qt.sum()).backward()
    _close(xz.grad, xt.grad)
    assert "grad_fn=<TwoOutBackward>" in repr(sz)  # still printable after backward freed it
    # only one output used: the other's gradient is zeros (materialized)
    xz.grad, xt.grad = None, None
    Z[3].apply(xz)[1].sum().backward()
    T[3].apply(xt)[1].sum().backward()
    _close(xz.grad, xt.grad)
    assert zg.gradcheck(Z[3].apply, [xz])


def test_legendre_tutorial_runs_with_zengrad_as_torch():
    """The training loop of PyTorch's "Defining new autograd functions" tutorial, shortened,
    with `torch` bound to each framework: the same weights after the same steps. (The
    tutorial's `a -= lr * a.grad` is written `p.sub_(...)`: zengrad's `-=` is not in place.)"""
    results = []
    for torch, P3 in ((zg, Z[4]), (_torch, T[4])):
        dtype = torch.float
        x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
        y = torch.sin(x)
        a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
        b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
        c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
        d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
        learning_rate = 5e-6
        for _ in range(200):
            y_pred = a + b * P3.apply(c + d * x)
            loss = (y_pred - y).pow(2).sum()
            loss.backward()
            with torch.no_grad():
                for p in (a, b, c, d):
                    p.sub_(learning_rate * p.grad)
                    p.grad = None
        results.append([float(p.item()) for p in (a, b, c, d)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-3, atol=1e-5)


def test_materialize_off_gives_none():
    seen = {}

    class F(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, a, b):
            seen["b"] = b
            return a * 2

    x = zg.ones(2, requires_grad=True)
    F.apply(x)[0].sum().backward()
    assert seen["b"] is None
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_forward_runs_under_no_grad_and_output_requires_grad_rules():
    modes = []

    class Ident(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(zg.is_grad_enabled())
            return x

        @staticmethod
        def backward(ctx, g):
            modes.append(zg.is_grad_enabled())
            return g

    x = zg.ones(2, requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert modes == [False, False]
    assert not Ident.apply(zg.ones(2)).requires_grad
    with zg.no_grad():
        z = Ident.apply(x)
    assert not z.requires_grad and z.grad_fn is None
    # non-tensor outputs pass through; a list is returned as it is (torch does the same)
    assert Ident.apply(3) == 3


def test_keyword_arguments_bind_to_forward_parameters():
    class Scale(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k=2.0):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = zg.ones(2, requires_grad=True)
    y = Scale.apply(x, k=3.0)
    assert y.grad_fn.needs_input_grad == (True, False)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    with pytest.raises(TypeError, match="Scale.forward"):
        Scale.apply(x, q=1)


def _bad(backward):
    class Bad(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k=1.0):
            return x * k

    Bad.backward = staticmethod(backward)
    return Bad


@pytest.mark.parametrize("backward, message", [
    (lambda ctx, g: (g, g, g), r"incorrect number of gradients \(expected 2, got 3\)"),
    (lambda ctx, g: (), r"incorrect number of gradients \(expected 2, got 0\)"),
    (lambda ctx, g: (g, g), r"different than None at position 2, .*not a Variable"),
    (lambda ctx, g: (zg.ones(3), None), r"invalid gradient at index 0 - got \[3\] but "
                                        r"expected shape compatible with \[2\]"),
    (lambda ctx, g: (1.0, None), r"expected Variable or None \(got float\)"),
    (lambda ctx, g: (g.numpy(), None), r"expected Variable or None \(got ndarray\)"),
])
def test_bad_backward_results_are_clear_errors(backward, message):
    x = zg.ones(2, requires_grad=True)
    y = _bad(backward).apply(x, 2.0)
    with pytest.raises(RuntimeError, match=message):
        y.sum().backward()


def _broadcast_grad(torch):
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return torch.ones(4, 2, dtype=torch.float64), None  # extra None: allowed

    return F


def test_gradient_of_broadcast_shape_is_summed_and_cast_as_torch():
    for torch in (zg, _torch):
        F = _broadcast_grad(torch)
        x = torch.ones(2, requires_grad=True)
        F.apply(x).sum().backward()
        assert x.grad.dtype == torch.float32
        np.testing.assert_array_equal(np.asarray(x.grad.tolist()), [4.0, 4.0])


def test_ctx_errors():
    class SaveInt(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(3)
            return x

    with pytest.raises(TypeError, match="argument 0 is of type int"):
        SaveInt.apply(zg.ones(1))

    class Reserved(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.parents = "mine"
            return x

    with pytest.raises(AttributeError, match="ctx.parents is used by zengrad"):
        Reserved.apply(zg.ones(1))
    x = zg.ones(2, requires_grad=True)
    y = Z[0].apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="saved tensors after they have already been freed"):
        y.grad_fn.saved_tensors  # noqa: B018
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()

    class NoBackward(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

    with pytest.raises(NotImplementedError, match="backward"):
        NoBackward.apply(x).sum().backward()


def test_setup_context_style():
    for torch in (zg, _torch):
        class Cube(torch.autograd.Function):
            @staticmethod
            def forward(x):
                return x ** 3

            @staticmethod
            def setup_context(ctx, inputs, output):
                (x,) = inputs
                ctx.save_for_backward(x)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * g

        x = torch.tensor([1.0, -2.0], requires_grad=True)
        Cube.apply(x).sum().backward()
        np.testing.assert_array_equal(np.asarray(x.grad.tolist()), [3.0, 12.0])


def test_custom_function_inside_a_larger_graph_and_hooks(rng):
    xz, xt = _pair(rng, 3)
    outs = []
    for torch, (Exp, _, _, TwoOut, _) in ((zg, Z), (_torch, T)):
        x = xz if torch is zg else xt
        s, q = TwoOut.apply(Exp.apply(x) * 2)
        s.retain_grad()
        loss = (s * q).sum() + s.sum()
        loss.backward()
        outs.append((x.grad, s.grad))
    _close(outs[0][0], outs[1][0])
    _close(outs[0][1], outs[1][1])


def test_variable_alias():
    t = zg.ones(2)
    v = zg.autograd.Variable(t, requires_grad=True)
    assert isinstance(v, zg.Tensor) and v is not t and v.requires_grad and v.is_leaf
    assert isinstance(t, zg.autograd.Variable)
    assert not isinstance(np.ones(2), zg.autograd.Variable)
    v.sum().backward()
    assert t.grad is None and v.grad is not None
    assert zg.autograd.Variable().shape == (0,)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        zg.autograd.Variable([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        zg.autograd.Variable(zg.ones(2, dtype=zg.int64), requires_grad=True)
    with pytest.warns(UserWarning, match="volatile was removed"):
        zg.autograd.Variable(t, volatile=True)


def test_array_protocol_ops_are_untouched():
    """zengrad's ops keep the array protocol (zengrad.autograd.ArrayFunction)."""
    from zengrad.ops.elementwise import Exp as ExpOp

    assert issubclass(ExpOp, zg.autograd.ArrayFunction)
    assert not issubclass(ExpOp, zg.autograd.Function)
    x = zg.ones(2, requires_grad=True)
    y = zg.exp(x)
    assert type(y.grad_fn) is ExpOp


def test_autograd_grad_and_hooks_through_custom_functions(rng):
    xz, xt = _pair(rng, 3)
    res = []
    for torch, (Exp, _, _, TwoOut, _) in ((zg, Z), (_torch, T)):
        x = xz if torch is zg else xt
        seen = []
        y = Exp.apply(x)
        y.register_hook(lambda g, seen=seen: seen.append(g) or g * 2)
        s, q = TwoOut.apply(y)
        (gx,) = torch.autograd.grad((s + q).sum(), [x])
        res.append((gx, seen[0]))
    _close(res[0][0], res[1][0])
    _close(res[0][1], res[1][1])
    assert xz.grad is None


def test_custom_function_called_inside_another_forward():
    class Inner(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3

    class Outer(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = Inner.apply(x)  # under no_grad: no node recorded
            assert y.grad_fn is None and not y.requires_grad
            return y + 1

        @staticmethod
        def backward(ctx, g):
            return Inner.backward(ctx, g)

    x = zg.ones(2, dtype=zg.float64, requires_grad=True)
    Outer.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert zg.gradcheck(Outer.apply, [x])


def test_vjp_alias_and_torch_module_names():
    class Twice(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2

    x = zg.ones(2, requires_grad=True)
    Twice.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    from zengrad.autograd.function import FunctionCtx, once_differentiable

    assert FunctionCtx is zg.autograd.FunctionCtx
    assert once_differentiable(lambda v: v + 1)(1) == 2


def test_a_gradient_array_is_never_shared_between_leaves_or_with_ctx():
    class Both(zg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.ones = zg.ones(a.shape)
            return a + b, a - b

        @staticmethod
        def backward(ctx, g1, g2):
            return g1, ctx.ones  # the same incoming tensor / a tensor kept on ctx

    a, b = zg.zeros(2, requires_grad=True), zg.zeros(2, requires_grad=True)
    s, d = Both.apply(a, b)
    node_ones = s.grad_fn.ones
    s.sum().backward()
    s2, _ = Both.apply(a, b)
    s2.sum().backward()  # accumulates into b.grad in place
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(node_ones.numpy(), [1.0, 1.0])  # ctx's tensor untouched
    a.grad.data += 5
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])
