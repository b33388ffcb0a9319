"""Request pacing: one limiter for each model family, within one ceiling for each gateway.

Slots are spaced exactly 1/rate apart, so there is never a burst above the rate (the known trap of
token buckets: AsyncLimiter(n, period) lets n through at once). A 429 pauses every caller of that
family and halves its rate; successes win it back additively (AIMD); the user's rate is a ceiling
for each family and for all of them together at one gateway. Per family, because the gateway
passes its providers' 429s through (Vertex Veo preview allows 10 requests a minute): a Veo 429
must not slow the Wan shots down. 429s of two families close together are the gateway's own limit,
which they share: then the pace of all of them together is cut too (and won back the same way).
All time comes from the loop's clock.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Iterable


def spacing(rate: float | None) -> float:
    """Seconds between two slots at `rate` (0 when unlimited)."""
    # 1 % of headroom: clock jitter must not put R+1 requests into some one-second window
    return 1.0 / (rate * 0.99) if rate else 0.0


class RateLimiter:
    """At most `rate` acquisitions per second, evenly spaced; adapts below its ceiling after 429s.

    Example::

        limiter = RateLimiter(2.0)      # the user's limit: a ceiling, never exceeded
        await limiter.acquire()         # before every request to the gateway
        limiter.throttled(retry_after)  # on 429: halve the rate and pause everyone
        limiter.succeeded()             # on success: win the rate back step by step
    """

    __slots__ = ("ceiling", "rate", "cuts", "drew_429", "within", "_held", "_next", "_paused_until", "_pauses")

    def __init__(self, rate: float | None, within: Ceiling | None = None) -> None:
        #: the user's limit (requests per second); None means unlimited
        self.ceiling = rate or None
        #: the pace this limiter shares with others (a family's, with the other families at its gateway): each
        #: slot is booked there too
        self.within = within
        self._held: deque[float] = deque()  # the slots this limiter holds there, from the latest pause on, in order
        #: the rate in force now: the ceiling, or less after 429s
        self.rate = self.ceiling
        #: how many times a 429 cut the rate
        self.cuts = 0
        #: the pace that drew the latest 429 (not counting those answered during the pause it began): about where
        #: the gateway's limit was then
        self.drew_429: float | None = None
        self._next = 0.0
        self._paused_until = 0.0
        self._pauses = 0  # a slot taken before the latest pause is void

    @property
    def interval(self) -> float:
        return spacing(self.rate)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            slot = max(now, self._next, self._paused_until)
            if self.within is not None and self.within.rate is not None:
                slot = self.within.book(slot, now)
                held = self._held
                while held and held[0] <= now:
                    held.popleft()
                held.append(slot)
            self._next = slot + self.interval
            if slot <= now:
                return
            pauses = self._pauses
            await asyncio.sleep(slot - now)
            if self._pauses == pauses:
                return
            # A 429 came while this caller waited: its slot was spaced for the old rate and may fall inside the
            # pause. Take a new one, after the pause and at the rate in force now.

    def pause(self, seconds: float) -> None:
        """Nobody sends until `seconds` from now, including callers already waiting for a slot."""
        now = asyncio.get_running_loop().time()
        self._paused_until = max(self._paused_until, now + seconds)
        # The slots handed out so far are void; the new ones start after the pause, and no sooner than an
        # interval after now, so that they keep their spacing from a request that has just left.
        self._next = max(self._paused_until, now + self.interval)
        self._pauses += 1
        if self.within is not None:  # and so are their places at the ceiling: the other families may have them
            self.within.release(slot for slot in self._held if slot > now)
            self._held.clear()

    def throttled(self, retry_after: float | None) -> None:
        """A 429: cut the rate multiplicatively and pause as the server asked (or one new interval)."""
        if self.ceiling is not None and self.rate is not None:
            if asyncio.get_running_loop().time() >= self._paused_until:
                self.drew_429 = self.rate
            self.rate = max(self.ceiling / 64, self.rate / 2)
            self.cuts += 1
        self.pause(retry_after if retry_after is not None else max(self.interval, 1.0))
        if self.within is not None:
            self.within.throttled(self, asyncio.get_running_loop().time())

    def succeeded(self) -> None:
        """An answer that was not a 429: recover additively, never above the ceiling."""
        if self.ceiling is not None and self.rate is not None and self.rate < self.ceiling:
            self.rate = min(self.ceiling, self.rate + self.ceiling / 20)
        if self.within is not None and self.within.rate != self.within.limit:
            self.within.succeeded()


class Ceiling:
    """One rate for several limiters (the families at one gateway): any two of their slots are 1/rate apart.

    Slots are booked out of order, each in the first gap from the time asked: a family paused by its provider
    books its slot after the pause, and the others keep sending before it instead of queueing behind it.
    """

    __slots__ = ("limit", "rate", "cuts", "_booked", "_last_429")

    #: 429s of two families this close together (or two of the user's intervals, at a slower --rate) are taken
    #: for the gateway's own limit, not two providers'
    SHARED_WITHIN = 2.0

    def __init__(self, rate: float | None) -> None:
        #: the user's limit for all families together; None means unlimited
        self.limit = rate or None
        #: the pace in force now: the limit, or less after 429s of several families
        self.rate = self.limit
        #: how many times such 429s cut it
        self.cuts = 0
        self._booked: list[float] = []  # slots handed out that a new one could still come near, in order
        self._last_429: tuple[object, float] | None = None  # which limiter drew the latest 429, and when

    def throttled(self, limiter: object, now: float) -> None:
        """A 429 for one family: when another family drew one just before, the limit is shared: halve the pace."""
        last, self._last_429 = self._last_429, (limiter, now)
        if self.limit is None or self.rate is None or last is None:
            return
        if last[0] is not limiter and now - last[1] <= max(self.SHARED_WITHIN, 2 * spacing(self.limit)):
            self.rate = max(self.limit / 64, self.rate / 2)
            self.cuts += 1

    def succeeded(self) -> None:
        """An answer that was not a 429: win the pace back additively, never above the limit."""
        if self.limit is not None and self.rate is not None:
            self.rate = min(self.limit, self.rate + self.limit / 20)

    @property
    def interval(self) -> float:
        return spacing(self.rate)

    def book(self, earliest: float, now: float) -> float:
        """The first slot from `earliest` at least an interval from every other, taken."""
        gap = self.interval
        if not gap:
            return earliest
        booked = self._booked
        del booked[:bisect.bisect_right(booked, now - gap)]  # past ones that no new slot can come near
        slot = earliest
        for taken in booked[bisect.bisect_right(booked, slot - gap):]:
            if taken >= slot + gap:
                break  # room before it
            slot = taken + gap
        bisect.insort(booked, slot)
        return slot

    def release(self, slots: Iterable[float]) -> None:
        """Give back slots booked and no longer wanted (their callers were told to book again)."""
        booked = self._booked
        for slot in slots:
            at = bisect.bisect_left(booked, slot)
            if at < len(booked) and booked[at] == slot:
                del booked[at]

