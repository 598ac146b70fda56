"""Containers: Sequential (a pipeline), ModuleList and ModuleDict (registered collections)."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from zengrad.nn.module import Module, _addindent


def _index(idx, n: int, what: str) -> int:
    """A valid non-negative position for idx in a container of n items."""
    i = operator.index(idx)
    if not -n <= i < n:
        raise IndexError(f"index {idx} is out of range for {what} of length {n}")
    return i + n if i < 0 else i


def _renumber(container: Module, items: list[Module]) -> None:
    """Make items the container's children, named '0', '1', ... (PyTorch keeps names dense)."""
    for name in list(container._modules):
        delattr(container, name)
    for i, module in enumerate(items):
        container.add_module(str(i), module)


def _delete(container: Module, idx, what: str) -> None:
    """del container[idx] for an int or a slice; the rest are renumbered."""
    items = list(container._modules.values())
    if isinstance(idx, slice):
        del items[idx]
    else:
        del items[_index(idx, len(items), what)]
    _renumber(container, items)


class Sequential(Module):
    """Modules applied in order: y = m_n(...m_2(m_1(x))). Built from modules or an OrderedDict
    name -> module; children are named '0', '1', ... (or by the dict's keys)."""

    def __init__(self, *args: Module) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is a {type(module).__name__}, not a Module"
                    )
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx) -> None:
        _delete(self, idx, "Sequential")

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for Sequential of length {n}")
        index = index + n if index < 0 else index
        items = list(self._modules.values())
        items.insert(index, module)
        _renumber(self, items)
        return self


def _repr_compressed(self: Module) -> str:
    """PyTorch's ModuleList repr: runs of identical reprs print once as '(0-2): 3 x Linear(...)'."""
    reprs = [repr(m) for m in self._modules.values()]
    if not reprs:
        return self._get_name() + "()"
    lines = []
    start = 0
    for i in range(1, len(reprs) + 1):
        if i < len(reprs) and reprs[i] == reprs[start]:
            continue
        label = f"({start})" if i - start == 1 else f"({start}-{i - 1}): {i - start} x"
        if i - start == 1:
            label += ":"
        lines.append(label + " " + _addindent(reprs[start], 2))
        start = i
    return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules whose parameters are registered (names '0', '1', ...)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module: Module) -> None:
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx) -> None:
        _delete(self, idx, "ModuleList")

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return type(self)([*self, *other])

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend should be called with an iterable of modules")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        _renumber(self, items)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "ModuleList has no forward(); iterate over it and call its modules"
        )

    __repr__ = _repr_compressed


class ModuleDict(Module):
    """A dict name -> module whose parameters are registered under those names."""

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for j, pair in enumerate(pairs):
            if isinstance(modules, Mapping):
                key, module = pair
            else:
                pair = tuple(pair)
                if len(pair) != 2:
                    raise ValueError(
                        f"ModuleDict.update: element #{j} should have 2 items (key, module), "
                        f"got {len(pair)}"
                    )
                key, module = pair
            self[key] = module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it and call its modules")
