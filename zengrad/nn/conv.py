"""Conv1d/Conv2d (y = W * x + b, cross-correlation, weight (out, in/groups, *kernel)) and
ConvTranspose1d/2d (their adjoints, weight (in, out/groups, *kernel)).

Initialized as PyTorch: W ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * prod(kernel_size)
(ConvTranspose: from weight dims 1.., i.e. out_channels / groups * prod(kernel_size), as torch).
Conv padding_mode 'reflect' | 'replicate' | 'circular' pads with F.pad in that mode and then
convolves unpadded, as torch ('same' splits an odd total with the extra on the right).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import init
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.nn.placement import layer_device, place
from zengrad.ops.args import check_positive, ntuple
from zengrad.ops.conv import conv_nd, conv_padding
from zengrad.ops.conv_transpose import conv_transpose_nd
from zengrad.ops.shape import pad

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvBase(Module):
    """What Conv and ConvTranspose share: channel/groups validation, parameters, init, repr."""

    _nd = 2

    def _check_channels(self, in_channels: int, out_channels: int, groups: int) -> None:
        cls = type(self).__name__
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, Integral) or v <= 0:
                raise ValueError(f"{cls}: {name} must be a positive int, got {v!r}")
        if isinstance(groups, bool) or not isinstance(groups, Integral) or groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive int, got {groups!r}")
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if v % groups:
                raise ValueError(f"{cls}: {name} ({v}) must be divisible by groups ({groups})")

    def _init_parameters(self, weight_shape: tuple[int, ...], bias: bool, dtype) -> None:
        """weight of weight_shape, bias (out_channels,) or None, initialized as torch."""
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        # parameters are made on the host (device= takes only "cpu" here) and init fills them
        self.weight = Parameter(np.empty(weight_shape, dt))  # host
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dt))  # host
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._default_reset_(self.weight, self.bias)

    def extra_repr(self) -> str:
        """As torch: stride always shown, the other options when not default."""
        nd = self._nd
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != (0,) * nd:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _ConvNd(_ConvBase):
    """Shared constructor, validation and repr of Conv1d/Conv2d (nd spatial dims)."""

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        nd, cls = self._nd, type(self).__name__
        self._check_channels(in_channels, out_channels, groups)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{cls}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        device = layer_device(device, type(self).__name__)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", cls)
        self.stride = ntuple(stride, nd, "stride", cls)
        self.dilation = ntuple(dilation, nd, "dilation", cls)
        check_positive(self.kernel_size, "kernel_size", cls)
        check_positive(self.stride, "stride", cls)
        check_positive(self.dilation, "dilation", cls)
        self.output_padding = (0,) * nd  # as torch's Conv: for the shared repr
        self.padding = padding if isinstance(padding, str) else ntuple(padding, nd, "padding", cls)
        # validates 'same' with stride > 1 and negative padding now, not at the first call
        pads = conv_padding(self.padding, self.kernel_size, self.dilation, self.stride, cls)
        # F.pad's (left_last, right_last, left_prev, ...) for padding_mode != 'zeros'
        self._reversed_padding_repeated_twice = [v for pair in pads[2 - nd :][::-1] for v in pair]
        self.groups = int(groups)
        self.padding_mode = padding_mode
        weight_shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self._init_parameters(weight_shape, bias, dtype)
        place(self, device)

    def _owner(self) -> str:
        """How errors name this layer: Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2))."""
        text = f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
        text += f"kernel_size={self.kernel_size}"
        if self.stride != (1,) * self._nd:
            text += f", stride={self.stride}"
        if self.padding != (0,) * self._nd:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._nd:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ")"

    def forward(self, input: Tensor) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            # as torch: pad explicitly in that mode, then convolve without padding
            try:
                input = pad(input, self._reversed_padding_repeated_twice, self.padding_mode)
            except ValueError as e:
                raise ValueError(f"{self._owner()}: {e}") from None
            padding = 0
        return conv_nd(
            input,
            self.weight,
            self.bias,
            self._nd,
            self.stride,
            padding,
            self.dilation,
            self.groups,
            owner=self._owner,  # formatted only for an error message
        )


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out); weight (C_out, C_in/groups, K)."""

    _nd = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out);
    weight (C_out, C_in/groups, KH, KW)."""

    _nd = 2


class _ConvTransposeNd(_ConvBase):
    """Shared constructor, validation and repr of ConvTranspose1d/2d (nd spatial dims).

    weight (in_channels, out_channels/groups, *kernel) as PyTorch; init as Conv (fan_in is
    computed from weight dims 1.. , i.e. out_channels/groups * prod(kernel), as torch does).
    """

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        nd, cls = self._nd, type(self).__name__
        self._check_channels(in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(f'{cls}: only "zeros" padding mode is supported, got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"{cls}: padding must be an int or a tuple of ints, got {padding!r}")
        device = layer_device(device, type(self).__name__)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", cls)
        self.stride = ntuple(stride, nd, "stride", cls)
        self.padding = ntuple(padding, nd, "padding", cls)
        self.output_padding = ntuple(output_padding, nd, "output_padding", cls)
        self.dilation = ntuple(dilation, nd, "dilation", cls)
        check_positive(self.kernel_size, "kernel_size", cls)
        check_positive(self.stride, "stride", cls)
        check_positive(self.dilation, "dilation", cls)
        if any(v < 0 for v in self.padding):
            raise ValueError(f"{cls}: negative padding is not supported, got {self.padding}")
        if any(
            o >= s and o >= d for o, s, d in zip(self.output_padding, self.stride, self.dilation)
        ):
            raise ValueError(
                f"{cls}: output padding must be smaller than either stride or dilation, got "
                f"output_padding={self.output_padding}, stride={self.stride}, "
                f"dilation={self.dilation}"
            )
        self.groups = int(groups)
        self.padding_mode = padding_mode
        weight_shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self._init_parameters(weight_shape, bias, dtype)
        place(self, device)

    def _owner(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        """output_size (its last nd entries) picks the output_padding that gives that size."""
        return conv_transpose_nd(
            input,
            self.weight,
            self.bias,
            self._nd,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
            owner=self._owner(),
            output_size=output_size,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (N, C_in, L) -> (N, C_out, L_out),
    L_out = (L - 1) s - 2 p + d (K - 1) + output_padding + 1; weight (C_in, C_out/groups, K)."""

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    H_out = (H - 1) s - 2 p + d (KH - 1) + output_padding + 1;
    weight (C_in, C_out/groups, KH, KW)."""

    _nd = 2
