"""Bad input is refused with a clear error, never accepted silently (issue 9).

Each case asserts the error type and that the message names the problem; where torch
raises too, it is run on the same input and must raise an error of the same type.
"""

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad import nn, optim

# ------------------------------------------------------------------ creation sizes

BAD_SIZES = [
    # (function, args, what the message must name)
    ("zeros", (2.7,), "float"),
    ("zeros", (2.0,), "float"),
    ("zeros", ((2.7, 3),), "float"),
    ("ones", (True,), "bool"),
    ("ones", ((True, 2),), "bool"),
    ("empty", (np.float64(3),), "float64"),
    ("empty", ("3",), "str"),
    ("zeros", (None,), "NoneType"),
    ("zeros", (np.array([2, 3]),), "ndarray"),
    ("zeros", ((2, [3]),), "list"),
    ("zeros", ([[2, 3]],), "list"),
    ("randn", (2.7, 3), "float"),
    ("randn", (2, 3.5), "float"),
    ("rand", (2, "3"), "str"),
    ("rand", (True, 2), "bool"),
]


@pytest.mark.parametrize("fn, args, named", BAD_SIZES)
def test_creation_rejects_non_integer_sizes_as_torch(fn, args, named):
    with pytest.raises(TypeError, match=rf"{fn}\(\): argument 'size'.*{named}"):
        getattr(zg, fn)(*args)
    with pytest.raises(TypeError):
        getattr(torch, fn)(*args)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.full(2.5, 1.0),
        lambda lib: lib.full((2.5,), 1.0),
        lambda lib: lib.full((True,), 1.0),
        lambda lib: lib.full(3, 1.0),  # torch: size must be a tuple
        lambda lib: lib.randint(0, 5, (2.5,)),
        lambda lib: lib.randint(0, 5, (True,)),
        lambda lib: lib.randint(0, 5, 3),
        lambda lib: lib.normal(0.0, 1.0, (2.5,)),
    ],
)
def test_size_argument_of_full_randint_normal(call):
    with pytest.raises(TypeError, match="argument 'size' must be a tuple of ints"):
        call(zg)
    with pytest.raises(TypeError):
        call(torch)


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda lib: lib.randint(0.5, 5, (3,)), "'low'.*float"),
        (lambda lib: lib.randint(0, 5.5, (3,)), "'high'.*float"),
        (lambda lib: lib.randperm(2.5), "'n'.*float"),
        (lambda lib: lib.randperm(True), "'n'.*bool"),
        (lambda lib: lib.eye(2.5), "'n'.*float"),
        (lambda lib: lib.eye(2, 2.5), "'m'.*float"),
        (lambda lib: lib.linspace(0, 1, 2.5), "'steps'.*float"),
    ],
)
def test_integer_arguments_reject_floats_and_bools(call, named):
    with pytest.raises(TypeError, match=named):
        call(zg)
    with pytest.raises(TypeError):
        call(torch)


def test_integer_sizes_that_torch_accepts_still_work():
    assert zg.empty(np.int64(3)).shape == (3,)
    assert zg.zeros(zg.tensor(3)).shape == (3,)
    assert zg.rand(np.int32(2), 3).shape == (2, 3)
    assert zg.zeros([]).shape == () and zg.zeros(()).shape == ()
    assert zg.randint(5, (3,)).shape == tuple(torch.randint(5, (3,)).shape) == (3,)
    assert zg.randint(0, 5, [2, 3]).shape == (2, 3)
    assert zg.randint(0, 5, ()).shape == ()
    with pytest.raises(ValueError, match=r"negative dimension in size \(2, -1\)"):
        zg.zeros(2, -1)
    with pytest.raises(ValueError, match="'n' must be non-negative"):
        zg.randperm(-1)


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_random_floats_refuse_integer_dtypes(fn):
    # casting uniform [0, 1) draws to int64 gave all zeros; torch raises (NotImplementedError)
    with pytest.raises(TypeError, match=rf"{fn}\(\): dtype must be a floating point.*int64"):
        getattr(zg, fn)(2, 3, dtype=zg.int64)
    with pytest.raises((TypeError, NotImplementedError, RuntimeError)):
        getattr(torch, fn)(2, 3, dtype=torch.int64)


# ------------------------------------------------------------------ non-numeric arrays

NON_NUMERIC = {
    "U": (np.array(["a", "b"]), "strings"),
    "S": (np.array([b"a", b"b"]), "bytes"),
    "O": (np.array([1.0, 2.0], dtype=object), "Python objects"),
    "V": (np.zeros(2, dtype=[("a", "f4")]), "structured records"),
    "M": (np.zeros(2, dtype="M8[s]"), "datetimes"),
}


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
@pytest.mark.parametrize("fn", ["from_numpy", "as_tensor", "tensor"])
def test_non_numeric_arrays_are_refused(fn, kind):
    array, held = NON_NUMERIC[kind]
    with pytest.raises(TypeError, match=rf"can't convert an array of dtype .*\({held}\)"):
        getattr(zg, fn)(array)
    with pytest.raises(TypeError):
        getattr(torch, fn)(array)


def test_non_numeric_data_is_refused_everywhere():
    with pytest.raises(TypeError, match="strings"):
        zg.Tensor(np.array(["x"]))
    with pytest.raises(TypeError, match="strings"):
        zg.tensor(["a", "b"])
    with pytest.raises(TypeError, match="float128"):
        zg.from_numpy(np.zeros(2, np.longdouble))
    with pytest.raises(TypeError, match="strings"):
        zg.tensor([1, 2], dtype=str)
    # the numeric dtypes torch has are kept as they are
    for dt in (np.uint16, np.int8, np.float16, np.complex64, np.bool_):
        assert zg.from_numpy(np.zeros(2, dt)).dtype == dt


# ------------------------------------------------------------------ Flatten


@pytest.mark.parametrize("shape", [(), (3,)])
def test_flatten_default_needs_a_batch_dim_as_torch(shape):
    with pytest.raises(IndexError, match=r"Flatten: start_dim=1 .* shape .*out of range"):
        nn.Flatten()(zg.ones(shape))
    with pytest.raises(IndexError):
        torch.nn.Flatten()(torch.ones(shape))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_flatten_from_dim_0_as_torch(shape):
    expected = tuple(torch.nn.Flatten(0)(torch.ones(shape)).shape)
    assert nn.Flatten(0)(zg.ones(shape)).shape == expected


def test_flatten_end_dim_out_of_range():
    with pytest.raises(IndexError, match="end_dim=3"):
        nn.Flatten(0, 3)(zg.ones(2, 3))
    with pytest.raises(IndexError):
        torch.nn.Flatten(0, 3)(torch.ones(2, 3))


# ------------------------------------------------------------------ assigning .grad


@pytest.mark.parametrize(
    "grad_shape, named", [((1,), r"shape \(1,\) to a tensor of shape \(3,\)"),
                          ((3, 1), r"shape \(3, 1\) to a tensor of shape \(3,\)")]
)
def test_assigning_a_grad_of_another_shape_raises_as_torch(grad_shape, named):
    p = zg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=named):
        p.grad = zg.ones(grad_shape)
    assert p.grad is None
    t = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        t.grad = torch.ones(grad_shape)


@pytest.mark.parametrize("dtype", ["int64", "float64", "complex64", "bool"])
def test_assigning_a_grad_of_another_dtype_raises_as_torch(dtype):
    p = zg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"dtype {dtype} to a tensor of dtype float32"):
        p.grad = zg.zeros(3, dtype=np.dtype(dtype))
    t = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        t.grad = torch.zeros(3, dtype=getattr(torch, dtype))


def test_assigning_a_non_tensor_or_itself_as_grad():
    p = zg.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or None but got grad of type ndarray"):
        p.grad = np.ones(3, np.float32)
    with pytest.raises(RuntimeError, match="its own grad"):
        p.grad = p
    t = torch.zeros(3, requires_grad=True)
    with pytest.raises(TypeError):
        t.grad = np.ones(3, np.float32)
    with pytest.raises(RuntimeError):
        t.grad = t
    p.grad = zg.ones(3)  # the right shape and dtype, and None, are fine
    p.grad = None


# ------------------------------------------------------------------ optimizer steps

OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=0.1),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.1),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.1),
}


def _two_groups(make):
    a, b, c = (zg.zeros(n, requires_grad=True) for n in (2, 1, 3))
    opt = make([{"params": [a]}, {"params": [b, c]}])
    for p in (a, b, c):
        p.grad = zg.ones(p.shape)
    return opt, (a, b, c)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_with_a_gradient_of_another_shape_names_the_parameter(name):
    opt, (a, b, c) = _two_groups(OPTIMIZERS[name])
    c.grad.array = np.ones(1, np.float32)  # bypasses the .grad setter
    state_before = {k: dict(v) for k, v in opt.state.items()}
    with pytest.raises(
        ValueError,
        match=rf"{name}\.step: the gradient of param_groups\[1\]\['params'\]\[1\] "
        r"\(a parameter of shape \(3,\).*has shape \(1,\)",
    ):
        opt.step()
    # the step is refused as a whole: nothing moved, no state was created or advanced
    for p in (a, b, c):
        assert not p.array.any()
    assert {k: dict(v) for k, v in opt.state.items()}.keys() == state_before.keys()
    for p, s in opt.state.items():
        assert s.get("step", 0) == state_before[p].get("step", 0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.int64, np.complex64, np.float64])
def test_step_with_a_gradient_of_another_dtype_names_it(name, dtype):
    opt, (a, b, c) = _two_groups(OPTIMIZERS[name])
    a.grad.array = np.ones(2, dtype)
    with pytest.raises(
        TypeError,
        match=rf"param_groups\[0\]\['params'\]\[0\] .*float32\) has dtype {np.dtype(dtype)}",
    ):
        opt.step()
    assert not a.array.any() and not c.array.any()


def test_torch_applies_a_bypassed_wrong_shape_gradient_silently():
    """Why the check exists: torch broadcasts a (1,) .grad.data over the parameter."""
    t = torch.zeros(3, requires_grad=True)
    t.grad = torch.ones(3)
    t.grad.data = torch.ones(1)
    torch.optim.SGD([t], lr=0.1).step()
    assert torch.equal(t.detach(), torch.full((3,), -0.1))


def test_parameter_data_replaced_by_another_shape_is_caught_too():
    p = zg.zeros(3, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = zg.ones(3)
    p.array = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"parameter of shape \(4,\).*has shape \(3,\)"):
        opt.step()


@pytest.mark.parametrize("bad_shape", [(1,), (2, 3)])
def test_backward_into_a_replaced_grad_of_another_shape(bad_shape):
    # (2, 3) += (3,) would broadcast silently, (1,) += (3,) fail inside NumPy
    x = zg.ones(3, requires_grad=True)
    x.grad = zg.zeros(3)
    x.grad.array = np.zeros(bad_shape, np.float32)
    with pytest.raises(RuntimeError, match=r"shape \(3,\) into the \.grad of shape"):
        (x * 2).sum().backward()


@pytest.mark.parametrize("dims", [(0,), (0, -1), (-1,), (1,), (0, 1)])
def test_functional_flatten_of_0d_checks_dims_as_torch(dims):
    import torch

    try:
        want = tuple(torch.flatten(torch.tensor(1.0), *dims).shape)
    except IndexError:
        with pytest.raises(IndexError, match="Dimension out of range"):
            zg.flatten(zg.tensor(1.0), *dims)
        return
    assert zg.flatten(zg.tensor(1.0), *dims).shape == want
