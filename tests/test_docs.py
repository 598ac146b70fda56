"""The docs run: every ```python block of README.md and docs/*.md, each chapter's blocks in
order in one namespace, with a temporary folder as the working directory.

A block preceded by the comment `<!-- no-test -->` is skipped (used sparingly: blocks that
need a network, many processes, or minutes). Figures the chapters show must exist and stay
small.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import zengrad

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"(<!--\s*no-test\s*-->\s*)?^```python[^\n]*\n(.*?)^```", re.S | re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
SLOW_CHAPTERS: set[str] = set()  # chapters over ~5 s on the 2-core machine

def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(block number from 1, source, marked no-test) for each ```python block."""
    return [(i, m.group(2), m.group(1) is not None)
            for i, m in enumerate(BLOCK.finditer(text), start=1)]


def chapters() -> list:
    params = []
    for path in [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]:
        marks = [pytest.mark.slow] if path.name in SLOW_CHAPTERS else []
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def test_block_extraction():
    text = ("x\n```python\na = 1\n```\n<!-- no-test -->\n```python\nb = 2\n```\n"
            "```bash\nls\n```\n```python\nc = 3\n```\n")
    assert python_blocks(text) == [(1, "a = 1\n", False), (2, "b = 2\n", True),
                                   (3, "c = 3\n", False)]


@pytest.mark.parametrize("path", chapters())
def test_chapter_runs(path: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    zengrad.manual_seed(0)
    blocks = python_blocks(path.read_text())
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    exec("import math\n", namespace)
    ran = 0
    start = time.perf_counter()
    for number, source, no_test in blocks:
        if no_test:
            continue
        code = compile(source, f"{path.name}[python block {number}]", "exec")
        try:
            exec(code, namespace)
        except Exception as e:
            pytest.fail(f"{path.name}, python block {number} raised "
                        f"{type(e).__name__}: {e}\n--- block ---\n{source}")
        ran += 1
    assert ran > 0 or not blocks, f"{path.name}: every python block is skipped"
    if path.name not in SLOW_CHAPTERS:
        elapsed = time.perf_counter() - start
        assert elapsed < 15, f"{path.name} took {elapsed:.1f} s: keep doc snippets tiny"


@pytest.mark.parametrize("path", chapters())
def test_chapter_figures_exist_and_are_small(path: Path):
    for target in IMAGE.findall(path.read_text()):
        figure = (path.parent / target).resolve()
        assert figure.is_file(), f"{path.name} shows {target}, which does not exist"
        assert figure.stat().st_size < 150_000, f"{target} is over 150 KB"
