"""A small zoo of models built from zengrad.nn: LeNet-5 and CIFAR-style ResNets."""

from zengrad.models.lenet import LeNet5
from zengrad.models.resnet import BasicBlock, Bottleneck, ResNet, resnet8, resnet20

__all__ = ["LeNet5", "BasicBlock", "Bottleneck", "ResNet", "resnet8", "resnet20"]
