"""The asyncio orchestration of one run: start each shot once a slot is free, submit it (submitting.py), follow
its task to its end (watching.py), hand each paid video to the downloads (fetching.py), and commit every state
change to the journal before acting on it (commits.py).

Retries have separate scopes, never one wrapper around submit+poll+download (it would re-create paid
tasks): a submit is resent only when the gateway certainly created nothing; polls and downloads are GETs
and are retried with backoff; a poll error never causes a submit; a task that failed at the provider,
not charged, is followed by a new one (tries.py).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence

import aiohttp

from . import journal as j
from . import ledger
from .budget import Budget
from .commits import GroupCommit
from .errors import FatalError, one_line
from .families._base import TaskView
from .fetching import Downloads
from .gateway import Gateway, Refused
from .outage import ModelOutages
from .pricing import PriceTable, Quote
from .primitives import Slots
from .progress import Progress
from .proxy import Proxies
from .queues import ProviderQueues
from .runsettings import RunSettings
from .shot import Shot
from .spare import Spare
from .submitting import Submits
from .tries import Tries
from .watching import InFlight, Watcher

log = logging.getLogger("batchvid")


class Runner:
    def __init__(
        self, shots: Sequence[Shot], journal: j.Journal, gateways: Mapping[str, Gateway],
        storage: aiohttp.ClientSession, settings: RunSettings, table: PriceTable, quotes: Mapping[str, Quote],
        progress: Progress, proxies: Proxies | None = None,
    ) -> None:
        self.shots = shots
        self.journal = journal
        self.gateways = gateways
        self.settings = settings
        self.table = table
        self.quotes = quotes
        self.progress = progress
        self.stopping = False
        self.budget = Budget(settings.max_cost, quotes)
        self.outages = ModelOutages()
        self._slots = Slots(settings.concurrency, settings.family_concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}  # the shots in flight, by id
        self._errors: list[BaseException] = []  # what made shots' tasks fail (the run raises the first)
        self._feeder: asyncio.Task[None] | None = None
        self._spare = Spare(settings.out)
        self._commits = GroupCommit(journal, self.stop, self._spare)
        self.tries = Tries(settings.task_retries, journal, self._commits, self.budget, progress, self.outages,
                           self._fail)
        # a task may be queued for a poll or two while the gateway hands it to its provider: that says nothing yet
        self.queues = ProviderQueues(self._slots, patience=2 * settings.poll_interval)
        self.watcher = Watcher(settings, journal, self._commits, progress, self.budget, quotes, table,
                               self._task_failed, self.queues)
        # storage hosts' proxies: none given, every download goes direct
        self.downloads = Downloads(settings, journal, self._commits, storage, proxies or Proxies({}), progress,
                                   self.watcher.ask, self._fail)
        self.submits = Submits(settings, journal, self._commits, self.budget, self.outages, self.tries, progress,
                               self._slots, self.watcher.billed, self._fail, lambda: self.stopping)
        self._ledger = ledger.LiveLedger(journal, settings.out)

    # -- the run -----------------------------------------------------------------------------
    async def run(self) -> None:
        ids = {shot.id for shot in self.shots}
        rows = {row.id: row for row in self.journal.rows() if row.id in ids}
        self.budget.count_earlier(rows.values())  # the cap covers this manifest's shots
        self._spare.make_room(self._spare.untaken(self.journal))  # before any submit
        helpers = [asyncio.create_task(self._keep_ledger())]
        try:
            waiting = []
            for shot in self.shots:
                row = rows[shot.id]
                if row.state == j.PENDING:
                    if not self.settings.no_submit:  # held back: pending for a run without --no-submit
                        waiting.append((shot, row))
                elif row.state in (j.SUBMITTED, j.DOWNLOADING):  # in flight since an earlier run: at once
                    if row.state == j.SUBMITTED:
                        self._slots.take(shot.spec.family)
                    self._start(shot, row)
            self._feeder = asyncio.create_task(self._feed(waiting))
            self._feeder.add_done_callback(self._finished)
            await asyncio.wait([self._feeder])  # not `await`: a feeder cancelled by stop() is no error here
            while self._tasks:
                await asyncio.wait(list(self._tasks.values()))
            if self._commits.error is not None:
                raise self._commits.failure()
            if self._errors:
                raise self._errors[0]
        finally:
            running = [*helpers, *self._tasks.values(), *([self._feeder] if self._feeder else [])]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            try:
                self._flush()
            except sqlite3.Error as exc:  # the last commit, when nothing failed before it (a disk just full)
                if self._commits.error is None:
                    self._commits.error = exc
                    raise self._commits.failure() from None

    async def _feed(self, waiting: list[tuple[Shot, j.Row]]) -> None:
        """Start the shots still to submit, in manifest order, each once a slot is free (past a shot whose family is
        at its own limit, or whose model's submits are failing now, to the next of another): a task exists only
        for a shot in flight or waiting to submit again, so memory follows the concurrency, not the batch."""
        queues: dict[str, collections.deque[tuple[int, Shot, j.Row]]] = {}  # by model
        for index, (shot, row) in enumerate(waiting):
            queues.setdefault(shot.model, collections.deque()).append((index, shot, row))
        while queues and not self.stopping:
            ready = [(model, queues[model][0][1].spec.family) for model in queues
                     if not self._slots.backing_off[model]]
            startable = [model for model, family in ready if self._slots.free_for(family)]
            if not startable:  # a limit found from queued tasks holds a family back only while others need slots
                startable = [model for model, family in ready if self._slots.free_for(family, found=False)]
            if not startable:
                await self._slots.freed()
                continue
            model = min(startable, key=lambda name: queues[name][0][0])
            _, shot, row = queues[model].popleft()
            if not queues[model]:
                del queues[model]
            self._slots.take(shot.spec.family)
            self._start(shot, row)  # the shot's task owns that slot from here

    def _start(self, shot: Shot, row: j.Row) -> None:
        task = asyncio.create_task(self._drive(shot, row), name=shot.id)
        self._tasks[shot.id] = task
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if self._tasks.get(task.get_name()) is task:
            del self._tasks[task.get_name()]
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._errors.append(error)

    def stop(self) -> None:
        """Ctrl-C: submit nothing more; let a POST under way record its task id; drop the rest."""
        self.stopping = True
        if self._feeder is not None:
            self._feeder.cancel()
        for shot_id, task in self._tasks.items():
            if shot_id not in self.submits.posting:
                task.cancel()

    async def _keep_ledger(self) -> None:
        pause = self.settings.ledger_every
        while True:
            await asyncio.sleep(pause)
            started = time.perf_counter()
            try:
                self._flush()
            except sqlite3.Error as exc:
                self._commits.failed(exc)
                return
            # a ledger of many thousand rows takes a while to write: keep that under 5 % of the run's time
            pause = max(self.settings.ledger_every, 20 * (time.perf_counter() - started))

    def _flush(self) -> None:
        """What may be batched: learned render times (one commit) and the ledger (derived)."""
        learned = self.watcher.take_render_times()
        if learned:
            self.journal.add_render_times(learned)
        self._commits.now()
        try:  # the ledger is derived: rewritten only when the journal moved (or the file went missing)
            self._ledger.write()
        except OSError as exc:  # a full disk must not hide why the run stopped; the journal has it all
            log.warning("could not rewrite the ledger: %s", exc.strerror)

    async def _drive(self, shot: Shot, row: j.Row) -> None:
        try:
            await self._lifecycle(shot, row)
        except asyncio.CancelledError:
            raise
        except (Refused, FatalError):
            self.stop()  # the whole run stops; every state is already committed
            raise
        except Exception as exc:  # noqa: BLE001 - one shot's surprise must not stop the batch
            if exc is self._commits.error:
                raise
            log.exception("shot %s: unexpected error", shot.id)
            # The state is left as it is (a task id is never lost): the next run carries on from there.
            self.journal.update(shot.id, error=one_line(f"unexpected error: {type(exc).__name__}: {exc}", 500))

    async def _lifecycle(self, shot: Shot, row: j.Row) -> None:
        if row.state in (j.DONE, j.FAILED, j.UNCERTAIN):
            return
        gateway = self.gateways[shot.spec.family]
        view: TaskView | None = None
        task_id = row.task_id
        if row.state in (j.PENDING, j.SUBMITTED):
            rendered = await self._render(shot, gateway, row)
            if rendered is None:
                return
            task_id, view = rendered
        assert task_id is not None
        if row.state == j.DOWNLOADING:  # paid in an earlier run: where its video is is asked where it was made
            self.watcher.made_at(task_id, row.gateway, gateway)
        await self.downloads.fetch(shot, gateway, task_id, view)

    async def _render(self, shot: Shot, gateway: Gateway, row: j.Row) -> tuple[str, TaskView] | None:
        """Submit the shot if it is pending, and wait for its task, and for a new one after a provider's failure
        while it has tries left: (the task id, its answer) once one rendered; None when the shot stops here (its
        row says why)."""
        task_id, state = row.task_id, row.state
        if state == j.SUBMITTED:  # its slot was taken when the run started
            self.progress.event("submitted")
        while True:
            if state == j.PENDING:
                task_id = await self.submits.submit(shot, gateway)
                if task_id is None:
                    return None
                if self.stopping:  # Ctrl-C came during the POST: its task id is saved; the next run polls it
                    self._slots.release(shot.spec.family)
                    return None
                # submitted just now, and waited for from now: the row read before the submit may still hold the
                # times of the shot's earlier, failed task (--retry-failed, or one that failed in this run)
                task = InFlight(task_id, None, False, gateway.known_as)
            else:
                assert task_id is not None
                task = InFlight(task_id, row.submitted_at, (row.error or "").startswith(j.ADOPTED), row.gateway)
            again = False
            try:
                view = await self.watcher.wait(shot, gateway, task)
                again = view is None and self.tries.due(shot.id)
            finally:
                self.queues.ended(shot.spec.family, task_id)
                if not again:  # a new task for the shot takes over its slot
                    self._slots.release(shot.spec.family)
            if view is not None:
                self.outages.rendered(shot.model)
                return task_id, view
            if not again:
                return None
            state = j.PENDING

    def _task_failed(self, shot: Shot, task_id: str, words: str) -> None:
        # a stopping run, or one that submits nothing, leaves a new task to the next run
        self.tries.task_failed(shot, task_id, words, self.stopping or self.settings.no_submit)

    def _fail(self, shot_id: str, reason: str, billed: str = "0") -> None:
        log.info("shot %s: failed: %s", shot_id, reason)
        self.journal.update(shot_id, state=j.FAILED, error=reason, billed_usd=billed, finished_at=j.now())
        self.progress.event("failed", finished=True)
