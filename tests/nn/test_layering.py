"""Layering: layers -> nn.functional -> ops.

No layer module of zengrad.nn (every nn/**/*.py but functional.py) may reference an op
class (a Function subclass) or call `.apply(` on one, nor define one: the math lives in
zengrad.ops, layers compose the public functions. And no op class is named like a layer
(ops.linalg.Linear beside nn.Linear confuses a reader): op classes end in `Fn`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import zengrad.nn as nn
import zengrad.ops as ops
from zengrad.autograd.function import Function

NN_DIR = Path(nn.__file__).parent
SKIP = {
    "functional.py": "the functional layer itself",
}


def _layer_modules() -> list[str]:
    names = []
    for path in sorted(NN_DIR.rglob("*.py")):
        rel = path.relative_to(NN_DIR)
        if str(rel) in SKIP:
            continue
        parts = ("zengrad", "nn", *rel.with_suffix("").parts)
        names.append(".".join(p for p in parts if p != "__init__"))
    return names


def _resolve(module, node: ast.AST):
    """The object an expression of names and attributes (a.b.C) denotes in module, or None."""
    chain = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    obj = getattr(module, node.id, None)
    for attr in reversed(chain):
        obj = getattr(obj, attr, None)
    return obj


def _is_op_class(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function


def _op_classes() -> dict[str, type]:
    found = {}
    for info in pkgutil.iter_modules(ops.__path__):
        mod = importlib.import_module(f"zengrad.ops.{info.name}")
        for name, obj in vars(mod).items():
            if _is_op_class(obj) and obj.__module__ == mod.__name__:
                found[name] = obj
    return found


def _layer_names() -> set[str]:
    names = set(getattr(nn, "__all__", ()))
    for modname in _layer_modules():
        mod = importlib.import_module(modname)
        names |= {n for n, obj in vars(mod).items()
                  if inspect.isclass(obj) and issubclass(obj, nn.Module)}
    names |= {n for n, obj in vars(nn).items() if inspect.isclass(obj)}
    return names


def test_scan_sees_the_layers():
    mods = _layer_modules()
    assert "zengrad.nn.attention" in mods and "zengrad.nn.utils.penalties" in mods
    assert "zengrad.nn.functional" not in mods
    assert {"LinearFn", "DropoutFn", "NLLLossFn"} <= set(_op_classes())


@pytest.mark.parametrize("modname", _layer_modules())
def test_layers_use_functional_not_op_classes(modname):
    module = importlib.import_module(modname)
    tree = ast.parse(inspect.getsource(module))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "apply" and _is_op_class(_resolve(module, node.func.value)):
            problems.append(f"line {node.lineno}: calls {ast.unparse(node.func)}(")
        elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load) \
                and _is_op_class(_resolve(module, node)):
            problems.append(f"line {node.lineno}: references op class {ast.unparse(node)}")
        elif isinstance(node, ast.ClassDef):
            obj = getattr(module, node.name, None)
            if _is_op_class(obj):
                problems.append(f"line {node.lineno}: defines op class {node.name} (ops go in "
                                "zengrad/ops)")
    assert not problems, f"{modname}:\n" + "\n".join(problems)


def test_no_op_class_named_like_a_layer():
    clash = sorted(set(_op_classes()) & _layer_names())
    assert not clash, f"op classes named like layers (rename them ...Fn): {clash}"


def test_grad_fn_reads_as_torchs_without_the_suffix():
    import zengrad as zg

    x = zg.ones(2, 3, requires_grad=True)
    w = zg.ones(4, 3, requires_grad=True)
    assert repr(nn.functional.linear(x, w).grad_fn) == "<AddmmBackward0>"
    assert repr(nn.functional.relu(x).grad_fn) == "<ReluBackward0>"
