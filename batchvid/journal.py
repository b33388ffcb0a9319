"""The journal: one SQLite file in the output folder, the truth about every shot.

States (DESIGN.md):  pending -> submitting -> submitted(task_id) -> downloading -> done
                     and failed(reason), uncertain
`submitting` is committed before the POST is sent and the task id the moment it arrives, so a
kill -9 at any instant leaves a state the next run can act on without paying twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import operator
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeGuard

from . import polling
from .errors import FatalError, without_secrets

#: raised only when an older batchvid could not use the journal; a column added for new facts is not (older
#: versions name their columns, read and write around it, and ADDED_COLUMNS brings an older journal up to date)
SCHEMA_VERSION = 1
FILE_NAME = "journal.sqlite"

PENDING, SUBMITTING, SUBMITTED, DOWNLOADING, DONE, FAILED, UNCERTAIN = (
    "pending", "submitting", "submitted", "downloading", "done", "failed", "uncertain")

MAX_TASK_ID = 512
#: how the error of a shot given a task with --adopt starts, until a poll finds that task: a task id the gateway
#: refuses then makes the shot uncertain again, not failed (it tells nothing about the shot), in whichever run
ADOPTED = "adopted with --adopt: the gateway has not confirmed the task yet"
#: how the error of a failed shot starts when its task succeeded, and so was charged, but its video was refused for
#: good (over --max-video-mb, a URL that cannot be fetched): --retry-failed fetches that video again, never
#: rendering the shot anew (its journals from earlier versions say the same)
VIDEO_REFUSED = "download: "
#: how a task in flight whose poll the gateway refused (4xx) is said: kept, and polled again by the next run
POLL_REFUSED = "its task is kept: if the API key or the base URL changed since it was submitted, run with those"
#: how a task in flight is said that the run's gateway refused, and that another base URL made (Row.gateway)
MADE_ELSEWHERE = "its task is kept for the gateway that made it, "
#: how the error of a shot held back by --max-cost starts: the next step is a higher cap, not the same command
OVER_BUDGET = "not submitted: would take the batch past --max-cost"


def rendered(row: Row) -> bool:
    """Whether the shot's task succeeded at the gateway, and so was charged, whether its video came in or not."""
    return row.state in (DONE, DOWNLOADING) or (row.state == FAILED and (row.error or "").startswith(VIDEO_REFUSED))


def bill_ratios(rows: Iterable[Row]) -> dict[str, Decimal]:
    """Per model, the highest bill over its estimate that the gateway reported, where above 1 (an account's group
    ratio, a price above the table's): what later shots of the model will likely cost, beyond their estimates."""
    ratios: dict[str, Decimal] = {}
    for row in rows:
        if row.billed_usd and row.estimated_usd and Decimal(row.estimated_usd) > 0:
            ratio = Decimal(row.billed_usd) / Decimal(row.estimated_usd)
            if ratio > ratios.get(row.model, Decimal(1)):
                ratios[row.model] = ratio
    return ratios


def usable_task_id(value: object) -> TypeGuard[str]:
    """A task id the journal keeps and polls go to: text of a sane length, without NUL, and not only dots (`..` as a
    URL path segment would poll, and fail, another path)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_TASK_ID and "\x00" not in value and bool(value.strip("."))

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shots (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    task_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    seconds INTEGER,
    resolution TEXT,
    estimated_usd TEXT,
    billed_usd TEXT,
    price_source TEXT,
    output TEXT,
    bytes INTEGER,
    sha256 TEXT,
    error TEXT,
    submitted_at TEXT,
    finished_at TEXT,
    updated_at TEXT,
    position INTEGER,
    gateway TEXT
);
CREATE TABLE IF NOT EXISTS render_times (
    model TEXT NOT NULL,
    resolution TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    render_s REAL NOT NULL
);
"""


def now() -> str:
    """The current UTC time to the second, ISO 8601."""
    return _iso_second(int(time.time()))


@functools.lru_cache(maxsize=1)  # a busy run stamps thousands of rows a second: format each second once
def _iso_second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.UTC).isoformat()


@dataclass(slots=True)
class Row:
    id: str
    fingerprint: str
    model: str
    state: str
    task_id: str | None = None
    attempts: int = 0
    seconds: int | None = None
    resolution: str | None = None
    estimated_usd: str | None = None
    billed_usd: str | None = None
    price_source: str | None = None
    output: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    error: str | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    position: int | None = None
    #: the base URL of the gateway that made (or last answered for) the task; None for a rehearsal's simulator,
    #: whose port changes with every run, and for journals older than this column
    gateway: str | None = None


#: columns added to the shots table after its first version, with their types: journals without them gain them
ADDED_COLUMNS = {"gateway": "TEXT"}

#: the shots table's columns, in Row's order (one list, so the two cannot drift apart)
COLUMNS = tuple(f.name for f in fields(Row))
_row_values = operator.attrgetter(*COLUMNS)  # a row's values in COLUMNS order, as a tuple


#: journal meta: which made the folder's results, the simulator (--simulate) or a gateway; never mixed
ORIGIN_KEY = "origin"
SIMULATOR, GATEWAY = "simulator", "gateway"


class Journal:
    """All reads and writes of the journal.

    update() and mark_submitting() gather changes in an open transaction; commit() makes them durable.
    The scheduler commits once for every shot that changed in the same loop turn: it waits for that
    commit before a POST; the task id, `downloading` and `done` are committed at the next loop turn
    (before the new task's first poll).
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: for looking only (status, --dry-run): never waits for a running batch, changes no row,
        leaves no file behind."""
        self.path = path
        self.db = self._connect_read_only(path) if read_only else self._connect(path)
        self._select = f"SELECT {_select_list(self.db)} FROM shots"
        self._changed_ids: set[str] = set()  # rows changed since take_changed() last asked (the live ledger)

    @staticmethod
    def _connect_read_only(path: Path) -> sqlite3.Connection:
        def opened(mode: str) -> sqlite3.Connection:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None)
            with _closed_on_error(db):
                found = db.execute(_VERSION_SQL).fetchone()
                if found is None:
                    raise FatalError(f"{path} is not a batchvid journal (it has no version)")
                _refuse_newer(path, found[0], "read it")
            return db

        try:
            try:
                # not mode=ro: a read-only connection makes the WAL's -shm and -wal files and cannot take them
                # away at close, so looking would leave files behind. Only reads are made on this connection;
                # when it is the last one, closing it folds a killed run's WAL into the journal, as a run would.
                return opened("mode=rw")
            except sqlite3.OperationalError:
                # a folder we may not write to: SQLite cannot make the WAL index, so read the file as it is
                return opened("immutable=1")
        except sqlite3.DatabaseError as exc:
            if "no such table" in str(exc):  # an empty database: a run that has just started is making it
                raise FatalError(f"{path} has no batchvid tables yet: if a run has just started, try again in a "
                                 "moment") from None
            raise FatalError(f"{path} is not a readable journal ({exc})") from None

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # SQLite opens a file it may not write read-only without a word, and the first change then fails
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists() and not os.access(file, os.W_OK):
                raise FatalError(_read_only(str(file)))
        try:
            try:
                return _set_up(_open(path), path, wal=True)
            except sqlite3.OperationalError as exc:
                if not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_IOERR_SHM"):
                    raise
            # WAL keeps an index in a shared-memory file that some file systems cannot map (some FUSE and network
            # file systems): there the journal keeps SQLite's rollback journal, as safe, with slower commits
            _leave_wal(path)
            return _set_up(_open(path), path, wal=False)
        except sqlite3.DatabaseError as exc:
            raise FatalError(_unusable(path, exc)) from None

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self.db.close()  # an uncommitted transaction is rolled back

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        try:
            self.close()
        except sqlite3.Error as exc:
            if error is None:  # otherwise the error on its way out already says why the run stopped
                raise FatalError(f"cannot write the journal {self.path}: {exc}") from None
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
            # found damaged past its first page, only as rows were read or written: said as at opening
            raise FatalError(_unusable(self.path, error)) from None

    # -- reading ---------------------------------------------------------------------------
    def rows(self) -> list[Row]:
        cursor = self.db.execute(f"{self._select} ORDER BY position, id")
        return [Row(*values) for values in cursor]

    def rows_by_id(self, ids: Iterable[str]) -> list[Row]:
        """The rows of these ids (those that exist), in no particular order."""
        wanted, found = list(ids), []
        for start in range(0, len(wanted), 500):  # well under SQLite's limit of bound parameters
            chunk = wanted[start:start + 500]
            cursor = self.db.execute(
                f"{self._select} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found += [Row(*values) for values in cursor]
        return found

    def take_changed(self) -> set[str]:
        """The ids of the rows written since the last call (the first call: since the journal was opened)."""
        changed, self._changed_ids = self._changed_ids, set()
        return changed

    def row(self, shot_id: str) -> Row | None:
        values = self.db.execute(f"{self._select} WHERE id=?", (shot_id,)).fetchone()
        return None if values is None else Row(*values)

    # -- writing ---------------------------------------------------------------------------
    def update(self, shot_id: str, **values: Any) -> None:
        error = values.get("error")
        if error:  # a reason may quote the gateway, which can echo the key anywhere (a message, a video URL)
            values["error"] = without_secrets(error)
        values["updated_at"] = now()
        self._changed_ids.add(shot_id)
        self._open()
        self.db.execute(_update_sql(tuple(values)), (*values.values(), shot_id))

    def _open(self) -> None:
        """Changes gather in one transaction until commit(): a group commit for many shots at once."""
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")

    def meta(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, remove) one meta entry, committed at once."""
        with _transaction(self.db):
            if value is None:
                self.db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def commit(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def insert_many(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        with _transaction(self.db):
            self.db.executemany(
                f"INSERT OR REPLACE INTO shots ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [_row_values(row) for row in rows],
            )
        self._changed_ids.update(row.id for row in rows)

    def render_times(self) -> polling.RenderTimes:
        """Render times learned by earlier runs, for adaptive polling."""
        times = polling.RenderTimes()
        for model, resolution, seconds, render_s in self.db.execute(
            "SELECT model, resolution, seconds, render_s FROM render_times ORDER BY rowid DESC LIMIT 5000"
        ):
            times.add((model, resolution, seconds), render_s)
        return times

    def add_render_times(self, rows: Iterable[tuple[str, str, int, float]]) -> None:
        with _transaction(self.db):
            self.db.executemany("INSERT INTO render_times VALUES (?, ?, ?, ?)", list(rows))

    def mark_submitting(self, shot_id: str) -> None:
        self._changed_ids.add(shot_id)
        self._open()
        self.db.execute(
            "UPDATE shots SET state=?, attempts=attempts+1, error=NULL, updated_at=? WHERE id=?",
            (SUBMITTING, now(), shot_id),
        )

    def unmark_submitting(self, shot_id: str) -> None:
        """Back to pending, the attempt not counted: the POST that mark_submitting() announced was never sent."""
        self._changed_ids.add(shot_id)
        self._open()
        self.db.execute(
            "UPDATE shots SET state=?, attempts=attempts-1, updated_at=? WHERE id=? AND state=?",
            (PENDING, now(), shot_id, SUBMITTING),
        )


_VERSION_SQL = "SELECT value FROM meta WHERE key='schema_version'"


def _open(path: Path) -> sqlite3.Connection:
    """A connection of a run: transactions begun by hand; a lock held by another connection waited for up to 30 s."""
    return sqlite3.connect(path, isolation_level=None, timeout=30)


def _set_up(db: sqlite3.Connection, path: Path, *, wal: bool) -> sqlite3.Connection:
    """The connection of a run: its journal mode, the tables, the version checked."""
    with _closed_on_error(db):
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives the process being killed (the OS has the writes);
            # only a power cut can lose the last commits.
            db.execute("PRAGMA synchronous=NORMAL")
        else:
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=FULL")
        with _transaction(db):
            for statement in _DDL.strip().split(";"):
                if statement.strip():
                    db.execute(statement)
            found = db.execute(_VERSION_SQL).fetchone()
            if found is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            else:
                _refuse_newer(path, found[0], "continue this batch")
            present = _shot_columns(db)
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:  # a journal an older batchvid made
                    db.execute(f"ALTER TABLE shots ADD COLUMN {column} {kind}")
    return db


def _shot_columns(db: sqlite3.Connection) -> set[str]:
    return {str(column[1]) for column in db.execute("PRAGMA table_info(shots)")}


def _select_list(db: sqlite3.Connection) -> str:
    """The shots table's columns in Row's order, for a SELECT: a column that an older journal lacks reads as NULL
    (a read-only look at one cannot add it)."""
    present = _shot_columns(db)
    return ", ".join(column if column in present else f"NULL AS {column}" for column in COLUMNS)


def _leave_wal(path: Path) -> None:
    """Turn a journal that an attempt left in WAL mode back to a rollback journal. A connection in exclusive locking
    mode reads a WAL without the shared-memory file; anything a WAL holds is folded into the journal."""
    with contextlib.closing(_open(path)) as db:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=DELETE")


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> str:
    """Why the journal cannot be used. Only a damaged file may be given up: a full disk or a permission is mended,
    and moving the journal away would lose what the batch has paid for."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name.startswith("SQLITE_READONLY"):
        return _read_only(f"{path} (or its -wal or -shm file)")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return (f"{path} is not a usable journal ({exc}): to start the batch afresh, paying for every shot again, "
                "move it and the videos out of the folder")
    return f"cannot use the journal {path} ({exc}); mend that and run again: the batch's state is kept in it"


def _read_only(what: str) -> str:
    return (f"{what} is read-only, and the batch's state must be kept in it: make it writable (chmod u+w) to "
            "continue; `batchvid status` reads it as it is")


def _refuse_newer(path: Path, version: str, to: str) -> None:
    if int(version) > SCHEMA_VERSION:
        raise FatalError(f"{path} was written by a newer batchvid (journal version {version}); upgrade batchvid "
                         f"to {to}")


@functools.cache
def _update_sql(columns: tuple[str, ...]) -> str:
    return f"UPDATE shots SET {', '.join(f'{column}=?' for column in columns)} WHERE id=?"


@contextlib.contextmanager
def _closed_on_error(db: sqlite3.Connection) -> Iterator[None]:
    """A connection that could not be set up is closed at once, not left to the garbage collector."""
    try:
        yield
    except BaseException:
        db.close()
        raise


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    if db.in_transaction:
        db.execute("COMMIT")  # changes gathered by update() go first
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
