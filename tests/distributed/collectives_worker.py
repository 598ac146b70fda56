"""Run under `mpiexec -n 2`: the collectives, SyncBatchNorm's gradients and the errors.

Every check raises AssertionError on failure (mpiexec then exits non-zero); rank 0 prints
"collectives ok" at the end. Not a test file: tests/distributed/test_ddp.py launches it.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

import zengrad as zg
import zengrad.distributed as dist
from zengrad import nn


def close(a, b, tol=1e-12) -> bool:
    return np.allclose(np.asarray(a), np.asarray(b), rtol=0, atol=tol)


def collectives(rank: int, world: int) -> None:
    for op, want in ((dist.ReduceOp.SUM, [3.0, 6.0]), (dist.ReduceOp.AVG, [1.5, 3.0]),
                     (dist.ReduceOp.MAX, [2.0, 4.0]), (dist.ReduceOp.MIN, [1.0, 2.0]),
                     (dist.ReduceOp.PRODUCT, [2.0, 8.0])):
        t = zg.tensor([1.0, 2.0]) * (rank + 1)
        assert dist.all_reduce(t, op=op) is None
        assert close(t.array, want), (op, t)
    t = zg.tensor([rank + 1, 5], dtype=zg.int64)
    dist.all_reduce(t)
    assert t.tolist() == [3, 10] and t.dtype == zg.int64
    # a strided view is reduced in place too
    base = zg.zeros(3, 4)
    view = base[:, 1]
    view.array[...] = rank + 1.0
    dist.all_reduce(view)
    assert close(base.array[:, 1], 3.0) and close(base.array[:, 0], 0.0)
    b = zg.arange(6.0).reshape(2, 3) * (rank + 1)
    dist.broadcast(b, src=1)
    assert close(b.array, np.arange(6.0).reshape(2, 3) * 2)
    out = [zg.zeros(2, dtype=zg.float32) for _ in range(world)]
    dist.all_gather(out, zg.full((2,), float(rank), dtype=zg.float32))
    assert [o.tolist() for o in out] == [[0.0, 0.0], [1.0, 1.0]]
    big = zg.zeros(world * 2)
    dist.all_gather_into_tensor(big, zg.full((2,), float(rank)))
    assert big.tolist() == [0.0, 0.0, 1.0, 1.0]
    rs = zg.zeros(2)
    dist.reduce_scatter(rs, [zg.full((2,), float(rank + 10 * i)) for i in range(world)])
    assert close(rs.array, 1 + 20 * rank)
    rs2 = zg.zeros(2)
    dist.reduce_scatter_tensor(rs2, zg.arange(4.0) + rank, op=dist.ReduceOp.AVG)
    assert close(rs2.array, np.arange(4.0)[2 * rank:2 * rank + 2] + 0.5)
    work = dist.all_reduce(zg.ones(3), async_op=True)
    assert work.wait() and work.is_completed()
    dist.barrier()


def errors() -> None:
    def raises(exc, text, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except exc as e:
            assert text in str(e), (text, str(e))
            return
        raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")

    raises(ValueError, "only the default group", dist.all_reduce, zg.ones(1), group="g")
    raises(ValueError, "op must be", dist.all_reduce, zg.ones(1), op="MEAN")
    raises(TypeError, "must be a zengrad.Tensor", dist.all_reduce, np.ones(1))
    raises(TypeError, "AVG needs a floating-point", dist.all_reduce,
           zg.ones(1, dtype=zg.int64), op=dist.ReduceOp.AVG)
    raises(ValueError, "src must be a rank", dist.broadcast, zg.ones(1), src=2)
    raises(ValueError, "list of world_size = 2", dist.all_gather, [zg.ones(1)], zg.ones(1))
    raises(ValueError, "every tensor must have", dist.all_gather, [zg.ones(1), zg.ones(2)],
           zg.ones(1))
    raises(ValueError, "twice", dist.init_process_group, "mpi")


def sync_batchnorm(rank: int) -> None:
    """Uneven shards (5 and 7 samples) through SyncBatchNorm = BatchNorm on all 12."""
    rng = np.random.default_rng(3)
    x_all = rng.standard_normal((12, 3, 4, 2)) * 3 + 1
    g_all = rng.standard_normal((12, 3, 4, 2))
    mine = slice(0, 5) if rank == 0 else slice(5, 12)
    sbn = nn.SyncBatchNorm(3, momentum=0.3).double()
    bn = nn.BatchNorm2d(3, momentum=0.3).double()
    for m in (sbn, bn):
        m.weight.array[...] = [0.5, 2.0, -1.0]
        m.bias.array[...] = [0.1, 0.0, 0.3]
    xs, xb = zg.tensor(x_all[mine], requires_grad=True), zg.tensor(x_all, requires_grad=True)
    ys, yb = sbn(xs), bn(xb)
    assert close(ys.array, yb.array[mine]), "SyncBatchNorm output"
    ys.backward(zg.tensor(g_all[mine]))
    yb.backward(zg.tensor(g_all))
    assert close(xs.grad.array, xb.grad.array[mine]), "SyncBatchNorm input gradient"
    for p, q in ((sbn.weight, bn.weight), (sbn.bias, bn.bias)):
        total = p.grad.clone()
        dist.all_reduce(total)  # local parameter gradients add up to the whole batch's
        assert close(total.array, q.grad.array), "SyncBatchNorm parameter gradient"
    assert close(sbn.running_mean.array, bn.running_mean.array)
    assert close(sbn.running_var.array, bn.running_var.array)
    sbn.eval()
    assert close(sbn(zg.tensor(x_all)).array, bn.eval()(zg.tensor(x_all)).array)
    # a (N, C) input, and convert_sync_batchnorm keeps the parameters
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    weight = model[1].weight
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(conv[1], nn.SyncBatchNorm) and conv[1].weight is weight
    conv(zg.randn(4, 3)).sum().backward()


def main() -> None:
    assert not dist.is_initialized()
    dist.init_process_group("mpi", timeout=timedelta(seconds=20))
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world == 2 and dist.is_initialized() and dist.get_backend() == "mpi"
    collectives(rank, world)
    errors()
    sync_batchnorm(rank)
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    if rank == 0:
        print("collectives ok")


if __name__ == "__main__":
    main()
