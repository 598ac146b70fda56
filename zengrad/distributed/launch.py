"""Starting N ranks of a zengrad command on this machine (or on the hosts of a hostfile) with
the MPI launcher: what `zengrad train --nproc N` runs.

    mpiexec -n N python -m zengrad train ...     (ZENGRAD_DISTRIBUTED=1 in each rank)

Each rank gets one BLAS thread unless OMP_NUM_THREADS / OPENBLAS_NUM_THREADS say otherwise
(N ranks on N cores: more threads would only fight for them). The launcher is the one beside
this Python (the mpich wheel's `mpiexec`), else the first on PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LAUNCHED = "ZENGRAD_DISTRIBUTED"  # set to "1" in every rank a launch starts
HOSTFILE = "ZENGRAD_HOSTFILE"  # several machines: mpiexec -f $ZENGRAD_HOSTFILE


def launched() -> bool:
    """True in a rank started by launch()."""
    return os.environ.get(LAUNCHED) == "1"


def mpiexec_path() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("no MPI launcher (mpiexec) found: pip install 'zengrad[mpi]' "
                           "(mpi4py and the mpich wheel, which brings mpiexec)")
    return found


def launch(nproc: int, argv: Sequence[str], module: str = "zengrad") -> int:
    """Run `python -m module argv...` as nproc MPI ranks; returns the job's exit status.
    A hostfile in $ZENGRAD_HOSTFILE spreads the ranks over its machines (mpiexec -f)."""
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"launch: nproc must be a positive integer, got {nproc!r}")
    from zengrad.distributed.process_group import is_available

    if not is_available():
        raise RuntimeError("--nproc needs mpi4py: pip install 'zengrad[mpi]'")
    env = dict(os.environ)
    env[LAUNCHED] = "1"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    cmd = [mpiexec_path()]
    if env.get(HOSTFILE):
        cmd += ["-f", env[HOSTFILE]]
    cmd += ["-n", str(nproc), sys.executable, "-m", module, *argv]
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # the launcher passes SIGTERM on to the ranks, which stop as on Ctrl-C (a training
        # run keeps its checkpoint for --resume)
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        raise


def share_text(text: str | None) -> str:
    """Rank 0's text, on every rank (the others pass None)."""
    from zengrad.autograd.tensor import Tensor
    from zengrad.distributed.collectives import broadcast
    from zengrad.distributed.process_group import get_rank

    data = (text or "").encode() if get_rank() == 0 else b""
    size = Tensor._make(np.array([len(data)], np.int64), False, None)
    broadcast(size, 0)
    buf = np.zeros(int(size.array[0]), np.uint8)
    buf[:len(data)] = np.frombuffer(data, np.uint8)
    if buf.size:
        broadcast(Tensor._make(buf, False, None), 0)
    return buf.tobytes().decode()
