"""zengrad.backends.mps: Apple's Metal backend does not exist in this (NumPy) build."""

from __future__ import annotations


def is_available() -> bool:
    """False: no MPS device."""
    return False


def is_built() -> bool:
    """False: this build is not linked with MPS."""
    return False
