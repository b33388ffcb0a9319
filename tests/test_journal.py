"""The journal: changes reach the file only with commit() (this process reads them at once); a journal still
being made is said to be so."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import sqlite_db

from batchvid import journal as j
from batchvid import journalfile
from batchvid.errors import FatalError


def on_disk(path: Path) -> tuple[str, int, str | None]:
    with sqlite_db(path) as other:
        return other.execute("SELECT state, attempts, error FROM shots WHERE id='a'").fetchone()


def test_changes_are_written_only_by_commit_and_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / j.FILE_NAME
    with j.Journal(path) as journal:
        journal.insert_many([j.Row(id="a", fingerprint="f", model="m", state=j.PENDING, position=0)])
        journal.mark_submitting("a")
        journal.update("a", state=j.SUBMITTED, task_id="t-1")
        assert on_disk(path) == ("pending", 0, None)  # nothing written yet
        seen = journal.row("a")
        assert seen is not None and (seen.state, seen.task_id, seen.attempts) == ("submitted", "t-1", 1)
        assert [(r.state, r.attempts) for r in journal.rows()] == [("submitted", 1)]
        journal.commit()
        assert on_disk(path) == ("submitted", 1, None)
        journal.commit()  # nothing pending: nothing happens
        assert on_disk(path) == ("submitted", 1, None)



def test_a_journal_from_before_a_column_was_added_is_read_as_it_is_and_brought_up_to_date_by_a_run(
        tmp_path: Path) -> None:
    """A journal an older batchvid made lacks the later columns (journal.ADDED_COLUMNS): a look reads them as empty
    and changes nothing; a run adds them, keeping every row."""
    path = tmp_path / j.FILE_NAME
    j.Journal(path).close()
    with sqlite_db(path) as db:  # as batchvid made it before the gateway column
        db.execute("ALTER TABLE shots DROP COLUMN gateway")
        db.execute("INSERT INTO shots (id, fingerprint, model, state, task_id, position) "
                   "VALUES ('a', 'f', 'm', 'submitted', 't-1', 0)")
    columns = "SELECT name FROM pragma_table_info('shots')"
    with j.Journal(path, read_only=True) as looking:
        assert [(r.id, r.task_id, r.gateway) for r in looking.rows()] == [("a", "t-1", None)]
        assert looking.row("a") == looking.rows_by_id(["a"])[0] == looking.rows()[0]
    with sqlite_db(path) as db:
        assert "gateway" not in {name for (name,) in db.execute(columns)}
    with j.Journal(path) as journal:
        journal.update("a", gateway="https://gw.example")
    with sqlite_db(path) as db:
        assert db.execute("SELECT task_id, gateway FROM shots").fetchall() == [("t-1", "https://gw.example")]


def test_a_journal_being_created_is_said_so_when_read(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / j.FILE_NAME).close()  # the file a starting run has made, its tables not yet
    with pytest.raises(FatalError, match="has no batchvid tables yet: if a run has just started, try again"):
        j.Journal(tmp_path / j.FILE_NAME, read_only=True)
    (tmp_path / "other.sqlite").write_bytes(b"not a database at all, just bytes" * 100)
    with pytest.raises(FatalError, match="is not a readable journal"):
        j.Journal(tmp_path / "other.sqlite", read_only=True)


@pytest.mark.parametrize(("content", "read_only"), [("newer", False), ("newer", True), ("not a database", False),
                                                   ("not a database", True), ("no tables", True)])
def test_a_refused_journal_leaves_no_connection_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     content: str, read_only: bool) -> None:
    """Python 3.13 warns of a connection left to the garbage collector (and filterwarnings=error fails on it)."""
    path = tmp_path / j.FILE_NAME
    if content == "newer":
        j.Journal(path).close()
        with sqlite_db(path) as db:
            db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    elif content == "not a database":
        path.write_bytes(b"not a database at all, just bytes" * 100)
    else:
        sqlite3.connect(path).close()
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **options: Any) -> sqlite3.Connection:
        opened.append(real_connect(*args, **options))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", connect)
    with pytest.raises(FatalError):
        j.Journal(path, read_only=read_only)
    assert opened
    for db in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            db.execute("SELECT 1")


def test_only_a_damaged_journal_is_called_unusable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving the journal away loses what the batch paid for: that advice is for a damaged file alone, not for a full
    disk (seen on a 64 KB tmpfs) or a permission."""
    path = tmp_path / j.FILE_NAME
    for name, text, said in [
        ("SQLITE_FULL", "database or disk is full",
         f"cannot use the journal {path} (database or disk is full); mend that and run again: the batch's state is "
         "kept in it"),
        ("SQLITE_READONLY_DBMOVED", "attempt to write a readonly database",
         f"{path} (or its -wal or -shm file) is read-only, and the batch's state must be kept in it"),
        ("SQLITE_NOTADB", "file is not a database",
         f"{path} is not a usable journal (file is not a database): to start the batch afresh, paying for every "
         "shot again, move it and the videos out of the folder"),
    ]:
        def failing(*args: Any, error_name: str = name, message: str = text, **options: Any) -> sqlite3.Connection:
            error = sqlite3.OperationalError(message)
            error.sqlite_errorname = error_name
            raise error

        monkeypatch.setattr(sqlite3, "connect", failing)
        with pytest.raises(FatalError) as raised:
            j.Journal(path)
        assert str(raised.value).startswith(said)


def test_each_commit_is_synced_so_a_power_cut_cannot_undo_a_submit(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL survives a killed process, but a power cut or a crash of the machine may roll back
    the commits since the last checkpoint: a `submitting` row whose POST had left would be pending again, and the
    shot sent and paid for twice. FULL syncs each commit (SQLite's pragma documentation: 2 is FULL)."""
    with j.Journal(tmp_path / j.FILE_NAME) as journal:
        assert journal.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert journal.db.execute("PRAGMA synchronous").fetchone() == (2,)


def test_a_file_system_without_shared_memory_keeps_a_rollback_journal(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """On some FUSE and network file systems SQLite's WAL cannot map its index (SQLITE_IOERR_SHMOPEN, seen on a
    fusefat mount): the journal falls back to a rollback journal there."""
    real = journalfile._set_up

    def no_shared_memory(db: sqlite3.Connection, path: Path, *, wal: bool) -> sqlite3.Connection:
        if wal:  # what the attempt leaves: the file switched to WAL, its first write refused
            db.execute("PRAGMA journal_mode=WAL")
            db.close()
            refused = sqlite3.OperationalError("disk I/O error")
            refused.sqlite_errorname = "SQLITE_IOERR_SHMOPEN"
            raise refused
        return real(db, path, wal=wal)

    monkeypatch.setattr(journalfile, "_set_up", no_shared_memory)
    path = tmp_path / j.FILE_NAME
    for state in (j.PENDING, j.DONE):  # a new journal, then the same one opened again
        with j.Journal(path) as journal:
            assert journal.db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            assert journal.db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL, as in WAL mode
            journal.insert_many([j.Row(id="a", fingerprint="f", model="m", state=state, position=0)])
        assert on_disk(path)[0] == state
    assert not path.with_name(j.FILE_NAME + "-wal").exists()


def test_other_failures_to_open_are_not_taken_for_a_file_system_without_shared_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(db: sqlite3.Connection, path: Path, *, wal: bool) -> sqlite3.Connection:
        db.close()
        refused = sqlite3.OperationalError("disk I/O error")
        refused.sqlite_errorname = "SQLITE_IOERR_WRITE"
        raise refused

    monkeypatch.setattr(journalfile, "_set_up", failing)
    with pytest.raises(FatalError, match="cannot use the journal .* mend that and run again"):
        j.Journal(tmp_path / j.FILE_NAME)
