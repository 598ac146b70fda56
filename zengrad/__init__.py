"""zengrad: a readable, fast deep-learning framework written from scratch on NumPy.

The public API mirrors PyTorch: zengrad.tensor, zengrad.no_grad, zengrad.nn, zengrad.optim.
"""

from zengrad import allocator, backend  # noqa: F401  (allocator tunes malloc on import)
from zengrad.autograd import (
    Function,
    Tensor,
    enable_grad,
    gradcheck,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from zengrad.autograd.tensor import (  # torch's legacy typed constructors, torch.Size
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    Size,
    install_numpy_aliases,
)
from zengrad.backend import (
    Generator,
    bool_,
    default_generator,
    float16,
    float32,
    float64,
    get_default_dtype,
    get_rng_state,
    initial_seed,
    int32,
    int64,
    manual_seed,
    seed,
    set_default_dtype,
    set_rng_state,
)
from zengrad.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from zengrad.devices import (  # zengrad.device is the class, as torch.device
    device,
    get_default_device,
    set_default_device,
)
from zengrad.ops import *  # noqa: F403  (add, matmul, cat, ... as zengrad.add etc.)
from zengrad.ops.inplace import with_out_functions
from zengrad.ops.threads import get_num_threads, set_num_threads
from zengrad.random import bernoulli, multinomial

globals().update(with_out_functions(globals()))  # out= where torch takes it (add, matmul ...)
del with_out_functions

install_numpy_aliases(globals())  # sum(axis=0, keepdims=True) etc., as torch's parser takes

half, double, long = float16, float64, int64
bool = bool_  # noqa: A001  (zengrad.bool, as torch.bool)
float = float32  # noqa: A001
int = int32  # noqa: A001

__version__ = "0.1.0"

# after the core: these build on it
# the torch.linalg namespace (norms); it replaces the name `linalg` that the star import of
# zengrad.ops bound to zengrad.ops.linalg (the matmul module)
import zengrad.linalg as linalg  # noqa: E402
from zengrad import (  # noqa: E402
    accelerator,
    amp,
    backends,
    cuda,
    data,
    io,
    nn,
    optim,
    serialization,
    train,
    utils,
)

# torch.save / torch.load (whole modules too), without pickle; zengrad.io.save / load stay
# the plain safetensors state_dict functions
from zengrad.serialization import load, save  # noqa: E402

autocast = amp.autocast  # torch.autocast


def __getattr__(name: str):
    # zengrad.onnx (torch.onnx) is imported on first use: it needs the optional onnx package
    # and nothing else imports it
    if name == "onnx":
        import importlib

        return importlib.import_module("zengrad.onnx")
    raise AttributeError(f"module 'zengrad' has no attribute {name!r}")
