"""The output folder: corrupt or newer journals, a full disk, stale locks; nothing lost, nothing sent twice."""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MANIFESTS, sqlite_db
from helpers import needs_proc, note_syncs

Run = Callable[..., tuple[int, str, str]]
Sim = Callable[..., Any]


def test_a_corrupt_journal_is_a_clear_message(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator()
    out = tmp_path / "out"
    out.mkdir()
    (out / "journal.sqlite").write_bytes(b"this is not a database" * 100)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 1 and "journal.sqlite is not a usable journal" in err and "Traceback" not in err
    assert sim.record.submissions == []
    assert (out / "journal.sqlite").read_bytes().startswith(b"this is not")  # left as it was


@pytest.mark.parametrize("flags", [(), ("--force", "wan-text"), ("--dry-run",)])  # the short path, the full, a look
def test_a_journal_damaged_past_its_first_page_is_a_clear_message(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path, flags: tuple[str, ...]) -> None:
    """Opening reads only the first page: the damage shows as the rows are read (seen on a faulty FUSE drive)."""
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    path = tmp_path / "out" / "journal.sqlite"
    with sqlite_db(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='shots'").fetchone()[0]
    damaged = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    damaged[start:start + page_size] = b"\xff" * page_size  # the shots' table; its version (meta) reads fine
    path.write_bytes(damaged)
    made = len(sim.record.submissions)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, *flags)
    assert code == 1 and err.strip().splitlines()[-1].startswith(f"batchvid: error: {path} is not a ")
    assert "malformed" in err and "unexpected" not in err and len(sim.record.submissions) == made
    code, _, err = cli("status", tmp_path / "out")
    assert code == 1 and err.startswith(f"batchvid: error: {path} is not a usable journal") and "unexpected" not in err


@pytest.mark.parametrize(("change", "said"), [
    # bytes damaged inside a row, where SQLite's own checks do not look: its text is no UTF-8
    ("UPDATE shots SET sha256 = CAST(X'ff39' AS TEXT) WHERE id='wan-text'", "is damaged (Could not decode to UTF-8 "
     "column 'sha256' with text"),
    # a state that is none of the journal's: read as none of them, a paid shot looked new, and was sent again
    ("UPDATE shots SET state = 'submittde' WHERE id='wan-text'", "is damaged (shot 'wan-text' has state 'submittde', "
     "which batchvid never writes): set that value right with an SQLite tool"),
    # a value of a type its column never holds (SQLite keeps any): a crash where it was used
    ("UPDATE shots SET attempts = 'two' WHERE id='wan-text'", "is damaged (shot 'wan-text' has attempts 'two', which"),
    ("UPDATE shots SET error = X'00ff' WHERE id='wan-text'", "is damaged (shot 'wan-text' has error b'\\x00\\xff', "
     "which"),
    # a journal edited by hand
    ("UPDATE shots SET billed_usd = 'about a dollar' WHERE id='wan-text'", "the journal's billed_usd of shot "
     "'wan-text' is 'about a dollar', which is no amount: the journal was edited or is damaged; set that value right "
     "(or empty) with an SQLite tool, then run again"),
])
def test_a_journal_whose_values_are_damaged_or_edited_is_a_clear_message(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path, change: str, said: str) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    with sqlite_db(tmp_path / "out" / "journal.sqlite") as db:
        db.execute(change)
    made = len(sim.record.submissions)
    looked, ran = cli("status", tmp_path / "out"), run_batch(MANIFESTS / "wan.yaml", sim, "--force", "kitten-eyes")
    resumed = run_batch(MANIFESTS / "wan.yaml", sim)  # the settled batch's short path reads the journal too
    for code, _, err in (looked, ran, resumed):
        assert code == 1 and said in err.strip().splitlines()[-1] and "unexpected" not in err, err
    assert len(sim.record.submissions) == made


def test_a_journal_whose_tables_description_is_damaged_is_a_clear_message(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path) -> None:
    """A damaged byte in the table's own description (SQLite keeps it as text): it crashed opening the journal."""
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    path = tmp_path / "out" / "journal.sqlite"
    data = path.read_bytes()
    where = data.index(b"updated_at TEXT")
    path.write_bytes(data[:where] + b"\xff" + data[where + 1:])
    made = len(sim.record.submissions)
    looked, ran = cli("status", tmp_path / "out"), run_batch(MANIFESTS / "wan.yaml", sim, "--force", "kitten-eyes")
    resumed = run_batch(MANIFESTS / "wan.yaml", sim)  # the settled batch's short path reads the journal too
    for code, _, err in (looked, ran, resumed):
        assert code == 1 and err.startswith(f"batchvid: error: {path} is damaged (") and "unexpected" not in err, err
    assert len(sim.record.submissions) == made


def test_a_journal_from_a_newer_batchvid_is_refused(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    with sqlite_db(tmp_path / "out" / "journal.sqlite") as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    made = len(sim.record.submissions)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, "--force", "wan-text")
    assert code == 1 and "written by a newer batchvid (journal version 99)" in err
    assert len(sim.record.submissions) == made


def test_videos_that_the_journal_does_not_know_are_neither_paid_again_nor_replaced(
        simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    """A journal moved away or lost (or an --out holding someone else's files): the shots look new, and rendering
    them would pay again and write over the videos already there."""
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    out = tmp_path / "out"
    videos = {path.name: path.read_bytes() for path in out.glob("*.mp4")}
    made = len(sim.record.submissions)
    (out / "journal.sqlite").rename(tmp_path / "journal.sqlite")
    for flags in [(), ("--dry-run",)]:
        code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, *flags)
        assert code == 2 and f"{out} has {len(videos)} video(s) that its journal has no record of (" in err
        assert err.strip().endswith("Put back the journal they came with, or move them out of the folder, or give "
                                    "another --out")
    assert len(sim.record.submissions) == made
    assert {path.name: path.read_bytes() for path in out.glob("*.mp4")} == videos
    (tmp_path / "journal.sqlite").replace(out / "journal.sqlite")  # put back: all done, nothing sent
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0 and len(sim.record.submissions) == made


@pytest.mark.parametrize("name", ["journal.sqlite", "journal.sqlite-wal"])
def test_a_read_only_journal_is_a_clear_message(simulator: Sim, run_batch: Run, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """SQLite opens it read-only without a word; the first change would then crash the run, and a read-only -wal or
    -shm file was called an unusable journal, to be moved away (which would lose the batch). (The tests run as root,
    which may write any file, so the permission is taken away where batchvid asks for it.)"""
    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    path = tmp_path / "out" / name
    path.touch()  # a -wal file is left by a run that was killed (empty: SQLite starts it afresh)
    before, made = path.read_bytes(), len(sim.record.submissions)
    access = os.access
    monkeypatch.setattr(os, "access", lambda where, mode: Path(where) != path and access(where, mode))
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, "--force", "wan-text")
    assert code == 1 and err.strip().endswith(
        f"{path} is read-only, and the batch's state must be kept in it: make it writable (chmod u+w) to continue; "
        "`batchvid status` reads it as it is")
    assert len(sim.record.submissions) == made and path.read_bytes() == before


@pytest.mark.parametrize("video_bytes", [0, 1_000_000])  # small chunks are written on the loop, large in a thread
def test_a_full_disk_keeps_the_task_for_the_next_run(simulator: Sim, run_batch: Run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, video_bytes: int) -> None:
    from batchvid import download

    sim = simulator(video_bytes=video_bytes)

    class FullDisk:
        def __init__(self, path: Path, mode: str) -> None:
            self.real = open(path, mode)  # noqa: SIM115

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    monkeypatch.setattr(download, "open", FullDisk, raising=False)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 1 and "No space left on device; the task is kept" in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*.part"))
    monkeypatch.delattr(download, "open")
    made = len(sim.record.created())
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    # a task for every shot, and only one: what the full disk stopped is made now, nothing twice (since a stop
    # also holds back a shot that was waiting for its rate-limit turn, the first run may have made fewer than 5)
    assert len(sim.record.created()) == 5 >= made


@needs_proc
def test_a_video_is_on_the_disk_before_the_journal_says_it_is_done(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal syncs its commits. A video must be synced before it is renamed into place and called done, and
    its rename too: after a power cut, a `done` row whose video never reached the disk is a paid video lost, as the
    gateway keeps it only for hours."""
    from batchvid import journal as j

    events: list[tuple[str, str]] = []
    real_replace, real_update = os.replace, j.Journal.update

    def replace(source: Any, target: Any, **options: Any) -> None:
        events.append(("renamed", str(target)))
        real_replace(source, target, **options)

    def update(self: j.Journal, shot_id: str, **values: Any) -> None:
        if values.get("state") == j.DONE:
            events.append(("done", shot_id))
        real_update(self, shot_id, **values)

    note_syncs(monkeypatch, lambda path: events.append(("synced", path)))
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(j.Journal, "update", update)
    assert run_batch(MANIFESTS / "wan.yaml", simulator())[0] == 0
    out = (tmp_path / "out").resolve()
    done = [shot for kind, shot in events if kind == "done"]
    assert len(done) == 5
    for shot in done:
        video = str(out / f"{shot}.mp4")
        renamed = events.index(("renamed", video))
        assert ("synced", video + ".part") in events[:renamed], events
        assert ("synced", str(out)) in events[renamed:events.index(("done", shot))], events


@needs_proc
def test_a_new_output_folder_and_its_journal_keep_their_names_through_a_power_cut(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A synced commit is worth nothing if the journal's own name, or its folder's, is lost with the power: each new
    folder is synced in its parent, and the journal's name in its folder, before anything is sent."""
    synced: list[str] = []
    note_syncs(monkeypatch, synced.append)
    sim = simulator()
    out = tmp_path.resolve() / "renders" / "today"
    assert run_batch(MANIFESTS / "wan.yaml", sim, "--out", out, "--only", "wan-text")[0] == 0
    first_video = synced.index(str(out / "wan-text.mp4.part"))
    assert {str(tmp_path.resolve()), str(out.parent), str(out)} <= set(synced[:first_video]), synced


def test_a_journal_that_fills_the_disk_at_the_last_commit_is_one_line_not_a_crash(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The render times learned are committed last: a disk that fills up just then is said as any other."""
    from batchvid import journal

    def full(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal.Journal, "add_render_times", full)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", simulator())
    assert code == 1 and err.strip().splitlines()[-1].startswith("batchvid: error: cannot write the journal "), err
    assert "database or disk is full; free some space and run again" in err and "unexpected" not in err


def test_a_finished_batch_resumes_on_a_disk_that_filled_up_since(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing changed, so nothing is written: the ledger as it is stays, and the resume ends well."""
    from batchvid import ledger

    sim = simulator()
    assert run_batch(MANIFESTS / "wan.yaml", sim)[0] == 0
    before = (tmp_path / "out" / "ledger.csv").read_bytes()

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ledger.os, "replace", full)
    for flags in ((), ("--retry-failed",)):  # the settled batch's short path, and the full one
        code, out, err = run_batch(MANIFESTS / "wan.yaml", sim, *flags)
        assert code == 0 and "5 done" in out and "error" not in err, err
    assert (tmp_path / "out" / "ledger.csv").read_bytes() == before


@pytest.mark.parametrize("spare", [True, False])  # room made for the ids at the start, or none could be
def test_a_journal_that_cannot_be_written_stops_the_run_and_pays_nothing_twice(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: bool) -> None:
    """Commits are not awaited after a task id comes back, so a failing one must still stop everything. The ids the
    journal could not take go to the spare file, and the next run follows them by itself; without one, they are
    printed as --adopt flags."""
    from batchvid import journal
    from batchvid.spare import Spare

    sim = simulator(render_seconds=(0.3, 0.3))
    real_commit = journal.Journal.commit

    def commit(self: journal.Journal) -> None:
        # the disk fills up as soon as the first task id is about to be committed
        if self.db.in_transaction and self.db.execute("SELECT 1 FROM shots WHERE state='submitted'").fetchone():
            raise sqlite3.OperationalError("database or disk is full")
        real_commit(self)

    monkeypatch.setattr(journal.Journal, "commit", commit)
    if not spare:
        monkeypatch.setattr(Spare, "make_room", lambda self, carried: None)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert code == 1 and "cannot write the journal" in err and "database or disk is full" in err, err
    assert "Traceback" not in err
    first_err = err
    made = {task.task_id for task in sim.record.created()}
    adopt = re.findall(r"--adopt (\S+)=(\S+)", err)
    kept = Spare(tmp_path / "out").read()
    # a shot whose `submitting` was on disk as the run stopped, its POST not sent, is kept as never sent (""): how
    # many, if any, depends on where each shot was when the disk filled up
    if spare:  # the ids the journal could not keep are beside it, and said so
        assert {task for task in kept.values() if task} <= made and any(kept.values()) and not adopt, err
        assert f"whose ids the journal could not take: they are kept in {tmp_path / 'out' / '.batchvid-spare'}" in err
    else:  # given to the user, with the way to follow those tasks
        assert adopt and {task for _, task in adopt} <= made and not kept, err
    monkeypatch.setattr(journal.Journal, "commit", real_commit)
    if spare:  # a run of the other shots alone (--only) leaves the kept ids for the run that takes them up
        with journal.Journal(tmp_path / "out" / journal.FILE_NAME) as opened:
            others = ",".join(row.id for row in opened.rows() if row.id not in kept)
        code, out, err = run_batch(MANIFESTS / "wan.yaml", sim, "--only", others)
        assert code == 0 and Spare(tmp_path / "out").read() == kept, out + err
    code, out, err = run_batch(MANIFESTS / "wan.yaml", sim)
    created = [json.dumps(s.body, sort_keys=True) for s in sim.record.created()]
    assert len(created) == len(set(created)) <= 5  # no shot was paid twice
    with journal.Journal(tmp_path / "out" / journal.FILE_NAME) as opened:
        states = {row.id: row.state for row in opened.rows()}
    if spare:  # followed: every shot done, each paid once, the spare blank again
        assert code == 0 and set(states.values()) == {"done"} and len(sim.record.created()) == 5, out + err
        assert "its id kept beside the journal, which the disk was too full to take" in err and not Spare(
            tmp_path / "out").read()
        return
    # the tasks whose ids were lost are uncertain (not resent), and so is a shot whose POST never left as the run
    # stopped, if there was one (with no spare file, nothing could say so); every other shot is done
    uncertain = {shot for shot, state in states.items() if state == "uncertain"}
    unsent = uncertain - {shot for shot, _ in adopt}  # said to be so: sent once more with --force, paid once
    assert {shot for shot, _ in adopt} <= uncertain and set(states.values()) <= {"done", "uncertain"}
    assert not unsent or f"--force {' '.join(sorted(unsent))} to send them once" in first_err, first_err
    code, out, err = run_batch(MANIFESTS / "wan.yaml", sim, *(f"--adopt={shot}={task}" for shot, task in adopt),
                               *(["--force", *sorted(unsent)] if unsent else []))
    created = [json.dumps(s.body, sort_keys=True) for s in sim.record.created()]
    assert code == 0 and len(created) == len(set(created)) == 5, out + err  # each shot paid once


class FullDisk:
    """A journal's connection whose commits fail once `full` is set, as on a disk with no room left."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.full = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self.full and sql.strip().upper() == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


@pytest.mark.parametrize("spare", [True, False])  # room made for the spare file at the start, or none could be
def test_a_shot_whose_post_never_left_before_the_journal_failed_is_not_called_uncertain(
        simulator: Sim, run_batch: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: bool) -> None:
    """Its `submitting` was on disk when the run stopped for a journal that could take no more: the change back to
    pending could not be written either. The spare file says it never left, and the next run sends it (it was left
    uncertain, for the user to guess). Without a spare file it is uncertain still, and --force sends it once."""
    from batchvid import journal, journalfile
    from batchvid.commits import GroupCommit
    from batchvid.spare import Spare

    sim = simulator()
    real_connect, real_durable = journalfile.connect, GroupCommit.durable
    disks: list[FullDisk] = []
    durables = 0

    def connect(path: Path) -> FullDisk:
        disks.append(FullDisk(real_connect(path)))
        return disks[-1]

    async def durable(self: GroupCommit) -> None:
        nonlocal durables
        await real_durable(self)
        durables += 1
        if durables == 2:  # the second shot's `submitting` is on disk: then another commit finds the disk full
            disks[-1].full = True
            self.failed(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(journalfile, "connect", connect)
    monkeypatch.setattr(GroupCommit, "durable", durable)
    if not spare:
        monkeypatch.setattr(Spare, "make_room", lambda self, carried: None)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim, "--concurrency", "1")
    assert code == 1 and "cannot write the journal" in err and len(sim.record.created()) == 1, err
    monkeypatch.setattr(GroupCommit, "durable", real_durable)
    told, err_before = "1 shot(s) whose submit never left will read as uncertain: add --force", err
    assert (told in err) is not spare, err
    with journal.Journal(tmp_path / "out" / journal.FILE_NAME, read_only=True) as opened:
        stuck = [row.id for row in opened.rows() if row.state == "submitting"]
    assert len(stuck) == 1 and Spare(tmp_path / "out").read() == ({stuck[0]: ""} if spare else {})
    code, out, err = run_batch(MANIFESTS / "wan.yaml", sim)
    plan = err.splitlines()[0]  # the first shot is done or still to download: where its download was as it stopped
    if spare:
        assert code == 0 and plan.startswith("plan: 4 new, 1 ") and "uncertain" not in plan, out + err
    else:
        assert code == 1 and plan.startswith("plan: 3 new, 1 ") and plan.endswith("1 uncertain; to submit: 3 shots, "
                                                                                  "estimated $1.17"), out + err
        assert f"{told} {stuck[0]} to send them once" in err_before
        code, out, err = run_batch(MANIFESTS / "wan.yaml", sim, "--force", stuck[0])
        assert code == 0, out + err
    assert len(sim.record.created()) == 5 and not Spare(tmp_path / "out").read()  # each shot made once
    with journal.Journal(tmp_path / "out" / journal.FILE_NAME, read_only=True) as opened:
        attempts = {row.id: row.attempts for row in opened.rows()}
    # the submit that never left is not counted (with --force, the shot's row is a new one)
    assert attempts == {shot: 1 for shot in attempts}, attempts


def test_a_batch_whose_videos_may_not_fit_on_the_disk_is_told_before_the_first_submit(
        simulator: Sim, run_batch: Run, cli: Run, tmp_path: Path, write_manifest: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A video that does not fit stops the run halfway: the note comes while stopping costs nothing. Its size is a
    rough figure for a new folder, then what the folder's own videos weigh."""
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=10_000_000))
    sim = simulator(video_bytes=3_000_000)

    def shots(prefix: str) -> str:
        return "".join(f"  - {{id: {prefix}{i}, prompt: p{i}}}\n" for i in range(4))

    manifest = write_manifest("version: 1\ndefaults: {model: wan2.5-t2v-preview, resolution: 720p, duration: 5}\n"
                              f"shots:\n{shots('s')}")
    out = tmp_path / "out"
    code, _, err = run_batch(manifest, sim, "--dry-run")
    rough = (f"note: {out} has 10.0 MB free; the 4 videos this run would fetch may need about 12.5 MB (at a rough "
             "5 Mbit/s for 720p and 10 for 1080p: this folder has no video of that resolution yet). A video "
             "that does not fit stops the run, its task kept for the next one while its link lasts (Veo's about "
             "12 h): make room first")
    assert code == 0 and err.splitlines()[1] == rough, err
    code, _, err = run_batch(manifest, sim)
    assert code == 0 and err.splitlines()[1] == rough, err  # a note: the run goes on
    # four more shots: sized as the folder's videos weigh, 3 MB for 5 s
    manifest.write_text(manifest.read_text() + shots("t"))
    code, _, err = run_batch(manifest, sim)
    assert code == 0 and err.splitlines()[1] == (
        f"note: {out} has 10.0 MB free; the 4 videos this run would fetch may need about 12.0 MB (as this folder's 4 "
        "videos so far weigh). A video that does not fit stops the run, its task kept for the next one while its "
        "link lasts (Veo's about 12 h): make room first"), err
    # two at 1080p, which the folder has no video of: 2 x 3 MB as learned, 2 x 6.25 MB as the rough figure
    manifest.write_text(manifest.read_text() + shots("u").replace("p2}", "p2, resolution: 1080p}")
                        .replace("p3}", "p3, resolution: 1080p}"))
    code, _, err = run_batch(manifest, sim, "--dry-run")
    assert code == 0 and err.splitlines()[1].startswith(
        f"note: {out} has 10.0 MB free; the 4 videos this run would fetch may need about 18.5 MB (as this folder's 8 "
        "videos so far weigh, and at a rough 5 Mbit/s for 720p and 10 for 1080p for resolutions it has none of yet)"
    ), err
    # room enough, or a rehearsal (its videos are a few kB): nothing said
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=18_600_000))
    code, _, err = run_batch(manifest, sim, "--dry-run")
    assert code == 0 and "make room" not in err and "plan: 4 new, 8 done" in err, err
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=1))
    code, _, err = cli("run", manifest, "--simulate", "--dry-run", "--out", tmp_path / "rehearsal")
    assert code == 0 and "make room" not in err, err


def test_a_stale_lock_from_a_killed_run_does_not_block(simulator: Sim, run_batch: Run, tmp_path: Path) -> None:
    sim = simulator(render_seconds=(5.0, 5.0))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "batchvid", "run", str(MANIFESTS / "wan.yaml"), "--base-url",
                             sim.base_url, "--out", str(out), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    for _ in range(100):
        if (out / ".batchvid.lock").exists() and (out / ".batchvid.lock").read_text():
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    sim.config.render_seconds = (0.05, 0.1)
    code, _, err = run_batch(MANIFESTS / "wan.yaml", sim)
    assert "another batchvid run" not in err
    assert code in (0, 1)


def test_ids_that_differ_only_in_case_are_refused_where_they_would_share_a_file(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """On macOS, Windows or a FAT drive Hero.mp4 and hero.mp4 are one file: the second video would replace the
    first, paid for (seen on a fusefat mount). Such a folder answers to JOURNAL.SQLITE as to journal.sqlite."""
    sim = simulator()
    manifest = write_manifest("version: 1\nshots:\n  - {id: Hero, model: wan2.5-t2v-preview, prompt: p}\n"
                              "  - {id: hero, model: wan2.5-t2v-preview, prompt: q}\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "JOURNAL.SQLITE").touch()  # what a case-blind file system shows once the journal is made
    code, _, err = run_batch(manifest, sim)
    assert code == 2 and "shots 'Hero' and 'hero' differ only in letter case" in err and not sim.record.submissions
    (out / "JOURNAL.SQLITE").unlink()  # a file system that tells them apart: both are made
    assert run_batch(manifest, sim)[0] == 0
    assert sorted(path.name for path in out.glob("*.mp4")) == ["Hero.mp4", "hero.mp4"]


def test_a_video_in_other_letter_case_is_the_file_systems_call(
        simulator: Sim, run_batch: Run, tmp_path: Path, write_manifest: Callable[..., Path]) -> None:
    """The plan reads the folder's names once, in lower case, for every new shot; a name found so is then looked up.
    Here, where the file system tells HERO.mp4 from hero.mp4, the stray file is not the shot's: the shot is made, and
    the file stays as it was (where the file system ignores case, the look-up finds it, and the run is refused)."""
    sim = simulator()
    manifest = write_manifest("version: 1\nshots:\n  - {id: hero, model: wan2.5-t2v-preview, prompt: p}\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "HERO.mp4").write_bytes(b"someone else's")
    assert run_batch(manifest, sim)[0] == 0
    assert (out / "HERO.mp4").read_bytes() == b"someone else's" and (out / "hero.mp4").stat().st_size > 100


def test_the_spare_file_keeps_task_ids_only_in_the_room_made_for_them(tmp_path: Path) -> None:
    from batchvid.spare import SIZE, Spare

    spare = Spare(tmp_path)
    assert spare.read() == {} and not spare.keep({"a": "task-1"})  # no room made: nothing written
    assert not spare.path.exists()
    spare.make_room({})
    assert spare.path.stat().st_size == SIZE and spare.read() == {}
    assert spare.keep({"a": "task-1"}) and spare.keep({"a": "task-1", "b": "task-2"})
    assert spare.read() == {"a": "task-1", "b": "task-2"} and spare.path.stat().st_size == SIZE  # written over
    assert not spare.keep({f"s{i}": "t" * 200 for i in range(400)})  # more than fits: not a part of them
    assert spare.read() == {"a": "task-1", "b": "task-2"}
    spare.make_room({"c": "task-3"})  # an earlier run's id for a shot this run leaves alone (--only) stays
    assert spare.read() == {"c": "task-3"} and spare.path.stat().st_size == SIZE
    assert spare.keep({"a": "task-1"}) and spare.read() == {"a": "task-1", "c": "task-3"}
    spare.make_room({})
    assert spare.read() == {}
    spare.path.write_bytes(b'{"tasks": ["not", "a", "map"]}')  # damaged: nothing to follow, no crash
    assert spare.read() == {}
