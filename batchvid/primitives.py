"""Small asyncio primitives of the scheduler: backoff, task slots, and the poll heap."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import random
from collections.abc import Awaitable, Mapping


def backoff(attempt: int, retry_after: float | None, cap: float, base: float = 0.5) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    return max(delay, retry_after or 0.0)


class Slots:
    """Tasks in flight at the gateway, held from submit until the task ends: at most `limit` in all, and at most
    `per_family[f]` of family f, where its provider renders only so many at once and queues the rest (a queued task
    would hold a slot that another family's shot could use); `found[f]`, such a limit found during the run
    (queues.py), is kept while other families' shots wait (the caller asks free_for with found=False when none
    does).

    A shot waiting out the backoff before its next submit has no task at the gateway: it gives its slot back meanwhile
    (wait_out), and gets one again before any new shot does. A model whose submits fail (its channel down, a 429)
    would otherwise hold every slot while other models' shots could render."""

    def __init__(self, limit: int, per_family: Mapping[str, int] | None = None) -> None:
        self.limit = limit
        self.per_family = dict(per_family or {})
        #: per family, a lower limit found during the run (queues.py), under per_family's
        self.found: dict[str, int] = {}
        self.used = 0
        self.used_by: collections.Counter[str] = collections.Counter()
        #: per model, its shots waiting out a submit's backoff: while any does, no new shot of the model starts
        #: (its submits fail now: a new one would only fail beside them)
        self.backing_off: collections.Counter[str] = collections.Counter()
        self._regaining = 0  # shots past their backoff waiting for a slot: first in line
        self._freed: asyncio.Future[None] | None = None

    def free_for(self, family: str, *, found: bool = True) -> bool:
        """Whether a new shot of the family may go now (after the shots back from a backoff); `found=False`:
        whatever limit the run found for it."""
        return self._room(family, self.used + self._regaining, found)

    def _room(self, family: str, used: int, found: bool) -> bool:
        own = self.per_family.get(family, self.limit)
        if found:
            own = self.found.get(family, own)
        return used < self.limit and self.used_by[family] < own

    async def wait_out(self, family: str, model: str, pause: Awaitable[None]) -> None:
        """A shot's backoff before its next submit, its slot given back meanwhile and taken again after (before any
        new shot's). Whatever happens the caller holds a slot again when this returns or raises: it gives that back
        when the shot ends without a task."""
        self.release(family)
        self.backing_off[model] += 1
        regained = False
        try:
            await pause
            self._regaining += 1
            try:
                # its own slot it had: the family's own limit holds, not one found from queued tasks since
                while not self._room(family, self.used, found=False):
                    await self.freed()
            finally:
                self._regaining -= 1
            self.take(family)
            regained = True
        finally:
            self.backing_off[model] -= 1
            if not self.backing_off[model]:
                del self.backing_off[model]
                self._wake()  # the model's next shots may start again
            if not regained:  # cancelled (a stop): counted again, for the caller to give back
                self.take(family)

    def cap(self, family: str, limit: int) -> None:
        """Keep the family to `limit` tasks in flight (never above its own limit); those in flight stay."""
        own = self.per_family.get(family, self.limit)
        if limit < own:
            self.found[family] = limit
        else:
            self.found.pop(family, None)
        self._wake()  # a higher limit than before may let a shot go

    def take(self, family: str) -> None:
        """Count a task in flight; one from an earlier run counts at once, limit or not."""
        self.used += 1
        self.used_by[family] += 1

    def release(self, family: str) -> None:
        self.used -= 1
        self.used_by[family] -= 1
        self._wake()

    def _wake(self) -> None:
        if self._freed is not None and not self._freed.done():
            self._freed.set_result(None)

    async def freed(self) -> None:
        """Until the next release, or the end of a model's backoffs."""
        if self._freed is None or self._freed.done():
            self._freed = asyncio.get_running_loop().create_future()
        await self._freed


class PollQueue:
    """One heap of due times for every poll: the task due first is polled first.

    No background task: one `loop.call_at` timer for the earliest entry, as aiolimiter does.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def turn(self, due: float, until: asyncio.Event | None = None) -> None:
        """Wait until `due`, or until `until` is set if that comes first."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (due, next(self._count), future))
        if self._heap[0][2] is future:  # a new earliest entry: move the timer forward
            self._arm()
        if until is None:
            await future
            return
        set_early = asyncio.ensure_future(until.wait())
        try:
            await asyncio.wait((future, set_early), return_when=asyncio.FIRST_COMPLETED)
        finally:
            set_early.cancel()
            future.cancel()  # its entry is passed over when it comes due

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(self._heap[0][0], self._release) if self._heap else None

    def _release(self) -> None:
        now = asyncio.get_running_loop().time()
        while self._heap and self._heap[0][0] <= now:
            _, _, future = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)
        self._arm()

