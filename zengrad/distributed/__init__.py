"""zengrad.distributed: torch.distributed over MPI (mpi4py), for data-parallel training.

    zengrad.distributed.init_process_group(backend="mpi")   # under mpiexec -n N
    model = zengrad.nn.parallel.DistributedDataParallel(model)

Ranks are the MPI launcher's; collectives act on tensors in place. Only the default group
(all ranks) exists. Install with pip install 'zengrad[mpi]'.
"""

from zengrad.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    reduce_scatter,
    reduce_scatter_tensor,
)
from zengrad.distributed.process_group import (
    DistBackendError,
    DistError,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
)

__all__ = [
    "DistBackendError", "DistError", "ProcessGroup", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_reduce", "barrier", "broadcast", "destroy_process_group",
    "get_backend", "get_rank", "get_world_size", "group", "init_process_group", "is_available",
    "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available",
    "is_torchelastic_launched", "reduce_scatter", "reduce_scatter_tensor",
]
