"""Numba compilation cached on disk, so that a process does not compile again what an
earlier process compiled.

Every kernel compiles on its first call in a process, ~0.3-1 s each: a fresh `zengrad train`
of LeNet on digits spent 5-9 s of its 10 s compiling, and so did every DDP rank, tune worker
and test subprocess. With the cache, only the first process on a machine compiles.

`compile_source(source, name, namespace, **options)` compiles the function `name` defined by
`source` (in the globals `namespace`); `compile_function(fn, namespace, **options)` does so
for a module-level function from its source. The source is written to a module file
`<root>/<version>/<name>-<key>.py`, imported, and its function compiled by Numba with
`cache=True`: Numba keeps the object code in `__pycache__` beside the file, found again by the
file's stamp, the signature and this CPU's model and features (another CPU compiles anew).

- `<version>` hashes zengrad's own source files and the versions of Numba, NumPy and
  Python: any edit of zengrad starts a new cache. (A generated loop inlines element functions
  defined elsewhere in zengrad; Numba's key would not see their changes.) Only the newest
  `KEEP_VERSIONS` folders are kept.
- `<key>` hashes the source, the options and a description of each global the source names
  (a function by its module, name and closure values): two kernels that differ only in a
  closure value are two files. A global that cannot be described (an array, an object)
  makes the function compile without the cache.
- root: `ZENGRAD_KERNEL_CACHE` if set (`0` turns the cache off), else
  `zengrad/__pycache__/kernels` inside the installed package, beside Python's own bytecode
  cache, where it is writable (otherwise no cache). Folders are created with mode 0700.

Numba's cache files hold its compiled code and metadata that Numba pickles. They are a cache
of code, like Python's `__pycache__`: by default they lie inside zengrad's own package
folder, so only someone who could edit zengrad's source could write them. No user file
(weights, checkpoints, studies, datasets) is ever unpickled. A failure to read or write the
cache (a full disk, a read-only install, a damaged file) only means compiling again: it
never fails a call.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import shutil
import sys
import tempfile
import textwrap
import threading
import types
from collections.abc import Callable
from pathlib import Path

KEEP_VERSIONS = 3
_PACKAGE = Path(__file__).resolve().parents[1]  # the zengrad package folder
_lock = threading.Lock()
_version_dir: Path | None | bool = None  # False: no cache in this process


def cache_root() -> Path | None:
    """The cache's root folder (see the module docstring), or None when it is off."""
    text = os.environ.get("ZENGRAD_KERNEL_CACHE", "")
    if text == "0":
        return None
    return Path(text) if text else _PACKAGE / "__pycache__" / "kernels"


def _source_hash() -> str:
    """sha256 over zengrad's source files (path and bytes, in sorted order), Numba's version
    and optimization level, NumPy's and Python's versions (~15 ms, once per process)."""
    import numba
    import numpy

    h = hashlib.sha256(f"numba {numba.__version__} opt {numba.config.OPT} numpy "
                       f"{numpy.__version__} {sys.version}".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:  # this cache's own module files
            continue
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


def _evict(root: Path, keep: Path) -> None:
    """Remove all but the newest KEEP_VERSIONS version folders (keep among them)."""
    others = [p for p in root.iterdir() if p.is_dir() and p != keep]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[KEEP_VERSIONS - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def version_dir() -> Path | None:
    """This zengrad's cache folder, created on first use; None when the cache is off or its
    folder cannot be made."""
    global _version_dir
    if _version_dir is None:
        _version_dir = False
        root = cache_root()
        if root is not None:
            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
                path = root / _source_hash()
                if not path.is_dir():
                    path.mkdir(mode=0o700, exist_ok=True)
                    _evict(root, path)
                _version_dir = path
            except OSError:
                pass
    return _version_dir or None


def _code_text(code: types.CodeType) -> str:
    """A code object's instructions, names and constants (nested code included) as text:
    stable across processes, unlike marshal's bytes."""
    consts = [_code_text(c) if isinstance(c, types.CodeType) else repr(c)
              for c in code.co_consts]
    return (f"{code.co_code.hex()} {code.co_names} {code.co_varnames} {code.co_freevars} "
            f"{code.co_cellvars} [{', '.join(consts)}]")


def _describe(obj, seen: frozenset = frozenset()) -> str | None:
    """A text that says what obj is and does, stable across processes; None when there is
    none. A function is its module, name, code, closure values, defaults and the globals its
    code reads (described in turn): a user's kernel edited in place gets a new key."""
    import numpy

    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return f"{type(obj).__name__} {obj!r}"
    if isinstance(obj, numpy.generic):
        return f"{obj.dtype} {obj!r}"
    if isinstance(obj, tuple):
        parts = [_describe(o, seen) for o in obj]
        return None if None in parts else "(" + ", ".join(parts) + ")"
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if id(obj) in seen:  # a function that reads itself (recursion)
        return "itself"
    seen = seen | {id(obj)}
    py_func = getattr(obj, "py_func", None)  # a Numba dispatcher
    if py_func is not None:
        inner = _describe(py_func, seen)
        return None if inner is None else f"jit {inner} {sorted(obj.targetoptions.items())}"
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        cells = tuple(c.cell_contents for c in obj.__closure__ or ())
        reads = tuple((name, obj.__globals__[name]) for name in sorted(_names(code))
                      if name in obj.__globals__)
        extra = _describe((cells, obj.__defaults__, reads), seen)
        return None if extra is None else (
            f"function {obj.__module__}.{obj.__qualname__} {_code_text(code)} {extra}")
    if isinstance(obj, numpy.ufunc):
        return f"ufunc numpy.{obj.__name__}"
    if isinstance(obj, (type, types.BuiltinFunctionType)):
        return f"{obj.__module__}.{obj.__qualname__}"
    return None


def _names(code: types.CodeType) -> set[str]:
    """The global names a code object (and the code nested in it) may read."""
    out = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out |= _names(const)
    return out


def _key(source: str, namespace: dict, options: dict) -> str | None:
    parts = [source, repr(sorted(options.items(), key=lambda kv: kv[0]))]
    for name in sorted(_names(compile(source, "<zengrad kernel>", "exec"))):
        if name in namespace and not name.startswith("__"):
            text = _describe(namespace[name])
            if text is None:
                return None
            parts.append(f"{name}={text}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _module_file(folder: Path, stem: str, source: str) -> Path:
    """folder/stem.py holding source, written once: an existing file is never replaced (its
    stamp is what Numba's cache index records)."""
    path = folder / f"{stem}.py"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(source)
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path


def _guarded(dispatcher):
    """The dispatcher with cache reads and writes that never raise: a failure to load is a
    miss, a failure to save is skipped (a full disk, a damaged index)."""
    cache = getattr(dispatcher, "_cache", None)
    load, save = getattr(cache, "load_overload", None), getattr(cache, "save_overload", None)
    if load is None or save is None:
        return dispatcher

    def load_overload(sig, target_context):
        try:
            return load(sig, target_context)
        except Exception:  # noqa: BLE001 - whatever the file holds, compile instead
            return None

    def save_overload(sig, data):
        with contextlib.suppress(Exception):
            save(sig, data)

    cache.load_overload, cache.save_overload = load_overload, save_overload
    return dispatcher


def compile_source(source: str, name: str, namespace: dict, **options) -> Callable:
    """A Numba dispatcher for function `name` of `source`, run with globals `namespace`
    (copied), cached on disk where it can be (module docstring). options go to numba.njit."""
    import numba

    folder = version_dir()
    key = _key(source, namespace, options) if folder is not None else None
    if key is not None:
        stem = f"{name}-{key}"
        module_name = f"zengrad_kernel_{stem.replace('-', '_')}"
        with _lock:
            module = sys.modules.get(module_name)
            try:
                if module is None:
                    path = _module_file(folder, stem, source)
                    spec = importlib.util.spec_from_file_location(module_name, path)
                    module = importlib.util.module_from_spec(spec)
                    module.__dict__.update(
                        {k: v for k, v in namespace.items() if not k.startswith("__")})
                    # Numba's cache finds the function's globals again by module name
                    sys.modules[module_name] = module
                    spec.loader.exec_module(module)
                return _guarded(numba.njit(cache=True, **options)(getattr(module, name)))
            except (OSError, RuntimeError):  # no file, or Numba finds no cache folder
                sys.modules.pop(module_name, None)
    scope = dict(namespace)
    exec(compile(source, f"<zengrad kernel {name}>", "exec"), scope)  # our own source
    return numba.njit(**options)(scope[name])


def compile_function(fn: types.FunctionType, namespace: dict | None = None,
                     **options) -> Callable:
    """compile_source for a module-level function, from its source text, run with globals
    `namespace` (by default its module's)."""
    source = textwrap.dedent(inspect.getsource(fn))
    return compile_source(source, fn.__name__, fn.__globals__ if namespace is None else namespace,
                          **options)
