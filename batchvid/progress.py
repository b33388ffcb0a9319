"""The tqdm progress line: shots submitted / rendering / downloaded / failed, and spend so far."""

from __future__ import annotations

import sys
from collections import Counter
from decimal import Decimal

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, done: int = 0, enabled: bool | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self.spend = Decimal(0)
        self._bar = tqdm(total=total, initial=done, unit="shot", file=sys.stderr, dynamic_ncols=True,
                         disable=(not sys.stderr.isatty()) if enabled is None else not enabled, leave=True)

    def event(self, name: str, finished: bool = False, cost: Decimal | None = None) -> None:
        self.counts[name] += 1
        if cost is not None:
            self.spend += cost
        if finished:
            self._bar.update(1)
        if self._bar.disable:
            return
        self._bar.set_postfix_str(
            f"submitted {self.counts['submitted']} rendering {self.counts['submitted'] - self.counts['rendered']} "
            f"downloaded {self.counts['downloaded']} failed {self.counts['failed']} spend ${self.spend:.2f}",
            refresh=False,
        )

    def close(self) -> None:
        self._bar.close()
