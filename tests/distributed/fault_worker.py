"""Run under `mpiexec -n 2`: DDP training in which rank 1 fails at step 3.

argv[1] = "kill": rank 1 SIGKILLs itself (a crash); "hang": rank 1 stops calling collectives
and sleeps (a stuck rank), so rank 0's next wait times out (timeout = 3 s). Rank 0 saves a
checkpoint (weights and optimizer) after every step to argv[2] and prints "step k" lines.
Not a test file: tests/distributed/test_ddp.py launches it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta

import zengrad as zg
import zengrad.distributed as dist
from zengrad import nn, optim
from zengrad.io import save_checkpoint
from zengrad.nn import functional as F
from zengrad.nn.parallel import DistributedDataParallel as DDP


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    dist.init_process_group("mpi", timeout=timedelta(seconds=3))
    rank = dist.get_rank()
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    ddp = DDP(model)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for step in range(100):
        if rank == 1 and step == 3:
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)
        x, y = zg.randn(8, 4), zg.randint(0, 2, (8,))
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
        if rank == 0:
            save_checkpoint({"step": step, "model": {k: v.array for k, v in
                                                     model.state_dict().items()},
                             "optimizer": opt.state_dict()}, path)
            print(f"step {step}", flush=True)


if __name__ == "__main__":
    main()
