"""What an output folder holds before a plan, that the plan must not walk over: videos whose names differ only in
letter case on a file system that takes them for one, and videos of new shots that no journal row knows."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from . import journal as j
from .errors import InputError


def size_of(path: str | Path) -> int | None:
    """The size of a video file, None when there is no such file (one stat)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def case_blind(out: Path) -> bool:
    """Whether the folder's file system takes Hero.mp4 and hero.mp4 for one file (macOS and Windows do, by default;
    so do FAT drives). Its journal tells: it is there before a plan is made (under any other name the same)."""
    # not samefile(): a FUSE file system may number one file differently under each name
    return os.path.exists(out / j.FILE_NAME) and os.path.exists(out / j.FILE_NAME.upper())


def refuse_case_twins(out: Path, ids: Sequence[str]) -> None:
    """Two shots whose ids differ only in letter case would write one video file there: the second would replace
    the first, paid for."""
    first: dict[str, str] = {}
    twins = []
    for shot_id in ids:
        seen = first.setdefault(shot_id.lower(), shot_id)
        if seen != shot_id:
            twins.append((seen, shot_id))
    if twins and case_blind(out):
        a, b = twins[0]
        more = f" ({len(twins) - 1} more pairs like them)" if len(twins) > 1 else ""
        raise InputError(f"shots {a!r} and {b!r} differ only in letter case{more}, and the file system of {out} takes "
                         f"{a}.mp4 and {b}.mp4 for one file: one video would replace the other. Give one of them "
                         "another id")


def names_there(out: Path) -> set[str] | None:
    """The folder's names in lower case, read once for all the new shots; None where it cannot be listed."""
    try:
        return {name.lower() for name in os.listdir(out)}
    except FileNotFoundError:
        return set()
    except OSError:  # not a folder, or one that may be entered but not listed: each name is looked up
        return None


def video_there(out: Path, name: str, there: set[str] | None) -> bool:
    """Whether the folder has a file (or link) of that name, as the file system sees it. The listing answers most
    names at once (10,000 new shots: a quarter of a second of look-ups, once more for a run asked first at a
    terminal); a name it has in some letter case is looked up, as a file system that ignores case would find it."""
    if there is not None and name.lower() not in there:
        return False
    return os.path.lexists(out / name)


def refuse_unrecorded(out: Path, names: Sequence[str]) -> None:
    """Videos of new shots already in the folder: its journal was lost or moved away, or they are not batchvid's.
    Rendering those shots would pay for them again and replace the files."""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise InputError(f"{out} has {len(names)} video(s) that its journal has no record of ({shown}): a run would pay "
                     "for them again and replace them. Put back the journal they came with, or move them out of the "
                     "folder, or give another --out")
