"""Export a trained run folder (from `zengrad train`) with its preprocessing folded in.

The exported graph takes raw inputs, as the dataset's source gives them and as
`zengrad predict` reads them, shaped (batch, *input_shape) in float32, and gives:
    classification:        logits (batch, classes)  (softmax them for probabilities)
    regression / forecast: predictions in the target's units (the run's target scaling undone)
i.e. the graph is  y_scaling^-1(model((x - mean) / scale)),  each step present only when
preprocessing.json has it. The batch axis is dynamic.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zengrad.autograd.tensor import Tensor
from zengrad.creation import from_numpy
from zengrad.nn.module import Module


class WithPreprocessing(Module):
    """model between the run's input scaling and its target scaling's inverse:
    forward(x) = model((x - x_mean) / x_scale) * y_scale + y_mean."""

    def __init__(self, model: Module, x_scaler=None, y_scaler=None) -> None:
        super().__init__()
        self.model = model
        self.scale_x, self.scale_y = x_scaler is not None, y_scaler is not None
        for name, scaler in (("x", x_scaler), ("y", y_scaler)):
            if scaler is not None:  # buffers: the initializers are named x_mean, ...
                self.register_buffer(f"{name}_mean", _f32(scaler.mean_))
                self.register_buffer(f"{name}_scale", _f32(scaler.scale_))

    def forward(self, x: Tensor) -> Tensor:
        if self.scale_x:
            x = (x - self.x_mean) / self.x_scale
        y = self.model(x)
        if self.scale_y:
            y = y * self.y_scale + self.y_mean
        return y


def _f32(a) -> Tensor:
    return from_numpy(np.asarray(a, np.float32))


def export_run(run: str | os.PathLike, f: str | os.PathLike, *,
               opset_version: int | None = None, preprocessing: bool = True):
    """Write run's model to f as ONNX (module docstring); preprocessing=False exports the bare
    model (inputs and outputs as the model sees them). Returns the onnx.ModelProto."""
    from zengrad.onnx.export import export
    from zengrad.train import recipe

    config, weights, pre = recipe.load_run(run)
    model = recipe.restore(config, weights)
    classify = config["task"] == "classification"
    if preprocessing and pre is not None:
        model = WithPreprocessing(model, pre.x_scaler, None if classify else pre.y_scaler)
    shape = tuple(config["input_shape"])
    example = from_numpy(np.zeros((2, *shape), np.float32) + np.linspace(
        0, 1, 2 * int(np.prod(shape)), dtype=np.float32).reshape(2, *shape))
    output = "logits" if classify else "prediction"
    return export(model, (example,), f, input_names=["input"], output_names=[output],
                  dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}},
                  opset_version=opset_version)


def describe(proto, path: str | os.PathLike) -> str:
    """One line about an exported file: its inputs and outputs with their shapes."""
    def shapes(values):
        return ", ".join(
            f"{v.name} ({', '.join(d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim)})"  # noqa: E501
            for v in values)
    size = Path(path).stat().st_size if Path(path).is_file() else 0
    return (f"wrote {path} ({size / 1e6:.2f} MB, opset {proto.opset_import[0].version}): "
            f"inputs {shapes(proto.graph.input)} -> outputs {shapes(proto.graph.output)}")
