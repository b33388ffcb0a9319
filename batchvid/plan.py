"""What a run has left to do, from the journal and the manifest (DESIGN.md: states and resume)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import copies, outvideos
from . import journal as j
from .durable import sync_folder
from .errors import FatalError, InputError, without_keys
from .spare import NEVER_SENT

if TYPE_CHECKING:  # only for types: a settled batch is resumed without them (settled.py)
    from .pricing import Quote
    from .shot import Shot


@dataclass
class PlanLine:
    shot_id: str
    category: str  # new, copy, done, in-flight, adopted, download, failed, uncertain, changed, forced, retry
    detail: str = ""


#: plan categories of shots a run leaves alone (a failed or uncertain one waits for the user's word; a held one for a
#: run without --no-submit)
SETTLED_CATEGORIES = frozenset({"done", "copy", "failed", "uncertain", "held"})


@dataclass
class Plan:
    lines: list[PlanLine] = field(default_factory=list)
    #: shots this run will submit, and their estimated cost (None: a price is unknown)
    to_submit: int = 0
    to_submit_usd: Decimal | None = Decimal(0)
    #: the same at the gateway's bills so far (j.bill_ratios), when they run above the estimates
    to_submit_billed: Decimal | None = None
    #: earlier versions of changed shots still rendering, which this run follows to their videos
    followers: list[j.Row] = field(default_factory=list)
    #: shots in the folder's journal that this manifest does not have (another manifest's, or removed from this
    #: one): left as they are, and still in the ledger
    elsewhere: int = 0

    def count(self, category: str) -> int:
        return sum(1 for line in self.lines if line.category == category)

    @property
    def has_work(self) -> bool:
        """Something to submit, poll or download; otherwise the run needs no network at all."""
        return any(line.category not in SETTLED_CATEGORIES for line in self.lines)

    def summary(self) -> str:
        order = ("new", "changed", "forced", "retry", "copy", "done", "in-flight", "adopted", "download", "failed",
                 "uncertain", "held")
        parts = [f"{self.count(c)} {c}" for c in order if self.count(c)]
        text = "plan: " + (", ".join(parts) if parts else "nothing to do")
        if self.to_submit:
            cost = "price unknown for some" if self.to_submit_usd is None else f"estimated ${self.to_submit_usd:.2f}"
            text += f"; to submit: {self.to_submit} shot{'s' * (self.to_submit != 1)}, {cost}"
            if self.to_submit_billed is not None:
                text += f" (about ${self.to_submit_billed:.2f} at the gateway's bills so far)"
        return text


@dataclass(frozen=True)
class PlanOptions:
    resubmit_uncertain: bool = False
    retry_failed: bool = False
    force: frozenset[str] = frozenset()
    #: shot id -> the id of a task the gateway made for it, which the journal does not have (--adopt)
    adopt: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: the same, kept beside the journal by a run that could not write them into it (spare.py): followed where the
    #: shot is still uncertain and the task no other shot's; passed over otherwise
    kept: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: the manifest's shots that --only left out of this run, and their requests' fingerprints: the video of one
    #: whose request is unchanged is its own take, not one to give (copies.py)
    left_out: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: --no-submit: the shots this run would submit are held back, pending, for a run without it
    no_submit: bool = False


def _fresh(shot: Shot, fingerprint: str, quote: Quote, position: int) -> j.Row:
    return _priced(j.Row(id=shot.id, fingerprint=fingerprint, model=shot.model, state=j.PENDING, seconds=shot.seconds,
                         resolution=shot.resolution, position=position, updated_at=j.now(), prompt=_prompt(shot),
                         request=without_keys(shot.record())), quote)


def _prompt(shot: Shot) -> str | None:
    """The shot's prompt for the journal and the ledger: an API key in it (a `${VAR}` naming the key's variable)
    never reaches a file, nor does it in the request (the run remembers the keys before it plans: keys.remember)."""
    prompt = shot.fields.get("prompt")
    return None if prompt is None else without_keys(str(prompt))


def _priced(row: j.Row, quote: Quote) -> j.Row:
    """The row with this run's estimate: a shot still to submit is paid at today's prices, not at those of the run
    that first planned it."""
    row.estimated_usd = None if quote.cost_usd is None else str(quote.cost_usd)
    row.price_source = quote.source
    return row


def make_plan(
    journal: j.Journal, shots: Sequence[Shot], quotes: Mapping[str, Quote], out: Path, options: PlanOptions,
    can_follow: Callable[[j.Row], bool] = lambda row: False, *, dry: bool = False,
) -> Plan:
    """Bring the journal in line with the manifest and say, per shot, what happens next.

    Earlier versions of changed shots whose tasks were still rendering are followed to their videos when
    `can_follow` says this run can reach their gateway (`plan.followers`): they were paid for.
    `dry`: say all that, but change nothing (no journal write, no video renamed).
    """
    outvideos.refuse_case_twins(out, [shot.id for shot in shots])
    existing = {row.id: row for row in journal.rows()}
    _check_adoptions(options, existing)
    options = _unowned_kept(options, existing)
    plan = Plan()
    writes: list[j.Row] = []
    unrecorded: list[str] = []
    ids = {shot.id for shot in shots}
    there = outvideos.names_there(out) if any(shot.id not in existing for shot in shots) else None
    before = set(existing)
    to_render: list[ToRender] = []
    for position, shot in enumerate(shots):
        row = existing.get(shot.id)
        if row is None and outvideos.video_there(out, f"{shot.id}.mp4", there):
            unrecorded.append(f"{shot.id}.mp4")
        fingerprint, written = shot.fingerprint(), len(writes)
        line = _plan_shot(shot, row, fingerprint, position, quotes[shot.id], out, options, existing, writes, dry)
        if line.category in ("new", "changed"):
            # its fresh row, or (a shot planned by an earlier run, never sent) its row as it is
            fresh = len(writes) - 1 if len(writes) > written and writes[-1].id == shot.id else None
            to_render.append(ToRender(len(plan.lines), fresh, row, fingerprint))
        plan.lines.append(line)
    if unrecorded:
        outvideos.refuse_unrecorded(out, unrecorded)
    to_copy = _copies(plan, writes, to_render, existing, before, ids, options.left_out, out, dry)
    for row in list(existing.values()):
        if j.EARLIER in row.id and row.state in (j.SUBMITTED, j.DOWNLOADING):
            _follow_or_not(row, can_follow(row), plan, writes)
    plan.elsewhere = elsewhere(existing, ids)
    if options.no_submit:  # after the copies: a video the folder has of a shot's request costs nothing to take
        plan.lines = [_held(line) if line.category in TO_SUBMIT else line for line in plan.lines]
    _price_what_is_to_submit(plan, shots, quotes, j.bill_ratios(existing.values()))
    if writes and not dry:
        journal.insert_many(writes)
    if to_copy and not dry:  # after the journal: a crash in between leaves a done row's video missing, to be
        copies.make(out, to_copy)  # fetched again from its task, free, and the donor's video is still there
    return plan


def _held(line: PlanLine) -> PlanLine:
    """A shot this run would submit, held back by --no-submit: its row, pending, waits for a run without it."""
    was = f"{line.category}: {line.detail}" if line.detail else line.category
    return PlanLine(line.shot_id, "held", f"{was}; not submitted (--no-submit)")


def _unowned_kept(options: PlanOptions, existing: Mapping[str, j.Row]) -> PlanOptions:
    """The spare file's task ids that no shot has and --adopt does not name: only those are followed."""
    if not options.kept:
        return options
    owned = {row.task_id for row in existing.values() if row.task_id} | set(options.adopt.values())
    return dataclasses.replace(options, kept={shot: task for shot, task in options.kept.items()
                                              if task not in owned and shot not in options.adopt})


@dataclass(frozen=True)
class ToRender:
    """A new or changed shot, which may take a video the folder has of its request (copies.py)."""

    line_at: int  # its plan line
    fresh_at: int | None  # its fresh row among the plan's writes; None: `row` is still its row
    row: j.Row | None
    fingerprint: str


def _copies(plan: Plan, writes: list[j.Row], to_render: list[ToRender], existing: dict[str, j.Row],
            before: set[str], ids: set[str], left_out: Mapping[str, str], out: Path, dry: bool
            ) -> list[tuple[str, j.Row]]:
    """The shots to render whose request the folder has a video of already, made copies of it (copies.py): their
    plan lines and fresh rows changed in place; (shot id, the row whose video it takes) for each."""
    if not to_render:
        return []
    # this plan's earlier versions give too (a request moved from one shot to another); in a dry plan their videos
    # are still under the shot's own name
    moved = {row_id: out / f"{row_id.partition(j.EARLIER)[0]}.mp4" for row_id in existing if row_id not in before}
    replaced = {row_id.partition(j.EARLIER)[0] for row_id in moved}
    kept = {row.task_id for row_id, row in existing.items()
            if (row_id in ids and row_id not in replaced) or left_out.get(row_id) == row.fingerprint}
    givers = copies.Donors(existing.values(), ids, kept, out, moved if dry else {})
    to_copy = []
    for shot in to_render:
        line = plan.lines[shot.line_at]
        if (donor := givers.take(line.shot_id, shot.fingerprint)) is None:
            continue
        if shot.fresh_at is not None:
            writes[shot.fresh_at] = copies.as_copy(writes[shot.fresh_at], donor)
        else:
            assert shot.row is not None
            writes.append(copies.as_copy(shot.row, donor))
        plan.lines[shot.line_at] = PlanLine(line.shot_id, "copy", copies.said(line, donor))
        to_copy.append((line.shot_id, donor))
    return to_copy


def _plan_shot(shot: Shot, row: j.Row | None, fingerprint: str, position: int, quote: Quote, out: Path,
               options: PlanOptions, existing: dict[str, j.Row], writes: list[j.Row], dry: bool) -> PlanLine:
    """What happens next to one shot of the manifest; the journal rows that changes go to `writes`."""
    if shot.id in options.adopt and (row is None or row.fingerprint != fingerprint or shot.id in options.force):
        _cannot_adopt(shot.id, "it is new" if row is None else "it is forced" if shot.id in options.force
                      else "its request changed since that submit: the task was made from another one")
    if row is None:
        writes.append(_fresh(shot, fingerprint, quote, position))
        return PlanLine(shot.id, "new")
    if row.fingerprint != fingerprint or shot.id in options.force:
        detail = f"was {row.state}"
        earlier = _keep_earlier(row, out, existing, rename=not dry)
        if earlier is not None:
            writes.append(earlier)
            existing[earlier.id] = earlier
            detail += f"; that version is kept as {earlier.id}" + (
                f" with its video {earlier.output}" if earlier.output else "")
        writes.append(_fresh(shot, fingerprint, quote, position))
        return PlanLine(shot.id, "forced" if shot.id in options.force else "changed", detail)
    before = (row.state, row.error, row.position, row.estimated_usd, row.price_source, row.prompt, row.request)
    row.position = position
    # a row from before the journal kept them: the same fingerprint, so the same request and prompt
    if row.prompt is None:
        row.prompt = _prompt(shot)
    if row.request is None:
        row.request = without_keys(shot.record())
    category, detail = carry_on(row, out, options)
    if row.state == j.PENDING:  # the table, or the manifest's prices, may have changed since
        _priced(row, quote)
    if (row.state, row.error, row.position, row.estimated_usd, row.price_source, row.prompt, row.request) != before:
        writes.append(row)  # only what changed: resuming a finished batch writes nothing
    return PlanLine(shot.id, category, detail)


def _price_what_is_to_submit(plan: Plan, shots: Sequence[Shot], quotes: Mapping[str, Quote],
                             ratios: Mapping[str, Decimal]) -> None:
    """The plan's count and estimate of the shots to submit, and the same at the gateway's bills so far."""
    models = {shot.id: shot.model for shot in shots} if ratios else {}
    billed = Decimal(0)
    for line in plan.lines:
        if line.category in TO_SUBMIT:
            cost = quotes[line.shot_id].cost_usd
            plan.to_submit += 1
            plan.to_submit_usd = None if cost is None or plan.to_submit_usd is None else plan.to_submit_usd + cost
            billed += (cost or Decimal(0)) * ratios.get(models.get(line.shot_id, ""), Decimal(1))
    if plan.to_submit_usd is not None and billed > plan.to_submit_usd:
        plan.to_submit_billed = billed


def _check_adoptions(options: PlanOptions, rows: Mapping[str, j.Row]) -> None:
    """A task adopted twice, or one a shot has already, would give one video to two shots."""
    owners = {row.task_id: row.id for row in rows.values() if row.task_id}
    for shot_id, task_id in options.adopt.items():
        owner = owners.setdefault(task_id, shot_id)
        if owner != shot_id:
            raise InputError(f"--adopt {shot_id}={task_id}: that task is {owner}'s already")


def _cannot_adopt(shot_id: str, why: str) -> NoReturn:
    raise InputError(f"--adopt {shot_id}: {why}; only an uncertain shot (its submit may have made a task) can adopt "
                     "one")


#: plan categories whose shots this run submits (and pays for)
TO_SUBMIT = frozenset({"new", "changed", "forced", "retry"})


def elsewhere(rows: Iterable[str], ids: Collection[str]) -> int:
    """How many shots of the journal (by id; earlier versions aside) the manifest does not have."""
    return sum(1 for row_id in rows if j.EARLIER not in row_id and row_id not in ids)


def _keep_earlier(row: j.Row, out: Path, taken: Mapping[str, j.Row], rename: bool = True) -> j.Row | None:
    """A changed or forced shot's earlier version, as the row `<id>@<n>`, its video renamed to match: what was
    paid for stays in the folder and in the ledger. None when it never reached the gateway."""
    if row.task_id is None and row.state not in (j.SUBMITTING, j.UNCERTAIN):
        return None
    kept, renamed_before = _earlier_name(row, out, taken)
    output = f"{kept}.mp4" if renamed_before else None
    if os.path.isfile(out / f"{row.id}.mp4"):
        # renamed before the journal says so: a crash in between leaves the video under its new name, not lost
        try:
            if rename:
                os.rename(out / f"{row.id}.mp4", out / f"{kept}.mp4")
                sync_folder(out)  # before the journal says so: a power cut must not undo it under that commit
        except OSError as exc:
            raise FatalError(f"cannot keep the earlier video of {row.id} as {kept}.mp4: {exc.strerror}") from None
        output = f"{kept}.mp4"
    state, error = row.state, row.error
    if state == j.SUBMITTING:
        state, error = j.UNCERTAIN, "interrupted while submitting: the gateway may have created a task"
    return dataclasses.replace(row, id=kept, state=state, error=error, output=output)


def _earlier_name(row: j.Row, out: Path, taken: Mapping[str, j.Row]) -> tuple[str, bool]:
    """The first `<id>@<n>` of no row and no file, and False; or, when an earlier run renamed this version's video
    but was stopped before the journal said so, the name it took (of no row, this row's size) and True."""
    renamed_before = (not os.path.isfile(out / f"{row.id}.mp4") and row.output == f"{row.id}.mp4"
                      and row.bytes is not None)
    number = 1
    while True:
        kept = f"{row.id}{j.EARLIER}{number}"
        video = out / f"{kept}.mp4"
        if kept not in taken:
            if not os.path.lexists(video):
                return kept, False
            if renamed_before and os.path.isfile(video) and os.path.getsize(video) == row.bytes:
                return kept, True
        number += 1


_NOT_FOLLOWED = "an earlier version still rendering; not followed: no gateway for its model in this batch"


def _follow_or_not(row: j.Row, follow: bool, plan: Plan, writes: list[j.Row]) -> None:
    """An earlier version still rendering: polled and fetched like any task in flight, or left on record."""
    if follow == (row.error == _NOT_FOLLOWED):  # say so, or stop saying so (a run's own errors are left alone)
        row.error = None if follow else _NOT_FOLLOWED
        if not any(written is row for written in writes):
            writes.append(row)
    if follow:
        plan.followers.append(row)
        category = "in-flight" if row.state == j.SUBMITTED else "download"
        plan.lines.append(PlanLine(row.id, category, f"an earlier version, paid for: its video will be {row.id}.mp4"))


def carry_on(row: j.Row, out: Path, options: PlanOptions) -> tuple[str, str]:
    """Adjust an unchanged shot's row for this run; return its plan category and what to say of it."""
    adopted = _adopt(row, options)
    if adopted is not None:
        return adopted
    if row.state == j.DONE:
        size = outvideos.size_of(os.path.join(out, f"{row.id}.mp4"))  # a str join: a resume checks thousands
        if size == row.bytes:
            return "done", ""
        if size:  # written over since (an edit, a copy): the user's file, not ours to replace; empty, it holds nothing
            return "done", (f"its video is not the one downloaded ({size:,} bytes, not {row.bytes or 0:,}): left as "
                            "it is; delete it to fetch the downloaded one again from its task, with no new render")
        row.state = j.DOWNLOADING  # the video went missing: fetch it again from the same task
        return "download", "output file missing; downloading again"
    if row.state in (j.SUBMITTING, j.UNCERTAIN):
        return _uncertain(row, options)
    if row.state == j.FAILED:
        return _failed(row, options)
    if row.state == j.SUBMITTED:
        return "in-flight", f"task {row.task_id}"
    if row.state == j.DOWNLOADING:
        return "download", ""
    return "new", ""


def _adopt(row: j.Row, options: PlanOptions) -> tuple[str, str] | None:
    """A task named for the shot (--adopt, or the spare file of a run whose disk was full) is followed from now."""
    task_id, how = options.adopt.get(row.id), "--adopt"
    if task_id is not None and row.state not in (j.SUBMITTING, j.UNCERTAIN):
        _cannot_adopt(row.id, f"it is {row.state}" + (f" with task {row.task_id}" if row.task_id else ""))
    if task_id is None and row.state in (j.SUBMITTING, j.UNCERTAIN):
        task_id, how = options.kept.get(row.id), "its id kept beside the journal, which the disk was too full to take"
        if task_id == NEVER_SENT:  # its POST never left: nothing was made, so it is sent as any pending shot
            row.state, row.error, row.attempts = j.PENDING, None, max(0, row.attempts - 1)
            return "new", ""
    if task_id is None:
        return None
    # polled from now on like any task in flight; when it was made is not known (no submit time: its wait counts
    # from now), nor which gateway made it (the first poll that finds it says)
    row.state, row.task_id, row.error, row.submitted_at, row.gateway = j.SUBMITTED, task_id, j.ADOPTED, None, None
    return "adopted", f"task {task_id} ({how})"


def _uncertain(row: j.Row, options: PlanOptions) -> tuple[str, str]:
    """A submit that may or may not have made a task (the gateway has no idempotency key): sent again only when the
    user says so."""
    if row.state == j.SUBMITTING:  # the process died during the POST
        row.error = "interrupted while submitting: the gateway may have created a task"
    if options.resubmit_uncertain:
        row.state = j.PENDING
        return "retry", "resubmitting (--resubmit-uncertain)"
    row.state = j.UNCERTAIN
    return "uncertain", row.error or ""


def _failed(row: j.Row, options: PlanOptions) -> tuple[str, str]:
    if options.retry_failed and j.rendered(row):  # paid for: its video is fetched again, not rendered again
        row.state, row.error = j.DOWNLOADING, None
        return "download", f"task {row.task_id} was paid for: fetching its video again (--retry-failed)"
    if options.retry_failed:  # a new task: the failed one's times, bill (refunded) and gateway are not its own
        row.state, row.task_id, row.error, row.submitted_at, row.finished_at = j.PENDING, None, None, None, None
        row.billed_usd = row.gateway = None
        return "retry", "resubmitting (--retry-failed)"
    return "failed", row.error or ""
