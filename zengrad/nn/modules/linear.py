"""torch.nn.modules.linear as an alias of zengrad.nn's classes (see _alias)."""

# torch keeps this one here, not in torch.nn
from zengrad.nn.linear import NonDynamicallyQuantizableLinear  # noqa: F401
from zengrad.nn.modules._alias import export

__getattr__, __dir__ = export(globals(), "linear")
