"""Sub-pixel rearrangements (Shi et al. 2016): PixelShuffle and PixelUnshuffle, with their
functional forms pixel_shuffle / pixel_unshuffle, as in torch.

    pixel_shuffle:   (*, C r^2, H, W) -> (*, C, H r, W r),
        out[..., c, h r + i, w r + j] = in[..., c r^2 + i r + j, h, w]
    pixel_unshuffle: the inverse, (*, C, H r, W r) -> (*, C r^2, H, W)

Both are one reshape, one permute and one reshape, so the gradient is the inverse
rearrangement (from the shape ops).
"""

from __future__ import annotations

from numbers import Integral

from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.ops.shape import permute, reshape


def _check(who: str, input, factor, name: str) -> tuple[int, ...]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(input).__name__}")
    if isinstance(factor, bool) or not isinstance(factor, Integral):
        raise TypeError(f"{who}: {name} must be an int, got {type(factor).__name__}")
    if factor <= 0:
        raise ValueError(f"{who} expects a positive {name}, but got {factor}")
    shape = tuple(input.array.shape)
    if len(shape) < 3:
        raise ValueError(f"{who} expects input to have at least 3 dimensions, but got input "
                         f"with {len(shape)} dimension(s) (shape {shape})")
    return shape


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r) with r = upscale_factor (module docstring)."""
    shape = _check("pixel_shuffle", input, upscale_factor, "upscale_factor")
    r = int(upscale_factor)
    *batch, c, h, w = shape
    if c % (r * r):
        raise ValueError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r} "
            f"(shape {shape})"
        )
    b = len(batch)
    x = reshape(input, *batch, c // (r * r), r, r, h, w)
    # (*, C, i, j, H, W) -> (*, C, H, i, W, j)
    x = permute(x, *range(b), b, b + 3, b + 1, b + 4, b + 2)
    return reshape(x, *batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W) with r = downscale_factor (module docstring)."""
    shape = _check("pixel_unshuffle", input, downscale_factor, "downscale_factor")
    r = int(downscale_factor)
    *batch, c, h, w = shape
    for axis, size in (("height", h), ("width", w)):
        if size % r:
            dim = -2 if axis == "height" else -1
            raise ValueError(
                f"pixel_unshuffle expects {axis} to be divisible by downscale_factor, but "
                f"input.size({dim})={size} is not divisible by {r} (shape {shape})"
            )
    b = len(batch)
    x = reshape(input, *batch, c, h // r, r, w // r, r)
    # (*, C, H, i, W, j) -> (*, C, i, j, H, W)
    x = permute(x, *range(b), b, b + 2, b + 4, b + 1, b + 3)
    return reshape(x, *batch, c * r * r, h // r, w // r)


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r), r = upscale_factor (see pixel_shuffle)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W), r = downscale_factor (see pixel_unshuffle)."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
