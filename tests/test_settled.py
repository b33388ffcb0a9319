"""Resuming a settled batch: answered from the journal while nothing changed, the full path otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RUN, MANIFESTS

import batchvid
from batchvid import journal, settled, validate

Run = Callable[..., tuple[int, str, str]]
Sim = Callable[..., Any]

MANIFEST = """\
version: 1
shots:
  - id: still
    model: wan2.5-i2v-preview
    prompt: ${SHOT_PROMPT}
    image: images/hero.png
  - id: words
    model: wan2.5-t2v-preview
    prompt: A lantern festival over a river
"""


@pytest.fixture
def batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "images").mkdir()
    shutil.copy(MANIFESTS / "images" / "hero.png", tmp_path / "images" / "hero.png")
    monkeypatch.setenv("SHOT_PROMPT", "A kitten opens its eyes")
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every manifest the full path parses, in order."""
    seen: list[Path] = []
    real = validate.load_batch

    def counting(path: Path) -> validate.Batch:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(validate, "load_batch", counting)
    return seen


def test_a_settled_batch_is_answered_from_the_journal(simulator: Sim, run_batch: Run, batch: Path,
                                                      parsed: list[Path], tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(batch, sim)[0] == 0 and len(parsed) == 1
    (tmp_path / "out" / "ledger.csv").unlink()
    code, out, err = run_batch(batch, sim)
    assert code == 0 and err.startswith("plan: 2 done") and "2 done" in out
    assert len(parsed) == 1  # not parsed again
    assert (tmp_path / "out" / "ledger.csv").read_text().count("\n") == 3  # the ledger is rewritten all the same
    assert len(sim.record.created()) == 2


def test_a_settled_batch_is_answered_without_the_manifest_or_network_stack(simulator: Sim, run_batch: Run,
                                                                          batch: Path, tmp_path: Path) -> None:
    """What a settled answer imports is its time: asyncio alone was 50 ms of a 0.3 s answer. In a fresh process, as a
    user's command is."""
    sim = simulator()
    assert run_batch(batch, sim)[0] == 0
    command = [sys.executable, "-c", "import sys; from batchvid.cli import main; code = main(sys.argv[1:]); "
               "print(sorted(m for m in ('asyncio', 'aiohttp', 'yaml', 'jsonschema') if m in sys.modules)); "
               "sys.exit(code)", "run", str(batch), "--base-url", sim.base_url, "--out", str(tmp_path / "out"),
               *FAST_RUN]
    # the batchvid this test imports, installed or not: the settled record holds its code's stamp, and another copy
    # (the source tree, first on the path of a process started in it) would take the full path
    here = str(Path(batchvid.__file__).resolve().parent.parent)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": here})
    assert done.returncode == 0 and done.stderr.startswith("plan: 2 done"), done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_the_ledger_is_written_again_only_when_its_file_changed(simulator: Sim, run_batch: Run, batch: Path,
                                                                parsed: list[Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """It is derived from the journal: the same file, untouched since the settled run, is right as it is. Rendered
    only to be compared, it was a third of a 10,000-shot resume."""
    from batchvid import ledger

    sim = simulator()
    assert run_batch(batch, sim)[0] == 0
    path = tmp_path / "out" / "ledger.csv"
    rendered = 0
    real = ledger.render

    def counting(rows: list[journal.Row]) -> str:
        nonlocal rendered
        rendered += 1
        return real(rows)

    monkeypatch.setattr(ledger, "render", counting)
    right = path.read_bytes()
    for change in ("none", "edited", "none", "deleted", "none"):
        if change == "edited":  # by hand, in a spreadsheet: the next resume puts it right
            path.write_bytes(right.replace(b"wan2.5", b"WAN 2.5"))
        elif change == "deleted":
            path.unlink()
        before = rendered
        code, out, err = run_batch(batch, sim)
        assert code == 0 and err.startswith("plan: 2 done") and "2 done" in out and path.read_bytes() == right
        assert rendered == before + (change != "none"), change
    assert len(parsed) == 1 and len(sim.record.created()) == 2  # every resume answered from the journal


@pytest.mark.skipif(os.path.supports_unicode_filenames, reason="a file system whose names are text, not bytes")
def test_a_batch_in_a_folder_whose_name_is_no_utf8_is_settled_too(simulator: Sim, cli: Run, batch: Path,
                                                                 parsed: list[Path], tmp_path: Path) -> None:
    """Its image's path went into the record's digest as text, and crashed the run once every shot was done."""
    folder = tmp_path / "caf\udce9"  # b"caf\xe9": a name given in Latin-1
    folder.mkdir()
    shutil.move(tmp_path / "images", folder / "images")
    manifest = shutil.move(batch, folder / "m.yaml")
    sim = simulator()
    for _ in range(2):
        code, out, err = cli("run", manifest, "--base-url", sim.base_url, "--out", folder / "out", *FAST_RUN)
        assert code == 0 and "2 done" in out, err
    assert len(parsed) == 1 and len(sim.record.created()) == 2  # the second run answered from the journal


@pytest.mark.parametrize("change", ["image touched", "env changed", "manifest edited", "video deleted",
                                    "other prices", "retry failed", "another batchvid"])
def test_any_change_takes_the_full_path(simulator: Sim, run_batch: Run, batch: Path, parsed: list[Path],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    sim = simulator()
    prices = tmp_path / "prices.yaml"
    prices.write_text("group_ratio: \"1\"\n", encoding="utf-8")
    flags = ["--prices", str(prices)]
    assert run_batch(batch, sim, *flags)[0] == 0
    assert run_batch(batch, sim, *flags)[0] == 0 and len(parsed) == 1  # settled: the shortcut
    expect = "plan: 2 done"
    if change == "image touched":
        image = tmp_path / "images" / "hero.png"
        os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    elif change == "env changed":
        monkeypatch.setenv("SHOT_PROMPT", "A kitten closes its eyes")
        expect = "plan: 1 changed, 1 done"
    elif change == "manifest edited":
        batch.write_text(MANIFEST + "# a comment\n", encoding="utf-8")
    elif change == "video deleted":
        (tmp_path / "out" / "words.mp4").unlink()
        expect = "plan: 1 done, 1 download"
    elif change == "other prices":
        prices.write_text("group_ratio: \"1\"  # checked\n", encoding="utf-8")
    elif change == "retry failed":
        flags.append("--retry-failed")
    elif change == "another batchvid":
        monkeypatch.setattr(settled, "code_stamp", lambda: b"another build")
    code, _, err = run_batch(batch, sim, *flags)
    assert code == 0 and err.startswith(expect), err
    assert len(parsed) == 2  # the full path
    assert (tmp_path / "out" / "words.mp4").is_file() and (tmp_path / "out" / "still.mp4").is_file()
    if change != "retry failed":  # settled again: the next run takes the shortcut
        assert run_batch(batch, sim, *flags)[0] == 0 and len(parsed) == 2


def test_an_unsettled_batch_keeps_no_record(simulator: Sim, run_batch: Run, batch: Path, tmp_path: Path) -> None:
    sim = simulator()
    assert run_batch(batch, sim)[0] == 0
    db = journal.Journal(tmp_path / "out" / journal.FILE_NAME)
    assert db.meta(settled.META_KEY) is not None
    db.close()
    # a render that outlasts the deadline: the task stays in flight, so there is no settled record any more
    slow = simulator(render_seconds=(30.0, 30.0))
    code, _, _ = run_batch(batch, slow, "--force", "still", "--deadline-minutes", "0.005")
    assert code == 1
    db = journal.Journal(tmp_path / "out" / journal.FILE_NAME)
    assert db.meta(settled.META_KEY) is None
    assert {row.id: row.state for row in db.rows()}["still"] == "submitted"
    db.close()


def test_the_record_holds_no_secret(simulator: Sim, run_batch: Run, batch: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOT_PROMPT", "sk-live-" + "9" * 24)  # whatever a manifest names may be a secret
    assert run_batch(batch, simulator())[0] == 0
    db = journal.Journal(tmp_path / "out" / journal.FILE_NAME)
    record = db.meta(settled.META_KEY) or ""
    db.close()
    assert '"ids":["still","words"]' in record and "sk-live-" not in record


def test_the_code_stamp_covers_the_schemas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchvid.packaged import schema_folder

    copy = tmp_path / "schemas"
    copy.mkdir()
    for entry in schema_folder().iterdir():  # a Traversable: the installed wheel's is not a plain path
        if entry.name.endswith(".json"):
            (copy / entry.name).write_bytes(entry.read_bytes())
    monkeypatch.setattr(settled, "schema_folder", lambda: copy)
    settled.code_stamp.cache_clear()
    before = settled.code_stamp()
    (copy / "sora-2.json").write_text((copy / "sora-2.json").read_text() + " ", encoding="utf-8")
    settled.code_stamp.cache_clear()
    assert settled.code_stamp() != before
    settled.code_stamp.cache_clear()


@pytest.mark.parametrize("edited", ["manifest", "image"])
def test_an_edit_made_while_the_run_goes_on_is_seen_next_time(simulator: Sim, run_batch: Run, batch: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              edited: str) -> None:
    """The record describes what the run read, not what the files hold when it ends."""
    real = validate.load_batch

    def load_then_edit(path: Path) -> validate.Batch:
        loaded = real(path)
        if edited == "manifest":
            path.write_text(MANIFEST.replace("A lantern festival", "A dragon festival"), encoding="utf-8")
        else:  # another picture under the same name, the same size, the mtime put back
            image = tmp_path / "images" / "hero.png"
            before = image.stat()
            data = bytearray(image.read_bytes())
            data[-20] ^= 0xFF
            image.write_bytes(bytes(data))
            os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))
        return loaded

    monkeypatch.setattr(validate, "load_batch", load_then_edit)
    assert run_batch(batch, simulator())[0] == 0
    monkeypatch.setattr(validate, "load_batch", real)
    code, _, err = run_batch(batch, simulator())
    assert code == 0 and err.startswith("plan: 1 changed, 1 done"), err
