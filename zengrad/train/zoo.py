"""Model registry for the CLI: name -> builder(input_shape, num_outputs) -> Module.

Builders with a `width` keyword (mlp: hidden units, resnet: base channels, lstm: hidden size)
can be built at another size with `build_model(..., width=w)` (`zengrad tune` tunes it).

The task picks the head: 'classification' (num_outputs class logits), 'regression' or
'forecast' (num_outputs values; a forecast is a regression of the next num_outputs = horizon
steps). Builders with a `task` keyword (lstm, transformer) build a different model per task:
for a series window (input_len,) or (input_len, features) and task 'forecast' or
'regression' an LSTMForecaster / TransformerForecaster. `supports(name, task)` says which
builders take which task (MODEL_TASKS).

Image models come from zengrad.models, imported only when chosen, so a build without
them still trains the MLP. Add a model with `MODELS["name"] = builder` (and its tasks in
MODEL_TASKS).
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


TASKS = ("classification", "regression", "forecast")


def _sequence_features(name: str, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(length, features) of a sequence input: a series window (L,) is L steps of one
    feature; an image (1, H, W) is read row by row."""
    if len(input_shape) == 3 and input_shape[0] == 1:
        return input_shape[1], input_shape[2]
    if len(input_shape) == 2:
        return input_shape[0], input_shape[1]
    if len(input_shape) == 1:
        return input_shape[0], 1
    raise ModelUnavailableError(
        f"model {name!r} needs sequences (length,) or (length, features), or one-channel "
        f"images; this dataset's samples have shape {input_shape} (use --model mlp)"
    )


def lstm(input_shape: tuple[int, ...], num_outputs: int, width: int | None = None,
         task: str = "classification") -> nn.Module:
    """An LSTM over the sequence and a Linear head on its last hidden state: class logits
    (SequenceClassifier, 64 hidden units) or, for 'forecast'/'regression', the next
    num_outputs values (LSTMForecaster, 32 hidden units). width: the hidden size."""
    _, features = _sequence_features("lstm", input_shape)
    module = _models_module("lstm")
    if task == "classification":
        return module.SequenceClassifier(features, num_outputs, hidden_size=width or 64)
    # one target series (the first feature's), num_outputs = horizon steps of it
    return module.LSTMForecaster(features, hidden_size=width or 32, horizon=num_outputs,
                                 target_size=1)


def transformer(input_shape: tuple[int, ...], num_outputs: int,
                task: str = "classification") -> nn.Module:
    """A Transformer encoder over the sequence: mean-pooled into class logits, or (for
    'forecast'/'regression') its last position mapped to the next num_outputs values."""
    length, features = _sequence_features("transformer", input_shape)
    _models_module("transformer")
    from zengrad.models import transformer as module

    if task != "classification":
        return module.TransformerForecaster(features, horizon=num_outputs, target_size=1,
                                            max_len=max(512, length))
    model = module.TransformerClassifier(input_dim=features, num_classes=num_outputs,
                                         max_len=max(512, length))
    if len(input_shape) == 3:  # (N, 1, H, W) images -> (N, H, W): H tokens of W features
        return nn.Sequential(nn.Flatten(1, 2), model)
    if len(input_shape) == 1:  # (N, L) -> (N, L, 1): L tokens of one feature
        return nn.Sequential(nn.Unflatten(1, (length, 1)), model)
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


# The tasks each model can be built for. The image models and the MLP have no
# task-specific head: their num_outputs outputs serve as logits or as regression values.
# A forecast reads a series window (input_len,): the MLP flattens it, lstm/transformer read
# it step by step; the image models can't take it.
MODEL_TASKS: dict[str, tuple[str, ...]] = {
    "mlp": TASKS,
    "lenet": ("classification", "regression"),
    "resnet": ("classification", "regression"),
    "resnet8": ("classification", "regression"),
    "resnet20": ("classification", "regression"),
    "lstm": TASKS,
    "transformer": TASKS,
}


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ModelUnavailableError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def supports(name: str, task: str) -> bool:
    """Whether model `name` can be built for `task` (a name not in MODEL_TASKS: any task)."""
    _check_task(task)
    return name in MODELS and task in MODEL_TASKS.get(name, TASKS)


def models_for(task: str) -> list[str]:
    """The model names that can be built for `task`, in MODELS order."""
    return [name for name in MODELS if supports(name, task)]


def has_width(name: str) -> bool:
    """Whether model `name` takes a `width` keyword (see build_model)."""
    return name in MODELS and "width" in inspect.signature(MODELS[name]).parameters


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int,
                width: int | None = None, task: str = "classification") -> nn.Module:
    """MODELS[name] built for samples of input_shape, num_outputs outputs and the task
    ('classification', 'regression' or 'forecast'; see the module docstring)."""
    if name not in MODELS:
        raise ModelUnavailableError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    if not supports(name, task):
        raise ModelUnavailableError(f"model {name!r} can't be built for task {task!r}; "
                                    f"models for it: {', '.join(models_for(task))}")
    kwargs: dict = {}
    if width is not None:
        if not has_width(name):
            raise ModelUnavailableError(f"model {name!r} has no width option")
        kwargs["width"] = int(width)
    if "task" in inspect.signature(MODELS[name]).parameters:
        kwargs["task"] = task
    return MODELS[name](tuple(input_shape), int(num_outputs), **kwargs)
