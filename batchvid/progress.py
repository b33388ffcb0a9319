"""Progress of a run: shots submitted / rendering / downloaded / failed, and spend so far.

In a terminal, a tqdm bar. Elsewhere (a log file, CI, nohup) a plain line now and then, so that a batch of hours
still shows it is alive and how far it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from decimal import Decimal

from tqdm import tqdm

#: seconds between two progress lines when stderr is not a terminal
LINE_EVERY = 60.0
#: seconds between two redraws of the bar for events that finish no shot
REDRAW_EVERY = 0.5


class Progress:
    def __init__(self, total: int, done: int = 0, enabled: bool | None = None) -> None:
        """`enabled`: None = a bar in a terminal, lines elsewhere; True = a bar anyway; False = nothing."""
        self.counts: Counter[str] = Counter()
        self.spend = Decimal(0)
        self.total, self.finished = total, done
        self._done_before, self._started = done, time.monotonic()
        terminal = sys.stderr.isatty()
        # some ptys (script, CI runners) report a size of 0 x 0, and tqdm then draws nothing: give it one
        sized = terminal and min(_size()) > 0
        self._bar = tqdm(total=total, initial=done, unit="shot", file=sys.stderr, dynamic_ncols=sized,
                         ncols=None if sized else 100, nrows=None if sized else 24,
                         disable=(not terminal) if enabled is None else not enabled, leave=True)
        self._lines = enabled is None and not terminal
        self._next_line = time.monotonic() + LINE_EVERY
        self._next_redraw = 0.0
        self._redraw: asyncio.TimerHandle | None = None

    def event(self, name: str, finished: bool = False, cost: Decimal | None = None) -> None:
        self.counts[name] += 1
        if cost is not None:
            self.spend += cost
        if finished:
            self.finished += 1
        self._show(1 if finished else 0)

    def unfinished(self, name: str) -> None:
        """An `event(name, finished=True)` taken back: the shot is to do again (its model left for the next run)."""
        self.counts[name] -= 1
        self.finished -= 1
        self._show(-1)

    def _show(self, advance: int) -> None:
        if self._lines:
            self._line()
        elif not self._bar.disable:
            # the counts first: tqdm draws as it advances, and that frame would show the counts from before
            self._bar.set_postfix_str(self._counts(), refresh=False)
            if advance:
                self._bar.update(advance)
            self._redraw_soon()

    def _redraw_soon(self) -> None:
        """Redraw now, or after REDRAW_EVERY when it was redrawn just now. tqdm redraws when a shot finishes; with
        renders of minutes, submits and renders would not show for minutes."""
        if self._redraw is not None:
            return  # one is due already and will show this event too
        now = time.monotonic()
        if now >= self._next_redraw:
            self._draw()
            return
        try:
            self._redraw = asyncio.get_running_loop().call_later(self._next_redraw - now, self._draw)
        except RuntimeError:  # no loop: the next event draws
            pass

    def _draw(self) -> None:
        self._redraw = None
        self._next_redraw = time.monotonic() + REDRAW_EVERY
        self._bar.refresh()

    def _counts(self) -> str:
        c = self.counts
        again = f" ({c['again']} again)" if c["again"] else ""  # tasks for shots whose task failed at the provider
        return (f"submitted {c['submitted']}{again} rendering {c['submitted'] - c['rendered']} downloaded "
                f"{c['downloaded']} failed {c['failed']} spend ${self.spend:.2f}")

    def _line(self) -> None:
        now = time.monotonic()
        if now < self._next_line:
            return
        self._next_line = now + LINE_EVERY
        print(f"batchvid: {self.finished}/{self.total} shots finished; {self._counts()}{self._left(now)}",
              file=sys.stderr, flush=True)

    def _left(self, now: float) -> str:
        """How long the shots left will take at this run's pace so far (a guide: renders finish in waves)."""
        finished_here, left = self.finished - self._done_before, self.total - self.finished
        if finished_here <= 0 or left <= 0:
            return ""
        return f"; about {_duration(left * (now - self._started) / finished_here)} left at this run's pace"

    def logging_above(self) -> contextlib.AbstractContextManager[None]:
        """Log lines (a gateway unreachable for a while, say) written above the bar, not through it."""
        if self._bar.disable:
            return contextlib.nullcontext()
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirected: contextlib.AbstractContextManager[None] = logging_redirect_tqdm()  # tqdm has no type hints
        return redirected

    def close(self) -> None:
        if self._redraw is not None:
            self._redraw.cancel()
            self._redraw = None
        self._bar.close()


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "a minute"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _size() -> tuple[int, int]:
    try:
        return os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        return 0, 0
