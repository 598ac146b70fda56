"""torch.cuda.amp's (deprecated) names: GradScaler and autocast for the "cuda" device."""

from __future__ import annotations

from zengrad.amp.autocast_mode import autocast as _autocast
from zengrad.amp.grad_scaler import GradScaler as _GradScaler

__all__ = ["GradScaler", "autocast"]


class GradScaler(_GradScaler):
    """torch.cuda.amp.GradScaler(...) == torch.amp.GradScaler("cuda", ...)."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


class autocast(_autocast):  # noqa: N801 - torch's name
    """torch.cuda.amp.autocast(...) == torch.autocast("cuda", ...)."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
