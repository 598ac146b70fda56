"""`zengrad tune` and its study store under hostile conditions.

SIGKILL of the parent (no orphaned workers, a store that reloads and resumes), a full disk
(RLIMIT_FSIZE: old output files survive, no temp files), and a damaged SQLite file (a clear
error naming the study, the trial and the field, not a json/sqlite traceback).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS_TUNE = REPO / "tests" / "tune"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc, uses rlimits")


# -- processes, from /proc (psutil is not a dependency) -------------------------------------
def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")  # a zombie has already exited


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                parents[int(entry.name)] = st[1]
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _workers(root: int) -> set[int]:
    return {p for p in _descendants(root) if "spawn_main" in _cmdline(p)}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **extra)
    env.pop("COLUMNS", None)
    return env


def _tune_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "zengrad", "tune", "--model", "mlp", "--dataset", "digits",
            *args]


# -- 1. SIGKILL of the parent leaves no orphaned workers ------------------------------------
@pytest.mark.slow
def test_sigkill_of_parallel_tune_leaves_no_orphans(tmp_path):
    proc = subprocess.Popen(
        _tune_cmd("--n-jobs", "2", "--n-trials", "20", "--epochs", "3", "--out",
                  str(tmp_path / "out")),
        cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: a leftover can't be confused with ours
    )
    family: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(_workers(proc.pid)) < 2:
            assert proc.poll() is None, "zengrad tune ended before its workers started"
            time.sleep(0.1)
        assert len(_workers(proc.pid)) >= 2, "the two workers never appeared"
        time.sleep(1.0)  # let them get into a trial
        family = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.1)
        left = {p: _cmdline(p) for p in family if _alive(p)}
        assert not left, f"processes outlived the killed zengrad tune: {left}"
    finally:
        for pid in family:  # never leave them behind, even when the test fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
