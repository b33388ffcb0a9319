"""The journal's SQLite file: opened for a run (WAL, or SQLite's rollback journal where the file system cannot map
WAL's index) or for a look; its tables made, brought up to date and their version checked; why it cannot be used,
said in one line that keeps what the batch paid for (journal.py reads and writes its rows)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from .durable import sync_folder
from .errors import FatalError, one_line

#: raised only when an older batchvid could not use the journal; a column added for new facts is not (older
#: versions name their columns, read and write around it, and ADDED_COLUMNS brings an older journal up to date)
SCHEMA_VERSION = 1

#: columns added to the shots table after its first version, with their types: journals without them gain them
ADDED_COLUMNS = {"gateway": "TEXT", "prompt": "TEXT", "request": "TEXT"}

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
    gateway TEXT,
    prompt TEXT,
    request TEXT
);
CREATE TABLE IF NOT EXISTS render_times (
    model TEXT NOT NULL,
    resolution TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    render_s REAL NOT NULL
);
"""


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection for looking only (status, --dry-run): never waits for a running batch, changes no row, leaves
    no file behind."""
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
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # the second: text in the tables' description
        if "no such table" in str(exc):  # an empty database: a run that has just started is making it
            raise FatalError(f"{path} has no batchvid tables yet: if a run has just started, try again in a "
                             "moment") from None
        raise FatalError(f"{path} is not a readable journal ({exc})") from None


def connect(path: Path) -> sqlite3.Connection:
    """The connection of a run: its tables made or brought up to date, its version checked; the file's own name in
    its folder synced, as its commits are (a new journal's name lost in a power cut would take them along)."""
    db = _connect(path)
    sync_folder(path.parent)
    return db


def _connect(path: Path) -> sqlite3.Connection:
    # SQLite opens a file it may not write read-only without a word, and the first change then fails
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if os.path.exists(file) and not os.access(file, os.W_OK):
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
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # the second: text in the tables' description
        raise FatalError(unusable(path, exc)) from None


_VERSION_SQL = "SELECT value FROM meta WHERE key='schema_version'"


def _open(path: Path) -> sqlite3.Connection:
    """A connection of a run: transactions begun by hand; a lock held by another connection waited for up to 30 s."""
    return sqlite3.connect(path, isolation_level=None, timeout=30)


def _set_up(db: sqlite3.Connection, path: Path, *, wal: bool) -> sqlite3.Connection:
    """The connection of a run: its journal mode, the tables, the version checked."""
    with _closed_on_error(db):
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: each commit is synced before it counts as made. NORMAL survives the process being killed,
            # but a power cut or a crash of the machine may roll back the commits since the last checkpoint:
            # a `submitting` row whose POST had left would be pending again, sent again and paid twice.
            # One sync a group commit; a run commits a few times a second.
            db.execute("PRAGMA synchronous=FULL")
        else:
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=FULL")
        with transaction(db):
            for statement in _DDL.strip().split(";"):
                if statement.strip():
                    db.execute(statement)
            found = db.execute(_VERSION_SQL).fetchone()
            if found is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            else:
                _refuse_newer(path, found[0], "continue this batch")
            present = shot_columns(db)
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:  # a journal an older batchvid made
                    db.execute(f"ALTER TABLE shots ADD COLUMN {column} {kind}")
    return db


def shot_columns(db: sqlite3.Connection) -> set[str]:
    return {str(column[1]) for column in db.execute("PRAGMA table_info(shots)")}


def _leave_wal(path: Path) -> None:
    """Turn a journal that an attempt left in WAL mode back to a rollback journal. A connection in exclusive locking
    mode reads a WAL without the shared-memory file; anything a WAL holds is folded into the journal."""
    with contextlib.closing(_open(path)) as db:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=DELETE")


def unusable(path: Path, exc: sqlite3.DatabaseError | UnicodeDecodeError) -> str:
    """Why the journal cannot be used. Only a damaged file may be given up: a full disk or a permission is mended,
    and moving the journal away would lose what the batch has paid for."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name.startswith("SQLITE_READONLY"):
        return _read_only(f"{path} (or its -wal or -shm file)")
    if not_text(exc):  # one value: the rest of the batch's state is sound
        return damaged(path, str(exc))
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return (f"{path} is not a usable journal ({exc}): to start the batch afresh, paying for every shot again, "
                "move it and the videos out of the folder")
    return f"cannot use the journal {path} ({exc}); mend that and run again: the batch's state is kept in it"


#: the SQLite types a value of a column of each declared type may have (SQLite keeps any type in any column), and
#: the Python types sqlite3 reads them as
_TYPES = {"TEXT": ("text",), "INTEGER": ("integer",), "REAL": ("real", "integer")}
_READ_AS: dict[str, type] = {"text": str, "integer": int, "real": float, "null": type(None)}


def damaged_value(db: sqlite3.Connection, states: Sequence[str]) -> str | None:
    """What the first row holding a value batchvid never writes holds, or None: a state that is none of `states`,
    or a value of a type its column never takes. Bytes damaged where SQLite's own checks do not look; a state
    read as none of the known ones would otherwise make a paid shot look new, and send it again."""
    allowed: list[tuple[str, tuple[str, ...]]] = []
    for _, column, declared, not_null, _, key in db.execute("PRAGMA table_info(shots)"):
        types = _TYPES.get(str(declared).upper(), ())
        allowed.append((str(column), types + ("null",) if types and not (not_null or key) else types))
    checks = [f"typeof({column}) NOT IN ({', '.join(map(repr, types))})" for column, types in allowed if types]
    found = db.execute(f"SELECT * FROM shots WHERE state NOT IN ({', '.join('?' * len(states))}) OR "
                       f"{' OR '.join(checks)} LIMIT 1", tuple(states)).fetchone()
    if found is None:
        return None
    row = {column: value for (column, _), value in zip(allowed, found, strict=True)}
    bad = "state" if row.get("state") not in states else next(
        column for column, types in allowed
        if types and not isinstance(row[column], tuple(_READ_AS[kind] for kind in types)))
    shot, value = (one_line(repr(shown), 60) for shown in (row.get("id"), row[bad]))
    return f"shot {shot} has {bad} {value}, which batchvid never writes"


def damaged(path: Path, what: str) -> str:
    """A journal with a damaged value: the rest of the batch's state is sound, and says what was paid for."""
    return (f"{path} is damaged ({what}): set that value right with an SQLite tool; or, to start the batch afresh, "
            "paying for every shot again, move it and the videos out of the folder")


def not_text(exc: sqlite3.DatabaseError | UnicodeDecodeError) -> bool:
    """Whether a value the journal keeps as text was found not to be UTF-8: bytes damaged where SQLite's own checks
    do not look (sqlite3 says so with an OperationalError, as it says a locked or failing disk)."""
    return isinstance(exc, UnicodeDecodeError) or str(exc).startswith("Could not decode to UTF-8")


def _read_only(what: str) -> str:
    return (f"{what} is read-only, and the batch's state must be kept in it: make it writable (chmod u+w) to "
            "continue; `batchvid status` reads it as it is")


def _refuse_newer(path: Path, version: str, to: str) -> None:
    if int(version) > SCHEMA_VERSION:
        raise FatalError(f"{path} was written by a newer batchvid (journal version {version}); upgrade batchvid "
                         f"to {to}")


@contextlib.contextmanager
def _closed_on_error(db: sqlite3.Connection) -> Iterator[None]:
    """A connection that could not be set up is closed at once, not left to the garbage collector."""
    try:
        yield
    except BaseException:
        db.close()
        raise


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    if db.in_transaction:
        db.execute("COMMIT")  # changes gathered by update() go first
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
