"""torch.nn.modules.module as an alias of zengrad.nn's classes (see _alias)."""

from zengrad.nn.modules._alias import export

__getattr__, __dir__ = export(globals(), "module")
