"""Tasks that another gateway made: whether this run's gateway knows them is found out once for all of them.

The journal keeps the base URL that made each task (journal.Row.gateway). A batch resumed with another base URL
(a mirror, a new domain, a typo) has its tasks in flight polled where the run points: a gateway that knows them
(the same service by another name) follows them as any others; one that does not answers each poll with a 404.
The first poll of such a task finds out for all the tasks of that base URL, while the others wait for its answer:
a thousand kept tasks cost one request, not a thousand (eight minutes at 2 a second), before the run says where
they were made.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from . import journal as j

#: (the base URL that made the tasks, this run's gateway for them)
Pair = tuple[str, str | None]


class NotAsked(Exception):
    """A poll not sent: this gateway refused another task of the same base URL. The task is kept, and its row
    says why."""


class TasksMadeElsewhere:
    __slots__ = ("_asking", "_knows")

    def __init__(self) -> None:
        self._knows: dict[Pair, bool] = {}  #: what a poll found: the gateway knew such a task, or refused one
        self._asking: dict[Pair, asyncio.Lock] = {}  #: held by the poll that is finding out

    @contextlib.asynccontextmanager
    async def asking(self, made_at: str, here: str | None) -> AsyncIterator[bool | None]:
        """Around a poll of a task made at `made_at`: yields True when this gateway is known to know such tasks,
        False when it refused one (the poll is not worth sending), None when this poll is to find out (the others
        wait until it has: say which with knows())."""
        pair = (made_at, here)
        if (found := self._knows.get(pair)) is not None:
            yield found
            return
        lock = self._asking.setdefault(pair, asyncio.Lock())
        await lock.acquire()
        if (found := self._knows.get(pair)) is not None:  # found out while this one waited
            lock.release()
            yield found
            return
        try:
            yield None
        finally:
            lock.release()

    def knows(self, made_at: str, here: str | None, known: bool) -> None:
        """What a poll found out: whether the gateway `here` knows the tasks made at `made_at`."""
        self._knows.setdefault((made_at, here), known)

    def refused(self, made_at: str, here: str | None) -> bool:
        """Whether the gateway `here` refused a task made at `made_at`."""
        return self._knows.get((made_at, here)) is False


def other(made_at: str | None, here: str | None) -> str | None:
    """The base URL that made a task, where it is known and another than this run's gateway (`here`: its
    Gateway.known_as; None in a rehearsal, which keeps no base URL)."""
    return made_at if made_at is not None and here is not None and made_at != here else None


def kept(made_at: str) -> str:
    """How a task kept for the gateway that made it is said (the marker first, for the summary's next step)."""
    return f"{j.MADE_ELSEWHERE}{made_at}: run with that base URL to follow it"
