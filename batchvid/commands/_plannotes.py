"""Notes after a run's plan, before anything is sent: what the plan would take long for, or not find room for."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import journal as j

if TYPE_CHECKING:
    from ..plan import Plan
    from ..validate import Batch


def offpeak_note(plan: Plan, batch: Batch, concurrency: int) -> None:
    """Off-peak tasks may take up to 48 h each, and --concurrency (or their family's own concurrency) counts them
    while they wait: a batch of many, a few at a time, could take weeks. Say so, and the way out: the gateway queues
    off-peak tasks itself."""
    from ..plan import TO_SUBMIT

    to_submit = {line.shot_id for line in plan.lines if line.category in TO_SUBMIT}
    offpeak = [shot for shot in batch.shots if shot.model.endswith("-offpeak") and shot.id in to_submit]
    if not offpeak:
        return
    family = offpeak[0].spec.family  # Vidu's alone have off-peak ids
    own = batch.manifest.gateway.for_family(family).concurrency
    if own is not None and own < concurrency:  # they wait behind each other, and their family's other shots
        sharing = sum(1 for shot in batch.shots if shot.id in to_submit and shot.spec.family == family)
        setting, limit, which = f"gateway.families.{family}.concurrency", own, f"every {family} shot"
        enough = f"{setting}: {sharing}"
    else:
        sharing, setting, limit, which = len(to_submit), "--concurrency", concurrency, "every shot"
        enough = f"{setting} {sharing}"
    if sharing > limit:  # some shot would wait for a slot behind an off-peak task
        print(f"note: {len(offpeak)} off-peak shots to submit, with the others {limit} at a time ({setting}), and "
              "each may take up to 48 h: the last could start days from now. The gateway queues off-peak tasks, so "
              f"{enough} submits {which} at once (the run may be stopped once they are submitted: the next one "
              "collects the videos)", file=sys.stderr)


def room_note(plan: Plan, batch: Batch, journal: j.Journal, out: Path) -> None:
    """Whether the videos this run would fetch fit on the output folder's disk (room.py)."""
    from ..plan import SETTLED_CATEGORIES
    from ..room import Sizes, shortfall

    fetched = {line.shot_id for line in plan.lines if line.category not in SETTLED_CATEGORIES}
    videos: list[tuple[str | None, int | None]] = [
        (shot.resolution, shot.seconds) for shot in batch.shots if shot.id in fetched]
    videos += [(row.resolution, row.seconds) for row in plan.followers]
    if videos and (note := shortfall(out, videos, Sizes(journal.video_sizes()))) is not None:
        print(note, file=sys.stderr)
