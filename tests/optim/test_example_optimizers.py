"""examples/compare_optimizers.py runs at small size, saves its plot, every optimizer learns."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compare_optimizers.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("compare_optimizers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_optimizers_small_run(tmp_path):
    example = _load_example()
    out = tmp_path / "curves.png"
    curves = example.main(epochs=2, out=str(out))
    assert out.exists() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(curves) == set(example.OPTIMIZERS) and len(curves) == 6
    starts = {losses[0] for losses in curves.values()}
    assert len(starts) == 1  # the same initial weights for every optimizer
    for name, losses in curves.items():
        assert len(losses) == 3
        assert losses[-1] < 0.97 * losses[0], f"{name} did not reduce the loss: {losses}"
