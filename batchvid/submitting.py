"""Each shot's submit, recorded: `submitting` committed before the POST leaves, then the task id, or why none was
made (DESIGN.md: states). A submit is sent again only when the gateway certainly created nothing (a 429, a 5xx, a
refused connection); a model whose submits draw only server errors, or that the key may not use (a 403), is left
for the next run (outage.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from . import journal as j
from . import outage
from .budget import Budget
from .commits import GroupCommit
from .errors import KEY_REFUSED, holds_secret
from .families._base import Billing
from .families._envelope import read_billing
from .gateway import Gateway, Refused, Rejected, Transient, Uncertain, said
from .outage import ModelOutages
from .primitives import Slots, backoff
from .progress import Progress
from .runsettings import RunSettings
from .shot import Shot
from .tries import Tries

MAX_SUBMIT_TRIES = 8

log = logging.getLogger(__name__)


class Submits:
    """The run's submits. `posting`: the shots whose POST is under way, let finish and recorded whatever stops the
    run."""

    def __init__(self, settings: RunSettings, journal: j.Journal, commits: GroupCommit, budget: Budget,
                 outages: ModelOutages, tries: Tries, progress: Progress, slots: Slots,
                 billed: Callable[[Shot, Billing], Decimal | None], fail: Callable[[str, str], None],
                 stopping: Callable[[], bool]) -> None:
        self._settings = settings
        self._journal = journal
        self._commits = commits
        self._budget = budget
        self._outages = outages
        self._tries = tries
        self._progress = progress
        self._slots = slots
        self._billed = billed
        self._fail = fail
        self._stopping = stopping
        self.posting: set[str] = set()

    def _reserve(self, shot: Shot) -> bool:
        if self._budget.reserve(shot):
            return True
        self._journal.update(shot.id, error=f"{j.OVER_BUDGET} ${self._budget.cap}")
        return False

    async def submit(self, shot: Shot, gateway: Gateway) -> str | None:
        """POST the shot: its task id, or None when no task was made (the row says why). The shot holds a slot already
        (the runner's feed), released here unless a task was created."""
        await self._budget.after_first_submit(shot)
        task_id = None
        try:
            if self._stopping() or not self._reserve(shot):
                self._slots.release(shot.spec.family)
                return None
            try:
                task_id = await self._post(shot, gateway)
            finally:
                if task_id is None:
                    self._slots.release(shot.spec.family)
        finally:
            self._budget.first_answered(shot)
        if task_id is not None:
            self._progress.event("submitted")
        return task_id

    async def _post(self, shot: Shot, gateway: Gateway) -> str | None:
        body = shot.request()
        tries = spent = 0  # POSTs that failed: in all (the backoff), and those that spent one of the shot's tries
        while spent < MAX_SUBMIT_TRIES:
            if self._model_out(shot):
                return None
            # Wait for the rate-limit slot first: only a POST about to leave is `submitting`, so a kill
            # while waiting does not make the shot uncertain; and a stop while waiting sends nothing.
            await gateway.limiter.acquire()
            if self._stopping():
                self._budget.release(shot)
                return None
            self.posting.add(shot.id)  # from here the POST is let finish and recorded, whatever stops the run
            try:
                task_id, retry_in = await self._post_once(shot, gateway, body, tries,
                                                          last=spent + 1 == MAX_SUBMIT_TRIES)
            finally:
                self.posting.discard(shot.id)
            if retry_in is None:
                return task_id
            tries += 1
            spent += outage.spends_a_try(gateway)  # as _not_made found it: no await since
            # stop() cancels a shot waiting here: it is pending, nothing was sent
            await self._slots.wait_out(shot.spec.family, shot.model, gateway.reach.pause(retry_in))
        return None

    async def _post_once(self, shot: Shot, gateway: Gateway, body: dict[str, Any], tries: int,
                         last: bool) -> tuple[str | None, float | None]:
        """One POST, recorded: (the task id if one was made, the seconds to wait before trying again if worth it).
        The shot's reservation against --max-cost is given back when nothing was made and nothing will be."""
        self._journal.mark_submitting(shot.id)
        await self._commits.durable()  # committed BEFORE the POST
        if self._stopping():  # the stop came while the commit was written: the POST has not left, and will not
            self._budget.release(shot)
            self._journal.unmark_submitting(shot.id)
            self._commits.unsent.add(shot.id)  # a journal that can take no more would leave it `submitting`
            self._commits.soon()
            return None, None
        try:
            try:
                answer = await gateway.submit(body, paced=True)
            finally:  # the first answer of its model, whatever it says: the others need not wait for its retries
                self._budget.first_answered(shot)
        except Transient as exc:
            return None, self._not_made(shot, gateway, exc, tries, last)
        except Uncertain as exc:
            log.info("shot %s: uncertain: %s", shot.id, exc)
            self._journal.update(shot.id, state=j.UNCERTAIN, error=f"{exc}; not resent (see --resubmit-uncertain)")
            self._progress.event("uncertain", finished=True)
            self._commits.soon()
            return None, None
        except Rejected as exc:
            self._outages.answered(shot.model)
            self._budget.release(shot)
            self._fail(shot.id, f"rejected at submit: {exc}")
            self._commits.soon()
            return None, None
        except Refused as exc:
            self._refused(shot, exc)
            return None, None
        self._outages.answered(shot.model)
        task_id = self._accept(shot, gateway, answer)
        self._commits.soon()  # the task id is on disk before this shot's next request leaves
        return task_id, None

    def _not_made(self, shot: Shot, gateway: Gateway, exc: Transient, tries: int, last: bool) -> float | None:
        """Nothing was created (429, 5xx, refused connection): safe to send again. The seconds to wait before the
        next try, or None when the shot is not tried again in this run (`last`: this was its last try, unless no
        connection could be made, which spends none)."""
        self._journal.update(shot.id, state=j.PENDING, error=f"submit: {exc}")
        self._commits.soon()  # nothing was created: a kill now must not leave it `submitting`
        outage.still_reachable(gateway, exc)
        if exc.status is not None and exc.status >= 500 and self._outages.server_error(shot.model, str(exc)):
            self._tries.model_down(shot.model)
        if self._stopping() or self._model_out(shot):
            self._budget.release(shot)
            return None
        if last and outage.spends_a_try(gateway):
            log.info("shot %s: submit not made (%s), its last try in this run", shot.id, exc)
            self._tries.submits_spent(shot)
            self._budget.release(shot)
            return None
        delay = backoff(tries, exc.retry_after, outage.backoff_cap(gateway, self._settings.backoff_cap))
        log.info("shot %s: submit not made (%s); trying again in %.1f s", shot.id, exc, delay)
        return delay

    def _refused(self, shot: Shot, exc: Refused) -> None:
        """The key, the balance, a proxy or the base URL refused the submit: nothing was created. A key refused one
        model leaves that model for the next run; anything else stops the run (raised again)."""
        self._budget.release(shot)
        if exc.status == 403 and str(exc).startswith(KEY_REFUSED):
            # a key may be refused one model only (a token limited to some models): its shots wait for the next
            # run while the others go on; a balance run out refuses each model's first submit in turn
            self._outages.refused(shot.model, f"{exc} (at the submit of {shot.id})")
            self._journal.update(shot.id, state=j.PENDING, error=f"submit: {self._outages.out(shot.model)}")
            self._commits.soon()
            return
        self._journal.update(shot.id, state=j.PENDING, error=f"submit: {exc}")  # the run stops
        self._commits.soon()
        if str(exc).startswith(KEY_REFUSED):  # which shot and model drew it, for the user to look up
            raise Refused(f"{exc} (at the submit of {shot.id}, a {shot.model} shot)", exc.status) from None
        raise exc

    def _model_out(self, shot: Shot) -> bool:
        """Whether the shot's model is left for the next run (outage.py): then so is the shot, pending."""
        why = self._outages.out(shot.model)
        if why is None:
            return False
        self._budget.release(shot)
        self._journal.update(shot.id, state=j.PENDING, error=f"submit: {why}")
        self._commits.soon()
        return True

    def _accept(self, shot: Shot, gateway: Gateway, answer: Mapping[str, object]) -> str | None:
        task_id = answer.get("task_id") or answer.get("id")
        if j.usable_task_id(task_id) and not holds_secret(task_id):
            self._journal.update(shot.id, state=j.SUBMITTED, task_id=task_id, submitted_at=j.now(), error=None,
                                gateway=gateway.known_as)
            log.info("shot %s: submitted (%s), task %s", shot.id, shot.model, task_id)
            self._commits.unsaved[shot.id] = task_id
            # Wan's answer says what the task will cost (price, seconds, group ratio) before anything is charged
            self._budget.heed_bill(shot, self._billed(shot, read_billing(answer)))
            return task_id
        if j.usable_task_id(task_id):  # the journal, the ledger and the logs never hold the key
            why = ("the submit answer's task id holds the API key, which batchvid writes nowhere: the task is not "
                   "followed")
        else:  # a 200 that reads like a refusal may still have made a task: uncertain, with the gateway's words
            words = said(answer)
            why = "the submit answer had no usable task id" + (f" (the gateway said: {words})" if words else "")
        self._journal.update(shot.id, state=j.UNCERTAIN, error=why)
        self._progress.event("uncertain", finished=True)
        return None
