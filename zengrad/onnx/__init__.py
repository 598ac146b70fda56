"""Export to ONNX, as torch.onnx: `zengrad.onnx.export(model, args, "model.onnx", ...)`.

Needs the optional `onnx` package (pip install 'zengrad[onnx]'). The model is traced on
example inputs (trace.py), each op mapped to ONNX operators (table.py, map_*.py) and the graph
built and checked (graph.py, export.py). docs/onnx.md shows how to run the file in
onnxruntime.
"""

from zengrad.onnx.errors import ExportError, UnsupportedOperatorError
from zengrad.onnx.export import DEFAULT_OPSET, export
from zengrad.onnx.table import MODULES, OPS

__all__ = ["export", "ExportError", "UnsupportedOperatorError", "DEFAULT_OPSET", "OPS",
           "MODULES"]
