"""The poll side of a run: each task in flight followed to its end, from one due-time queue, at intervals learned
from the task's progress or from earlier render times (polling.py), within the gateway's rate limit (each poll
waits for its slot in Gateway.query). A poll's error never causes a submit: a task that cannot be followed now is
kept, with its id, for the next run."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import NamedTuple

from . import journal as j
from . import outage, polling
from .budget import Budget
from .commits import GroupCommit
from .elsewhere import NotAsked, TasksMadeElsewhere
from .elsewhere import kept as kept_elsewhere
from .elsewhere import other as other_base_url
from .errors import one_line
from .families._base import Billing, TaskState, TaskView
from .gateway import Gateway, Rejected, Transient
from .pricing import PriceTable, Quote, billed_usd
from .primitives import PollQueue, backoff
from .progress import Progress
from .queues import ProviderQueues
from .runsettings import RunSettings
from .shot import Shot

log = logging.getLogger("batchvid")

OFFPEAK_DEADLINE = 49 * 3600.0  # Vidu off-peak tasks may take up to 48 h
#: a task ended failed: the shot, its task id and the gateway's words (the runner decides whether the shot gets a
#: new task)
TaskFailed = Callable[[Shot, str, str], None]


class Watcher:
    """Polls the tasks in flight; what each poll finds goes to the journal (the run commits it)."""

    def __init__(self, settings: RunSettings, journal: j.Journal, commits: GroupCommit, progress: Progress,
                 budget: Budget, quotes: Mapping[str, Quote], table: PriceTable, failed: TaskFailed,
                 queues: ProviderQueues) -> None:
        self._settings = settings
        self._journal = journal
        self._commits = commits
        self._progress = progress
        self._budget = budget
        self._quotes = quotes
        self._table = table
        self._failed = failed
        self._queues = queues
        self.planner = polling.PollPlanner(settings.poll_interval, journal.render_times(), settings.fixed_polling)
        self._polls = PollQueue()
        self._elsewhere = TasksMadeElsewhere()
        self._made_at: dict[str, str] = {}  # the downloads' tasks that another base URL made (made_at())
        self._unknown_statuses: set[str] = set()
        self._new_render_times: list[tuple[str, str, int, float]] = []

    def take_render_times(self) -> list[tuple[str, str, int, float]]:
        """The render times learned since the last call, for the journal."""
        taken, self._new_render_times = self._new_render_times, []
        return taken

    def _limit(self, shot: Shot) -> float:
        """The seconds after its submit that a task is waited for (a longer --deadline-minutes holds for -offpeak
        tasks too)."""
        offpeak = shot.model.endswith("-offpeak")
        return max(OFFPEAK_DEADLINE, self._settings.deadline) if offpeak else self._settings.deadline

    async def query(self, shot: Shot, gateway: Gateway, task_id: str, due_in: float) -> TaskView | None:
        """One poll through the heap; None when it failed in a way worth trying again."""
        loop = asyncio.get_running_loop()
        # while the gateway cannot be reached, a poll put off for that goes as soon as another finds it back
        await self._polls.turn(loop.time() + due_in, until=gateway.reach.returned)
        try:
            body = await gateway.query(task_id)
        except Transient as exc:  # a 429 has already slowed this family's pace down (ratelimit.py)
            log.info("poll of %s: %s", shot.id, exc)
            outage.still_reachable(gateway, exc)
            return None
        view = shot.family.read_task(body)
        if log.isEnabledFor(logging.DEBUG):  # every poll passes here: its words are made only when they are said
            log.debug("poll of %s: task %s %s%s", shot.id, task_id, view.raw_status or view.state.name.lower(),
                      "" if view.progress is None else f", {view.progress:g} %")
        if view.raw_status and view.state is TaskState.RUNNING and view.raw_status not in ("in_progress",):
            if view.raw_status not in self._unknown_statuses:
                self._unknown_statuses.add(view.raw_status)
                log.warning("status %r is not in the documents; treating it as still running", view.raw_status)
        return view

    def made_at(self, task_id: str, base_url: str | None, gateway: Gateway) -> None:
        """Where a task to download was made, as the journal says: asked as wait() asks, if elsewhere."""
        if (there := other_base_url(base_url, gateway.known_as)) is not None:
            self._made_at[task_id] = there

    async def ask(self, shot: Shot, gateway: Gateway, task_id: str, due_in: float) -> TaskView | None:
        """query() for the downloads (where a paid video is): a task another base URL made is asked once for all
        of them there (elsewhere.py), and raises NotAsked once this gateway refused one."""
        made_at = self._made_at.get(task_id)
        if made_at is None:
            return await self.query(shot, gateway, task_id, due_in)
        view = await self._query_elsewhere(shot, gateway, task_id, due_in, made_at)
        if view is not None:  # known here: its row takes this gateway's name
            del self._made_at[task_id]
            self._journal.update(shot.id, gateway=gateway.known_as)
        return view

    async def wait(self, shot: Shot, gateway: Gateway, task: InFlight) -> TaskView | None:
        """Poll until the task ends: its answer when it succeeded, else None (the shot's row says why)."""
        task_id, adopted = task.task_id, task.adopted
        elsewhere = other_base_url(task.made_at, gateway.known_as)
        loop = asyncio.get_running_loop()
        started = loop.time() - _age(task.submitted_at)
        deadline = started + self._limit(shot)
        key = (shot.model, shot.resolution, shot.seconds)
        progress, last_poll = polling.Progress(), None
        # an adopted task was made at some time before this run: it may well be finished, so ask at once
        delay = 0.0 if adopted else self.planner.next(key, loop.time() - started, progress)
        errors = failed = 0  # polls in a row that failed: that count against the task, and in all (the backoff)
        unconfirmed = adopted
        while True:
            try:
                if elsewhere is None:
                    view = await self.query(shot, gateway, task_id, delay)
                else:
                    view = await self._query_elsewhere(shot, gateway, task_id, delay, elsewhere)
            except Rejected as exc:
                self._refused(shot, gateway, task, exc, unconfirmed)
                return None
            except NotAsked:
                return None
            if view is not None and (unconfirmed or elsewhere):  # the gateway knows the task: it is the shot's now
                unconfirmed, elsewhere = False, None
                self._journal.update(shot.id, error=None, gateway=gateway.known_as)
            if view is None:
                failed += 1
                if outage.spends_a_try(gateway):
                    errors += 1
                    if errors >= self._settings.max_poll_errors:
                        self._polls_failed(shot, task_id, errors, unconfirmed)
                        return None
                interval = self._settings.poll_interval
                cap = outage.backoff_cap(gateway, self._settings.backoff_cap)
                delay = interval / 2 + backoff(failed, None, cap, base=interval / 2)
            elif view.state is TaskState.SUCCEEDED:
                if not adopted:  # an adopted task's render time is not known
                    self._learn(key, last_poll, loop.time() - started)
                return self._succeeded(shot, view)
            elif view.state is TaskState.FAILED:
                said = ": ".join(part for part in (view.error_code, view.error_message) if part)
                self._progress.event("rendered")
                self._failed(shot, task_id, one_line(said) or "failed")  # not charged
                return None
            else:
                elapsed = loop.time() - started
                self._queues.saw(shot.spec.family, task_id, view.state, elapsed)
                progress.add(elapsed, view.progress, queued=view.state is TaskState.QUEUED)
                errors = failed = 0
                delay, last_poll = self.planner.next(key, elapsed, progress), elapsed
            if loop.time() > deadline:
                self._timed_out(shot, task_id)
                return None

    def _succeeded(self, shot: Shot, view: TaskView) -> TaskView:
        """The task rendered: its bill heeded and its video next, on disk before anything else happens to it."""
        billed = self.billed(shot, view.billing)
        log.info("shot %s: rendered%s", shot.id, "" if billed is None else f", billed ${billed}")
        self._budget.heed_bill(shot, billed)
        self._journal.update(shot.id, state=j.DOWNLOADING, billed_usd=None if billed is None else str(billed),
                             error=None)
        self._commits.soon()
        self._progress.event("rendered", cost=billed if billed is not None else self._quotes[shot.id].cost_usd)
        return view

    def _polls_failed(self, shot: Shot, task_id: str, errors: int, unconfirmed: bool) -> None:
        said = f"{errors} polls in a row failed; task {task_id} is kept: run again to re-attach"
        # still unconfirmed: the mark stays in front, for the run that finally reaches the gateway
        self._journal.update(shot.id, error=f"{j.ADOPTED}; {said}" if unconfirmed else said)

    def _timed_out(self, shot: Shot, task_id: str) -> None:
        self._journal.update(shot.id, error=f"{j.TIMED_OUT}{task_id}, {_span(self._limit(shot))} after its submit "
                                           "(--deadline-minutes); it is kept: run again with a larger "
                                           "--deadline-minutes to wait for it longer")

    async def _query_elsewhere(self, shot: Shot, gateway: Gateway, task_id: str, due_in: float,
                               made_at: str) -> TaskView | None:
        """query() for a task another base URL made (elsewhere.py): not sent once this gateway refused such a task;
        the first of them finds out for all."""
        async with self._elsewhere.asking(made_at, gateway.known_as) as known:
            if known is False:
                self._journal.update(shot.id, error=f"poll: not sent: {gateway.base_url} did not know the tasks made "
                                                   f"at {made_at}; {kept_elsewhere(made_at)}")
                raise NotAsked
            try:
                view = await self.query(shot, gateway, task_id, due_in)
            except Rejected as exc:
                if known is None and exc.status is not None:
                    self._elsewhere.knows(made_at, gateway.known_as, False)
                raise
            if view is not None and known is None:
                self._elsewhere.knows(made_at, gateway.known_as, True)
            return view

    def _refused(self, shot: Shot, gateway: Gateway, task: InFlight, exc: Rejected, unconfirmed: bool) -> None:
        """A poll drew a 4xx (or an answer too large to read): what that says of the task."""
        if unconfirmed:  # a task id given by hand that the gateway refuses tells nothing about the shot
            self._journal.update(shot.id, state=j.UNCERTAIN, task_id=None,
                                 error=f"--adopt {task.task_id}: the gateway refused that task id ({exc})")
            self._progress.event("uncertain", finished=True)
            return
        # a 4xx is no word on the task (a failed render is a 200 that says so): it may have rendered and been paid
        # for, so it is kept to poll again, never failed (which --retry-failed would pay again)
        if exc.status is None:
            kept = "its task is kept: raise --max-answer-mb"
        elif task.made_at is not None and self._elsewhere.refused(task.made_at, gateway.known_as):
            kept = kept_elsewhere(task.made_at)
        else:
            kept = j.POLL_REFUSED
        self._journal.update(shot.id, error=f"poll: {exc}; {kept}")

    def _learn(self, key: polling.Key, last_running: float | None, done_seen: float) -> None:
        """The task finished between the last poll that saw it running and this one: take the middle."""
        seconds = done_seen if last_running is None else (last_running + done_seen) / 2
        self.planner.times.add(key, seconds)
        self._new_render_times.append((*key, seconds))

    def billed(self, shot: Shot, b: Billing) -> Decimal | None:
        return billed_usd(b.model_price, b.seconds, b.group_ratio, b.total_tokens, shot, self._table)


class InFlight(NamedTuple):
    """A task to wait for, as the journal knows it."""

    task_id: str
    submitted_at: str | None  # None: just now, or not known (an adopted task)
    adopted: bool  # given with --adopt, and no poll has found it yet (journal.ADOPTED)
    made_at: str | None  # the base URL of the gateway that made it (journal.Row.gateway), where known


def _span(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _age(submitted_at: str | None) -> float:
    """Seconds since a task was submitted (0 for one submitted just now)."""
    if not submitted_at:
        return 0.0
    return max(0.0, (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(submitted_at)).total_seconds())
