"""Load a verbatim third-party program from tests/ports/programs/ under torch or zengrad.

The program's text is kept as its authors wrote it. To run it on zengrad only its import
statements change, the way a user would port it: `import torch` becomes
`import zengrad as torch`, `import torch.nn as nn` becomes `import zengrad.nn as nn`, and
`from torch.X import Y` becomes `from zengrad.X import Y`. Nothing else is touched, so every
`torch.` attribute the program uses resolves in zengrad.
"""

import contextlib
import re
import sys
import types
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"

# (pattern, replacement) applied line by line, only to import statements
_SWAPS = [
    # import torch   ->   import zengrad as torch
    (re.compile(r"^(\s*)import torch\s*(#.*)?$"), r"\1import zengrad as torch"),
    # import torch.nn as nn   ->   import zengrad.nn as nn
    (re.compile(r"^(\s*)import torch\.([\w.]+) as (\w+)"), r"\1import zengrad.\2 as \3"),
    # import torch.onnx   ->   binds `torch` as the bare statement does
    (
        re.compile(r"^(\s*)import torch\.([\w.]+)\s*$"),
        r"\1import zengrad as torch; import zengrad.\2",
    ),
    # from torch.nn import functional as F   ->   from zengrad.nn import functional as F
    (re.compile(r"^(\s*)from torch(\.[\w.]+)? import"), r"\1from zengrad\2 import"),
]


def swap_imports(source: str) -> str:
    """The program with its torch imports pointed at zengrad (and no other change)."""
    lines = []
    for line in source.splitlines():
        for pattern, replacement in _SWAPS:
            new, count = pattern.subn(replacement, line)
            if count:
                line = new
                break
        lines.append(line)
    return "\n".join(lines) + "\n"


def source_of(name: str, framework: str) -> str:
    """The text of programs/<name>.py, its imports swapped when run on zengrad."""
    if framework not in ("torch", "zengrad"):
        raise ValueError(f"framework must be 'torch' or 'zengrad', got {framework!r}")
    source = (PROGRAMS / f"{name}.py").read_text()
    return swap_imports(source) if framework == "zengrad" else source


def _execute(name: str, framework: str, chunks, globals_: dict,
             module_name: str | None = None) -> types.ModuleType:
    """Run (source, first line, before) chunks in one fresh module namespace, in order."""
    path = PROGRAMS / f"{name}.py"
    module_name = module_name or f"tests.ports.programs.{name}_{framework}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    module.__dict__.update(globals_)
    # dataclasses look the module up in sys.modules while the class body is processed
    sys.modules[module_name] = module
    try:
        for text, first_line, before in chunks:
            if before is not None:
                before(module)
            # blank lines in front keep the line numbers of tracebacks right
            code = compile("\n" * (first_line - 1) + text, str(path), "exec")
            exec(code, module.__dict__)
    finally:
        del sys.modules[module_name]
    if framework == "zengrad":
        assert_no_torch(module)
    return module


def load(name: str, framework: str, module_name: str | None = None,
         **globals_) -> types.ModuleType:
    """Execute programs/<name>.py as a fresh module, on "torch" or on "zengrad".

    `module_name` is the name the program's classes will carry (`model` for a script's
    `import model`, so that pickling finds them while run_main has it in sys.modules).
    `globals_` are set before the program runs (for the few module globals a script's
    `__main__` block would have set, such as makemore's `args`).
    """
    return _execute(name, framework, [(source_of(name, framework), 1, None)], globals_,
                    module_name)


def run_main(name: str, framework: str, before_main=None, imports: dict | None = None,
             **globals_) -> types.ModuleType:
    """Run programs/<name>.py as a script: its `if __name__ == '__main__':` block too.

    `before_main(module)` is called between the definitions and the main block: the tests
    use it to give the zengrad run the torch run's initial weights. `imports` maps the
    names of the script's sibling modules (`import data`) to loaded programs. Set sys.argv
    first.
    """
    source = source_of(name, framework)
    lines = source.splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.startswith("if __name__ == '__main__':")]
    split = marks[0] if marks else len(lines)
    head, tail = "".join(lines[:split]), "".join(lines[split:])

    def enter_main(module):
        if before_main is not None:
            before_main(module)
        module.__name__ = "__main__"  # the program's global __name__

    imports = imports or {}
    saved = {key: sys.modules.get(key) for key in imports}
    sys.modules.update(imports)
    try:
        return _execute(name, framework, [(head, 1, None), (tail, split + 1, enter_main)],
                        globals_)
    finally:
        for key, old in saved.items():
            if old is None:
                del sys.modules[key]
            else:
                sys.modules[key] = old


def assert_no_torch(module: types.ModuleType) -> None:
    """Fail if the swapped program still holds a real torch module among its globals."""
    leaked = [
        key
        for key, value in vars(module).items()
        if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "torch"
    ]
    assert not leaked, f"program globals still refer to real torch: {leaked}"


@contextlib.contextmanager
def float64_default(lib):
    """`lib` (torch or zengrad) with float64 as its default dtype while the block runs."""
    old = lib.get_default_dtype()
    lib.set_default_dtype(lib.float64)
    try:
        yield lib
    finally:
        lib.set_default_dtype(old)


def both(name: str, **globals_) -> tuple[types.ModuleType, types.ModuleType]:
    """(the program on real torch, the same program on zengrad); torch seeded with 0."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return load(name, "torch", **globals_), load(name, "zengrad", **globals_)


def state_to_numpy(model) -> dict:
    """A copy of a torch model's state_dict as NumPy arrays (for its zengrad twin)."""
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


@contextlib.contextmanager
def address_space_cap(extra_bytes: int):
    """Let the process map at most `extra_bytes` more while the block runs.

    For programs that would ask a gap in zengrad for absurd memory (minGPT's 1e10-sample
    RandomSampler): the allocation then fails with MemoryError instead of swapping the box.
    """
    import resource

    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm_kb * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
