"""Where a manifest's batch is written without --out, and where else an earlier run of it may have written it.

Without --out or the manifest's `run.out`, a batch goes to `out/<name>` under the working folder, as a build
tool's output does. The same manifest run from another folder would find no journal there and send every shot
again: a batch paid for twice for having typed the command in a subfolder; and so would a copy of the manifest
under a new name, for the shots it did not change. Before a run starts a batch anew, it looks in out/ under the
working folder and under each folder above the manifest (the usual ways to type the path: from the project's
root, from the manifest's own folder, from one in between) for a batch that sent these very shots.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import journal as j
from .errors import FatalError

if TYPE_CHECKING:
    from .shot import Shot

#: a rehearsal's folder is named after the real one with this added: its videos are not real
SIMULATED_SUFFIX = "-simulated"
#: batches looked in at the most, for a run to start at once however many sit in out/
MAX_LOOKED_IN = 200


def manifest_folder(manifest: Path, run_out: object, *, simulate: bool) -> Path:
    """Where a run of `manifest` writes without --out: its run.out (beside the manifest), else out/<name>."""
    folder = manifest.parent / str(run_out) if run_out else default_folder(manifest, Path(), simulate)
    # a rehearsal's videos are not real: they must not sit where the real run will look for finished shots
    return folder.with_name(folder.name + SIMULATED_SUFFIX) if simulate and run_out else folder


def default_folder(manifest: Path, working: Path, simulate: bool) -> Path:
    """`working/out/<name>`: where a run of `manifest` typed in the folder `working` writes by default."""
    return working / "out" / (manifest.stem + (SIMULATED_SUFFIX if simulate else ""))


def batches_near(manifest: Path, instead_of: Path) -> list[Path]:
    """The folders with a journal in out/ under the working folder and under each folder above the manifest (or its
    own): where a run of it typed elsewhere, or of a copy of it under another name, wrote by default. Those of the
    manifest's own name first, then the nearest first; never `instead_of`, the folder this run writes to."""
    here = os.path.realpath(instead_of)
    found: list[Path] = []
    for working in dict.fromkeys([Path.cwd(), *Path(os.path.realpath(manifest)).parents]):
        try:
            entries = sorted(entry.name for entry in os.scandir(working / "out") if entry.is_dir())
        except OSError:  # none there, or not ours to read
            continue
        found += [folder for folder in (working / "out" / name for name in entries)
                  if os.path.isfile(folder / j.FILE_NAME) and os.path.realpath(folder) != here]
    own = {manifest.stem, manifest.stem + SIMULATED_SUFFIX}
    return sorted(found, key=lambda folder: folder.name not in own)[:MAX_LOOKED_IN]


@dataclass(frozen=True)
class Elsewhere:
    """An earlier batch of these shots in another folder: where, and how many of its shots it sent and finished."""

    folder: Path
    sent: int
    done: int

    def said(self, manifest: Path, out: Path, simulate: bool) -> str:
        again = "send them again" if simulate else "pay for them again"
        went = f"{manifest}: {self.sent} of its shots were sent, with the same requests, "
        if self.folder.name == out.name:  # its own folder, made by a run typed in another working folder
            working = self.folder.parent.parent
            return (f"{went}by a run from {working}, into {self.folder} ({self.done} done); run from here, it would "
                    f"start the batch anew in {out} and {again}. Run it from {working}, or give --out "
                    f"{shlex.quote(str(self.folder))} to go on with that batch (--out {shlex.quote(str(out))} starts "
                    "a new one)")
        return (f"{went}into {self.folder} ({self.done} done), by a run of a manifest of another name; a run into "
                f"{out} would {again}. Give --out {shlex.quote(str(self.folder))} to go on in that batch (its other "
                f"shots are left as they are), or --out {shlex.quote(str(out))} to start a new one anyway")


def sent_elsewhere(manifest: Path, shots: Sequence[Shot], out: Path, simulate: bool) -> Elsewhere | None:
    """The first earlier batch (batches_near's order) of the same kind, real or rehearsed, that sent at least one of
    these very shots (same id, same request); None when there is none (or none that can be read)."""
    folders = batches_near(manifest, out)
    wanted = {shot.id: shot.fingerprint() for shot in shots} if folders else {}
    kind = j.SIMULATOR if simulate else j.GATEWAY
    for folder in folders:
        try:
            with j.Journal(folder / j.FILE_NAME, read_only=True) as journal:
                if journal.meta(j.ORIGIN_KEY) != kind:
                    continue
                rows = [row for row in journal.rows_by_id(wanted)
                        if row.fingerprint == wanted[row.id] and row.state != j.PENDING]
        except (FatalError, sqlite3.Error, OSError):  # damaged, or not ours to read: it cannot say, so it does not
            continue
        if rows:
            return Elsewhere(folder, len(rows), sum(row.state == j.DONE for row in rows))
    return None
