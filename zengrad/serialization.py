"""zengrad.serialization, as torch.serialization: save, load and the allow-list of the
classes a loaded file may rebuild as whole modules (no pickle: see zengrad.io.torch_style).

    with zengrad.serialization.safe_globals([Net]):
        model = zengrad.load("model.pt")
"""

from zengrad.io.module_record import (
    UnsafeGlobalError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)
from zengrad.io.torch_style import load, save

__all__ = ["UnsafeGlobalError", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "load", "safe_globals", "save"]
