"""The journal's group commit: the changes of one event-loop turn share one commit, and only a POST waits for it."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable

from . import journal as j
from .errors import FatalError
from .spare import Spare


class GroupCommit:
    """Commits the journal once a loop turn, for every shot that changed in it.

    A failed commit stops the run (`on_failure`) and is kept in `error`, to be said at the run's end with the task
    ids it could not save.
    """

    def __init__(self, journal: j.Journal, on_failure: Callable[[], None], spare: Spare | None = None) -> None:
        self.journal = journal
        self._on_failure = on_failure
        self._spare = spare
        #: whether the spare file holds every id in `unsaved`
        self._kept = False
        self._waiting: asyncio.Future[None] | None = None
        #: the last commit that failed; the run stops and reports it
        self.error: Exception | None = None
        #: task ids the gateway gave since the last commit: if the journal cannot take them, the user is told
        self.unsaved: dict[str, str] = {}
        #: shots whose `submitting` is on disk but whose POST never left (the run stopped first), since the last
        #: commit: if the journal cannot take them back to pending, the spare file says so for them
        self.unsent: set[str] = set()

    async def durable(self) -> None:
        """Commit every change made so far and wait for it: only before a POST, where it must be on disk first.

        Shots arriving here in the same loop turn share one commit.
        """
        self.soon()
        assert self._waiting is not None
        await asyncio.shield(self._waiting)

    def soon(self) -> None:
        """Commit every change made so far at the start of the next loop turn, without waiting for it.

        The loop runs callbacks in the order they were scheduled, so a task id is on disk before its first
        poll (a poll waits for its turn in the poll queue, a later loop turn), as if it had been awaited, at
        a fraction of the cost. A download may start in the same turn as its `downloading` change: a kill
        before the commit only means the next run polls that task again. A commit that fails stops the run.
        """
        if self._waiting is None:
            loop = asyncio.get_running_loop()
            self._waiting = loop.create_future()
            loop.call_soon(self._scheduled)

    def now(self) -> None:
        """Commit at once (raises what the journal raises)."""
        self.journal.commit()
        self.unsaved.clear()
        self.unsent.clear()

    def failed(self, exc: Exception) -> None:
        """A commit (or a write beside one) failed: the run stops, and says so at its end. The task ids it could not
        save go to the spare file, for the next run to follow."""
        self.error = exc
        self._keep_spare()
        self._on_failure()

    def _keep_spare(self) -> None:
        if (self.unsaved or self.unsent) and self._spare is not None:
            self._kept = self._spare.keep(self.unsaved, self.unsent)

    def failure(self) -> FatalError:
        """The run's end when the journal cannot be written, with the tasks the gateway made whose ids it could not
        keep: without them the next run can only call those shots uncertain, so the user gets them, and the way to
        follow them instead of paying again."""
        said = f"cannot write the journal {self.journal.path}: {self.error}; free some space and run again"
        self._keep_spare()  # with the ids of POSTs that ended after the failed commit
        if self.unsaved and self._spare is not None and self._kept:
            said += (f"; the gateway made {len(self.unsaved)} task(s) whose ids the journal could not take: they are "
                     f"kept in {self._spare.path}, and the next run follows them")
        elif self.unsaved:
            adopt = " ".join("--adopt " + shlex.quote(f"{shot}={task}") for shot, task in sorted(self.unsaved.items()))
            said += (f"; the gateway made {len(self.unsaved)} task(s) whose ids could not be saved: add {adopt} to "
                     "follow them instead of paying for them again")
        if self.unsent and not self._kept:  # nothing beside the journal says so: the next run calls them uncertain
            said += (f"; {len(self.unsent)} shot(s) whose submit never left will read as uncertain: add --force "
                     f"{' '.join(sorted(self.unsent))} to send them once")
        return FatalError(said)

    def _scheduled(self) -> None:
        waiting, self._waiting = self._waiting, None
        try:
            self.now()
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, and stops the run
            self.failed(exc)
            if waiting is not None:
                waiting.set_exception(exc)
                waiting.exception()  # marked as seen: nobody may be waiting on it
            return
        if waiting is not None:
            waiting.set_result(None)
