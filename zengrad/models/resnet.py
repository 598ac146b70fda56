"""Residual networks: torchvision's BasicBlock and Bottleneck, and a CIFAR-style ResNet.

    block:  y = relu(F(x) + shortcut(x)),  shortcut = identity, or 1x1 conv (stride) + BN when
            the stride or the channel count changes ("option B" of He et al. 2016)
    ResNet: conv 3x3 (width) -> BN -> ReLU -> stages of widths width * 2^i (stride 2 from the
            second stage) -> global average pool -> fc.  resnet20 = 3 stages of 3 BasicBlocks
            (6 n + 2 layers with n = 3), resnet8 = n = 1.
Names follow torchvision (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0 / .1, fc), so a
PyTorch twin's state_dict loads as is.
"""

from __future__ import annotations

from zengrad.autograd.tensor import Tensor
from zengrad.nn import init
from zengrad.nn.containers import Sequential
from zengrad.nn.conv import Conv2d
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.nn.norm import BatchNorm2d
from zengrad.ops.pool import adaptive_avg_pool2d


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    return Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    return Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); two 3x3 convs, conv1 strided."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return (out + identity).relu()


class Bottleneck(Module):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand to planes * 4, each with BN, plus shortcut."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = BatchNorm2d(planes * self.expansion)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out)).relu()
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return (out + identity).relu()


class ResNet(Module):
    """CIFAR-style ResNet: a 3x3 stem, len(layers) stages (layer1, layer2, ...) of blocks,
    global average pooling and a linear classifier. Any input channel and class count."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        in_channels: int = 3,
        num_classes: int = 10,
        width: int = 16,
    ) -> None:
        super().__init__()
        if not layers or any(n < 1 for n in layers):
            raise ValueError(
                f"ResNet: layers must be a non-empty list of positive ints, got {layers!r}"
            )
        self.inplanes = width
        self.conv1 = conv3x3(in_channels, width)
        self.bn1 = BatchNorm2d(width)
        for i, n in enumerate(layers):
            stage = self._make_layer(block, width * 2**i, n, stride=1 if i == 0 else 2)
            self.register_module(f"layer{i + 1}", stage)
        self.num_stages = len(layers)
        self.fc = Linear(self.inplanes, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):  # He init for ReLU nets, as torchvision
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes: int, blocks: int, stride: int) -> Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                BatchNorm2d(planes * block.expansion),
            )
        stage = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        stage += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return Sequential(*stage)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn1(self.conv1(x)).relu()
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        x = adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def resnet8(in_channels: int = 3, num_classes: int = 10, width: int = 16) -> ResNet:
    """ResNet-8: three stages of one BasicBlock each."""
    return ResNet(BasicBlock, [1, 1, 1], in_channels, num_classes, width)


def resnet20(in_channels: int = 3, num_classes: int = 10, width: int = 16) -> ResNet:
    """ResNet-20 (He et al. 2016, CIFAR): three stages of three BasicBlocks."""
    return ResNet(BasicBlock, [3, 3, 3], in_channels, num_classes, width)
