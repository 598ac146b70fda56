"""zengrad.onnx.export: a model as an ONNX file, by tracing it once on example inputs.

    export(model, args, "model.onnx", input_names=["x"], output_names=["logits"],
           dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})

The model runs in eval mode (its modes are restored after); the ops that run are mapped to
ONNX operators (table.py), parameters and buffers become initializers under their
state_dict names, and the file is checked with onnx.checker (with shape inference) before it
is written. Control flow is fixed by the trace (as torch.onnx's tracer): a branch on the
values of the inputs is baked in, and one on their size along a dynamic axis is an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from zengrad.autograd.tensor import Tensor
from zengrad.io.atomic import atomic_write_bytes
from zengrad.nn.module import Module
from zengrad.onnx.errors import ExportError
from zengrad.onnx.graph import GraphBuilder, _onnx, emit, value_info
from zengrad.onnx.table import FUNCTIONS, MODULES, mapping_of
from zengrad.onnx.trace import Ref, Trace, trace

DEFAULT_OPSET = 18
MIN_OPSET = 17  # LayerNormalization


def export(
    model: Module,
    args: Any = (),
    f: str | os.PathLike | Any | None = None,
    *,
    kwargs: dict[str, Any] | None = None,
    verbose: bool | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    opset_version: int | None = None,
    dynamic_axes: Mapping[str, Mapping[int, str] | Sequence[int]] | None = None,
    export_params: bool = True,
    do_constant_folding: bool = True,
    dynamo: bool = False,
):
    """Trace model(*args, **kwargs) and write it to f (a path or a binary file object; None
    writes nothing). Returns the onnx.ModelProto.

    input_names / output_names name the graph's inputs (the Tensors of args, in order) and
    outputs (the Tensors of the model's output, flattened); dynamic_axes maps a name to
    {axis: axis name} or [axes] (named "<name>_dynamic_axes_<k>", as torch does) to leave
    those sizes free. opset_version: 17 to the installed onnx's newest (default 18).
    do_constant_folding and dynamo are accepted for torch's signature and change nothing.
    """
    onnx = _onnx()
    if not isinstance(model, Module):
        raise TypeError(f"export: model must be a zengrad.nn.Module, got {type(model).__name__}")
    if not export_params:
        raise NotImplementedError("export: export_params=False (weights as graph inputs) is "
                                  "not supported; the weights are always initializers")
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset_version must be an int from {MIN_OPSET} to {newest} "
                         f"(the installed onnx's newest), got {opset_version!r}")
    inputs, kwargs = _split_args(args, kwargs)
    in_names = _names(input_names, len(inputs), "input")
    dyn_in, dyn_out = _dynamic(dynamic_axes, in_names, output_names)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        tr = trace(model, inputs, [dyn_in.get(n, {}) for n in in_names], MODULES, kwargs,
                   FUNCTIONS)
    finally:
        for m, mode in modes:
            m.training = mode
    out_names = _names(output_names, len(tr.outputs), "output")
    for name in dyn_out:
        if name not in out_names:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input "
                             f"({in_names}) nor an output ({out_names})")
    proto = _build(onnx, tr, in_names, out_names, dyn_out, opset)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is not None:
        data = proto.SerializeToString()
        if hasattr(f, "write"):
            f.write(data)
        else:
            atomic_write_bytes(f, data)
    return proto


def _split_args(args, kwargs) -> tuple[list[Tensor], dict]:
    if isinstance(args, Tensor):
        args = (args,)
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"export: args must be a Tensor or a tuple of Tensors, got "
                        f"{type(args).__name__}")
    args = list(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):  # torch's convention: a final dict is kwargs
        kwargs.update(args.pop())
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise TypeError(f"export: args[{i}] must be a Tensor (the graph's inputs are the "
                            f"Tensors of args), got {type(a).__name__}")
    if not args:
        raise ValueError("export: args must hold at least one example input Tensor")
    return args, kwargs


def _names(names, n: int, kind: str) -> list[str]:
    if names is None:
        return [kind] if n == 1 else [f"{kind}_{i}" for i in range(n)]
    names = list(names)
    if len(names) > n or len(set(names)) != len(names) or not all(
            isinstance(s, str) and s for s in names):
        raise ValueError(f"export: {kind}_names must be up to {n} distinct non-empty strings "
                         f"(the model has {n} {kind}s), got {names}")
    return names + [f"{kind}_{i}" for i in range(len(names), n)]


def _dynamic(dynamic_axes, in_names, output_names):
    """{input name: {axis: label}}, {output name: {axis: label}}."""
    dyn_in: dict[str, dict[int, str]] = {}
    dyn_out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, Mapping):
            labels = {int(a): str(lab) for a, lab in axes.items()}
        elif isinstance(axes, (list, tuple)):
            labels = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
        else:
            raise TypeError(f"export: dynamic_axes[{name!r}] must be a dict {{axis: name}} or "
                            f"a list of axes, got {type(axes).__name__}")
        if name in in_names:
            dyn_in[name] = labels
        elif output_names is None or name in output_names or name.startswith("output"):
            dyn_out[name] = labels
        else:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input "
                             f"({in_names}) nor an output ({list(output_names)})")
    return dyn_in, dyn_out


def _needed(tr: Trace) -> list:
    """The nodes the outputs depend on, in trace order (the others, e.g. an unused final
    state, are left out)."""
    producer = {n.out: k for k, n in enumerate(tr.nodes)}
    keep: set[int] = set()
    stack = [o.vid for o in tr.outputs if isinstance(o, Ref)]
    while stack:
        vid = stack.pop()
        k = producer.get(vid)
        if k is None or k in keep:
            continue
        keep.add(k)
        stack += [r.vid for r in _refs((tr.nodes[k].args, tr.nodes[k].kwargs))]
    return [n for k, n in enumerate(tr.nodes) if k in keep]


def _refs(a):
    if isinstance(a, Ref):
        yield a
    elif isinstance(a, (tuple, list)):
        for x in a:
            yield from _refs(x)
    elif isinstance(a, dict):
        for x in a.values():
            yield from _refs(x)
    elif isinstance(a, slice):
        yield from _refs((a.start, a.stop, a.step))


def _build(onnx, tr: Trace, in_names, out_names, dyn_out, opset: int):
    g = GraphBuilder(tr, in_names, opset)
    for node in _needed(tr):
        emit(g, node, mapping_of(node.key, node.label))
    renames: dict[str, str] = {}
    out_infos = []
    for k, (out, name) in enumerate(zip(tr.outputs, out_names)):
        internal = g.value(out)
        produced = isinstance(out, Ref) and out.vid >= tr.num_inputs
        if produced and internal not in renames and internal not in in_names:
            renames[internal] = name
        else:
            g.node_label = "output"
            g.node("Identity", [internal], [name])
        shape = tr.shapes[out.vid] if isinstance(out, Ref) else out.array.shape
        dtype = tr.dtypes[out.vid] if isinstance(out, Ref) else out.array.dtype
        labels = {(k, a): lab for a, lab in dyn_out.get(name, {}).items()}
        out_infos.append(value_info(onnx, name, dtype, shape, labels, k))
    for n in g.nodes:
        n.input[:] = [renames.get(s, s) for s in n.input]
        n.output[:] = [renames.get(s, s) for s in n.output]
    in_infos = [value_info(onnx, name, tr.dtypes[i], tr.shapes[i], {}, i)
                for i, name in enumerate(in_names)]
    graph = onnx.helper.make_graph(g.nodes, "zengrad", in_infos, out_infos,
                                   initializer=list(g.initializers.values()))
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="zengrad")
    # the IR version of the opset, not the installed onnx's newest: runtimes lag behind
    proto.ir_version = min(proto.ir_version, _ir_version(onnx, opset))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise ExportError(f"export: the ONNX graph failed onnx.checker ({e}); this is a bug "
                          "in zengrad.onnx's mapping of one of the model's ops") from None
    return proto


def _ir_version(onnx, opset: int) -> int:
    best = None
    for _release, ir, ai_onnx, *_ in onnx.helper.VERSION_TABLE:
        if ai_onnx is not None and ai_onnx >= opset:
            best = ir if best is None else min(best, ir)
    return best if best is not None else onnx.IR_VERSION

