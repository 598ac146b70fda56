"""Synchronized batch normalization: the batch statistics of all ranks' inputs together.

With M_r values per channel on rank r (M = sum_r M_r), per channel:
  forward   each rank sends (M_r, mean_r, S_r = sum (x - mean_r)^2); every rank combines them
            (Chan et al.'s parallel update, stable where sum(x^2) - M mean^2 is not):
              mu = sum_r M_r mean_r / M,   var = (sum_r S_r + sum_r M_r (mean_r - mu)^2) / M
            xhat = (x - mu) / sqrt(var + eps),  y = w xhat + b
  backward  the sums of g and g xhat are all-reduced, then as plain batch norm over M values:
              dx = w invstd (g - sum_all(g) / M - xhat sum_all(g xhat) / M)
            dw = sum(g xhat) and db = sum(g) stay local: DistributedDataParallel averages them
            with the other gradients.
  running   running <- (1 - m) running + m batch, the variance unbiased (var M / (M - 1)).
So W ranks on B samples each give the same output and gradients as BatchNorm on W B samples.
"""

from __future__ import annotations

import numpy as np

from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.distributed.process_group import _mpi, default_group, wait
from zengrad.ops.batchnorm import affine, update_running_stats


def _allgather_stats(local: np.ndarray, who: str) -> np.ndarray:
    pg = default_group(None, who)
    every = np.empty((pg.size(),) + local.shape, local.dtype)
    wait(pg, [pg.comm.Iallgather(local, every)], who)
    return every


def _allreduce_sum(a: np.ndarray, who: str) -> np.ndarray:
    pg = default_group(None, who)
    wait(pg, [pg.comm.Iallreduce(_mpi().IN_PLACE, a, op=_mpi().SUM)], who)
    return a


class SyncBatchNormFn(Function):
    """y = w (x - mu) / sqrt(var + eps) + b with mu, var over every rank's batch."""

    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, momentum, eps):
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        c = x.shape[1]
        m_local = x.size // c if c else 0
        local = np.empty(1 + 2 * c, np.float64 if x.dtype == np.float64 else x.dtype)
        local[0] = m_local
        if m_local:
            mean_r = x.mean(axis=axes)
            local[1:1 + c] = mean_r
            local[1 + c:] = np.sum(np.square(x - mean_r.reshape(bshape)), axis=axes)
        else:  # an empty shard adds nothing
            local[1:] = 0
        every = _allgather_stats(local, "SyncBatchNorm forward")
        counts, means, sq = every[:, :1], every[:, 1:1 + c], every[:, 1 + c:]
        m = counts.sum()
        if m <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all "
                             f"ranks when training, got {int(m)}")
        mu = (counts * means).sum(axis=0) / m
        var = (sq.sum(axis=0) + (counts * np.square(means - mu)).sum(axis=0)) / m
        mu, var = mu.astype(x.dtype, copy=False), var.astype(x.dtype, copy=False)
        update_running_stats(running_mean, running_var, mu, var, momentum, m)
        invstd = 1 / np.sqrt(var + eps)
        xhat = x - mu.reshape(bshape)
        xhat *= invstd.reshape(bshape)
        ctx.axes, ctx.bshape, ctx.m = axes, bshape, m
        ctx.xhat, ctx.invstd, ctx.w = xhat, invstd, w
        return affine(xhat, w, b, bshape)

    @staticmethod
    def backward(ctx, g):
        axes, bshape, xhat = ctx.axes, ctx.bshape, ctx.xhat
        c = xhat.shape[1]
        sums = np.empty(2 * c, g.dtype)
        sums[:c] = g.sum(axis=axes)
        sums[c:] = np.sum(g * xhat, axis=axes)
        sg, sgx = sums[:c].copy(), sums[c:].copy()  # the local sums: dw, db
        # every rank runs this (the gradient of x is always needed across ranks: another
        # rank's dx depends on this rank's sums even where this rank needs none)
        _allreduce_sum(sums, "SyncBatchNorm backward")
        needs = ctx.needs_input_grad
        dx = None
        if needs[0]:
            scale = ctx.invstd if ctx.w is None else ctx.w * ctx.invstd
            dx = xhat * (sums[c:] / ctx.m).reshape(bshape)
            np.subtract(g, dx, out=dx)
            dx -= (sums[:c] / ctx.m).reshape(bshape)
            dx *= scale.reshape(bshape)
        return dx, sgx if needs[1] else None, sg if needs[2] else None, None, None, None, None


def sync_batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                    weight: Tensor | None, bias: Tensor | None, momentum: float,
                    eps: float) -> Tensor:
    """Batch norm in training with statistics over all ranks (input (N, C, *)); updates the
    running statistics in place when given."""
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
    return SyncBatchNormFn.apply(input, weight, bias, rm, rv, momentum, eps)
