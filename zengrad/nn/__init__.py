"""zengrad.nn: Module, Parameter, containers and layers, as in torch.nn."""

from zengrad.nn import functional, init, modules, parallel, utils
from zengrad.nn.activation import (
    ELU,
    GELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
)
from zengrad.nn.attention import MultiheadAttention
from zengrad.nn.containers import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from zengrad.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from zengrad.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from zengrad.nn.embedding import Embedding
from zengrad.nn.flatten import Flatten, Unflatten
from zengrad.nn.layernorm import LayerNorm
from zengrad.nn.linear import Identity, Linear
from zengrad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from zengrad.nn.module import Module
from zengrad.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm
from zengrad.nn.parallel import DataParallel
from zengrad.nn.parameter import Parameter
from zengrad.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from zengrad.nn.pooling import (
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
)
from zengrad.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    RNNCellBase,
)
from zengrad.nn.sync_batchnorm import SyncBatchNorm
from zengrad.nn.transformer import (
    PositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from zengrad.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
