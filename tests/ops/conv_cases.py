"""What the tests of the fast convolution paths share: a conv case's inputs and its zengrad
and torch functions, the gradcheck / parity checks of a case, and a conv's output and
gradients at one and at two threads, and a spy that counts which path's functions ran."""

import numpy as np
import torch.nn.functional as TF

import zengrad as zg
from tests.helpers import assert_parity, assert_same_bits_at_one_and_two_threads, check_grad
from zengrad.ops.conv import conv2d


class CallSpy:
    """Counts calls of functions patched on their modules: count(module, name, key) replaces
    module.name by a wrapper of `real` (default: module.name itself) that adds one to the
    count `key`, read back as the attribute spy.key (0 before any call)."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch
        self._counts: dict[str, int] = {}

    def count(self, module, name: str, key: str, real=None) -> None:
        real = getattr(module, name) if real is None else real
        self._counts.setdefault(key, 0)

        def counted(*args):
            self._counts[key] += 1
            return real(*args)

        self._monkeypatch.setattr(module, name, counted)

    def __getattr__(self, key: str) -> int:
        try:
            return self.__dict__["_counts"][key]
        except KeyError:
            raise AttributeError(key) from None


def case_inputs(rng, case, dtype=np.float64):
    """x, w and b (None without bias) of a case (N, C, H, W, OC, kernel, padding, dilation,
    bias)."""
    n, c, h, w, oc, k, _, _, bias = case
    kh, kw = k if isinstance(k, tuple) else (k, k)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((oc, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype) if bias else None
    return x, wt, b


def case_fns(case):
    """The case's conv2d in zengrad and in torch (stride 1)."""
    p, d = case[6], case[7]
    if case[8]:
        return (lambda x, w, b: conv2d(x, w, b, 1, p, d),
                lambda x, w, b: TF.conv2d(x, w, b, 1, p, d))
    return (lambda x, w: conv2d(x, w, None, 1, p, d),
            lambda x, w: TF.conv2d(x, w, None, 1, p, d))


def gradcheck_case(rng, case) -> bool:
    x, w, b = case_inputs(rng, case)
    fn, _ = case_fns(case)
    return check_grad(fn, *((x, w) if b is None else (x, w, b)))


def parity_case(rng, case, dtype) -> None:
    x, w, b = case_inputs(rng, case, dtype)
    fn, tfn = case_fns(case)
    assert_parity(fn, tfn, [x, w] if b is None else [x, w, b])


def conv_and_grads(x, w, b, gy):
    """y, dx, dW, db of conv2d(x, w, b, padding=1) for the output gradient gy."""
    xt, wt, bt = (zg.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    y = conv2d(xt, wt, bt, padding=1)
    y.backward(zg.from_numpy(gy))
    return [a.detach().numpy() for a in (y, xt.grad, wt.grad, bt.grad)]


def assert_same_at_one_and_two_threads(x, w, b, gy) -> None:
    """The output and gradients at 2 zengrad threads are those at 1, bit for bit."""
    assert_same_bits_at_one_and_two_threads(lambda: conv_and_grads(x, w, b, gy))
