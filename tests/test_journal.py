"""The journal's group commit: changes reach the file only with commit(), and this process reads them at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from batchvid import journal as j


def on_disk(path: Path) -> tuple[str, int, str | None]:
    with sqlite3.connect(path) as other:
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

