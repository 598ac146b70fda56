"""Launching scripts under `mpiexec -n 2` from tests; skipping cleanly without MPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def mpiexec() -> str:
    """The MPI launcher beside this Python (the mpich wheel's), else on PATH; skips the test
    when mpi4py or the launcher is missing."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'zengrad[mpi]')")
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec launcher (pip install 'zengrad[mpi]' brings mpich's)")
    return found


def run_ranks(script: str, *args: str, n: int = 2, timeout: float = 60,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """`mpiexec -n n python tests/distributed/<script> args...`, one BLAS thread per rank;
    `env` adds variables."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               **(env or {}))
    root = str(HERE.parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [mpiexec(), "-n", str(n), sys.executable, str(HERE / script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=root)
