"""zengrad.backends: the flags torch.backends offers, as they read on a CPU-only build.

Programs set `backends.cudnn.benchmark = True` or `deterministic = True` and ask
`backends.mps.is_available()`; the flags are stored (so they read back what was set) and
change nothing here, since no cuDNN or MPS backend exists.
"""

from zengrad.backends import cuda, cudnn, mkldnn, mps

__all__ = ["cuda", "cudnn", "mkldnn", "mps"]
