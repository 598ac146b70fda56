"""What every guide experiment shares: where figures and tables go, seeding, plotting setup.

An experiment module `chNN_topic.py` defines `main(small: bool = False)`, prints a table with
`table(...)` and saves figures with `save_figure(...)`. Output goes to docs/guide/figures/,
or to the folder named by the environment variable ZENGRAD_GUIDE_FIGURES (the tests point it
at a temporary folder, so small runs never overwrite the committed figures).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402  (comes with matplotlib)

import zengrad as zg  # noqa: E402

GUIDE = Path(__file__).resolve().parents[1]
DPI = 90


def output_dir() -> Path:
    """The folder figures and tables are written to (created if missing)."""
    out = Path(os.environ.get("ZENGRAD_GUIDE_FIGURES", GUIDE / "figures"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed zengrad's RNG and return a NumPy generator with the same seed."""
    zg.manual_seed(seed)
    return np.random.default_rng(seed)


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2):
    """A figure of nrows x ncols panels, each width x height inches: (fig, axes array)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False)
    return fig, axes.ravel()


def save_figure(fig, name: str) -> Path:
    """Write fig as PNG (dpi 90, tight layout) under output_dir() and close it."""
    if not name.endswith(".png"):
        raise ValueError(f"save_figure: name must end in .png, got {name!r}")
    path = output_dir() / name
    fig.tight_layout()
    # 256 colours are plenty for line plots and make the PNG 2-3 times smaller
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    Image.open(buffer).convert("RGB").quantize(256).save(path, optimize=True)
    plt.close(fig)
    print(f"wrote {path.name} ({path.stat().st_size // 1024} KB)")
    return path


def _cell(value, floatfmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        return format(float(value), floatfmt)
    return str(value).replace("|", "\\|")  # a bare | would split the Markdown cell


def table(name: str, headers: Sequence[str], rows: Sequence[Sequence], floatfmt: str = ".4g",
          ) -> str:
    """Print rows as a Markdown table and write it to output_dir()/name.md (the chapter
    includes that file, so the page shows exactly what the experiment printed)."""
    lines = ["| " + " | ".join(_cell(h, floatfmt) for h in headers) + " |",
             "|" + "---|" * len(headers)]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table {name}: a row has {len(row)} cells for "
                             f"{len(headers)} headers: {row!r}")
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    text = "\n".join(lines) + "\n"
    (output_dir() / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    return text
