"""docs/onnx.md's snippets run as a new user would run them (exported files loaded back
through onnxruntime), and `zengrad export` on trained run folders."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.onnx.conftest import onnx, session
from zengrad.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "onnx.md"


def test_docs_python_snippets(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102
    assert scope["logits"].shape == (4, 3)
    for name in ("lenet.onnx", "lstm.onnx"):  # the files load back and pass the checker
        onnx.checker.check_model(onnx.load(str(tmp_path / name)), full_check=True)


def _train(tmp_path, *args) -> Path:
    out = tmp_path / "run"
    assert main(["train", *args, "--epochs", "1", "--out", str(out), "--verbose", "0"]) == 0
    return out


def _raw_inputs(run: Path, n: int) -> np.ndarray:
    from zengrad.train import recipe

    config, _, pre = recipe.load_run(run)
    splits = recipe.splits_of(config)
    own = splits.fitted_preprocessing()
    return own.inverse_transform(splits.x_test[:n]).astype(np.float32), config, pre


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--model", "mlp", "--dataset", "wine"],
                                  ["--model", "lenet", "--dataset", "digits"],
                                  ["--model", "lstm", "--dataset", "sunspots", "--horizon", "2"]])
def test_cli_export_folds_preprocessing(tmp_path, capsys, args):
    import zengrad as zg
    from zengrad.train import recipe

    run = _train(tmp_path, *args)
    path = tmp_path / "model.onnx"
    assert main(["export", str(run), str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    x, config, pre = _raw_inputs(run, 7)
    model = recipe.restore(config, run / "model.safetensors")
    with zg.no_grad():
        out = model(zg.from_numpy(pre.transform(x))).numpy()
    want = out if config["task"] == "classification" else pre.inverse_transform_target(out)
    sess = session(str(path))
    (got,) = sess.run(None, {"input": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # the bare model: model inputs in, model outputs out
    bare = tmp_path / "bare.onnx"
    assert main(["export", str(run), str(bare), "--no-preprocessing"]) == 0
    (got,) = session(str(bare)).run(None, {"input": pre.transform(x)})
    np.testing.assert_allclose(got, out, rtol=1e-5, atol=1e-5)


def test_cli_export_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "m.onnx")]) == 2
    assert "no such run folder" in capsys.readouterr().err
