"""ops.jit_cache: a kernel compiled in one process loads from the disk cache in the next, with
the same results; closure values are part of the key; a damaged, unwritable or full cache
only means compiling again; old versions are evicted; ZENGRAD_KERNEL_CACHE=0 turns it off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zengrad.ops import jit_cache, kernels

pytestmark = pytest.mark.skipif(not kernels.numba_enabled(), reason="Numba off or missing")

REPO = Path(__file__).resolve().parents[2]

# A child process: two kernels that differ only in a closure value, through compile_source
# (and, with POOL, zengrad's compiled 2x2 max-pool); prints results and cache hits as JSON.
_CHILD = """
import json, sys
import numpy as np
import numba
from zengrad.ops import jit_cache

def make(scale):
    def f(a):
        return a * scale
    return f

SOURCE = "def loop(a, out):\\n    for j in range(a.size):\\n        out[j] = fn(a[j])\\n"
out, hits = {}, 0
for scale in (2.0, 3.0):
    k = jit_cache.compile_source(SOURCE, "loop", {"fn": numba.njit(make(scale))})
    a = np.arange(5.0)
    o = np.empty_like(a)
    k(a, o)
    out[str(scale)] = o.tolist()
    hits += sum(k.stats.cache_hits.values())
if POOL:
    import zengrad as zg
    import zengrad.nn.functional as F
    x = zg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32),
                  requires_grad=True)
    y = F.max_pool2d(x, 2)
    y.sum().backward()
    out["pool"] = [y.detach().numpy().tobytes().hex(), x.grad.numpy().tobytes().hex()]
print(json.dumps({"out": out, "hits": hits}))
"""


def _start(cache, *, limit: int | None = None, pool: bool = False) -> subprocess.Popen:
    pre = f"POOL = {pool}\n"
    if limit is not None:  # a full disk: writes past `limit` bytes fail (EFBIG)
        pre += f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
    env = dict(os.environ, PYTHONPATH=str(REPO), ZENGRAD_KERNEL_CACHE=str(cache))
    return subprocess.Popen([sys.executable, "-c", pre + _CHILD], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _child(cache, **kwargs) -> dict:
    return _result(_start(cache, **kwargs))


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.rglob(pattern))


def _expected() -> dict:
    return {"2.0": [0.0, 2.0, 4.0, 6.0, 8.0], "3.0": [0.0, 3.0, 6.0, 9.0, 12.0]}


def test_a_second_process_loads_what_the_first_compiled_and_a_damaged_file_compiles_again(
        tmp_path):
    first = _child(tmp_path, pool=True)
    assert first["hits"] == 0
    assert {k: first["out"][k] for k in ("2.0", "3.0")} == _expected()
    sources = _files(tmp_path, "loop-*.py")
    assert len(sources) == 2, "two closure values, two kernels"
    assert _files(tmp_path, "*.nbi") and _files(tmp_path, "*.nbc")
    second = _child(tmp_path, pool=True)
    assert second["hits"] == 2
    assert second["out"] == first["out"]  # the pooling from the cache: the same bits
    assert _files(tmp_path, "_max2x2-*.py") and _files(tmp_path, "_max2x2_grad-*.py")
    assert _files(tmp_path, "loop-*.py") == sources
    assert (tmp_path.stat().st_mode & 0o777) == 0o700
    # damaged: one kernel's index is garbage, the other's object code truncated
    indexes = _files(tmp_path, "loop-*.nbi")
    indexes[0].write_bytes(b"\x80\x04not a pickle" + os.urandom(64))
    for path in _files(tmp_path, indexes[1].name.split(".")[0] + "*.nbc"):
        path.write_bytes(path.read_bytes()[:50])
    assert _child(tmp_path, pool=True)["out"] == first["out"]


def test_a_full_disk_or_an_unusable_folder_only_means_no_cache(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    procs = [_start(tmp_path / "full", limit=2000),  # sources fit, object code does not
             _start(blocker / "cache"), _start("0")]
    for proc in procs:
        assert _result(proc)["out"] == _expected()
    assert _files(tmp_path / "full", "loop-*.py") and not _files(tmp_path / "full", "*.nbc")


def test_the_root_is_in_the_package_or_named_or_off(tmp_path, monkeypatch):
    monkeypatch.setenv("ZENGRAD_KERNEL_CACHE", "0")
    assert jit_cache.cache_root() is None
    monkeypatch.setenv("ZENGRAD_KERNEL_CACHE", str(tmp_path))
    assert jit_cache.cache_root() == tmp_path
    monkeypatch.delenv("ZENGRAD_KERNEL_CACHE")
    assert jit_cache.cache_root() == REPO / "zengrad" / "__pycache__" / "kernels"


def test_only_the_newest_versions_are_kept(tmp_path, monkeypatch):
    old = []
    for i in range(5):
        folder = tmp_path / f"old{i}"
        folder.mkdir()
        (folder / "loop-x.py").write_text("")
        os.utime(folder, (time.time() - 1000 + i, time.time() - 1000 + i))
        old.append(folder)
    monkeypatch.setenv("ZENGRAD_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(jit_cache, "_version_dir", None)
    current = jit_cache.version_dir()
    assert current is not None and current.parent == tmp_path
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted([current.name, "old3", "old4"])
    assert len(kept) == jit_cache.KEEP_VERSIONS


def test_a_global_without_a_stable_description_compiles_uncached(tmp_path, monkeypatch):
    monkeypatch.setenv("ZENGRAD_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(jit_cache, "_version_dir", None)
    table = np.array([1.0, 2.0, 4.0])  # an array global: Numba would freeze its values
    k = jit_cache.compile_source("def f(i):\n    return table[i]\n", "f", {"table": table})
    assert k(2) == 4.0
    assert not _files(tmp_path, "f-*.py")
    described = jit_cache.compile_source("def g(i):\n    return np.float64(i) * two\n", "g",
                                         {"np": np, "two": 2.0})
    assert described(3) == 6.0
    assert len(_files(tmp_path, "g-*.py")) == 1


def test_the_key_sees_a_kernel_edited_under_the_same_name():
    import numba

    source = "def loop(a, out):\n    for j in range(a.size):\n        out[j] = fn(a[j])\n"

    def key(f) -> str | None:
        return jit_cache._key(source, {"fn": numba.njit(f)}, {"nogil": True})

    plus_one, plus_two = (lambda a: a + 1), (lambda a: a + 2)  # one qualname, two bodies
    assert plus_one.__qualname__ == plus_two.__qualname__
    assert None not in (key(plus_one), key(plus_two))
    assert key(plus_one) != key(plus_two)
    assert key(plus_one) == key(lambda a: a + 1)
    assert key(lambda a: np.sqrt(a)) != key(lambda a: np.exp(a))
    assert key(lambda a: np.float32(a)) != key(lambda a: np.float64(a))
    assert jit_cache._key(source, {"fn": numba.njit(plus_one)}, {"nogil": False}) != key(
        plus_one)


def test_the_version_hashes_zengrads_sources_not_the_cache_inside_it(tmp_path, monkeypatch):
    monkeypatch.setattr(jit_cache, "_PACKAGE", tmp_path)
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "a.py").write_text("x = 1\n")
    before = jit_cache._source_hash()
    kernel = tmp_path / "__pycache__" / "kernels" / before / "loop-0.py"
    kernel.parent.mkdir(parents=True)
    kernel.write_text("def loop():\n    pass\n")
    assert jit_cache._source_hash() == before
    (tmp_path / "ops" / "a.py").write_text("x = 2\n")
    assert jit_cache._source_hash() != before
