"""Flatten and Unflatten: reshape a range of dims into one, and one dim into several."""

from __future__ import annotations

import math

from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.ops.dims import normalize_dim
from zengrad.ops.shape import flatten, unflatten


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W) for the default start_dim=1, end_dim=-1.

    As torch, the dims must exist: a 0-d tensor counts as having one dim (0 or -1), so the
    default start_dim=1 raises IndexError on 0-d and 1-d inputs (there is no batch dim to
    keep), while Flatten(0) turns a 0-d tensor into shape (1,).
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        # checked here because ops.shape.flatten maps any 0-d input to (1,) whatever the dims
        nd = input.array.ndim
        for arg, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            try:
                normalize_dim(dim, nd)
            except IndexError as e:
                raise IndexError(
                    f"Flatten: {arg}={dim} does not exist in an input of shape "
                    f"{tuple(input.array.shape)}: {e}"
                ) from None
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Dim `dim` of size prod(unflattened_size) -> unflattened_size (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        sizes = tuple(int(s) for s in unflattened_size)
        if sum(s == -1 for s in sizes) > 1 or any(s < -1 for s in sizes):
            raise ValueError(
                f"Unflatten: unflattened_size {sizes} may hold at most one -1 and no other "
                "negative size"
            )
        self.dim = dim
        self.unflattened_size = sizes

    def forward(self, input: Tensor) -> Tensor:
        d = normalize_dim(self.dim, input.array.ndim)
        n = input.array.shape[d]
        known = math.prod(s for s in self.unflattened_size if s != -1)
        ok = n == known if -1 not in self.unflattened_size else known and n % known == 0
        if not ok:
            raise ValueError(
                f"Unflatten: unflattened_size {self.unflattened_size} does not match size "
                f"{n} of dim {self.dim} of the input (shape {tuple(input.shape)})"
            )
        return unflatten(input, d, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
