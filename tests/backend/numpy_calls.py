"""Find the `np.` uses in zengrad's op code that compute on array data (the seam's leftovers).

Allowed (they never touch an array's data, and CuPy takes them as they are): dtypes and
dtype classes, constants, dtype queries (finfo, iinfo, result_type of dtypes, ...), shape
helpers, and isinstance checks against np.ndarray / np.generic. A line that computes on the
host on purpose (index lists, per-axis positions) says so with a `# host` comment; a
function whose `def` line ends with `# host` computes only host values (plans from sizes).
"""

from __future__ import annotations

import ast
import os

ALLOWED = frozenset("""
bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 complex64
complex128 intp uintp longlong dtype generic number integer signedinteger unsignedinteger
floating complexfloating inexact bool ndarray inf nan pi e newaxis euler_gamma finfo iinfo
issubdtype result_type promote_types can_cast min_scalar_type broadcast_shapes
ComplexWarning AxisError random linalg
""".split())


def numpy_uses(path: str) -> list[tuple[int, str]]:
    """(line, 'np.name') for each use of numpy outside ALLOWED in a source file."""
    with open(path) as f:
        text = f.read()
    lines = text.splitlines()
    tree = ast.parse(text)
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and "# host" in lines[fn.lineno - 1]:
            for k in range(fn.lineno - 1, fn.end_lineno):
                lines[k] += "  # host"
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "np" and node.attr not in ALLOWED):
            if "# host" in lines[node.lineno - 1]:
                continue
            out.append((node.lineno, f"np.{node.attr}"))
    # np.random.* and np.linalg.* compute too (allowed above only as namespaces to reach
    # Generator/LinAlgError): count their calls
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "np"
                and node.value.attr in ("random", "linalg")
                and node.attr not in ("Generator", "LinAlgError", "BitGenerator")
                and "# host" not in lines[node.lineno - 1]):
            out.append((node.lineno, f"np.{node.value.attr}.{node.attr}"))
    return sorted(out)


def files(root: str, folders=("zengrad/ops", "zengrad/nn")) -> list[str]:
    """The .py files of the folders (relative to root), sorted."""
    found = []
    for folder in folders:
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if name.endswith(".py"):
                found.append(f"{folder}/{name}")
    return found
