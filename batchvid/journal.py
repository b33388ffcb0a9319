"""The journal: one SQLite file in the output folder, the truth about every shot.

States (DESIGN.md):  pending -> submitting -> submitted(task_id) -> downloading -> done
                     and failed(reason), uncertain
`submitting` is committed before the POST is sent and the task id the moment it arrives, so a
kill -9 at any instant leaves a state the next run can act on without paying twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeGuard

from . import journalfile, polling
from .errors import FatalError, is_text, whole, without_secrets

FILE_NAME = "journal.sqlite"

PENDING, SUBMITTING, SUBMITTED, DOWNLOADING, DONE, FAILED, UNCERTAIN = STATES = (
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
#: how the error of a task in flight starts when a run gave up waiting for it (--deadline-minutes, counted from its
#: submit in whichever run: a run after it waits again only with a larger deadline)
TIMED_OUT = "timed out waiting for task "
#: the end of a pending shot's reason when its task failed for the provider's trouble and a new one is on its way (a
#: stop before that submit leaves it so: the next run sends it)
SENT_AGAIN = "a new task is due (a failed task is not charged)"
#: how the error of a shot held back by --max-cost starts: the next step is a higher cap, not the same command
OVER_BUDGET = "not submitted: would take the batch past --max-cost"


def rendered(row: Row) -> bool:
    """Whether the shot's task succeeded at the gateway, and so was charged, whether its video came in or not."""
    return row.state in (DONE, DOWNLOADING) or (row.state == FAILED and (row.error or "").startswith(VIDEO_REFUSED))


def amount(row: Row, column: str) -> Decimal:
    """A money column of a row (0 where empty). A journal edited by hand, or damaged, may hold one that is no
    amount: that stops with where it is, not with a crash."""
    text = getattr(row, column)
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise FatalError(f"the journal's {column} of shot {row.id!r} is {text!r}, which is no amount: the journal was "
                         "edited or is damaged; set that value right (or empty) with an SQLite tool, then run again")
    return value


def bill_ratios(rows: Iterable[Row]) -> dict[str, Decimal]:
    """Per model, the highest bill over its estimate that the gateway reported, where above 1 (an account's group
    ratio, a price above the table's): what later shots of the model will likely cost, beyond their estimates."""
    ratios: dict[str, Decimal] = {}
    for row in rows:
        estimate = amount(row, "estimated_usd")
        if row.billed_usd and estimate > 0:
            ratio = amount(row, "billed_usd") / estimate
            if ratio > ratios.get(row.model, Decimal(1)):
                ratios[row.model] = ratio
    return ratios


def usable_task_id(value: object) -> TypeGuard[str]:
    """A task id the journal keeps and polls go to: text of a sane length, without NUL or half a character, and not only
    dots (`..` as a URL path segment would poll, and fail, another path)."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_TASK_ID and "\x00" not in value and bool(value.strip("."))
            and is_text(value))

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
    #: the shot's prompt as the manifest gave it, so that a version kept as `<id>@1` still says what it showed
    #: (the API key, were a prompt to hold it, as ***); None for rows older than this column
    prompt: str | None = None
    #: what was sent for the shot, as shot.Shot.record() writes it (images as digests, URLs without their queries),
    #: so that every version says how it was made (a seed, an aspect ratio, which image); None for older rows
    request: str | None = None


#: the shots table's columns, in Row's order (one list, so the two cannot drift apart)
COLUMNS = tuple(f.name for f in fields(Row))
_row_values = operator.attrgetter(*COLUMNS)  # a row's values in COLUMNS order, as a tuple


#: between a shot's id and the number of an earlier version; never in a shot id (ids are [A-Za-z0-9._-])
EARLIER = "@"

#: journal meta: which made the folder's results, the simulator (--simulate) or a gateway; never mixed
ORIGIN_KEY = "origin"
SIMULATOR, GATEWAY = "simulator", "gateway"
#: journal meta: how many of the manifest's shots the latest run left out with --only and no run ever planned
#: (absent when none): `status` counts the journal's rows, which would otherwise pass for the whole batch
UNPLANNED_KEY = "unplanned"


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
        self.db = journalfile.connect_read_only(path) if read_only else journalfile.connect(path)
        try:
            self._select = f"SELECT {_select_list(self.db)} FROM shots"
            damage = journalfile.damaged_value(self.db, STATES)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # damage in the tables' description or rows
            self.db.close()
            raise FatalError(journalfile.unusable(path, exc)) from None
        if damage is not None:
            self.db.close()
            raise FatalError(journalfile.damaged(path, damage))
        self._changed_ids: set[str] = set()  # rows changed since take_changed() last asked (the live ledger)

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
        if isinstance(error, sqlite3.DatabaseError) and (not isinstance(error, sqlite3.OperationalError)
                                                         or journalfile.not_text(error)):
            # found damaged past its first page, only as rows were read or written: said as at opening
            raise FatalError(journalfile.unusable(self.path, error)) from None

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
            values["error"] = whole(without_secrets(error))
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
        with journalfile.transaction(self.db):
            if value is None:
                self.db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def commit(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def insert_many(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        with journalfile.transaction(self.db):
            self.db.executemany(
                f"INSERT OR REPLACE INTO shots ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [_row_values(row) for row in rows],
            )
        self._changed_ids.update(row.id for row in rows)

    def video_sizes(self) -> dict[str | None, tuple[int, int, int]]:
        """What the folder's videos so far weigh: resolution -> (bytes, seconds of video, videos)."""
        return {resolution: (size, seconds, count) for resolution, size, seconds, count in self.db.execute(
            "SELECT resolution, SUM(bytes), SUM(seconds), COUNT(*) FROM shots "
            "WHERE state = ? AND bytes > 0 AND seconds > 0 GROUP BY resolution", (DONE,))}

    def render_times(self) -> polling.RenderTimes:
        """Render times learned by earlier runs, for adaptive polling; a damaged one (a value of a type never written)
        is passed over: they only tune when tasks are polled."""
        times = polling.RenderTimes()
        for model, resolution, seconds, render_s in self.db.execute(
            "SELECT model, resolution, seconds, render_s FROM render_times WHERE typeof(model) = 'text' AND "
            "typeof(resolution) = 'text' AND typeof(seconds) = 'integer' AND typeof(render_s) IN ('real', 'integer') "
            "ORDER BY rowid DESC LIMIT 5000"
        ):
            times.add((model, resolution, seconds), render_s)
        return times

    def add_render_times(self, rows: Iterable[tuple[str, str, int, float]]) -> None:
        with journalfile.transaction(self.db):
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


def _select_list(db: sqlite3.Connection) -> str:
    """The shots table's columns in Row's order, for a SELECT: a column that an older journal lacks reads as NULL
    (a read-only look at one cannot add it)."""
    present = journalfile.shot_columns(db)
    return ", ".join(column if column in present else f"NULL AS {column}" for column in COLUMNS)


@functools.cache
def _update_sql(columns: tuple[str, ...]) -> str:
    return f"UPDATE shots SET {', '.join(f'{column}=?' for column in columns)} WHERE id=?"
