"""Model registry for the CLI: name -> builder(input_shape, num_outputs) -> Module.

Builders with a `width` keyword (mlp: hidden units, resnet: base channels, lstm: hidden size)
can be built at another size with `build_model(..., width=w)` (`zengrad tune` tunes it).

Image models come from zengrad.models, imported only when chosen, so a build without
them still trains the MLP. Add a model with `MODELS["name"] = builder`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from zengrad import nn


class ModelUnavailableError(ValueError):
    """The model can't be built here (missing module, or inputs it can't take)."""


def mlp(input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (128,),
        dropout: float = 0.0, width: int | None = None) -> nn.Module:
    """Flatten -> [Linear -> ReLU (-> Dropout)] per hidden width -> Linear.
    `width` (if given) replaces `hidden` by one hidden layer of that many units."""
    if width is not None:
        hidden = (width,)
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


def resnet8(input_shape: tuple[int, ...], num_outputs: int, width: int = 16) -> nn.Module:
    c, _, _ = _image_shape("resnet8", input_shape)
    return _models_module("resnet8").resnet8(in_channels=c, num_classes=num_outputs,
                                             width=width)


def resnet20(input_shape: tuple[int, ...], num_outputs: int, width: int = 16) -> nn.Module:
    c, _, _ = _image_shape("resnet20", input_shape)
    return _models_module("resnet20").resnet20(in_channels=c, num_classes=num_outputs,
                                               width=width)


def _sequence_features(name: str, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(length, features) of a sequence input: an image (1, H, W) is read row by row."""
    if len(input_shape) == 3 and input_shape[0] == 1:
        return input_shape[1], input_shape[2]
    if len(input_shape) == 2:
        return input_shape[0], input_shape[1]
    raise ModelUnavailableError(
        f"model {name!r} needs sequences (length, features) or one-channel images; this "
        f"dataset's samples have shape {input_shape} (use --model mlp)"
    )


def lstm(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """An LSTM over the sequence, classifying from its last hidden state."""
    _, features = _sequence_features("lstm", input_shape)
    return _models_module("lstm").SequenceClassifier(features, num_outputs)


def transformer(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """A Transformer encoder over the sequence, mean-pooled into class logits."""
    length, features = _sequence_features("transformer", input_shape)
    model = _models_module("transformer").TransformerClassifier(
        input_dim=features, num_classes=num_outputs, max_len=max(512, length)
    )
    if len(input_shape) == 3:  # (N, 1, H, W) images -> (N, H, W): H tokens of W features
        return nn.Sequential(nn.Flatten(1, 2), model)
    return model


MODELS: dict[str, Callable[[tuple[int, ...], int], nn.Module]] = {
    "mlp": mlp,
    "lenet": lenet,
    "resnet": resnet8,
    "resnet8": resnet8,
    "resnet20": resnet20,
    "lstm": lstm,
    "transformer": transformer,
}


def has_width(name: str) -> bool:
    """Whether model `name` takes a `width` keyword (see build_model)."""
    return name in MODELS and "width" in inspect.signature(MODELS[name]).parameters


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int,
                width: int | None = None) -> nn.Module:
    if name not in MODELS:
        raise ModelUnavailableError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    if width is None:
        return MODELS[name](tuple(input_shape), int(num_outputs))
    if not has_width(name):
        raise ModelUnavailableError(f"model {name!r} has no width option")
    return MODELS[name](tuple(input_shape), int(num_outputs), width=int(width))
