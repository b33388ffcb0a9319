"""The run's live ledger: rewritten every few seconds by formatting only the rows that changed, yet always the
same file as a ledger made afresh from the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchvid import journal as j
from batchvid import ledger


def fresh(journal: j.Journal) -> str:
    return ledger.render(journal.rows())


def test_the_live_ledger_is_the_ledger_made_afresh_after_every_change(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with j.Journal(tmp_path / j.FILE_NAME) as journal:
        journal.insert_many([j.Row(id=f"s{i}", fingerprint="f", model="sora-2", state=j.PENDING, position=i,
                                   estimated_usd="0.40") for i in (2, 0, 1)])
        live = ledger.LiveLedger(journal, tmp_path)
        path = live.write()
        assert path.read_text(encoding="utf-8") == fresh(journal)
        assert path.read_text(encoding="utf-8").splitlines()[1].startswith("s0,")  # the journal's order

        read: list[set[str]] = []
        by_id = journal.rows_by_id
        monkeypatch.setattr(journal, "rows_by_id", lambda ids: read.append(set(ids)) or by_id(ids))

        journal.mark_submitting("s1")
        journal.update("s1", state=j.SUBMITTED, task_id="task-1")
        # a value the CSV must quote: commas, quotes and a line break inside one cell
        journal.update("s2", state=j.FAILED, error='rejected: "prompt", line 1\nand 2')
        assert live.write().read_text(encoding="utf-8") == fresh(journal)
        assert read == [{"s1", "s2"}]  # only the rows that changed were read and formatted again

        assert live.write().read_text(encoding="utf-8") == fresh(journal)  # nothing changed: nothing read
        assert read == [{"s1", "s2"}, set()]

        # a new row (an earlier version kept by the plan) takes its place from the journal: all is read again
        journal.insert_many([j.Row(id="s1@1", fingerprint="g", model="sora-2", state=j.DONE, position=1)])
        journal.update("s0", state=j.UNCERTAIN)
        assert live.write().read_text(encoding="utf-8") == fresh(journal)
        assert len(read) == 2


def test_the_live_ledger_writes_a_missing_file_again(tmp_path: Path) -> None:
    with j.Journal(tmp_path / j.FILE_NAME) as journal:
        journal.insert_many([j.Row(id="a", fingerprint="f", model="sora-2", state=j.PENDING, position=0)])
        live = ledger.LiveLedger(journal, tmp_path)
        live.write().unlink()
        assert live.write().read_text(encoding="utf-8") == fresh(journal)


def test_the_spend_line_counts_billing_reports_among_the_rendered_shots_only() -> None:
    def row(shot_id: str, state: str, estimated: str | None, billed: str | None) -> j.Row:
        return j.Row(id=shot_id, fingerprint="f", model="m", state=state, estimated_usd=estimated, billed_usd=billed)

    rows = [
        row("wan", j.DONE, "0.50", "0.50"),
        row("sora", j.DONE, "0.80", None),  # Sora's answers carry no billing
        row("fetching", j.DOWNLOADING, "0.25", "0.30"),  # rendered, so charged, though its video is not in yet
        row("new-model", j.DONE, None, "1.00"),
        row("refused", j.FAILED, "0.40", "0"),  # the gateway's 0 for a failed task is no report on a rendered shot
        row("waiting", j.SUBMITTED, "0.40", None),
    ]
    # the task still rendering is charged as it finishes: said apart, not among the shots rendered
    assert ledger.spend_line(rows) == ("estimated $1.55 for the 4 shots rendered (1 with no known price), "
                                       "billed $1.80 as the gateway reported it for 3 of them; 1 task still at the "
                                       "gateway, estimated $0.40 more, charged as it renders")
    assert ledger.spend_line(rows[-2:-1]) == "no shot rendered, nothing billed"
    assert ledger.spend_line([*rows[-2:], row("new", j.SUBMITTED, None, None)]) == (
        "no shot rendered, nothing billed; 2 tasks still at the gateway, estimated $0.40 more (1 with no known "
        "price), charged as they render")
    # Sora and Vidu answers say nothing of billing: "billed $0.00 ... for 0 of them" would read as free
    assert ledger.spend_line(rows[1:2]) == ("estimated $0.80 for the 1 shot rendered, "
                                            "no bill in the gateway's answers")
