"""Small asyncio primitives of the scheduler: backoff, task slots, and the poll heap."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import random


def backoff(attempt: int, retry_after: float | None, cap: float, base: float = 0.5) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    return max(delay, retry_after or 0.0)


class Slots:
    """Tasks in flight at the gateway, held from submit until the task ends; waiters served in order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> None:
        if self.used < self.limit and not self._waiters:
            self.used += 1
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future  # release() counted this slot as ours already
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            elif future in self._waiters:
                self._waiters.remove(future)
            raise

    def take(self) -> None:
        """A task already in flight from an earlier run counts at once, limit or not."""
        self.used += 1

    def release(self) -> None:
        self.used -= 1
        while self._waiters and self.used < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self.used += 1
                future.set_result(None)


class PollQueue:
    """One heap of due times for every poll: the task due first is polled first.

    No background task: one `loop.call_at` timer for the earliest entry, as aiolimiter does.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def turn(self, due: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (due, next(self._count), future))
        if self._heap[0][2] is future:  # a new earliest entry: move the timer forward
            self._arm()
        await future

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
