"""The exporter's error."""


class ExportError(RuntimeError):
    """The model can't be exported as asked; the message names the op or argument and why
    (torch.onnx raises its own errors, also RuntimeErrors, for the same cases)."""


class UnsupportedOperatorError(ExportError):
    """An op (or module) with no ONNX mapping; the message names it."""
