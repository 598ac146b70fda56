"""The guide (docs/guide/) runs: every chapter's ```python blocks (also those indented inside
admonitions, such as the exercises' solutions) in order in one namespace, every experiment
module's main(small=True), every source reference and included table resolves, and every
chapter is in the site's nav. A block preceded by `<!-- no-test -->` is skipped.

The experiments write to a temporary folder (ZENGRAD_GUIDE_FIGURES), never over the
committed figures. The whole file should stay under about a minute on two cores.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

import zengrad

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
EXPERIMENTS = GUIDE / "experiments"
BLOCK = re.compile(r"(<!--\s*no-test\s*-->\s*\n)?^(?P<indent>[ ]*)```python[^\n]*\n(?P<body>.*?)"
                   r"^(?P=indent)```[ ]*$", re.S | re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
SNIPPET = re.compile(r"^[ \t]*-+8<-+[ \t]+\"([^\"]+)\"[ \t]*$", re.M)
BLOCK_SECONDS = 15  # per chapter
EXPERIMENT_SECONDS = 12  # per module, small size


def _load_hooks():
    spec = importlib.util.spec_from_file_location("guide_hooks", GUIDE / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()
CHAPTERS = sorted(GUIDE.glob("*.md"))
MODULES = sorted(p.stem for p in EXPERIMENTS.glob("ch[0-9][0-9]_*.py"))


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(block number from 1, dedented source, marked no-test) for each ```python block."""
    return [(i, textwrap.dedent(m.group("body")), m.group(1) is not None)
            for i, m in enumerate(BLOCK.finditer(text), start=1)]


def test_block_extraction():
    text = ("x\n```python\na = 1\n```\n<!-- no-test -->\n```python\nb = 2\n```\n"
            "??? success \"Solution\"\n    ```python\n    if c:\n        d = 4\n    ```\n"
            "```bash\nls\n```\n")
    assert python_blocks(text) == [(1, "a = 1\n", False), (2, "b = 2\n", True),
                                   (3, "if c:\n    d = 4\n", False)]


@pytest.fixture
def figures_to_tmp(tmp_path, monkeypatch) -> Path:
    out = tmp_path / "figures"
    monkeypatch.setenv("ZENGRAD_GUIDE_FIGURES", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_blocks_run(path: Path, figures_to_tmp):
    zengrad.manual_seed(0)
    namespace: dict = {"__name__": f"guide_{path.stem}"}
    start = time.perf_counter()
    for number, source, no_test in python_blocks(path.read_text(encoding="utf-8")):
        if no_test:
            continue
        code = compile(source, f"{path.name}[python block {number}]", "exec")
        try:
            exec(code, namespace)
        except Exception as e:
            pytest.fail(f"{path.name}, python block {number} raised "
                        f"{type(e).__name__}: {e}\n--- block ---\n{source}")
    elapsed = time.perf_counter() - start
    assert elapsed < BLOCK_SECONDS, f"{path.name}'s blocks took {elapsed:.1f} s: keep them small"


@pytest.mark.parametrize("name", MODULES)
def test_experiment_runs_small(name: str, figures_to_tmp, capsys):
    sys.modules.pop(name, None)  # a fresh import: module-level state from another test
    module = importlib.import_module(name)
    start = time.perf_counter()
    module.main(small=True)
    elapsed = time.perf_counter() - start
    printed = capsys.readouterr().out
    assert printed.strip(), f"{name}.main printed nothing (it should print its table)"
    assert list(figures_to_tmp.glob("*.png")), f"{name}.main saved no figure"
    for made in figures_to_tmp.iterdir():
        assert made.name.startswith(name[:4]), f"{name} wrote {made.name}: prefix it {name[:4]}"
    assert elapsed < EXPERIMENT_SECONDS, f"{name}.main(small=True) took {elapsed:.1f} s"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_references_resolve(path: Path):
    """Source references, included tables and images all exist (figures stay small)."""
    text = path.read_text(encoding="utf-8")
    for match in hooks.REFERENCE.finditer(text):
        hooks.resolve(match.group("ref"))  # raises, naming what is missing
    for included in SNIPPET.findall(text):
        assert (ROOT / included).is_file(), f"{path.name} includes {included}, which is missing"
    for target in IMAGE.findall(text):
        figure = (path.parent / target).resolve()
        assert figure.is_file(), f"{path.name} shows {target}, which does not exist"
        assert figure.stat().st_size < 150_000, f"{target} is over 150 KB"


def test_resolve_finds_methods_and_refuses_missing_names():
    path, first, last, source = hooks.resolve("zengrad/optim/sgd.py:SGD._step_group")
    assert path == "zengrad/optim/sgd.py" and first < last
    assert source.lstrip().startswith("def _step_group")
    with pytest.raises(ValueError, match="defines no SGD.nope"):
        hooks.resolve("zengrad/optim/sgd.py:SGD.nope")
    with pytest.raises(ValueError, match="no file"):
        hooks.resolve("zengrad/optim/nope.py:SGD")


def test_math_becomes_mathml():
    pytest.importorskip("latex2mathml")
    html = hooks.on_page_content('<p><span class="arithmatex">\\(a &lt; b\\)</span></p>'
                                 '<div class="arithmatex">\\[\\frac{1}{2}\\]</div>')
    assert "arithmatex" not in html and html.count("<math") == 2 and "&lt;" not in html[:60]


def test_every_chapter_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path in CHAPTERS:
        assert f"guide/{path.name}" in nav, f"mkdocs.yml's nav does not list guide/{path.name}"


def test_site_builds_strict(tmp_path):
    """The whole site (guide and manual) builds with no warning, where mkdocs is installed
    (`pip install -e '.[docs]'`)."""
    pytest.importorskip("material")
    pytest.importorskip("latex2mathml")
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "guide" / "index.html").is_file()
