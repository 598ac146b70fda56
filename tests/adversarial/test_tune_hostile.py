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


def _overwrite() -> list[str]:
    """``--overwrite`` where the CLI refuses to write into a used --out without it."""
    usage = subprocess.run([sys.executable, "-m", "zengrad", "tune", "--help"], env=_env(),
                           capture_output=True, text=True, timeout=120).stdout
    return ["--overwrite"] if "--overwrite" in usage else []


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
        # a worker still importing zengrad (seconds on a loaded machine) exits once its
        # initializer runs and sees the parent gone
        deadline = time.monotonic() + 30
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
    cmd += _overwrite()
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


# -- 3. a damaged study database: a clear error naming the study, the trial, the field -------
def _victim(path: Path) -> str:
    """A small SQLite study 'victim' (3 trials with params, reports and attrs); its URL."""
    import zengrad.tune as tune

    url = f"sqlite:///{path}"
    study = tune.create_study(storage=url, study_name="victim", sampler=tune.RandomSampler(0),
                              pruner=tune.NopPruner())
    for _ in range(3):
        trial = study.ask()
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        trial.suggest_int("n", 1, 9)
        trial.suggest_categorical("opt", ["adam", "sgd"])
        trial.report(lr, 0)
        trial.set_user_attr("note", {"ok": True})
        study.tell(trial, lr)
    return url


def _sql(path: Path, *statements: str) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        for statement in statements:
            con.execute(statement)
        con.commit()
    finally:
        con.close()


def _of(number: int) -> str:
    return f"(SELECT trial_id FROM trials WHERE number = {number})"


DAMAGE = {
    "distribution not json": (
        f"UPDATE trial_params SET distribution_json = '{{oops' WHERE name = 'lr' "
        f"AND trial_id = {_of(1)}", ["trial 1", "distribution of param 'lr'", "not valid JSON"]),
    "distribution unknown": (
        f"UPDATE trial_params SET distribution_json = '{{\"name\": \"Nope\"}}' "
        f"WHERE name = 'n' AND trial_id = {_of(0)}",
        ["trial 0", "distribution of param 'n'", "not a distribution"]),
    "param not json": (
        f"UPDATE trial_params SET value_json = '[1,' WHERE name = 'n' AND trial_id = {_of(2)}",
        ["trial 2", "value of param 'n'", "not valid JSON"]),
    "param not a choice": (
        f"UPDATE trial_params SET value_json = '\"nadam\"' WHERE name = 'opt' "
        f"AND trial_id = {_of(1)}", ["trial 1", "value of param 'opt'", "'nadam'"]),
    "param not a number": (
        f"UPDATE trial_params SET value_json = '\"big\"' WHERE name = 'lr' "
        f"AND trial_id = {_of(0)}", ["trial 0", "value of param 'lr'", "'big'"]),
    "attr not json": (
        f"UPDATE trial_attrs SET value_json = 'nope' WHERE key = 'note' AND trial_id = {_of(2)}",
        ["trial 2", "user attr 'note'", "not valid JSON"]),
    "unknown state": (
        "UPDATE trials SET state = 'DONE' WHERE number = 0", ["trial 0", "state 'DONE'"]),
    "complete without value": (
        "UPDATE trials SET value = NULL WHERE number = 1", ["trial 1", "value is NULL"]),
    "value not a number": (
        "UPDATE trials SET value = 'abc' WHERE number = 2", ["trial 2", "'abc'"]),
    "bad datetime": (
        "UPDATE trials SET datetime_start = 'yesterday' WHERE number = 1",
        ["trial 1", "'yesterday'"]),
    "intermediate not a number": (
        f"UPDATE trial_intermediate_values SET value = 'x' WHERE trial_id = {_of(0)}",
        ["trial 0", "intermediate value at step 0", "'x'"]),
    "direction": (
        "UPDATE studies SET direction = 'sideways'", ["'victim'", "direction", "'sideways'"]),
    "table missing": ("DROP TABLE trial_params", ["missing table trial_params"]),
    "column missing": (
        "ALTER TABLE trials DROP COLUMN datetime_start", ["column trials.datetime_start"]),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_database_gives_a_clear_error(tmp_path, case):
    import zengrad.tune as tune

    path = tmp_path / "study.db"
    url = _victim(path)
    statement, expected = DAMAGE[case]
    _sql(path, statement)
    with pytest.raises(tune.CorruptedStorageError) as info:
        study = tune.load_study(study_name="victim", storage=url)
        [t.params for t in study.trials]  # noqa: B018  (the read is the test)
    message = str(info.value)
    assert str(path) in message and "damaged" in message
    if expected[0].startswith("trial "):
        assert "study 'victim'" in message
    for part in expected:
        assert part in message, message
    # no json/sqlite exception chained beneath it
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_not_a_database_gives_a_clear_error(tmp_path):
    import zengrad.tune as tune

    path = tmp_path / "study.db"
    path.write_bytes(b"these are my holiday notes, not a study\n" * 200)
    before = path.read_bytes()
    with pytest.raises(tune.CorruptedStorageError, match="not a readable SQLite study database"):
        tune.create_study(storage=f"sqlite:///{path}", study_name="s", load_if_exists=True)
    assert path.read_bytes() == before  # refused, not overwritten


def test_empty_file_becomes_a_study_database(tmp_path):
    import zengrad.tune as tune

    path = tmp_path / "study.db"
    path.touch()  # e.g. a file created but never written: nothing to lose, nothing refused
    study = tune.create_study(storage=f"sqlite:///{path}", study_name="s")
    study.tell(study.ask(), 1.0)
    assert tune.load_study(study_name="s", storage=f"sqlite:///{path}").best_value == 1.0


def test_several_missing_tables_are_all_named(tmp_path):
    import zengrad.tune as tune

    path = tmp_path / "study.db"
    url = _victim(path)
    _sql(path, "DROP TABLE trial_attrs", "DROP TABLE trial_intermediate_values",
         "ALTER TABLE trials DROP COLUMN datetime_complete")
    with pytest.raises(tune.CorruptedStorageError) as info:
        tune.load_study(study_name="victim", storage=url)
    for part in ("table trial_attrs", "table trial_intermediate_values",
                 "column trials.datetime_complete"):
        assert part in str(info.value)


def test_unopenable_database_gives_a_clear_error(tmp_path):
    import zengrad.tune as tune

    path = tmp_path / "no" / "such" / "folder" / "study.db"
    with pytest.raises(OSError, match=r"study database .*study\.db"):
        tune.create_study(storage=f"sqlite:///{path}")


@pytest.mark.slow
def test_damaged_database_under_zengrad_tune(tmp_path):
    import sqlite3

    db = tmp_path / "x.db"
    cmd = _tune_cmd("--n-trials", "2", "--epochs", "1", "--storage", f"sqlite:///{db}",
                    "--out", str(tmp_path / "out"), "--verbose", "0")
    first = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    _sql(db, f"UPDATE trial_params SET value_json = '{{' WHERE name = 'lr' "
             f"AND trial_id = {_of(1)}")
    cmd += _overwrite()
    run = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode in (1, 2) and "Traceback" not in run.stderr, run.stderr
    assert "trial 1" in run.stderr and "param 'lr'" in run.stderr and str(db) in run.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 2  # nothing added
    con.close()

    db.write_bytes(b"\0garbage" * 512)
    run = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode in (1, 2) and "Traceback" not in run.stderr, run.stderr
    assert "not a readable SQLite study database" in run.stderr


# -- 4. SIGKILL of `zengrad tune --storage` at random moments: reload, resume ---------------
PARAMS = {"lr", "weight_decay", "batch_size", "width"}  # what the mlp's search space holds


def _check_store(db: Path) -> list:
    """The store reloads and every COMPLETE trial has its value and params."""
    import math

    import zengrad.tune as tune

    if not db.exists() or "mlp_digits" not in tune.SQLiteStorage(str(db)).get_all_study_names():
        return []  # killed before the study was created: nothing to lose yet
    trials = tune.load_study(study_name="mlp_digits", storage=f"sqlite:///{db}").trials
    assert [t.number for t in trials] == list(range(len(trials)))
    for t in trials:
        assert t.state is not tune.TrialState.RUNNING  # the dead owner's trial is FAIL now
        if t.state is tune.TrialState.COMPLETE:
            assert t.value is not None and math.isfinite(t.value) and 0 <= t.value <= 1
            assert set(t.params) == PARAMS, t.params
    return trials


@pytest.mark.slow
def test_sigkill_of_zengrad_tune_with_storage_at_random_moments(tmp_path):
    import random

    db = tmp_path / "x.db"
    rng = random.Random(5)  # fixed, so a failure can be replayed
    seen = 0
    for kill in range(4):
        n_jobs = "2" if kill % 2 else "1"
        proc = subprocess.Popen(
            _tune_cmd("--n-trials", "40", "--epochs", "2", "--storage", f"sqlite:///{db}",
                      "--n-jobs", n_jobs, "--out", str(tmp_path / f"out{kill}")),
            cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        family: set[int] = set()
        try:
            delay = rng.uniform(0.5, 6.0)  # start-up, schema, trials or outputs
            time.sleep(delay)
            family = _descendants(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(_alive(p) for p in family):
                time.sleep(0.1)
            assert not [p for p in family if _alive(p)], "workers outlived the kill"
        finally:
            for pid in family:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        trials = _check_store(db)
        print(f"kill {kill} (n_jobs {n_jobs}) after {delay:.2f}s: {len(trials)} trials, "
              f"{[t.state.name[0] for t in trials]}")  # shown when the test fails
        assert len(trials) >= seen, "trials were lost"
        seen = len(trials)

    run = subprocess.run(
        _tune_cmd("--n-trials", "3", "--epochs", "2", "--storage", f"sqlite:///{db}",
                  "--out", str(tmp_path / "final"), "--verbose", "0"),
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    if seen:
        assert f"resuming after {seen} trials" in run.stdout, run.stdout
    trials = _check_store(db)
    assert len(trials) == seen + 3
    assert all(t.state.is_finished() for t in trials)


_FULL_DB = """
import sys
sys.path.insert(0, {tests!r})
import resource, signal
import tune_objectives as objs
import zengrad.tune as tune

study = tune.create_study(storage={url!r}, study_name="full", load_if_exists=True,
                          sampler=tune.RandomSampler(1), pruner=tune.NopPruner())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
try:
    study.optimize(objs.conditional, n_trials=100000)
except OSError as e:
    print("ERROR", type(e).__name__, e)
"""


def test_full_disk_under_a_sqlite_study_loses_nothing(tmp_path):
    import sqlite3

    import zengrad.tune as tune

    sys.path.insert(0, str(TESTS_TUNE))
    import tune_objectives as objs

    db = tmp_path / "full.db"
    url = f"sqlite:///{db}"
    study = tune.create_study(storage=url, study_name="full", sampler=tune.RandomSampler(0),
                              pruner=tune.NopPruner())
    study.optimize(objs.conditional, n_trials=5)
    before = [(t.number, t.value, t.params) for t in study.trials]
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    limit = max(db.stat().st_size, 4096) + 64 * 1024  # room for some more trials, not all
    script = _FULL_DB.format(tests=str(TESTS_TUNE), url=url, limit=limit)
    run = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout.startswith("ERROR OSError") and str(db) in run.stdout, run.stdout
    assert "disk full" in run.stdout and "kept" in run.stdout  # SQLite: "disk I/O error"

    trials = tune.load_study(study_name="full", storage=url).trials
    assert [(t.number, t.value, t.params) for t in trials[:5]] == before
    assert len(trials) > 5  # it did write until the disk was full
    for t in trials:
        assert t.state is not tune.TrialState.RUNNING
        if t.state is tune.TrialState.COMPLETE:
            assert "x" in t.params and "opt" in t.params and t.value is not None
