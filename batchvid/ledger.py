"""ledger.csv, rebuilt from the journal and replaced atomically, so it is never out of step."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal
from pathlib import Path

from .journal import Journal, Row

FILE_NAME = "ledger.csv"
HEADER = (
    "shot_id", "model", "status", "task_id", "seconds", "resolution", "estimated_usd", "billed_usd",
    "price_source", "output", "bytes", "sha256", "error", "submitted_at", "finished_at", "attempts",
)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _line(row: Row) -> list[str]:
    estimated = "unknown" if row.estimated_usd is None else row.estimated_usd
    values = (
        row.id, row.model, row.state, row.task_id, row.seconds, row.resolution, estimated, row.billed_usd,
        row.price_source, row.output, row.bytes, row.sha256, row.error, row.submitted_at, row.finished_at,
        row.attempts,
    )
    return [_cell(value) for value in values]


def render(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(_line(row) for row in rows)
    return buffer.getvalue()


def write(journal: Journal, out: Path, rows: list[Row] | None = None) -> Path:
    """Rewrite the ledger from the journal (`rows`: every row of it, when the caller has them already)."""
    path = out / FILE_NAME
    temporary = out / f".{FILE_NAME}.tmp"
    temporary.write_text(render(journal.rows() if rows is None else rows), encoding="utf-8")
    os.replace(temporary, path)
    return path


def spend(rows: list[Row]) -> tuple[Decimal, Decimal]:
    """(billed by the gateway, estimated) over finished shots."""
    billed = sum((Decimal(r.billed_usd) for r in rows if r.billed_usd), Decimal(0))
    estimated = sum(
        (Decimal(r.estimated_usd) for r in rows if r.estimated_usd and r.state in ("done", "downloading")),
        Decimal(0),
    )
    return billed, estimated
