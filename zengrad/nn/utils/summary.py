"""A model summary as Keras' model.summary() and torchinfo print it.

summary(model, input_size) runs one forward pass on zeros of input_size (batch dimension
included, as torchinfo) under no_grad in eval mode, records every submodule's output shape
with forward hooks (removed afterwards), and tabulates per layer: its name and type, output
shape and the number of parameters it holds itself (not its children's), so the column sums
to the total. Total = sum of numel over model.parameters(); trainable = those with
requires_grad.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerInfo:
    """One row of a summary."""

    name: str
    type: str
    output_shape: tuple | None  # None: not called by the forward pass
    params: int
    depth: int


@dataclass
class ModelSummary:
    """The rows and totals of summary(); str() gives the table."""

    layers: list[LayerInfo] = field(default_factory=list)
    input_size: tuple[int, ...] = ()
    total_params: int = 0
    trainable_params: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        rows = [(("  " * (lay.depth - 1)) + f"{lay.name} ({lay.type})",
                 "--" if lay.output_shape is None else _shape_text(lay.output_shape),
                 f"{lay.params:,}" if lay.params else "--") for lay in self.layers]
        heads = ("Layer (type)", "Output Shape", "Param #")
        w0 = max([len(heads[0])] + [len(r[0]) for r in rows]) + 2
        w1 = max([len(heads[1])] + [len(r[1]) for r in rows]) + 2
        w2 = max([len(heads[2])] + [len(r[2]) for r in rows])
        line = "=" * (w0 + w1 + w2)
        out = [line, f"{heads[0]:<{w0}}{heads[1]:<{w1}}{heads[2]:>{w2}}", line]
        out += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in rows]
        out += [line, f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}", line]
        return "\n".join(out)


def _shape_text(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape_text(s) for s in shape)
    return "[" + ", ".join(map(str, shape)) + "]"


def _tensor_shapes(out) -> list[tuple[int, ...]]:
    """The shapes of every tensor in a layer output (a tensor, or nested tuples/lists)."""
    if isinstance(out, (tuple, list)):
        return [s for o in out for s in _tensor_shapes(o)]
    return [tuple(int(d) for d in out.shape)] if hasattr(out, "shape") else []


def _shape_of(out):
    """One output's shape, or a tuple of the shapes of a multi-tensor output."""
    shapes = _tensor_shapes(out)
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def summary(model, input_size: Sequence[int], dtype=np.float32) -> ModelSummary:
    """Per-layer output shapes and parameter counts of model on an input of input_size
    (e.g. (1, 1, 8, 8): batch dimension first). print() it for the table."""
    from zengrad.autograd.engine import no_grad
    from zengrad.autograd.tensor import Tensor

    size = tuple(int(s) for s in input_size)
    if not size or any(s < 1 for s in size):
        raise ValueError(f"summary: input_size must be positive ints (batch first), got "
                         f"{tuple(input_size)}")
    shapes: dict[int, tuple] = {}
    handles = []
    named = list(model.named_modules())

    def hook(mod, args, out) -> None:
        shapes.setdefault(id(mod), _shape_of(out))  # the first call, as torchinfo

    for _, module in named:
        handles.append(module.register_forward_hook(hook))
    was_training = getattr(model, "training", False)
    try:
        model.eval()
        with no_grad():
            model(Tensor._make(np.zeros(size, dtype=dtype), False, None))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    result = ModelSummary(input_size=size)
    for name, module in named:
        if not name:  # the model itself: its totals below
            continue
        own = sum(int(np.prod(p.shape)) for p in module.parameters(recurse=False))
        result.layers.append(LayerInfo(name, type(module).__name__, shapes.get(id(module)),
                                       own, name.count(".") + 1))
    params = list(model.parameters())
    result.total_params = sum(int(np.prod(p.shape)) for p in params)
    result.trainable_params = sum(int(np.prod(p.shape)) for p in params if p.requires_grad)
    return result


__all__ = ["LayerInfo", "ModelSummary", "summary"]
