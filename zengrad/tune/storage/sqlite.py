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
* A damaged file (not SQLite, a table or column missing, a value its column can't hold)
  raises ``CorruptedStorageError`` naming the file, the study, the trial and the field;
  other SQLite failures (disk full, locked too long, can't open) become ``OSError``s that
  name the file.  No sqlite3 or json exception leaves this module.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ..distributions import (
    BaseDistribution,
    CategoricalDistribution,
    check_compatible,
    distribution_to_json,
    json_to_distribution,
)
from ..trial import FrozenTrial, TrialState
from .base import (
    BaseStorage,
    CorruptedStorageError,
    DuplicatedStudyError,
    canonical,
    finished_error,
    to_json,
)

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


# The columns each table must have (a damaged or foreign file is refused, not patched).
_COLUMNS = {
    "studies": ("study_id", "study_name", "direction"),
    "trials": ("trial_id", "study_id", "number", "state", "value", "datetime_start",
               "datetime_complete"),
    "trial_params": ("trial_id", "name", "value_json", "distribution_json"),
    "trial_intermediate_values": ("trial_id", "step", "value"),
    "trial_attrs": ("trial_id", "kind", "key", "value_json"),
}
_STATES = {s.value: s for s in TrialState}
_DIRECTIONS = ("minimize", "maximize")


class _Bad(Exception):
    """A field that can't be decoded; turned into CorruptedStorageError with its place."""


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        raise _Bad(f"{text!r} where JSON text must be")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _Bad(f"{text[:60]!r} is not valid JSON ({e.msg} at character {e.pos})") from None


def _dist(text: Any) -> BaseDistribution:
    _json(text)  # a clear message for text that is not JSON at all
    try:
        return json_to_distribution(text)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise _Bad(f"{text[:80]!r} is not a distribution ({type(e).__name__}: {e})") from None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"{value!r} where {what} must be")
    return value


def _param_value(value: Any, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        if not dist.contains(value):
            raise _Bad(f"{value!r} is not one of the choices {list(dist.choices)}")
    else:
        _number(value, "a number")
    return value


def _datetime(text: Any) -> datetime.datetime | None:
    if text is None:
        return None
    try:
        return datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise _Bad(f"{text!r} is not an ISO date and time") from None


def _trial_header(row: tuple) -> FrozenTrial:
    """A FrozenTrial from a trials row (trial_id, study_id, number, state, value, start, end)."""
    tid, _, number, state, value, start, end = row
    if state not in _STATES:
        raise _Bad(f"state {state!r} is unknown (expected one of {', '.join(_STATES)})")
    state = _STATES[state]
    if value is None and state is TrialState.COMPLETE:
        raise _Bad("value is NULL, but a COMPLETE trial must have one")
    if value is not None:
        value = _number(value, "the value (a number)")
    return FrozenTrial(number=number, state=state, value=value, datetime_start=_datetime(start),
                       datetime_complete=_datetime(end), _trial_id=tid)


_F = TypeVar("_F", bound=Callable[..., Any])


def _translated(method: _F) -> _F:
    """Turn sqlite3 errors escaping a storage method into errors that name the file."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise self._error(e) from None

    return wrapper  # type: ignore[return-value]


def _now() -> str:
    return datetime.datetime.now().isoformat()


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
        self._names: dict[int, str] = {}  # study names, for error messages
        self._init_schema()

    @_translated
    def _init_schema(self) -> None:
        """Create the tables in a new file; refuse a file that has only some of them."""
        if self._missing_tables(self._con()) == []:
            return
        # One transaction for the whole schema: a process killed while creating it leaves
        # no half schema behind, and two processes creating it at once don't collide.
        with self._tx() as con:
            missing = self._missing_tables(con)
            fresh = missing == [f"table {t}" for t in _COLUMNS]  # a new (or empty) file
            if missing and not fresh:
                raise CorruptedStorageError(
                    f"study database {self.path} is damaged: missing {', '.join(missing)} "
                    "(it holds part of a study's tables: damaged, or not written by zengrad)"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)

    def _missing_tables(self, con: sqlite3.Connection) -> list[str]:
        """Tables absent (or lacking columns) as "table" / "table.column" names."""
        missing = []
        for table, columns in _COLUMNS.items():
            have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            if not have:
                missing.append(f"table {table}")
            else:
                missing += [f"column {table}.{c}" for c in columns if c not in have]
        return missing

    def _error(self, e: sqlite3.Error) -> Exception:
        """The error to raise for a sqlite3 failure: what happened, to which file."""
        text = str(e)
        if isinstance(e, sqlite3.OperationalError):
            if "locked" in text or "busy" in text:
                return TimeoutError(
                    f"study database {self.path} stayed locked by another process for "
                    f"{self.timeout:g}s ({text})"
                )
            if "no such table" in text or "no such column" in text:
                return CorruptedStorageError(f"study database {self.path} is damaged: {text}")
            if "disk" in text:  # SQLITE_FULL or SQLITE_IOERR: what was committed is safe
                return OSError(f"study database {self.path}: {text} (is the disk full, or a "
                               "file size limit reached?); trials finished so far are kept")
            return OSError(f"study database {self.path}: {text}")
        if isinstance(e, sqlite3.DatabaseError) and ("not a database" in text or "malformed"
                                                     in text or "corrupt" in text):
            return CorruptedStorageError(
                f"{self.path} is not a readable SQLite study database ({text})"
            )
        if isinstance(e, sqlite3.ProgrammingError | sqlite3.InterfaceError):
            # a value SQLite can't bind: the caller's mistake, not the file's
            return TypeError(f"study database {self.path}: can't store that value: {text}")
        return CorruptedStorageError(f"study database {self.path}: {type(e).__name__}: {text}")

    def _bad(self, study_id: int | None, number: Any, field: str, e: _Bad) -> CorruptedStorageError:
        return CorruptedStorageError(
            f"study database {self.path} is damaged: study {self._study_name(study_id)}, "
            f"trial {number}, {field}: {e}"
        )

    def _study_name(self, study_id: int | None) -> str:
        if study_id not in self._names:
            try:
                row = self._con().execute(
                    "SELECT study_name FROM studies WHERE study_id = ?", (study_id,)
                ).fetchone()
            except sqlite3.Error:
                row = None
            if row is None:
                return f"with id {study_id}"
            self._names[study_id] = str(row[0])  # type: ignore[index]
        return repr(self._names[study_id])  # type: ignore[index]

    # One connection per thread (sqlite3 connections must not cross threads) and per
    # process (a forked child must not reuse its parent's connection).
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            try:
                con.execute("PRAGMA journal_mode=WAL")  # the first read: fails on a non-db file
                con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                con.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL
            except sqlite3.Error:
                con.close()
                raise
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
    @_translated
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

    @_translated
    def get_study_id_from_name(self, study_name: str) -> int:
        row = self._con().execute(
            "SELECT study_id FROM studies WHERE study_name = ?", (study_name,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no study named {study_name!r} in {self.path}")
        return int(row[0])

    @_translated
    def get_study_direction(self, study_id: int) -> str:
        row = self._con().execute(
            "SELECT direction FROM studies WHERE study_id = ?", (study_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no study with id {study_id} in {self.path}")
        if row[0] not in _DIRECTIONS:
            raise CorruptedStorageError(
                f"study database {self.path} is damaged: study {self._study_name(study_id)}, "
                f"direction: {row[0]!r} is neither 'minimize' nor 'maximize'"
            )
        return str(row[0])

    @_translated
    def get_all_study_names(self) -> list[str]:
        rows = self._con().execute("SELECT study_name FROM studies ORDER BY study_id").fetchall()
        return [r[0] for r in rows]

    # -- trials -----------------------------------------------------------------------
    @_translated
    def create_new_trial(
        self, study_id: int, system_attrs: dict[str, Any] | None = None,
        claim: tuple[str, list[Any]] | None = None,
    ) -> tuple[int, int] | None:
        attrs = dict(system_attrs or {})
        with self._tx() as con:
            if claim is not None:
                key, candidates = claim
                rows = con.execute(
                    "SELECT t.number, a.value_json FROM trial_attrs a JOIN trials t "
                    "USING (trial_id) WHERE t.study_id = ? AND a.kind = 'system' AND a.key = ?",
                    (study_id, key),
                ).fetchall()
                taken = set()
                for number, text in rows:
                    try:
                        taken.add(canonical(_json(text)))
                    except _Bad as e:
                        raise self._bad(study_id, number, f"system attr {key!r}", e) from None
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

    @_translated
    def set_trial_param(
        self, trial_id: int, name: str, value: Any, distribution: BaseDistribution
    ) -> None:
        with self._tx() as con:
            study_id = self._check_running(con, trial_id)
            row = con.execute(
                "SELECT t.number, p.distribution_json FROM trial_params p JOIN trials t "
                "USING (trial_id) WHERE t.study_id = ? AND p.name = ? LIMIT 1",
                (study_id, name),
            ).fetchone()
            if row is not None:
                try:
                    old = _dist(row[1])
                except _Bad as e:
                    raise self._bad(study_id, row[0], f"distribution of param {name!r}",
                                    e) from None
                check_compatible(name, old, distribution)
            con.execute(
                "INSERT OR REPLACE INTO trial_params VALUES (?, ?, ?, ?)",
                (trial_id, name, to_json(value), distribution_to_json(distribution)),
            )

    @_translated
    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        with self._tx() as con:
            self._check_running(con, trial_id)
            con.execute(
                "INSERT OR REPLACE INTO trial_intermediate_values VALUES (?, ?, ?)",
                (trial_id, int(step), float(value)),
            )

    @_translated
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

    @_translated
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
    @_translated
    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._cache_lock:
            if trial_id in self._cache:
                return _copy(self._cache[trial_id])
        rows = self._con().execute(
            "SELECT trial_id, study_id, number, state, value, datetime_start, datetime_complete "
            "FROM trials WHERE trial_id = ?", (trial_id,)
        ).fetchall()
        if not rows:
            raise KeyError(f"no trial with id {trial_id}")
        return _copy(self._load(rows)[0])

    @_translated
    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: tuple[TrialState, ...] | None = None
    ) -> list[FrozenTrial]:
        rows = self._con().execute(
            "SELECT trial_id, study_id, number, state, value, datetime_start, datetime_complete "
            "FROM trials WHERE study_id = ? ORDER BY number", (study_id,)
        ).fetchall()
        if states is not None:
            wanted = {s.value for s in states}
            # an unknown state is kept, so that loading it reports the damage
            rows = [r for r in rows if r[3] in wanted or r[3] not in _STATES]
        trials = self._load(rows)
        return [_copy(t) for t in trials] if deepcopy else trials

    def _load(self, rows: list[tuple]) -> list[FrozenTrial]:
        """Build FrozenTrials from trial rows, reading details only for uncached ones."""
        with self._cache_lock:
            cached = {r[0]: self._cache[r[0]] for r in rows if r[0] in self._cache}
        todo: dict[int, FrozenTrial] = {}
        where: dict[int, tuple[int, Any]] = {}  # trial id -> (study id, number), for errors
        for r in rows:
            if r[0] in cached:
                continue
            where[r[0]] = (r[1], r[2] if r[2] is not None else f"with id {r[0]}")
            try:
                if not isinstance(r[2], int):
                    raise _Bad(f"{r[2]!r} where the trial number must be")
                todo[r[0]] = _trial_header(r)
            except _Bad as e:
                raise self._bad(*where[r[0]], "trials row", e) from None
        con = self._con()
        ids = list(todo)
        for i in range(0, len(ids), 500):  # stay under SQLite's host-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            self._load_details(con, chunk, marks, todo, where)
        with self._cache_lock:
            for tid, t in todo.items():
                if t.state.is_finished():
                    self._cache[tid] = t
        return [cached[r[0]] if r[0] in cached else todo[r[0]] for r in rows]

    def _load_details(
        self, con: sqlite3.Connection, chunk: list[int], marks: str,
        todo: dict[int, FrozenTrial], where: dict[int, tuple[int, Any]],
    ) -> None:
        """Params, intermediate values and attrs of the trials in ``chunk``."""
        for tid, name, vjson, djson in con.execute(
            "SELECT trial_id, name, value_json, distribution_json FROM trial_params "
            f"WHERE trial_id IN ({marks})", chunk
        ):
            try:
                field = f"distribution of param {name!r}"
                dist = _dist(djson)
                field = f"value of param {name!r}"
                todo[tid].params[name] = _param_value(_json(vjson), dist)
            except _Bad as e:
                raise self._bad(*where[tid], field, e) from None
            todo[tid].distributions[name] = dist
        for tid, step, value in con.execute(
            "SELECT trial_id, step, value FROM trial_intermediate_values "
            f"WHERE trial_id IN ({marks}) ORDER BY step", chunk
        ):
            try:
                if isinstance(step, bool) or not isinstance(step, int):
                    raise _Bad(f"{step!r} where a step (an integer) must be")
                todo[tid].intermediate_values[step] = _real(
                    None if value is None else _number(value, "a number")
                )
            except _Bad as e:
                raise self._bad(*where[tid], f"intermediate value at step {step!r}", e) from None
        for tid, kind, key, vjson in con.execute(
            f"SELECT trial_id, kind, key, value_json FROM trial_attrs WHERE trial_id IN ({marks})",
            chunk,
        ):
            try:
                if kind not in ("user", "system"):
                    raise _Bad(f"attribute kind {kind!r} is neither 'user' nor 'system'")
                attrs = todo[tid].user_attrs if kind == "user" else todo[tid].system_attrs
                attrs[key] = _json(vjson)
            except _Bad as e:
                raise self._bad(*where[tid], f"{kind} attr {key!r}", e) from None


def _copy(t: FrozenTrial) -> FrozenTrial:
    # JSON-valued dicts: a one-level copy of each container is a full copy for our needs
    return FrozenTrial(
        number=t.number, state=t.state, value=t.value, params=json.loads(json.dumps(t.params)),
        distributions=dict(t.distributions), user_attrs=json.loads(json.dumps(t.user_attrs)),
        system_attrs=json.loads(json.dumps(t.system_attrs)),
        intermediate_values=dict(t.intermediate_values), datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete, _trial_id=t._trial_id,
    )
