"""Where a manifest's batch is written without --out, and where else an earlier run of it may have written it.

Without --out or the manifest's `run.out`, a batch goes to `out/<name>` under the working folder, as a build
tool's output does. The same manifest run from another folder would find no journal there and send every shot
again: a batch paid for twice for having typed the command in a subfolder. Before a run starts a batch anew, it
looks for the batch where that default would have put it from each folder above the manifest (the usual ways to
type the path: from the project's root, from the manifest's own folder, from one in between).
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


def manifest_folder(manifest: Path, run_out: object, *, simulate: bool) -> Path:
    """Where a run of `manifest` writes without --out: its run.out (beside the manifest), else out/<name>."""
    folder = manifest.parent / str(run_out) if run_out else default_folder(manifest, Path(), simulate)
    # a rehearsal's videos are not real: they must not sit where the real run will look for finished shots
    return folder.with_name(folder.name + SIMULATED_SUFFIX) if simulate and run_out else folder


def default_folder(manifest: Path, working: Path, simulate: bool) -> Path:
    """`working/out/<name>`: where a run of `manifest` typed in the folder `working` writes by default."""
    return working / "out" / (manifest.stem + (SIMULATED_SUFFIX if simulate else ""))


def batches_above(manifest: Path, simulate: bool, instead_of: Path) -> list[Path]:
    """The folders with a journal where a run of `manifest` typed in a folder above it (or in its own) would have
    written by default, nearest first; not `instead_of`, the folder this run writes to."""
    here = os.path.realpath(instead_of)
    found = []
    for working in Path(os.path.realpath(manifest)).parents:
        folder = default_folder(manifest, working, simulate)
        if os.path.isfile(folder / j.FILE_NAME) and os.path.realpath(folder) != here:
            found.append(folder)
    return found


@dataclass(frozen=True)
class Elsewhere:
    """An earlier batch of these shots in another folder: where, and how many of its shots it sent and finished."""

    folder: Path
    sent: int
    done: int

    def said(self, manifest: Path, out: Path, simulate: bool) -> str:
        working = self.folder.parent.parent
        again = "send them again" if simulate else "pay for them again"
        return (f"{manifest}: {self.sent} of its shots were sent by a run from {working}, into {self.folder} "
                f"({self.done} done); run from here, it would start the batch anew in {out} and {again}. Run it "
                f"from {working}, or give --out {shlex.quote(str(self.folder))} to go on with that batch "
                f"(--out {shlex.quote(str(out))} starts a new one)")


def sent_elsewhere(manifest: Path, shots: Sequence[Shot], out: Path, simulate: bool) -> Elsewhere | None:
    """The nearest earlier batch of these very shots (same id, same request) that sent at least one of them, in a
    folder a run typed elsewhere would have used; None when there is none (or none that can be read)."""
    folders = batches_above(manifest, simulate, out)
    wanted = {shot.id: shot.fingerprint() for shot in shots} if folders else {}
    for folder in folders:
        try:
            with j.Journal(folder / j.FILE_NAME, read_only=True) as journal:
                rows = [row for row in journal.rows_by_id(wanted)
                        if row.fingerprint == wanted[row.id] and row.state != j.PENDING]
        except (FatalError, sqlite3.Error, OSError):  # damaged, or not ours to read: it cannot say, so it does not
            continue
        if rows:
            return Elsewhere(folder, len(rows), sum(row.state == j.DONE for row in rows))
    return None
