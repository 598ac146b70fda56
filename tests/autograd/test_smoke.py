import numpy as np

import zengrad as zg


def test_chain_rule_through_matmul_and_tanh():
    x = zg.randn(3, 4, dtype=zg.float64, requires_grad=True)
    w = zg.randn(4, 2, dtype=zg.float64, requires_grad=True)
    (x @ w).tanh().sum().backward()
    y = np.tanh(x.array @ w.array)
    np.testing.assert_allclose(w.grad.array, x.array.T @ (1 - y**2), rtol=1e-12)
    assert zg.gradcheck(lambda a, b: (a @ b).tanh(), [x, w])
