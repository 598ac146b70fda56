"""Tensor: an array, its gradient, and the node that produced it.

Operators and methods mirror PyTorch and delegate to the ops in zengrad.ops, where each
op's forward and backward live together.
"""

from __future__ import annotations

import numpy as np

from zengrad import backend
from zengrad import devices as _device
from zengrad.autograd import engine as _engine

_FLOAT_KINDS = "f"


# what a tensor may hold: bool, integers, floats and complex numbers of the widths torch has
# (not strings, bytes, objects, records, dates, or float128 that nothing downstream supports)
_SUPPORTED_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128,
    )
)
_KIND_NAMES = {
    "U": "strings", "S": "bytes", "O": "Python objects", "V": "structured records",
    "M": "datetimes", "m": "timedeltas",
}


def check_array_dtype(dtype: np.dtype, what: str) -> None:
    """TypeError, as torch, when an array of this dtype cannot be a tensor's data."""
    if dtype in _SUPPORTED_DTYPES:
        return
    if dtype.kind in "biufc" and dtype.newbyteorder("=") in _SUPPORTED_DTYPES:
        return  # a non-native byte order of a supported type: NumPy computes with it
    held = f" ({_KIND_NAMES[dtype.kind]})" if dtype.kind in _KIND_NAMES else ""
    hint = ""
    if dtype.kind in "OUS":
        hint = " (convert it to numbers first, e.g. np.asarray(a, dtype=np.float32))"
    raise TypeError(
        f"{what}: can't convert an array of dtype {dtype}{held} to a tensor; supported "
        f"dtypes are float16/32/64, complex64/128, int8/16/32/64, uint8/16/32/64 and bool"
        f"{hint}"
    )


def as_array(data, dtype=None) -> np.ndarray:
    """Convert data to an array with PyTorch's dtype rules.

    Python floats and float NumPy arrays keep their precision for arrays (float64 stays
    float64) but Python floats/lists become the default dtype; integers (Python ints and
    integer arrays of any width) become int64; bools stay bool. from_numpy/as_tensor keep
    an array's dtype instead. Strings, objects and records are refused with a TypeError.
    """
    if isinstance(data, Tensor):
        arr = data.array
    elif backend.is_array(data):  # a NumPy or device array: it stays on its device
        arr = data
        check_array_dtype(arr.dtype, "tensor")
        if dtype is None and arr.dtype.kind in "iu" and arr.dtype != np.int64:
            arr = arr.astype(np.int64)
    else:
        try:
            arr = np.asarray(data)  # host: Python numbers and sequences
        except ValueError:
            raise TypeError(
                "could not build a tensor from this data: nested sequences are ragged "
                "(every row must have the same length)"
            ) from None
        kind = arr.dtype.kind
        if kind == "O":
            raise TypeError(
                "could not build a tensor from this data: it mixes types or has ragged "
                "nested sequences (every row must have the same length)"
            )
        check_array_dtype(arr.dtype, "tensor")
        if dtype is None:
            if kind == "f":
                arr = arr.astype(backend.get_default_dtype(), copy=False)
            elif kind in "iu":
                arr = arr.astype(np.int64, copy=False)
    if dtype is not None:
        target = np.dtype(dtype)
        check_array_dtype(target, "tensor")
        arr = arr.astype(target, copy=False)
    return arr


class Size(tuple):
    """The shape of a tensor, as torch.Size: a tuple of ints (so it compares, unpacks and
    indexes as one) with numel() = the product of the sizes; slicing and + give a Size."""

    __slots__ = ()

    def __new__(cls, sizes=()) -> Size:
        sizes = tuple(sizes)
        for i, s in enumerate(sizes):
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
                raise TypeError(
                    f"Size(): every size must be an int, but found element of type "
                    f"{type(s).__name__} at pos {i}"
                )
        return tuple.__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for Size([]))."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return tuple.__new__(Size, out) if isinstance(index, slice) else out

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __repr__(self) -> str:
        return f"zengrad.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__

    def __reduce__(self):
        return (Size, (tuple(self),))


def _is_size_arg(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def legacy_array(args: tuple, dtype, name: str = "Tensor") -> np.ndarray:
    """The data of torch's legacy constructors, Tensor(*args) and LongTensor(*args) etc.:
    () -> an empty 1-D tensor; ints or a Size -> a tensor of those sizes (zeros here: torch
    leaves it uninitialized); one sequence or tensor -> its data, cast to the dtype (the
    default float dtype for Tensor, so Tensor([1, 2]) is float32 as torch); a tensor is
    shared, not copied (its dtype must be the constructor's)."""
    dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    if not args:
        return np.empty((0,), dt)  # host: factories make data on the host
    if all(_is_size_arg(a) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
        shape = tuple(int(a) for a in (args[0] if isinstance(args[0], Size) else args))
        for s in shape:
            if s < 0:
                raise RuntimeError(
                    f"{name}(): trying to create tensor with negative dimension {s}: "
                    f"{list(shape)}"
                )
        return np.zeros(shape, dt)  # host
    if len(args) > 1:
        raise TypeError(
            f"{name}() takes sizes (ints) or one sequence of data, got "
            f"({', '.join(type(a).__name__ for a in args)})"
        )
    data = args[0]
    if isinstance(data, Tensor):
        # torch: Tensor(t) shares t's data and keeps its dtype; a typed constructor refuses
        # a tensor of another dtype rather than casting it
        if dtype is not None and data.array.dtype != dt:
            raise TypeError(
                f"{name}(): expected a tensor of dtype {dt}, got one of dtype "
                f"{data.array.dtype} (convert it with .to(zengrad.{dt}))"
            )
        return data.array
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name}(): invalid data type '{type(data).__name__}'")
    if not isinstance(data, (list, tuple, range, np.ndarray)):
        raise TypeError(
            f"{name}(): data must be a sequence (got {type(data).__name__}); for a 0-d "
            f"tensor use zengrad.tensor(value)"
        )
    # lists, ranges and arrays of any dtype become the constructor's dtype (float32 for
    # Tensor), as torch: Tensor(np.arange(3)) is a float tensor
    return as_array(data, dt)


class _LegacyTensorType(type):
    """The metaclass of FloatTensor, LongTensor, ...: calling one builds a Tensor of its
    dtype, and isinstance(t, LongTensor) is true for a Tensor of that dtype, as in torch."""

    def __call__(cls, *args, device=None) -> Tensor:
        backend.check_device(device, cls.__name__)
        return Tensor._make(legacy_array(args, cls.dtype, cls.__name__), False, None)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.array.dtype == cls.dtype


def _legacy_type(name: str, dtype) -> type:
    return _LegacyTensorType(name, (), {
        "dtype": np.dtype(dtype),
        "__doc__": f"torch's legacy {name}: {name}(2, 3) (sizes, zeros) or {name}(data), of "
                   f"dtype {np.dtype(dtype)}; isinstance(t, {name}) tests a tensor's dtype.",
    })


FloatTensor = _legacy_type("FloatTensor", np.float32)
DoubleTensor = _legacy_type("DoubleTensor", np.float64)
HalfTensor = _legacy_type("HalfTensor", np.float16)
LongTensor = _legacy_type("LongTensor", np.int64)
IntTensor = _legacy_type("IntTensor", np.int32)
ShortTensor = _legacy_type("ShortTensor", np.int16)
CharTensor = _legacy_type("CharTensor", np.int8)
ByteTensor = _legacy_type("ByteTensor", np.uint8)
BoolTensor = _legacy_type("BoolTensor", np.bool_)
_LEGACY_TYPES = {c.__name__: c for c in (
    FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor,
    ByteTensor, BoolTensor)}
_LEGACY_NAMES = {c.dtype: name for name, c in _LEGACY_TYPES.items()}


class Tensor:
    """An n-dimensional array that records the ops applied to it for backpropagation.

    torch's legacy constructor: Tensor(data) copies a list or array into the default float
    dtype (Tensor([1, 2]) and Tensor(np.arange(3)) are float32); Tensor(2, 3) or
    Tensor(Size) is a float tensor of those sizes (zeros); Tensor() is empty. Prefer
    zengrad.tensor(data), which keeps integer and bool data as such, as torch does.
    """

    # _hooks (gradient hooks of a leaf) is set only when a hook is registered; _grad is read
    # and written directly by the engine (trusted, hot), users go through the `grad` property
    # _untracked (an int) is set only on tensors from `.data`: their in-place writes bump
    # their own count, not the storage's version that the graph checks
    # _cut (True) is set only on tensors from detach(): sharing a storage that a later
    # in-place write puts into the graph, they stay cut from it (engine.GRAFTED)
    __slots__ = ("array", "_grad", "requires_grad", "grad_fn", "_hooks", "_untracked", "_cut",
                 "__weakref__")
    # make `ndarray + tensor` call Tensor.__radd__ rather than looping over elements
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, *args, dtype=None, requires_grad: bool = False, device=None) -> None:
        backend.check_device(device, "Tensor")
        if type(self) is not Tensor and len(args) == 1:
            # subclasses (nn.Parameter) wrap one array or tensor and keep its dtype; the
            # legacy size/float rules are torch.Tensor(...)'s alone
            self.array = as_array(args[0], dtype)
        else:
            self.array = legacy_array(args, dtype)
        self._grad = None
        self.grad_fn = None
        self.requires_grad = False
        # a leaf made here (a Parameter) has its hook slot set: the engine reads it for every
        # gradient it delivers, and an unset slot costs that read a caught AttributeError
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool, grad_fn) -> Tensor:
        """Fast constructor used by ops: no conversion, no checks."""
        t = object.__new__(cls)
        # NumPy returns scalars, not 0-d arrays, from 0-d arithmetic and full reductions
        t.array = data if type(data) is np.ndarray else backend.as_result(data)
        t._grad = None
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        return t

    # ----- properties --------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """torch's `x.data`: a Tensor sharing this tensor's storage, cut from the graph, that
        does not require grad (so `p.data.add_(u)` updates p untracked). Assigning
        `x.data = t` makes x hold t's storage. zengrad's own code reads the NumPy array as
        `x.array` (Chainer's name), which `.data` wrapped before. As torch's, its in-place
        writes don't bump the version that backward checks (so they go undetected)."""
        t = Tensor._make(self.array, False, None)
        t._untracked = 0
        return t

    @data.setter
    def data(self, value) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"x.data = value needs a Tensor (as torch), got {type(value).__name__}; "
                "wrap an array with zengrad.from_numpy(a)"
            )
        if self.requires_grad and value.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"data set to a tensor of dtype {value.array.dtype} on a tensor that requires "
                "grad: only floating-point tensors can require gradients"
            )
        self.array = value.array

    @property
    def grad(self) -> Tensor | None:
        """dL/dself accumulated by backward (None until a backward reaches this tensor)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # as torch: a gradient of another shape or dtype would be applied silently wrong
        # later (broadcast by an optimizer, or cast), so it is refused where it is assigned
        if value is not None:
            _check_assigned_grad(self, value)
        self._grad = value

    @property
    def shape(self) -> Size:
        """The sizes, as a zengrad.Size (a tuple)."""
        return tuple.__new__(Size, self.array.shape)  # no validation: NumPy's shape is ints

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> _device.device:
        """Where the data lives: cpu for NumPy arrays, cuda:<i> for CuPy arrays."""
        return backend.device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return type(self.array) is np.ndarray or self.device.type == "cpu"

    def get_device(self) -> int:
        """The device index; -1, as torch, for a CPU tensor."""
        dev = self.device
        return -1 if dev.type == "cpu" else dev.index

    def is_pinned(self, device=None) -> bool:
        """False: zengrad never holds page-locked memory (pin_memory is a no-op)."""
        return False

    def pin_memory(self, device=None) -> Tensor:
        """With CUDA, this CPU tensor itself (a documented no-op: zengrad has no pinned
        memory; CuPy copies from pageable memory); without it, torch's error."""
        from zengrad import cuda  # (cuda imports this module)

        if not cuda.is_available():
            raise RuntimeError("pin_memory(): Cannot access accelerator device when none is "
                               "available (pinned memory is for copies to a GPU)")
        if type(self.array) is not np.ndarray:
            raise RuntimeError(f"cannot pin a tensor on {self.device}: only dense CPU "
                               "tensors can be pinned")
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        return _ops.reverse_dims(self)

    @property
    def mT(self) -> Tensor:
        return _ops.transpose(self, -2, -1)

    def size(self, dim: int | None = None):
        """The sizes as a zengrad.Size, or the size of one dim (negative dims count back)."""
        if dim is None:
            return tuple.__new__(Size, self.array.shape)
        return self.array.shape[_ops.normalize_dim(dim, self.array.ndim)]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def nelement(self) -> int:
        """The number of elements (torch's alias of numel)."""
        return int(self.array.size)

    def ndimension(self) -> int:
        """The number of dims (torch's alias of dim)."""
        return self.array.ndim

    def element_size(self) -> int:
        return self.array.dtype.itemsize

    # ----- shape of another tensor ---------------------------------------------------
    def view_as(self, other: Tensor) -> Tensor:
        """self.view(other.shape)."""
        return _ops.view(self, _shape_of_tensor("view_as", other))

    def reshape_as(self, other: Tensor) -> Tensor:
        """self.reshape(other.shape)."""
        return _ops.reshape(self, _shape_of_tensor("reshape_as", other))

    # ----- new tensors with self's dtype (and device) ---------------------------------
    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        """zeros(size) with self's dtype unless dtype= is given."""
        return self._new_like("zeros", size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self._new_like("ones", size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        return self._new_like("empty", size, dtype, device, requires_grad)

    def new_full(
        self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False
    ) -> Tensor:
        """full(size, fill_value) with self's dtype unless dtype= is given."""
        from zengrad import creation

        backend.parse_to_args((), {"device": device})
        dt = self.array.dtype if dtype is None else dtype
        return creation.full(size, fill_value, dtype=dt, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
        """A copy of data as a new leaf tensor, with self's dtype unless dtype= is given."""
        from zengrad import creation

        backend.parse_to_args((), {"device": device})
        if isinstance(data, Tensor):
            data = data.array
        dt = self.array.dtype if dtype is None else dtype
        return creation.tensor(data, dtype=dt, requires_grad=requires_grad)

    def _new_like(self, kind: str, size: tuple, dtype, device, requires_grad: bool) -> Tensor:
        from zengrad import creation

        backend.parse_to_args((), {"device": device})
        dt = self.array.dtype if dtype is None else dtype
        return getattr(creation, kind)(*size, dtype=dt, requires_grad=requires_grad)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind in _FLOAT_KINDS

    # ----- autograd ----------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad; accumulate in .grad."""
        _engine.backward(self, gradient, retain_graph)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, "
                f"got {self.array.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use .detach()"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep .grad on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            _engine.observer(self).retain = True

    @property
    def retains_grad(self) -> bool:
        obs = self.grad_fn._retained if self.grad_fn is not None else None
        return obs is not None and obs.retain

    def register_hook(self, hook) -> RemovableHook:
        """Call hook(grad) whenever the gradient w.r.t. this tensor is computed; a hook may
        return a replacement gradient. Returns a handle whose remove() unregisters it."""
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that doesn't require gradient"
            )
        if self.grad_fn is not None:
            hooks = _engine.observer(self).hooks
        else:
            hooks = getattr(self, "_hooks", None)
            if hooks is None:
                hooks = self._hooks = []
        hooks.append(hook)
        return RemovableHook(hooks, hook)

    def detach(self) -> Tensor:
        """The same data (shared, not copied), cut from the graph."""
        t = Tensor._make(self.array, False, None)
        t._cut = True
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    # ----- conversion --------------------------------------------------------------
    def item(self):
        if self.array.size != 1:
            raise ValueError(
                f"a Tensor with {self.array.size} elements cannot be converted to a Python "
                f"scalar (.item() needs exactly one element; shape {tuple(self.array.shape)})"
            )
        return self.array.reshape(()).item()

    def tolist(self):
        return self.array.tolist()

    def numpy(self) -> np.ndarray:
        _check_host(self, "numpy")
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy()"
            )
        return self.array

    def __array__(self, dtype=None, copy=None):
        _check_host(self, "__array__")
        return self.array if dtype is None else self.array.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of a Tensor with {self.array.size} elements is ambiguous "
                "(use .any() or .all())"
            )
        return bool(self.array.reshape(()).item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.array.reshape(()).item())

    def to(self, *args, **kwargs) -> Tensor:
        """torch's forms: to(dtype, non_blocking=False, copy=False), to(device=None, dtype=None,
        non_blocking=False, copy=False), to(other_tensor, non_blocking=False, copy=False).

        Returns self when nothing changes (and copy is False), else a differentiable cast or
        copy. Devices other than 'cpu' raise torch's CPU-only-build error."""
        device, dtype, _, copy = backend.parse_to(args, kwargs)
        moved = self if device is None else _ops_shape().to_device(self, device)
        if dtype is None or dtype == self.array.dtype:
            return _ops.clone(moved) if copy and moved is self else moved
        return _ops.cast(moved, dtype)

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        """self on a CUDA device (the current one, or device): torch's error without CuPy."""
        return self.to("cuda" if device is None else _cuda_device(device))

    def type(self, dtype=None, non_blocking: bool = False) -> str | Tensor:
        """torch's legacy type API: type() is the type name ('torch.FloatTensor', as torch
        spells it, for code that compares it); type(t) casts to a dtype, a typed class
        (zengrad.LongTensor) or its name ('torch.LongTensor')."""
        if dtype is None:
            name = _LEGACY_NAMES.get(self.array.dtype)
            if name is None:
                raise TypeError(f"type(): no legacy type name for dtype {self.array.dtype}")
            return "torch." + name
        if isinstance(dtype, _LegacyTensorType):
            dtype = dtype.dtype
        elif isinstance(dtype, str):
            cls = _LEGACY_TYPES.get(dtype.rsplit(".", 1)[-1])
            if cls is None or "." not in dtype:
                raise ValueError(f"invalid type: {dtype!r} (e.g. 'torch.LongTensor')")
            dtype = cls.dtype
        return self.to(dtype)

    def cpu(self, memory_format=None) -> Tensor:
        """self on the CPU (a copy in the graph from a CUDA device)."""
        return self if type(self.array) is np.ndarray else self.to("cpu")

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def half(self) -> Tensor:
        return self.to(np.float16)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def clone(self) -> Tensor:
        return _ops.clone(self)

    # ----- in-place writes ---------------------------------------------------------
    # The in-place methods (add_, mul_, x[i] = v, x += y, exp_ ...) are installed by
    # zengrad/ops/inplace.py, which records them in the graph; these are their shared parts.
    @property
    def _version(self) -> int:
        """torch's version counter: the number of in-place writes into this tensor's storage
        (shared with its views and detach(); `.data` counts its own)."""
        own = getattr(self, "_untracked", None)
        return _engine.storage_version(self.array) if own is None else own

    def _bump_version(self) -> None:
        """Note an in-place write into self's memory (a tensor from `.data` counts alone,
        invisible to the graph, as torch's)."""
        own = getattr(self, "_untracked", None)
        if own is None:
            _engine.record_write(self.array)
        else:
            self._untracked = own + 1

    def _check_inplace(self, other=None) -> None:
        """For in-place ops that write self's array directly (not recorded in the graph):
        refuse where torch would record or refuse, then note the write."""
        if _engine.grad_mode.enabled:
            if (isinstance(other, Tensor) and other.requires_grad) or self.requires_grad:
                if self.requires_grad and self.grad_fn is None:
                    raise RuntimeError(
                        "a leaf Variable that requires grad is being used in an in-place "
                        "operation."
                    )
                # writing only the values would silently cut the graph
                raise RuntimeError(
                    "this in-place operation is not recorded in the graph; use its "
                    "out-of-place form (e.g. x = x.op(...)) or run it under no_grad"
                )
        self._bump_version()

    # ----- printing ------------------------------------------------------------------
    def __repr__(self) -> str:
        host = backend.asnumpy(self.array)  # a device tensor prints from a host copy
        body = np.array2string(  # host
            host, separator=", ", prefix="tensor(", precision=4, threshold=1000
        )
        extras = []
        if host is not self.array:
            extras.append(f"device='{backend.device_of(self.array)}'")
        if self.array.dtype not in (backend.get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype=zengrad.{self.array.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its Python number ('{:.2f}'.format(t)); others only with an
        empty spec (their repr), as torch."""
        if self.array.ndim == 0:
            return self.array.item().__format__(format_spec)
        if format_spec:
            raise TypeError(
                f"unsupported format string {format_spec!r} passed to Tensor.__format__ (only "
                f"0-d tensors take one; this one has shape {tuple(self.array.shape)})"
            )
        return repr(self)

    __hash__ = object.__hash__

    # ----- arithmetic ----------------------------------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    # comparisons and logic: no gradient
    def __eq__(self, other):  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __and__(self, other):
        return _ops.logical_and(self, other)

    def __or__(self, other):
        return _ops.logical_or(self, other)

    def __xor__(self, other):
        return _ops.logical_xor(self, other)

    def __invert__(self):
        return _ops.logical_not(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))


def type_name(dtype: np.dtype) -> str:
    """torch's name of a tensor type, as error messages print it: 'zengrad.FloatTensor'."""
    name = _LEGACY_NAMES.get(np.dtype(dtype))
    return f"zengrad.{name}" if name else f"Tensor of dtype {dtype}"


def _check_host(t: Tensor, what: str) -> None:
    """torch's TypeError for host access to a device tensor (numpy(), np.asarray)."""
    if type(t.array) is not np.ndarray and t.device.type != "cpu":
        raise TypeError(
            f"can't convert {t.device} device type tensor to numpy. Use Tensor.cpu() to copy "
            f"the tensor to host memory first. ({what})"
        )


def _ops_shape():
    from zengrad.ops import shape  # the ops sit above the tensor

    return shape


def _cuda_device(device) -> _device.device:
    """Tensor.cuda's device argument: an index or a cuda device."""
    if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        return _device.device("cuda", int(device))
    dev = _device.as_device(device)
    if dev.type != "cuda":
        raise RuntimeError(f"Invalid device, must be cuda device, got {dev}")
    return dev


def _shape_of_tensor(name: str, other) -> tuple[int, ...]:
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' must be a Tensor, not {type(other).__name__}")
    return other.array.shape


def _check_assigned_grad(tensor: Tensor, grad) -> None:
    """The rules of `tensor.grad = grad` (torch's): a Tensor of the tensor's shape and dtype."""
    if not isinstance(grad, Tensor):
        raise TypeError(
            f"assigned grad expected to be a Tensor or None but got grad of type "
            f"{type(grad).__name__}"
        )
    if grad is tensor:
        raise RuntimeError("can't assign a tensor as its own grad")
    if grad.array.shape != tensor.array.shape:
        raise RuntimeError(
            f"attempting to assign a gradient of shape {tuple(grad.array.shape)} to a tensor "
            f"of shape {tuple(tensor.array.shape)}; the gradient and the tensor must have the "
            f"same shape"
        )
    if grad.array.dtype != tensor.array.dtype:
        raise RuntimeError(
            f"attempting to assign a gradient of dtype {grad.array.dtype} to a tensor of dtype "
            f"{tensor.array.dtype}; the gradient must have the tensor's dtype (convert it with "
            f".to(zengrad.{tensor.array.dtype}))"
        )


def zero_grads(tensors, set_to_none: bool = True) -> None:
    """Forget each tensor's gradient: .grad = None (default), or zeros in place."""
    for t in tensors:
        if t._grad is None:
            continue
        if set_to_none:
            t._grad = None
        else:
            t._grad.array[...] = 0


class RemovableHook:
    """Handle returned by register_hook: remove() unregisters the hook."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# The ops package sits above this module and registers itself here when it is imported
# (zengrad/__init__ imports it), so Tensor's operators can delegate to it.
_ops = None


def bind_ops(module) -> None:
    global _ops
    _ops = module


# torch's argument parser takes NumPy's names for two arguments of its native functions:
# axis= for dim= and keepdims= for keepdim= (x.sum(axis=0, keepdims=True)); these are the
# public functions (and Tensor methods) where torch 2.x accepts them
NUMPY_ALIAS_FUNCTIONS = (
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
    "var_mean", "std_mean", "logsumexp", "all", "any", "cumsum", "cumprod", "sort", "argsort",
    "topk", "cat", "concat", "concatenate", "stack", "squeeze", "unsqueeze", "softmax",
    "log_softmax", "count_nonzero", "chunk", "narrow", "unbind", "gather", "index_select",
    "take_along_dim", "logcumsumexp", "cummax", "cummin", "kthvalue", "unflatten",
    "repeat_interleave", "median", "nansum", "nanmean",
)


def _numpy_names(fn):
    """fn, also taking axis= for dim= and keepdims= for keepdim= (as torch's parser does)."""
    name = fn.__name__

    def with_numpy_names(*args, **kwargs):
        if "axis" in kwargs or "keepdims" in kwargs:  # rare: the common call pays one test
            for np_name, torch_name in (("axis", "dim"), ("keepdims", "keepdim")):
                if np_name in kwargs:
                    if torch_name in kwargs:
                        raise TypeError(
                            f"{name}(): got both '{torch_name}' and its alias '{np_name}'"
                        )
                    kwargs[torch_name] = kwargs.pop(np_name)
        return fn(*args, **kwargs)

    with_numpy_names.__wrapped__ = fn
    with_numpy_names._takes_numpy_names = True
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(with_numpy_names, attr, getattr(fn, attr, None))
    return with_numpy_names


def install_numpy_aliases(namespace: dict) -> None:
    """Let the functions named in NUMPY_ALIAS_FUNCTIONS (in namespace, e.g. zengrad's globals)
    and the Tensor methods of those names take axis= / keepdims=. Only a function with a
    `dim` parameter is wrapped, each once."""
    import inspect

    def wrapped(fn):
        if getattr(fn, "_takes_numpy_names", False):
            return fn  # already wrapped (a function bound both here and on Tensor)
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return fn
        return _numpy_names(fn) if "dim" in params else fn

    for name in NUMPY_ALIAS_FUNCTIONS:
        if callable(namespace.get(name)):
            namespace[name] = wrapped(namespace[name])
        method = Tensor.__dict__.get(name)
        if callable(method):
            setattr(Tensor, name, wrapped(method))
