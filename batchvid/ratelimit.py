"""Request pacing shared by everything that talks to one gateway.

Slots are spaced exactly 1/rate apart, so there is never a burst above the rate (the known trap of
token buckets: AsyncLimiter(n, period) lets n through at once). A 429 pauses every caller.
All time comes from the loop's clock.
"""

from __future__ import annotations

import asyncio


class RateLimiter:
    """At most `rate` acquisitions per second, evenly spaced; `pause()` holds everyone back."""

    __slots__ = ("interval", "_next", "_paused_until")

    def __init__(self, rate: float | None) -> None:
        #: seconds between two slots; 0 means unlimited
        self.interval = 0.0 if not rate else 1.0 / rate
        self._next = 0.0
        self._paused_until = 0.0

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """After a 429: nobody sends until `seconds` from now."""
        until = asyncio.get_running_loop().time() + seconds
        self._paused_until = max(self._paused_until, until)


def parse_rate(text: str) -> float:
    """'2/s', '120/min', '3' -> requests per second."""
    value = str(text).strip().lower().replace(" ", "")
    per = 1.0
    if "/" in value:
        value, unit = value.split("/", 1)
        units = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
                 "hour": 3600.0}
        if unit not in units:
            raise ValueError(f"unknown unit {unit!r} (use /s, /min or /h)")
        per = units[unit]
    number = float(value)
    if not number > 0:
        raise ValueError("the rate must be above 0")
    return number / per
