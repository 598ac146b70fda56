"""The elementwise kernels (ops.kernels) of batch and layer normalization, over a 2-D
(rows, K) view with per-row values as (rows, 1) arrays and per-column values as (K,) ones.

- AFFINE[has_w, has_b]: xhat = c invstd (c centred, in place), y = w xhat + b; w and b per row
  (batch norm's channel rows) or per column (layer norm's features).
- BATCH_DX: batch norm's training input gradient, dx = (g - xhat k1 - k2) scale with
  k1 = sum(g xhat) / m, k2 = sum(g) / m and scale = w invstd per channel row.
- LAYER_DX (in place) / LAYER_DX_FROM_G (into an output of its own): layer norm's
  dx = (dxhat - m1 - xhat m2) invstd with dxhat = g w (g when there is no w),
  m1 = mean(dxhat), m2 = mean(dxhat xhat) per row.
Each is the ufunc sequence it replaces, operation for operation (the same bits).
"""

from __future__ import annotations

from zengrad.ops.kernels import Kernel


def _affine_kernel(has_w: bool, has_b: bool) -> Kernel:
    def finish(h, inv, *wb):
        h = h * inv
        if has_w and has_b:
            return h, h * wb[0] + wb[1]
        if has_w:
            return h, h * wb[0]
        if has_b:
            return h, h + wb[0]
        return h, h
    return Kernel(finish, 2 + has_w + has_b, 0, (0, None))


AFFINE = {(w, b): _affine_kernel(w, b) for w in (False, True) for b in (False, True)}
BATCH_DX = Kernel(lambda g, h, k1, k2, sc: (g - h * k1 - k2) * sc, 5, 0, (None,))


def _layer_dx(d, h, m1, m2, inv):
    return (d - m1 - h * m2) * inv


LAYER_DX = Kernel(_layer_dx, 5, 0, (0,))
LAYER_DX_FROM_G = Kernel(_layer_dx, 5, 0, (None,))
