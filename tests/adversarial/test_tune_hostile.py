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


# -- 2. a full disk: every file `zengrad tune` writes is all or nothing ----------------------
def _limit_file_size(n: int):
    """preexec_fn: writes past n bytes fail with EFBIG (an OSError) instead of SIGXFSZ."""
    import resource

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # ignored signals stay so across exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))

    return apply


_FULL_DISK = """
import sys
sys.path.insert(0, {tests!r})
import resource, signal
import tune_objectives as objs
import zengrad.tune as tune
from zengrad.tune import viz

study = tune.create_study(sampler=tune.RandomSampler(0), pruner=tune.NopPruner())
study.optimize(objs.mixed, n_trials=40)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
for write in (lambda: study.to_csv({csv!r}), lambda: viz.plot_slice(study, {png!r})):
    try:
        write()
    except OSError as e:
        print("ERROR", e)
    else:
        print("WROTE")
"""


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_full_disk_keeps_old_csv_and_plot(tmp_path):
    import zengrad.tune as tune
    from zengrad.tune import viz

    sys.path.insert(0, str(TESTS_TUNE))
    import tune_objectives as objs

    study = tune.create_study(sampler=tune.RandomSampler(0), pruner=tune.NopPruner())
    study.optimize(objs.mixed, n_trials=3)
    csv, png = tmp_path / "trials.csv", tmp_path / "slice.png"
    study.to_csv(csv)
    viz.plot_slice(study, png)
    before = _snapshot(tmp_path)
    limit = len(before["trials.csv"]) + 200  # room for the old file, not for 40 trials
    assert limit < len(before["slice.png"])

    script = _FULL_DISK.format(tests=str(TESTS_TUNE), limit=limit, csv=str(csv), png=str(png))
    run = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("ERROR") for line in lines), run.stdout
    assert "trials.csv" in lines[0] and "File too large" in lines[0] and "unchanged" in lines[0]
    assert "slice.png" in lines[1] and "File too large" in lines[1]
    assert _snapshot(tmp_path) == before  # old files intact, no temporary file left


@pytest.mark.slow
def test_full_disk_under_zengrad_tune(tmp_path):
    out = tmp_path / "out"
    cmd = _tune_cmd("--n-trials", "4", "--epochs", "1", "--out", str(out), "--verbose", "0")
    first = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    assert {"trials.csv", "best.json", "slice.png"} <= set(before)

    # 1000 bytes: the CSV fails first; 12000: CSV and best.json fit, the plots do not
    for limit, broken in ((1000, "trials.csv"), (12000, "optimization_history.png")):
        assert len(before[broken]) > limit
        run = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                             timeout=300, preexec_fn=_limit_file_size(limit))
        assert run.returncode == 1, (run.stdout, run.stderr)
        assert "Traceback" not in run.stderr and broken in run.stderr, run.stderr
        assert "File too large" in run.stderr
        after = _snapshot(out)
        assert set(after) == set(before), "a temporary file was left behind"
        assert after[broken] == before[broken]
        for name, data in after.items():  # each file is an old one or a complete new one
            if name.endswith(".png"):
                assert data == before[name]
            else:
                assert data.endswith(b"\n") and (data == before[name] or name != broken)
