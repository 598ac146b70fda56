"""MkDocs hooks for the guide: source shown by reference, and math as MathML (offline).

1. A line `::: path/to/file.py:Qualified.name` (or `::: path/to/file.py` for a whole file)
   becomes a code block holding that class's, function's or method's current source, titled
   with its file and line numbers. The object is found with `ast`, so the block follows the
   code when lines move; a name that no longer exists fails the (strict) build and
   tests/test_guide.py.
2. `$...$` and `$$...$$` (pymdownx.arithmatex, generic mode) are converted to MathML with
   latex2mathml at build time: browsers draw MathML natively, so no script is fetched.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"^(?P<indent>[ \t]*):::[ \t]+(?P<ref>\S+\.py(?::[\w.]+)?)[ \t]*$", re.M)
INLINE_MATH = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
BLOCK_MATH = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def resolve(ref: str) -> tuple[str, int, int, str]:
    """`file.py:A.b` -> (file, first line, last line, source) of that definition in the repo.

    Decorators are included. Raises ValueError naming what is missing.
    """
    path, _, qualname = ref.partition(":")
    file = ROOT / path
    if not file.is_file():
        raise ValueError(f"source reference {ref!r}: no file {path} in the repository")
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not qualname:
        return path, 1, len(lines), text.rstrip("\n")
    body = ast.parse(text, filename=path).body
    node = None
    for part in qualname.split("."):
        defs = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        node = next((n for n in body if isinstance(n, defs) and n.name == part), None)
        if node is None:
            raise ValueError(f"source reference {ref!r}: {path} defines no {qualname}")
        body = node.body
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return path, first, node.end_lineno, "\n".join(lines[first - 1:node.end_lineno])


def _code_block(match: re.Match) -> str:
    indent, ref = match.group("indent"), match.group("ref")
    path, first, last, source = resolve(ref)
    title = f"{path}, lines {first}-{last}"
    block = [f'```python title="{title}" linenums="{first}"', *source.splitlines(), "```"]
    return "\n".join(indent + line if line else line for line in block)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return REFERENCE.sub(_code_block, markdown)


def _mathml(tex: str, display: str) -> str:
    from latex2mathml.converter import convert

    return convert(html.unescape(tex).strip(), display=display)


def on_page_content(content: str, **kwargs) -> str:
    content = BLOCK_MATH.sub(lambda m: _mathml(m.group(1), "block"), content)
    return INLINE_MATH.sub(lambda m: _mathml(m.group(1), "inline"), content)
