"""A small zoo of models built from zengrad.nn: LeNet-5, CIFAR-style ResNets, LSTM and Transformer
models."""

from zengrad.models.lenet import LeNet5
from zengrad.models.lstm import LSTMForecaster, SequenceClassifier
from zengrad.models.resnet import BasicBlock, Bottleneck, ResNet, resnet8, resnet20
from zengrad.models.transformer import TransformerClassifier, TransformerTagger

__all__ = [
    "LeNet5", "BasicBlock", "Bottleneck", "ResNet", "resnet8", "resnet20", "LSTMForecaster",
    "SequenceClassifier", "TransformerClassifier", "TransformerTagger",
]
