"""zengrad.backends.cuda: torch.backends.cuda's flags; stored, without effect (no CUDA).

`backends.cuda.matmul.allow_tf32 = True` and `allow_fp16_reduced_precision_reduction` are
kept for programs that set them; is_built() is False.
"""

from __future__ import annotations


class _MatmulFlags:
    """torch.backends.cuda.matmul: TF32 / reduced-precision flags of CUDA matmuls."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built() -> bool:
    """False: this build has no CUDA."""
    return False
