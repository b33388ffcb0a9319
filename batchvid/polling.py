"""When to poll a task next: adaptive, so that a batch spends few polls and still notices a
finished task quickly.

Three sources, best first:
1. the task's own `progress` (Sora and Vidu report it): extrapolate when it reaches 100;
2. render times learned from finished tasks of the same model, resolution and duration (within the
   run and kept in the journal for later runs): sleep until the fastest of them would finish;
3. nothing known yet: the documents' fixed interval at first, then up to twice it once the task has rendered for
   eight intervals: a render of minutes seldom ends in its first half-minute, and a task that was found late costs
   seconds, where each poll of the first tasks of a model costs a request.
Near the expected end it polls a little more often than the fixed interval. `fixed` turns all of this off.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

Key = tuple[str, str, int]  # model, resolution, seconds

MIN_SAMPLES = 3
MAX_SAMPLES = 200


@dataclass
class Progress:
    """The last progress seen for one task: (seconds since submit, percent)."""

    points: list[tuple[float, int]] = field(default_factory=list)
    #: seconds since submit when the task was last seen not started (queued at a provider that renders only so many
    #: at once): its first progress counts from there, not from the submit
    not_started: float = 0.0

    def add(self, elapsed: float, percent: int | None, queued: bool = False) -> None:
        if not self.points and (queued or percent == 0):
            self.not_started = elapsed
        if percent is not None and 0 < percent < 100 and (not self.points or percent > self.points[-1][1]):
            self.points.append((elapsed, percent))

    def eta(self) -> float | None:
        """Seconds since submit at which progress should reach 100, or None."""
        if not self.points:
            return None
        t2, p2 = self.points[-1]
        t1, p1 = self.points[-2] if len(self.points) > 1 else (self.not_started, 0)
        if t2 <= t1 or p2 <= p1:
            return None
        return t2 + (100 - p2) * (t2 - t1) / (p2 - p1)


class RenderTimes:
    """Render times (seconds from submit to done) learned per key, kept sorted."""

    def __init__(self) -> None:
        self.samples: dict[Key, list[float]] = defaultdict(list)

    def add(self, key: Key, seconds: float) -> None:
        samples = self.samples[key]
        bisect.insort(samples, seconds)
        if len(samples) > MAX_SAMPLES:
            samples.pop(len(samples) // 2)  # thin from the middle: keep the extremes

    def earliest(self, key: Key) -> float | None:
        """A low quantile of the learned times: before it, the task is very likely still rendering.
        With too few samples for this key, the fastest time of the same model at any setting."""
        samples = self.samples.get(key)
        if samples and len(samples) >= MIN_SAMPLES:
            return samples[len(samples) // 10]
        same_model = [s[0] for k, s in self.samples.items() if k[0] == key[0] and len(s) >= MIN_SAMPLES]
        return min(same_model) if same_model else None


class PollPlanner:
    def __init__(self, interval: float, times: RenderTimes, fixed: bool = False) -> None:
        self.interval = interval
        self.times = times
        self.fixed = fixed
        self.dense = interval * 0.85  # near the end: a little under the fixed interval, so latency is no worse
        self.longest = interval * 15

    def first(self, key: Key) -> float:
        return self.next(key, 0.0, Progress())

    def next(self, key: Key, elapsed: float, progress: Progress) -> float:
        """Seconds from now to the next poll of a task submitted `elapsed` seconds ago."""
        if self.fixed:
            return self.interval
        target, margin = progress.eta(), self.dense
        if target is None:
            # a low quantile of learned times: early already, and a margin would only cost polls
            target, margin = self.times.earliest(key), 0.0
            if target is None:
                return min(2 * self.interval, max(self.interval, elapsed / 8))
        wait = target - elapsed
        if wait <= self.dense:
            return self.dense
        # aim a little early: a late poll costs latency, an early one costs a single request. An extrapolated
        # finish may be late by seconds (progress comes in whole percent and need not reach 100 as the task ends):
        # polls go dense one interval before it, not in one long step past it
        return min(self.longest, max(self.dense, min(wait * 0.9, wait - margin)))
