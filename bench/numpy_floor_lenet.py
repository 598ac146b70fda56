"""The floor: one LeNet-5 training step (forward, cross-entropy, backward, SGD) hand-written
in NumPy, with the fastest layout we know: channel-major activations (C, N, H, W), so each
conv is `W (OC, C*K*K) @ cols (C*K*K, N*OH*OW)` and lands in the next layer's layout; the
conv2 input gradient is col2im on the flattened padded grid (25 long contiguous slice-adds).

    x (N,1,28,28) -> conv 6@5x5 pad 2 -> ReLU -> maxpool 2 -> conv 16@5x5 -> ReLU -> maxpool 2
      -> flatten (400, torch's (C, H, W) order) -> fc 120 -> ReLU -> fc 84 -> ReLU -> fc 10
Parameters in PyTorch layouts (Linear weight (out, in)), so torch's state_dict loads as is.
Max-pool ties split the gradient to every tied element (as the mask x == max gives), unlike
PyTorch and zengrad (first max); with random float inputs there are no ties except where the
ReLU zeroed a whole window, and there the gradient is zero either way.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

NAMES = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
    "fc3.weight",
    "fc3.bias",
]


def _cols(x: np.ndarray, k: int) -> np.ndarray:
    """x (C, N, H, W) -> (C*k*k, N*OH*OW), rows ordered (c, i, j) as torch's weight."""
    c, n, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    sc, sn, sh, sw = x.strides
    v = as_strided(x, (c, k, k, n, oh, ow), (sc, sh, sw, sn, sh, sw), writeable=False)
    return v.reshape(c * k * k, n * oh * ow)


def _pool(a: np.ndarray) -> np.ndarray:
    """2x2/2 max pool of (C, N, H, W) as 3 np.maximum of strided slices."""
    return np.maximum(
        np.maximum(a[:, :, 0::2, 0::2], a[:, :, 0::2, 1::2]),
        np.maximum(a[:, :, 1::2, 0::2], a[:, :, 1::2, 1::2]),
    )


def _relu_pool_bwd(a: np.ndarray, out: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """Backward of ReLU then pool: dout to the max positions; the ReLU mask is applied on the
    4x smaller pooled tensor (max == 0 means the ReLU killed the window)."""
    c, n, h, w = a.shape
    dout = dout * (out > 0)
    m = a.reshape(c, n, h // 2, 2, w // 2, 2) == out[:, :, :, None, :, None]
    return np.multiply(m, dout[:, :, :, None, :, None], dtype=np.float32).reshape(c, n, h, w)


class NumpyLeNet:
    """step() = forward + loss + backward + in-place SGD; params in torch layouts."""

    def __init__(self, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, lr: float):
        self.p = {k: np.array(params[k], np.float32) for k in NAMES}
        n = x.shape[0]
        self.n, self.lr = n, np.float32(lr)
        self.xp = np.zeros((1, n, 32, 32), np.float32)
        self.xp[:, :, 2:30, 2:30] = x.transpose(1, 0, 2, 3)
        self.y, self.rows = y, np.arange(n)

    def grads(self) -> tuple[float, dict[str, np.ndarray]]:
        p, n = self.p, self.n
        w1, w2 = p["conv1.weight"].reshape(6, 25), p["conv2.weight"].reshape(16, 150)
        c1 = _cols(self.xp, 5)
        a1 = w1 @ c1
        a1 += p["conv1.bias"][:, None]
        np.maximum(a1, 0, out=a1)
        a1 = a1.reshape(6, n, 28, 28)
        p1 = _pool(a1)
        c2 = _cols(p1, 5)
        a2 = w2 @ c2
        a2 += p["conv2.bias"][:, None]
        np.maximum(a2, 0, out=a2)
        a2 = a2.reshape(16, n, 10, 10)
        p2 = _pool(a2)
        f = np.ascontiguousarray(p2.transpose(1, 0, 2, 3)).reshape(n, 400)
        h3 = f @ p["fc1.weight"].T
        h3 += p["fc1.bias"]
        np.maximum(h3, 0, out=h3)
        h4 = h3 @ p["fc2.weight"].T
        h4 += p["fc2.bias"]
        np.maximum(h4, 0, out=h4)
        z = h4 @ p["fc3.weight"].T
        z += p["fc3.bias"]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[self.rows, self.y]))
        dz = e
        dz /= s
        dz[self.rows, self.y] -= 1
        dz *= np.float32(1 / n)
        g = {"fc3.weight": dz.T @ h4, "fc3.bias": dz.sum(0)}
        d = dz @ p["fc3.weight"]
        d *= h4 > 0
        g["fc2.weight"], g["fc2.bias"] = d.T @ h3, d.sum(0)
        d = d @ p["fc2.weight"]
        d *= h3 > 0
        g["fc1.weight"], g["fc1.bias"] = d.T @ f, d.sum(0)
        dp2 = (d @ p["fc1.weight"]).reshape(n, 16, 5, 5).transpose(1, 0, 2, 3)
        da2 = _relu_pool_bwd(a2, p2, dp2).reshape(16, -1)
        g["conv2.weight"], g["conv2.bias"] = (da2 @ c2.T).reshape(16, 6, 5, 5), da2.sum(1)
        # col2im on the flat (N*14*14) grid: output (n, h, w) at p = n*196 + h*14 + w reads
        # input p + 14 i + j, so with dY zero-padded to 14x14 each kernel offset is ONE
        # contiguous shifted slice-add (long runs; 10-float runs in the 2-D form are slower)
        gp = np.zeros((16, n, 14, 14), np.float32)
        gp[:, :, :10, :10] = da2.reshape(16, n, 10, 10)
        span = n * 196 - 4 * 14 - 4
        dcols = (w2.T @ gp.reshape(16, -1)[:, :span]).reshape(6, 25, span)
        dp1 = np.empty((6, n * 196), np.float32)
        dp1[:, :span] = dcols[:, 0]
        dp1[:, span:] = 0
        for k in range(1, 25):
            o = (k // 5) * 14 + k % 5
            dp1[:, o : o + span] += dcols[:, k]
        da1 = _relu_pool_bwd(a1, p1, dp1.reshape(6, n, 14, 14)).reshape(6, -1)
        g["conv1.weight"], g["conv1.bias"] = (da1 @ c1.T).reshape(6, 1, 5, 5), da1.sum(1)
        return loss, g

    def step(self) -> float:
        loss, g = self.grads()
        for k, v in self.p.items():
            gk = g[k]
            gk *= self.lr
            v -= gk
        return loss
