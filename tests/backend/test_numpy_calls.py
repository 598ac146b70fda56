"""No `np.` call on array data is left in zengrad/ops and zengrad/nn (and the other migrated
modules): every op computes with its input's module (backend.xp_of), so it runs on NumPy and
CuPy alike. Files not migrated yet (issue 15, phase 2) are strict xfails that name how many
uses are left, so progress shows in the test report; one that reaches 0 must leave PHASE2."""

from __future__ import annotations

import os

import pytest

from tests.backend.numpy_calls import files, numpy_uses

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# np. uses left when phase 1 ended (for the record: the xfail reason gives today's count)
PHASE2: dict[str, int] = {}  # every file migrated (issue 15, phase 2)
MIGRATED_ELSEWHERE = ["zengrad/linalg.py", "zengrad/autograd/gradcheck.py",
                      "zengrad/autograd/engine.py", "zengrad/autograd/function.py",
                      "zengrad/autograd/views.py", "zengrad/autograd/tensor.py",
                      *files(ROOT, ("zengrad/optim",))]


def _params() -> list:
    out = []
    for path in files(ROOT) + MIGRATED_ELSEWHERE:
        marks = []
        if path in PHASE2:
            left = len(numpy_uses(os.path.join(ROOT, path)))
            marks.append(pytest.mark.xfail(
                strict=True, reason=f"phase 2: {left} np. uses left (phase 1 left {PHASE2[path]})"))
        out.append(pytest.param(path, id=path, marks=marks))
    return out


@pytest.mark.parametrize("path", _params())
def test_no_numpy_calls_on_array_data(path: str):
    uses = numpy_uses(os.path.join(ROOT, path))
    shown = ", ".join(f"{line}: {name}" for line, name in uses[:12])
    assert not uses, (
        f"{path}: {len(uses)} np. uses on array data ({shown}{', ...' if len(uses) > 12 else ''})"
        "; compute with the array's module (xp = backend.xp_of(x) or ctx.xp), or mark a "
        "host-only computation '# host'")


def test_the_scan_sees_numpy_calls_and_allows_dtypes(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "import numpy as np\n"
        "def f(x):\n"
        "    y = np.exp(x).astype(np.float32)\n"
        "    z = np.arange(3)  # host\n"
        "    return np.random.default_rng(0), np.finfo(np.float32).eps, y, z\n"
        "def g(n):  # host\n"
        "    return np.zeros(n)\n"
    )
    assert numpy_uses(str(src)) == [(3, "np.exp"), (5, "np.random.default_rng")]
