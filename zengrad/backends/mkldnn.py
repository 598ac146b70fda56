"""zengrad.backends.mkldnn: oneDNN is not used here (NumPy computes every op)."""

from __future__ import annotations

enabled: bool = True


def is_available() -> bool:
    """False: zengrad does not call oneDNN."""
    return False
