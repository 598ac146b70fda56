"""Shared helpers of the ONNX export tests: export, run in onnxruntime, compare."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import zengrad as zg  # noqa: E402
import zengrad.onnx as zonnx  # noqa: E402

TOL = 1e-5  # float32, as the issue asks


def session(path_or_proto):
    data = path_or_proto if isinstance(path_or_proto, str) else path_or_proto.SerializeToString()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def zengrad_outputs(model, inputs) -> list[np.ndarray]:
    with zg.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    flat = []
    for o in outs:
        flat += [t.numpy() for t in (o if isinstance(o, (tuple, list)) else (o,))]
    return flat


def check_export(model, example, others=(), tmp_path=None, *, dynamic_axes=None,
                 opset_version=None, tol=TOL, input_names=None):
    """Export model on example (a tuple of Tensors), check the file with onnx.checker, and
    compare onnxruntime's outputs with zengrad's eval outputs on example and each of others."""
    model.eval()
    names = input_names or [f"in{i}" for i in range(len(example))]
    path = None if tmp_path is None else str(tmp_path / "model.onnx")
    proto = zonnx.export(model, tuple(example), path, input_names=names,
                         dynamic_axes=dynamic_axes, opset_version=opset_version)
    if path is not None:
        loaded = onnx.load(path)
        onnx.checker.check_model(loaded, full_check=True)
    sess = session(path if path is not None else proto)
    for inputs in (tuple(example), *others):
        want = zengrad_outputs(model, inputs)
        got = sess.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape, (g.shape, w.shape)
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    return proto
