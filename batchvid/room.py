"""Whether the output folder's disk has room for the videos a run is about to fetch: said before anything is sent.

A video that does not fit stops the run halfway (its task is kept, for the next run to fetch), so a batch that
was to finish overnight is found stopped in the morning, its paid links expiring (Veo's in about 12 h). A note
before the first submit lets the user make room, or point `--out` elsewhere, while it costs nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: bytes a second of video by resolution, for a folder with no videos of its own yet to learn from: a rough figure
#: for H.264 at about 2, 2.4, 5 and 10 Mbit/s (no document gives these models' sizes), on the generous side
ROUGH_BYTES_PER_SECOND = {"480p": 250_000, "540p": 300_000, "720p": 625_000, "1080p": 1_250_000}
#: a resolution none of the above names (a model whose id fixes it, an unknown one): the largest
ROUGH_UNKNOWN = max(ROUGH_BYTES_PER_SECOND.values())
#: seconds of a video whose duration is unknown: the longest any model makes
LONGEST_SECONDS = 16


@dataclass(frozen=True)
class Sizes:
    """What this folder's videos so far weigh, for each resolution: (bytes, seconds of video, videos)."""

    by_resolution: Mapping[str | None, tuple[int, int, int]]

    def per_second(self, resolution: str | None) -> tuple[float, bool]:
        """Bytes a second of video at this resolution, and whether it was learned (not the rough figure)."""
        total, seconds, _ = self.by_resolution.get(resolution, (0, 0, 0))
        if seconds > 0:
            return total / seconds, True
        return float(ROUGH_BYTES_PER_SECOND.get(resolution or "", ROUGH_UNKNOWN)), False

    def videos(self) -> int:
        return sum(count for _, _, count in self.by_resolution.values())


def shortfall(folder: Path, videos: Iterable[tuple[str | None, int | None]], sizes: Sizes) -> str | None:
    """A note when `videos` (resolution, seconds), the ones this run would fetch, may not fit in the free space of
    `folder`'s disk; None when they fit, or when the free space cannot be read."""
    need, count, guessed = 0.0, 0, 0
    for resolution, seconds in videos:
        rate, learned = sizes.per_second(resolution)
        need += rate * (seconds or LONGEST_SECONDS)
        count += 1
        guessed += not learned
    existing = next((path for path in (folder, *folder.parents) if os.path.isdir(path)), folder)  # --dry-run: none yet
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return None
    if need <= free:
        return None
    rough = "a rough 5 Mbit/s for 720p and 10 for 1080p"
    if guessed == count:
        basis = f"at {rough}: this folder has no video of that resolution yet"
    else:
        basis = f"as this folder's {sizes.videos()} videos so far weigh" + (
            f", and at {rough} for resolutions it has none of yet" if guessed else "")
    return (f"note: {folder} has {_shown(free)} free; the {count} videos this run would fetch may need about "
            f"{_shown(need)} ({basis}). A video that does not fit stops the run, its task kept for the next one "
            "while its link lasts (Veo's about 12 h): make room first")


def _shown(size: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1e3:.0f} kB"
