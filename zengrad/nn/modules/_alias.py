"""The table behind zengrad.nn.modules: for each file of torch.nn.modules, the public classes
torch defines there. Each alias file gives the ones zengrad.nn has (the same class objects,
so isinstance and state_dicts agree); asking for one zengrad lacks raises an AttributeError
that names it, instead of a bare "no attribute"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TORCH_NAMES: dict[str, tuple[str, ...]] = {
    "module": ("Module",),
    "linear": ("Identity", "Linear", "Bilinear", "LazyLinear"),
    "conv": ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
             "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d"),
    "activation": ("Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid",
                   "Tanh", "SiLU", "Mish", "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU",
                   "Hardshrink", "LeakyReLU", "LogSigmoid", "Softplus", "Softshrink",
                   "MultiheadAttention", "PReLU", "Softsign", "Tanhshrink", "Softmin",
                   "Softmax", "Softmax2d", "LogSoftmax"),
    "loss": ("L1Loss", "NLLLoss", "NLLLoss2d", "PoissonNLLLoss", "GaussianNLLLoss", "KLDivLoss",
             "MSELoss", "BCELoss", "BCEWithLogitsLoss", "HingeEmbeddingLoss",
             "MultiLabelMarginLoss", "SmoothL1Loss", "HuberLoss", "SoftMarginLoss",
             "CrossEntropyLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss",
             "MarginRankingLoss", "MultiMarginLoss", "TripletMarginLoss",
             "TripletMarginWithDistanceLoss", "CTCLoss"),
    "container": ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"),
    "batchnorm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"),
    "normalization": ("LocalResponseNorm", "CrossMapLRN2d", "LayerNorm", "GroupNorm", "RMSNorm"),
    "instancenorm": ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"),
    "dropout": ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                "FeatureAlphaDropout"),
    "pooling": ("MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
                "MaxUnpool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "FractionalMaxPool2d",
                "FractionalMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "AdaptiveMaxPool1d",
                "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AdaptiveAvgPool1d",
                "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"),
    "rnn": ("RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"),
    "sparse": ("Embedding", "EmbeddingBag"),
    "transformer": ("Transformer", "TransformerEncoder", "TransformerDecoder",
                    "TransformerEncoderLayer", "TransformerDecoderLayer"),
    "flatten": ("Flatten", "Unflatten"),
    "pixelshuffle": ("PixelShuffle", "PixelUnshuffle"),
    "upsampling": ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"),
    "padding": ("CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d",
                "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d",
                "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
                "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"),
    "distance": ("PairwiseDistance", "CosineSimilarity"),
    "fold": ("Fold", "Unfold"),
    "channelshuffle": ("ChannelShuffle",),
}


def export(namespace: dict, file: str) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """(__getattr__, __dir__) for an alias file (namespace = its globals). Looked up at first
    use, not at import, so the import order inside zengrad.nn does not matter and layers
    added to zengrad.nn later appear here too."""
    names = TORCH_NAMES[file]
    module_name = namespace["__name__"]

    def available() -> list[str]:
        import zengrad.nn as nn

        return [n for n in names if isinstance(getattr(nn, n, None), type)]

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            return available()
        if name in names:
            import zengrad.nn as nn

            value = getattr(nn, name, None)
            if isinstance(value, type):
                namespace[name] = value  # found once, then an ordinary attribute
                return value
            raise AttributeError(
                f"{module_name}.{name}: torch's nn.{name} is not implemented in zengrad "
                f"(available here: {', '.join(available()) or 'none'})"
            )
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(available()))

    return __getattr__, __dir__
