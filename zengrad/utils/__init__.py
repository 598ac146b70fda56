"""zengrad.utils: torch.utils' namespaces that programs reach as attributes
(`zengrad.utils.data.DataLoader` after `import zengrad as torch`)."""

from zengrad.utils import data

__all__ = ["data"]
