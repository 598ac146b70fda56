"""Pooling layers over zengrad.ops.pool (formulas and the max-pool tie rule live there)."""

from __future__ import annotations

from zengrad.autograd.tensor import Tensor
from zengrad.nn.module import Module
from zengrad.ops import pool as P
from zengrad.ops.args import check_positive, ntuple


class _MaxPoolNd(Module):
    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """y[n, c, l] = max_i x_pad[n, c, s l + d i] over (N, C, L); return_indices=True: also
    the maxima's positions (for MaxUnpool1d)."""

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return P.max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class MaxPool2d(_MaxPoolNd):
    """y[n, c, h, w] = max over the window at (s h, s w) of the -inf padded input;
    return_indices=True: also the maxima's flat positions h * W + w (for MaxUnpool2d)."""

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return P.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class _MaxUnpoolNd(Module):
    """Shared constructor of MaxUnpool1d/2d: kernel_size, stride (default kernel_size) and
    padding kept as nd-tuples, as torch."""

    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        nd, cls = self._nd, type(self).__name__
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", cls)
        self.stride = self.kernel_size if stride is None else ntuple(stride, nd, "stride", cls)
        self.padding = ntuple(padding, nd, "padding", cls)
        check_positive(self.kernel_size, "kernel_size", cls)
        check_positive(self.stride, "stride", cls)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: y[n, c, indices[n, c, l]] = x[n, c, l], zeros elsewhere."""

    _nd = 1

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return P.max_unpool1d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d: each value goes back to its flat index in its plane,
    zeros elsewhere."""

    _nd = 2

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return P.max_unpool2d(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )


class _AvgPoolNd(Module):
    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """y[n, c, l] = mean of the window x_pad[n, c, s l : s l + k]."""

    def forward(self, input: Tensor) -> Tensor:
        return P.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AvgPool2d(_AvgPoolNd):
    """y = window sum / divisor (see zengrad.ops.pool.avg_pool2d)."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return P.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AdaptiveAvgPool2d(Module):
    """Average over windows [floor(o H / OH), ceil((o + 1) H / OH)) to a fixed output size."""

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return P.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
