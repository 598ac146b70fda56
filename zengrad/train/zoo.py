"""Model registry for the CLI: name -> builder(input_shape, num_outputs) -> Module.

Image models come from zengrad.models, imported only when chosen, so a build without
them still trains the MLP. Add a model with `MODELS["name"] = builder`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from zengrad import nn


class ModelUnavailableError(ValueError):
    """The model can't be built here (missing module, or inputs it can't take)."""


def mlp(input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (128,),
        dropout: float = 0.0) -> nn.Module:
    """Flatten -> [Linear -> ReLU (-> Dropout)] per hidden width -> Linear."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_outputs))
    return nn.Sequential(*layers)


def _models_module(name: str):
    try:
        import zengrad.models as models
    except ImportError as e:
        raise ModelUnavailableError(
            f"model {name!r} needs zengrad.models, which this build doesn't have ({e})"
        ) from None
    return models


def _image_shape(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ModelUnavailableError(
            f"model {name!r} needs image inputs (channels, height, width); this dataset's "
            f"samples have shape {input_shape} (use --model mlp)"
        )
    return input_shape  # type: ignore[return-value]


def lenet(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    c, h, w = _image_shape("lenet", input_shape)
    if h != w:
        raise ModelUnavailableError(f"model 'lenet' needs square images, got {h}x{w}")
    return _models_module("lenet").LeNet5(in_channels=c, num_classes=num_outputs, input_size=h)


def resnet8(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    c, _, _ = _image_shape("resnet8", input_shape)
    return _models_module("resnet8").resnet8(in_channels=c, num_classes=num_outputs)


def resnet20(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    c, _, _ = _image_shape("resnet20", input_shape)
    return _models_module("resnet20").resnet20(in_channels=c, num_classes=num_outputs)


def lstm(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """An LSTM over a sequence: an image (1, H, W) is read row by row, (L, F) as it is."""
    if len(input_shape) == 3 and input_shape[0] == 1:
        features = input_shape[2]
    elif len(input_shape) == 2:
        features = input_shape[1]
    else:
        raise ModelUnavailableError(
            f"model 'lstm' needs sequences (length, features) or one-channel images; this "
            f"dataset's samples have shape {input_shape} (use --model mlp)"
        )
    return _models_module("lstm").SequenceClassifier(features, num_outputs)


MODELS: dict[str, Callable[[tuple[int, ...], int], nn.Module]] = {
    "mlp": mlp,
    "lenet": lenet,
    "resnet": resnet8,
    "resnet8": resnet8,
    "resnet20": resnet20,
    "lstm": lstm,
}


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    if name not in MODELS:
        raise ModelUnavailableError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name](tuple(input_shape), int(num_outputs))
