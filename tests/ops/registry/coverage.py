"""Which public ops lack a registry entry.

Public ops are the callables in zengrad.ops.__all__ (zengrad.<name>), zengrad.nn.functional's
__all__ (F.<name>), zengrad.linalg.__all__ and the methods of zengrad.Tensor. A function is
covered by an entry of its path, one naming it in covers (aliases: zengrad.subtract), or one
whose function is the same object (F.relu is zengrad.relu); a Tensor method by an entry of its
name whose method test runs, one naming it in method_aliases, or an entry "Tensor.<name>".
In-place methods (name_) are the in-place work's; SKIP lists what is public but not an op,
each with its reason.
"""

from __future__ import annotations

import inspect

import zengrad as zg
import zengrad.linalg as zg_linalg
import zengrad.nn.functional as zg_F
from tests.ops.registry.opinfo import OpInfo, public_object

_FACTORY = "a factory or random draw: tests/test_creation-like tests, not an op on inputs"
_PLUMBING = "tensor plumbing, not an op: tests/autograd"
SKIP: dict[str, str] = {
    # zengrad.ops helpers that are public but are not tensor ops
    "zg.Tensor": "the class",
    "zg.normalize_dim": "dim helper", "zg.normalize_dims": "dim helper",
    "zg.unwrap_index": "index helper", "zg.result_type": "dtype rule, no tensor output",
    "zg.cast": "the dtype conversion under Tensor.to (entry Tensor.to)",
    "zg.reverse_dims": "the helper under Tensor.T/mT (properties)",
    "zg.tril_indices": _FACTORY, "zg.triu_indices": _FACTORY,
    # zengrad's own functions, no torch function to compare with: tested beside their layers
    "F.rnn_sequence": "zengrad's fused recurrent loop (no torch function): tests/rnn",
    "F.lstm_sequence": "zengrad's fused recurrent loop (no torch function): tests/rnn",
    "F.gru_sequence": "zengrad's fused recurrent loop (no torch function): tests/rnn",
    "F.l1_penalty": "zengrad's weight penalty (no torch function): tests/nn",
    "F.l2_penalty": "zengrad's weight penalty (no torch function): tests/nn",
    "Tensor.std_mean": "zengrad's extra method (torch has only torch.std_mean, its entry)",
    "Tensor.var_mean": "zengrad's extra method (torch has only torch.var_mean, its entry)",
    # random, training-time behaviour: tests/nn (only the eval / p=0 path is deterministic)
    "F.dropout1d": "random channel dropout: tests/nn/test_dropout*",
    "F.dropout2d": "random channel dropout: tests/nn/test_dropout*",
    "F.dropout3d": "random channel dropout: tests/nn/test_dropout*",
    # Tensor methods that are not ops
    **{f"Tensor.{n}": _PLUMBING for n in (
        "backward", "register_hook", "retain_grad", "requires_grad_", "detach", "detach_",
        "item", "numpy", "tolist", "size", "dim", "ndimension", "numel", "nelement",
        "element_size", "is_floating_point", "is_contiguous", "is_pinned", "pin_memory",
        "get_device", "cpu",
        "cuda", "type", "new_tensor", "new_empty")},
    **{f"Tensor.{n}": _FACTORY for n in ("bernoulli", "multinomial")},
}


def public_ops() -> dict[str, object]:
    """{path: zengrad object} of every public op candidate."""
    out = {}
    for name in zg.ops.__all__:
        obj = getattr(zg.ops, name)
        if callable(obj) and not inspect.ismodule(obj):
            out[f"zg.{name}"] = obj
    for space, mod in (("F", zg_F), ("linalg", zg_linalg)):
        for name in mod.__all__:
            out[f"{space}.{name}"] = getattr(mod, name)
    for name in dir(zg.Tensor):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(zg.Tensor, name)
        if isinstance(static, property) or not callable(getattr(zg.Tensor, name)):
            continue
        out[f"Tensor.{name}"] = getattr(zg.Tensor, name)
    return out


def _path(name: str) -> str:
    return name if "." in name else f"zg.{name}"


def uncovered_public_ops(entries: list[OpInfo]) -> list[str]:
    covered_paths = set()
    covered_objects = []
    for e in entries:
        for name in (e.name, *e.covers):
            covered_paths.add(_path(name))
            if not name.startswith("Tensor."):
                covered_objects.append(public_object(name))
        if e.method_name():
            covered_paths.update(f"Tensor.{n}" for n in (e.method_name(), *e.method_aliases))
    missing = []
    for path, obj in public_ops().items():
        if path in SKIP or path in covered_paths:
            continue
        if path.startswith(("Tensor.", "F.")) and path.endswith("_"):
            # in place: the in-place work's tests (tests/autograd, tests/nn/test_inplace_*)
            continue
        if path.startswith("Tensor."):
            missing.append(path)
        elif not any(obj is c or getattr(c, "__wrapped__", None) is obj
                     for c in covered_objects):  # F.relu wraps zengrad.relu (inplace=)
            missing.append(path)
    return sorted(missing)
