"""What the output folder holds, made to survive a power cut and not only a killed process: a rename synced.

The journal syncs its commits (journalfile.py). A rename that a commit relies on (a video into place, an earlier
version's video kept under its new name) is synced first, or a power cut could undo it under a commit that stays.
"""

from __future__ import annotations

import os
from pathlib import Path


def sync_folder(folder: Path) -> None:
    """A rename in `folder` made durable, as POSIX has it: the folder itself synced. Where the file system cannot
    (some refuse to sync a folder), the rename is left to the system, as before."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
