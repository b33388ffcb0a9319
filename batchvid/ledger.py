"""ledger.csv, rebuilt from the journal and replaced atomically, so it is never out of step."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal
from pathlib import Path

from . import copies
from .journal import SUBMITTED, Journal, Row, amount, rendered

FILE_NAME = "ledger.csv"
HEADER = (
    "shot_id", "model", "status", "task_id", "seconds", "resolution", "estimated_usd", "billed_usd",
    "price_source", "output", "bytes", "sha256", "error", "submitted_at", "finished_at", "attempts", "gateway",
    "prompt", "request",
)


#: what a spreadsheet takes for the start of a formula (OWASP's "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str | None) -> str | None:
    """A cell of the gateway's words (a task id, an error message), kept from being run as a formula where the
    ledger is opened in a spreadsheet: `=HYPERLINK(...)` in a refusal would otherwise be a live link there."""
    return "'" + text if text and text.startswith(_FORMULA_START) else text


def _line(row: Row) -> tuple[object, ...]:
    """The row's cells; the csv writer writes None as an empty cell and the rest as str() makes them."""
    estimated = "unknown" if row.estimated_usd is None else row.estimated_usd
    return (
        row.id, row.model, row.state, _inert(row.task_id), row.seconds, row.resolution, estimated, row.billed_usd,
        row.price_source, row.output, row.bytes, row.sha256, _inert(row.error), row.submitted_at, row.finished_at,
        row.attempts, row.gateway,  # which gateway made the task, and bills it: a family may have its own
        _inert(row.prompt),  # the manifest's words, which may come from anywhere (a prompt list made by a script)
        row.request,  # JSON: it starts with {, which no spreadsheet takes for a formula
    )


def render(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(_line(row) for row in rows)
    return buffer.getvalue()


def write(journal: Journal, out: Path, rows: list[Row] | None = None) -> Path:
    """Rewrite the ledger from the journal (`rows`: every row of it, when the caller has them already)."""
    return _replace(out, render(journal.rows() if rows is None else rows))


def _replace(out: Path, text: str) -> Path:
    path = out / FILE_NAME
    data = text.encode("utf-8")
    try:  # a resume of a finished batch writes nothing, so it also ends well on a disk that has filled up since
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    except OSError:
        pass
    temporary = out / f".{FILE_NAME}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


class LiveLedger:
    """The ledger of a run in progress, rewritten every few seconds: each rewrite formats only the rows that
    changed since the one before, so its cost follows the batch's progress, not its size (every row of a
    10,000-shot batch, formatted again every 2 s for hours, was most of the run's own work). The file is
    the same as `render(journal.rows())`, a test holds it to that."""

    def __init__(self, journal: Journal, out: Path) -> None:
        self.journal = journal
        self.out = out
        self._lines: dict[str, str] = {}  # each row's CSV line by shot id, in the journal's order
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._header = self._csv(HEADER)
        self._on_disk = False  # the file holds every line as it is now

    def write(self) -> Path:
        """Bring the file in step with the journal; nothing is written when nothing changed and it is there."""
        changed = self.journal.take_changed()
        if self._lines and changed <= self._lines.keys():
            for row in self.journal.rows_by_id(changed):  # an update never moves a row: the order stands
                self._lines[row.id] = self._format(row)
        else:  # the first write, or new rows: their place comes from the journal
            self._lines = {row.id: self._format(row) for row in self.journal.rows()}
        path = self.out / FILE_NAME
        if changed or not self._on_disk or not path.exists():
            self._on_disk = False  # until the new file is in place (a full disk may stop it)
            _replace(self.out, self._header + "".join(self._lines.values()))
            self._on_disk = True
        return path

    def _format(self, row: Row) -> str:
        return self._csv(_line(row))

    def _csv(self, cells: tuple[object, ...]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


def spend_line(rows: list[Row]) -> str:
    """What the batch cost, in words: the estimate and the gateway's own figures, over the same shots (those it
    rendered: a failed task is not charged, and a rendered one is charged whether its video is in or not)."""
    return _spent(rows) + _to_come(rows)


def _spent(rows: list[Row]) -> str:
    billed, estimated = spend(rows)
    done = [r for r in rows if rendered(r)]
    made = [r for r in done if not copies.is_copy(r)]
    copied = len(done) - len(made)
    if not made and not billed:
        return "no shot rendered, nothing billed" + (f" ({_copies(copied)})" if copied else "")
    reported = sum(1 for r in made if r.billed_usd)  # Sora's answers, for one, say nothing of billing
    unpriced = sum(1 for r in made if not r.estimated_usd)
    shots = f"{len(made)} shot{'s' * (len(made) != 1)} rendered" + (f" (and {_copies(copied)})" if copied else "")
    said = (f"billed ${billed:.2f} as the gateway reported it for {reported} of them" if reported or billed
            else "no bill in the gateway's answers")
    return (f"estimated ${estimated:.2f} for the {shots}" + (f" ({unpriced} with no known price)" if unpriced else "")
            + f", {said}")


def _to_come(rows: list[Row]) -> str:
    """The tasks a stopped run left rendering: the gateway charges them as they finish, whether a run fetches
    their videos or not, so "nothing billed" alone would read as nothing spent."""
    waiting = [r for r in rows if r.state == SUBMITTED]
    if not waiting:
        return ""
    unpriced = sum(1 for r in waiting if not r.estimated_usd)
    tasks = "1 task" if len(waiting) == 1 else f"{len(waiting)} tasks"
    return (f"; {tasks} still at the gateway, estimated ${in_flight(rows):.2f} more"
            + (f" ({unpriced} with no known price)" if unpriced else "")
            + (", charged as it renders" if len(waiting) == 1 else ", charged as they render"))


def in_flight(rows: list[Row]) -> Decimal:
    """The estimate of the tasks still at the gateway (see _to_come)."""
    return sum((amount(r, "estimated_usd") for r in rows if r.state == SUBMITTED), Decimal(0))


def _copies(count: int) -> str:
    return ("1 copy of a video" if count == 1 else f"{count} copies of videos") + " rendered before, at no cost"


def spend(rows: list[Row]) -> tuple[Decimal, Decimal]:
    """(billed by the gateway, estimated) over finished shots."""
    billed = sum((amount(r, "billed_usd") for r in rows), Decimal(0))
    estimated = sum((amount(r, "estimated_usd") for r in rows if rendered(r)), Decimal(0))
    return billed, estimated
