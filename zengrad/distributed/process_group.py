"""The default process group: torch.distributed's init/teardown and queries, over MPI.

Ranks and the world size come from the MPI launcher (`mpiexec -n N python train.py`). torch's
env:// variables (RANK, WORLD_SIZE, LOCAL_RANK) are accepted and must agree with MPI's, since
MPI, not a TCP store, connects the processes; under mpiexec they are set for torch code that
reads them (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE).

Every wait on another rank goes through `wait()` below with the group's timeout, so a rank
that dies or hangs makes the others raise DistBackendError instead of waiting forever.
"""

from __future__ import annotations

import atexit
import os
import time
from datetime import timedelta
from typing import Any

# torch's default for CPU backends (default_pg_timeout)
DEFAULT_TIMEOUT = timedelta(minutes=30)
# a waiting rank spins this long on MPI's progress engine, then naps between tests: the nap
# keeps a stalled job from burning its cores without adding latency to a normal exchange
_SPIN_S = 0.002
_NAP_S = 0.0002


class DistBackendError(RuntimeError):
    """A collective failed or timed out (torch.distributed.DistBackendError)."""


class DistError(RuntimeError):
    """Misuse of the process group (torch.distributed.DistError)."""


class ProcessGroup:
    """The group of all ranks: an MPI communicator, its rank and size, the wait timeout."""

    def __init__(self, comm: Any, timeout: timedelta, backend: str) -> None:
        self.comm = comm
        self.timeout = timeout
        self.backend = backend
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def name(self) -> str:
        return self.backend

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend!r}, rank={self._rank}, size={self._size})"


class _World:
    """group.WORLD: stands for the default group wherever a `group=` is taken."""

    def __repr__(self) -> str:
        return "<zengrad.distributed.group.WORLD>"


class group:  # noqa: N801  (torch's name: torch.distributed.group.WORLD)
    WORLD = _World()


WORLD = group.WORLD


_default: ProcessGroup | None = None
_broken: str | None = None  # set when a wait timed out: the group can't be used any more


def _mpi():
    """mpi4py's MPI module, or an ImportError that says how to install it."""
    try:
        import mpi4py
    except ImportError:
        raise ImportError(
            "zengrad.distributed needs mpi4py and an MPI library: pip install 'zengrad[mpi]' "
            "(mpi4py with the mpich wheel)"
        ) from None
    # zengrad finalizes MPI itself (destroy_process_group, or at exit): after a rank died,
    # MPI_Finalize would wait for it forever
    mpi4py.rc.finalize = False
    from mpi4py import MPI

    return MPI


def is_available() -> bool:
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:
    # backend="gloo" is served by MPI (see init_process_group)
    return is_available()


def is_nccl_available() -> bool:
    return False


def is_initialized() -> bool:
    return _default is not None


def is_torchelastic_launched() -> bool:
    return False


def _timeout_of(timeout: timedelta | float | None) -> timedelta:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = timedelta(seconds=timeout)
    if not isinstance(timeout, timedelta):
        raise TypeError(f"init_process_group: timeout must be a datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    if timeout.total_seconds() <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout}")
    return timeout


def _check_env(name: str, value: int, mpi_value: int) -> None:
    if value not in (-1, mpi_value):
        raise ValueError(
            f"init_process_group: {name}={value} but the MPI launcher started this process as "
            f"{name}={mpi_value}; zengrad's ranks come from MPI: launch with "
            f"`mpiexec -n WORLD_SIZE python script.py` (or `zengrad train --nproc N`)"
        )


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the default process group of all ranks started by the MPI launcher.

    backend: "mpi" (or None); "gloo", torch's CPU backend, runs over MPI too; "nccl" needs
    GPUs and is refused. init_method: None, "env://" or "mpi://"; rank / world_size (or the
    RANK / WORLD_SIZE variables), when given, must equal MPI's.
    """
    global _default, _broken
    if _default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in ("mpi", "gloo", "cpu:gloo", "cpu:mpi"):
        raise ValueError(
            f"init_process_group: backend {backend!r} is not available: zengrad runs on the CPU "
            "over MPI; use backend='mpi' (or 'gloo', which zengrad serves over MPI too)"
        )
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(
            f"init_process_group: init_method {init_method!r} is not supported: MPI connects "
            "the ranks; pass None or 'env://' and start the script with mpiexec"
        )
    if store is not None:
        raise ValueError("init_process_group: store= is not supported (MPI connects the ranks)")
    timeout = _timeout_of(timeout)
    MPI = _mpi()
    if not MPI.Is_initialized():
        MPI.Init_thread(MPI.THREAD_SERIALIZED)
    comm = MPI.COMM_WORLD.Dup()
    mpi_rank, mpi_size = comm.Get_rank(), comm.Get_size()
    _check_env("rank", rank, mpi_rank)
    _check_env("world_size", world_size, mpi_size)
    for var, mine in (("RANK", mpi_rank), ("WORLD_SIZE", mpi_size)):
        text = os.environ.get(var, "")
        if text.strip().lstrip("-").isdigit():
            _check_env(f"the environment's {var}", int(text), mine)
    # torch code reads these (LOCAL_RANK for the device, RANK for logging)
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    os.environ.update(RANK=str(mpi_rank), WORLD_SIZE=str(mpi_size),
                      LOCAL_RANK=str(local.Get_rank()), LOCAL_WORLD_SIZE=str(local.Get_size()))
    local.Free()
    _default = ProcessGroup(comm, timeout, name)
    _broken = None


def default_group(group_arg: Any = None, who: str = "zengrad.distributed") -> ProcessGroup:
    """The default group (the only one zengrad has), or a clear error when there is none."""
    if group_arg is not None and group_arg is not WORLD and group_arg is not _default:
        raise ValueError(f"{who}: only the default group (group=None) is supported, got "
                         f"{group_arg!r}")
    if _default is None:
        raise ValueError(
            f"{who}: Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    if _broken is not None:
        raise DistBackendError(f"{who}: the process group is broken ({_broken}); "
                               "destroy_process_group() and exit")
    return _default


def get_rank(group: Any = None) -> int:
    return default_group(group, "get_rank").rank()


def get_world_size(group: Any = None) -> int:
    return default_group(group, "get_world_size").size()


def get_backend(group: Any = None) -> str:
    return default_group(group, "get_backend").backend


def wait(pg: ProcessGroup, requests: list, what: str) -> None:
    """Wait for MPI requests, raising DistBackendError after the group's timeout."""
    global _broken
    MPI = _mpi()
    if MPI.Request.Testall(requests):
        return
    start = time.monotonic()
    deadline = start + pg.timeout.total_seconds()
    while not MPI.Request.Testall(requests):
        now = time.monotonic()
        if now > deadline:
            _broken = f"{what} timed out"
            raise DistBackendError(
                f"zengrad.distributed: {what} on rank {pg.rank()} timed out after "
                f"{pg.timeout.total_seconds():g} s waiting for the other ranks (one of "
                f"{pg.size()} ranks died or is stuck); the process group can't be used any more"
            )
        if now - start > _SPIN_S:
            time.sleep(_NAP_S)


def destroy_process_group(group: Any = None) -> None:
    """Leave the default group; MPI is finalized when the process exits."""
    global _default
    if group is not None and group is not WORLD and group is not _default:
        raise ValueError(f"destroy_process_group: unknown group {group!r}")
    if _default is None:
        raise ValueError("destroy_process_group: Default process group has not been initialized")
    pg, _default = _default, None
    if _broken is None:
        pg.comm.Free()


ABORT_GRACE_S = 1.0  # how long a rank whose group timed out waits before MPI_Abort


def _finalize_at_exit() -> None:
    # MPI_Finalize waits for every rank; after a timeout a peer is gone or stuck, so this
    # rank ends the whole job instead (MPI_Abort, as torch's watchdog tears a process down
    # after a collective timed out): leaving it to the launcher, which should end the job
    # when a rank exits with an error, once left a stuck rank running for its full 60 s
    import sys

    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return
    if _broken is None:
        mpi.Finalize()
    else:
        import time

        sys.stdout.flush()
        sys.stderr.flush()
        # the launcher forwards this rank's output through a pipe and MPI_Abort ends the job
        # at once: under load a traceback lost its last lines that way (its error message)
        time.sleep(ABORT_GRACE_S)
        mpi.COMM_WORLD.Abort(1)


atexit.register(_finalize_at_exit)
