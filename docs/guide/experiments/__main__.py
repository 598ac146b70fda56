"""Run the guide's experiments: python docs/guide/experiments [--small] [chNN_or_module ...].

With no names, every chNN_*.py module runs (`make figures`); a name selects the modules whose
file name starts with it (`ch03` runs all of chapter 3's).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

# one BLAS thread, as the tests run them: the figures don't depend on the thread count, and
# the small convolutions of chapter 7 run several times slower on two threads of a busy machine
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent


def modules(prefixes: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("ch[0-9][0-9]_*.py"))
    chosen = [n for n in names if not prefixes or any(n.startswith(p) for p in prefixes)]
    missing = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if missing:
        raise SystemExit(f"no experiment module starts with {', '.join(missing)}; "
                         f"there are: {', '.join(names)}")
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="module name prefixes (default: all)")
    parser.add_argument("--small", action="store_true", help="the quick size the tests use")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    for name in modules(args.names):
        start = time.perf_counter()
        print(f"== {name}")
        importlib.import_module(name).main(small=args.small)
        print(f"== {name}: {time.perf_counter() - start:.1f} s\n")


if __name__ == "__main__":
    main()
