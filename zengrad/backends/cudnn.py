"""zengrad.backends.cudnn: torch.backends.cudnn's flags; stored, without effect (no cuDNN).

`enabled` (True), `benchmark` (False), `deterministic` (False), `allow_tf32` (True) read
back what a program set; is_available() is False and version() None, as torch without CUDA.
"""

from __future__ import annotations

enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = True
benchmark_limit: int = 10


def is_available() -> bool:
    """False: there is no cuDNN here."""
    return False


def version() -> None:
    """None: no cuDNN library is loaded."""
    return None
