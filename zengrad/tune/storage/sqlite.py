"""SQLite storage (stdlib ``sqlite3``): a study that survives crashes and can be shared.

* Every change is committed when it happens: a trial row when the trial starts, each
  parameter as it is suggested, each intermediate value as it is reported, the state
  and value when it ends.  A study killed with SIGKILL keeps all of that.
* WAL journal mode lets readers proceed while one process writes; a busy timeout makes
  concurrent writers wait instead of failing.  Multi-statement writes (creating a trial
  with its number, claiming a grid point) run in ``BEGIN IMMEDIATE`` transactions, so
  two processes never get the same trial number or grid point.
* Values are JSON text or REAL columns; nothing is pickled.
* Finished trials never change, so they are cached after the first read.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from ..distributions import BaseDistribution, check_compatible, distribution_to_json
from ..distributions import json_to_distribution as _dist
from ..trial import FrozenTrial, TrialState
from .base import BaseStorage, DuplicatedStudyError, canonical, finished_error, to_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    study_id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_name TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id INTEGER NOT NULL REFERENCES studies(study_id),
    number INTEGER NOT NULL,
    state TEXT NOT NULL,
    value REAL,
    datetime_start TEXT,
    datetime_complete TEXT,
    UNIQUE (study_id, number)
);
CREATE TABLE IF NOT EXISTS trial_params (
    trial_id INTEGER NOT NULL REFERENCES trials(trial_id),
    name TEXT NOT NULL,
    value_json TEXT NOT NULL,
    distribution_json TEXT NOT NULL,
    PRIMARY KEY (trial_id, name)
);
CREATE INDEX IF NOT EXISTS trial_params_name ON trial_params(name);
CREATE TABLE IF NOT EXISTS trial_intermediate_values (
    trial_id INTEGER NOT NULL REFERENCES trials(trial_id),
    step INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (trial_id, step)
);
CREATE TABLE IF NOT EXISTS trial_attrs (
    trial_id INTEGER NOT NULL REFERENCES trials(trial_id),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (trial_id, kind, key)
);
"""


def _now() -> str:
    return datetime.datetime.now().isoformat()


def _dt(text: str | None) -> datetime.datetime | None:
    return None if text is None else datetime.datetime.fromisoformat(text)


def _real(value: float | None) -> float:
    # SQLite stores NaN as NULL; read it back as NaN.
    return math.nan if value is None else float(value)


class SQLiteStorage(BaseStorage):
    """``SQLiteStorage("study.db")``, or ``create_study(storage="sqlite:///study.db")``."""

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._local = threading.local()
        self._cache: dict[int, FrozenTrial] = {}  # finished trials, by trial id
        self._cache_lock = threading.Lock()
        # CREATE ... IF NOT EXISTS is idempotent, so several processes may open one file.
        self._con().executescript(_SCHEMA)

    # One connection per thread (sqlite3 connections must not cross threads) and per
    # process (a forked child must not reuse its parent's connection).
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            con.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL
            self._local.con, self._local.pid = con, os.getpid()
        return con

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def __getstate__(self) -> dict[str, Any]:
        # Shipping a study to another process sends the path, not open connections.
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["timeout"])  # type: ignore[misc]

    # -- studies ----------------------------------------------------------------------
    def create_new_study(self, study_name: str, direction: str) -> int:
        try:
            with self._tx() as con:
                cur = con.execute(
                    "INSERT INTO studies (study_name, direction) VALUES (?, ?)",
                    (study_name, direction),
                )
                return int(cur.lastrowid)
        except sqlite3.IntegrityError:
            raise DuplicatedStudyError(f"a study named {study_name!r} already exists") from None

    def get_study_id_from_name(self, study_name: str) -> int:
        row = self._con().execute(
            "SELECT study_id FROM studies WHERE study_name = ?", (study_name,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no study named {study_name!r} in {self.path}")
        return int(row[0])

    def get_study_direction(self, study_id: int) -> str:
        row = self._con().execute(
            "SELECT direction FROM studies WHERE study_id = ?", (study_id,)
        ).fetchone()
        return str(row[0])

    def get_all_study_names(self) -> list[str]:
        rows = self._con().execute("SELECT study_name FROM studies ORDER BY study_id").fetchall()
        return [r[0] for r in rows]

    # -- trials -----------------------------------------------------------------------
    def create_new_trial(
        self, study_id: int, system_attrs: dict[str, Any] | None = None,
        claim: tuple[str, list[Any]] | None = None,
    ) -> tuple[int, int] | None:
        attrs = dict(system_attrs or {})
        with self._tx() as con:
            if claim is not None:
                key, candidates = claim
                rows = con.execute(
                    "SELECT a.value_json FROM trial_attrs a JOIN trials t USING (trial_id) "
                    "WHERE t.study_id = ? AND a.kind = 'system' AND a.key = ?",
                    (study_id, key),
                ).fetchall()
                taken = {canonical(json.loads(r[0])) for r in rows}
                free = [c for c in candidates if canonical(c) not in taken]
                if not free:
                    return None
                attrs[key] = free[0]
            (number,) = con.execute(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?", (study_id,)
            ).fetchone()
            cur = con.execute(
                "INSERT INTO trials (study_id, number, state, datetime_start) VALUES (?, ?, ?, ?)",
                (study_id, number, TrialState.RUNNING.value, _now()),
            )
            trial_id = int(cur.lastrowid)
            con.executemany(
                "INSERT INTO trial_attrs VALUES (?, 'system', ?, ?)",
                [(trial_id, k, to_json(v)) for k, v in attrs.items()],
            )
            return trial_id, int(number)

    def _check_running(self, con: sqlite3.Connection, trial_id: int) -> int:
        row = con.execute(
            "SELECT state, number, study_id FROM trials WHERE trial_id = ?", (trial_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no trial with id {trial_id}")
        if row[0] != TrialState.RUNNING.value:
            raise finished_error(row[1])
        return int(row[2])

    def set_trial_param(
        self, trial_id: int, name: str, value: Any, distribution: BaseDistribution
    ) -> None:
        with self._tx() as con:
            study_id = self._check_running(con, trial_id)
            row = con.execute(
                "SELECT p.distribution_json FROM trial_params p JOIN trials t USING (trial_id) "
                "WHERE t.study_id = ? AND p.name = ? LIMIT 1",
                (study_id, name),
            ).fetchone()
            if row is not None:
                check_compatible(name, _dist(row[0]), distribution)
            con.execute(
                "INSERT OR REPLACE INTO trial_params VALUES (?, ?, ?, ?)",
                (trial_id, name, to_json(value), distribution_to_json(distribution)),
            )

    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        with self._tx() as con:
            self._check_running(con, trial_id)
            con.execute(
                "INSERT OR REPLACE INTO trial_intermediate_values VALUES (?, ?, ?)",
                (trial_id, int(step), float(value)),
            )

    def _set_attr(self, trial_id: int, kind: str, key: str, value: Any) -> None:
        text = to_json(value)
        with self._tx() as con:
            self._check_running(con, trial_id)
            con.execute(
                "INSERT OR REPLACE INTO trial_attrs VALUES (?, ?, ?, ?)",
                (trial_id, kind, key, text),
            )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_attr(trial_id, "user", key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_attr(trial_id, "system", key, value)

    def set_trial_state_value(
        self, trial_id: int, state: TrialState, value: float | None = None
    ) -> bool:
        with self._tx() as con:
            cur = con.execute(
                "UPDATE trials SET state = ?, value = ?, datetime_complete = ? "
                "WHERE trial_id = ? AND state = ?",
                (state.value, value, _now() if state.is_finished() else None, trial_id,
                 TrialState.RUNNING.value),
            )
            return cur.rowcount == 1

    # -- reading ----------------------------------------------------------------------
    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._cache_lock:
            if trial_id in self._cache:
                return _copy(self._cache[trial_id])
        rows = self._con().execute(
            "SELECT trial_id, number, state, value, datetime_start, datetime_complete "
            "FROM trials WHERE trial_id = ?", (trial_id,)
        ).fetchall()
        if not rows:
            raise KeyError(f"no trial with id {trial_id}")
        return _copy(self._load(rows)[0])

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: tuple[TrialState, ...] | None = None
    ) -> list[FrozenTrial]:
        rows = self._con().execute(
            "SELECT trial_id, number, state, value, datetime_start, datetime_complete "
            "FROM trials WHERE study_id = ? ORDER BY number", (study_id,)
        ).fetchall()
        if states is not None:
            wanted = {s.value for s in states}
            rows = [r for r in rows if r[2] in wanted]
        trials = self._load(rows)
        return [_copy(t) for t in trials] if deepcopy else trials

    def _load(self, rows: list[tuple]) -> list[FrozenTrial]:
        """Build FrozenTrials from trial rows, reading details only for uncached ones."""
        with self._cache_lock:
            cached = {r[0]: self._cache[r[0]] for r in rows if r[0] in self._cache}
        todo = {
            r[0]: FrozenTrial(
                number=r[1], state=TrialState(r[2]), value=r[3], datetime_start=_dt(r[4]),
                datetime_complete=_dt(r[5]), _trial_id=r[0],
            )
            for r in rows if r[0] not in cached
        }
        con = self._con()
        ids = list(todo)
        for i in range(0, len(ids), 500):  # stay under SQLite's host-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for tid, name, vjson, djson in con.execute(
                f"SELECT * FROM trial_params WHERE trial_id IN ({marks})", chunk
            ):
                todo[tid].params[name] = json.loads(vjson)
                todo[tid].distributions[name] = _dist(djson)
            for tid, step, value in con.execute(
                f"SELECT * FROM trial_intermediate_values WHERE trial_id IN ({marks}) "
                "ORDER BY step", chunk
            ):
                todo[tid].intermediate_values[step] = _real(value)
            for tid, kind, key, vjson in con.execute(
                f"SELECT * FROM trial_attrs WHERE trial_id IN ({marks})", chunk
            ):
                attrs = todo[tid].user_attrs if kind == "user" else todo[tid].system_attrs
                attrs[key] = json.loads(vjson)
        with self._cache_lock:
            for tid, t in todo.items():
                if t.state.is_finished():
                    self._cache[tid] = t
        return [cached[r[0]] if r[0] in cached else todo[r[0]] for r in rows]


def _copy(t: FrozenTrial) -> FrozenTrial:
    # JSON-valued dicts: a one-level copy of each container is a full copy for our needs
    return FrozenTrial(
        number=t.number, state=t.state, value=t.value, params=json.loads(json.dumps(t.params)),
        distributions=dict(t.distributions), user_attrs=json.loads(json.dumps(t.user_attrs)),
        system_attrs=json.loads(json.dumps(t.system_attrs)),
        intermediate_values=dict(t.intermediate_values), datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete, _trial_id=t._trial_id,
    )
