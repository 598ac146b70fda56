"""torch.nn.modules under zengrad: torch's file layout (zengrad.nn.modules.linear.Linear,
.conv, .activation, .loss, .module.Module, ...) as aliases of zengrad.nn's own classes, for
programs that import from those paths. Every class is also here at the package level, as in
torch (zengrad.nn.modules.Linear)."""

from zengrad.nn.modules import (
    activation,
    batchnorm,
    channelshuffle,
    container,
    conv,
    distance,
    dropout,
    flatten,
    fold,
    instancenorm,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
    utils,
)
from zengrad.nn.modules._alias import TORCH_NAMES


def __getattr__(name: str):
    """zengrad.nn.modules.Linear (torch has every class at the package level too)."""
    if name == "__all__":
        return [n for file in TORCH_NAMES for n in globals()[file].__all__]
    for file, names in TORCH_NAMES.items():
        if name in names:  # the alias file returns it, or raises the error that names it
            return getattr(globals()[file], name)
    raise AttributeError(f"module 'zengrad.nn.modules' has no attribute {name!r}")
