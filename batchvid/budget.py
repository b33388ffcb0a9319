"""--max-cost during a run: what each shot holds of the cap, and the gateway's bills that raise it.

A shot holds its estimate from the moment it is submitted, times its model's bill ratio (the gateway's bills over the
estimates, where above 1: an account's group ratio, a price above the table's). A bill the gateway reports raises the
shot's hold to it, and the ratio for the shots after it. Without a cap the same sums are kept: the summary says the
ratios either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from decimal import Decimal

from . import journal as j
from .pricing import Quote
from .shot import Shot


class Budget:
    def __init__(self, cap: Decimal | None, quotes: Mapping[str, Quote]) -> None:
        self.cap = cap
        self.quotes = quotes
        #: what the manifest's shots hold of the cap: done, may be charged, or submitted in this run
        self.reserved = Decimal(0)
        #: shots not submitted because they would have passed the cap
        self.held_back = 0
        #: per model, the gateway's bill over the estimate, where above 1
        self.bill_ratio: dict[str, Decimal] = {}
        #: what each shot submitted in this run holds: its estimate, raised to its bill once known
        self._held: dict[str, Decimal] = {}
        #: under a cap, per model: the shot whose submit goes first and alone, and its answer's arrival
        self._first_submit: dict[str, tuple[str, asyncio.Future[None]]] = {}

    def count_earlier(self, rows: Iterable[j.Row]) -> None:
        """What earlier runs left: shots done or that may be charged hold their cost already, at the bill where the
        gateway said it (the journal keeps what earlier runs learned), and their bills set the ratios."""
        rows = list(rows)
        self.reserved = sum((max(j.amount(r, "estimated_usd"), j.amount(r, "billed_usd")) for r in rows
                             if r.state in (j.SUBMITTED, j.UNCERTAIN) or j.rendered(r)), Decimal(0))
        self.bill_ratio = j.bill_ratios(rows)

    def reserve(self, shot: Shot) -> bool:
        """Hold the shot's likely cost before its submit; False (and nothing held) if that would pass the cap."""
        cost = (self.quotes[shot.id].cost_usd or Decimal(0)) * self.bill_ratio.get(shot.model, Decimal(1))
        if self.cap is not None and self.reserved + cost > self.cap:
            self.held_back += 1
            return False
        self.reserved += cost
        self._held[shot.id] = cost
        return True

    def release(self, shot: Shot) -> None:
        """Nothing was made and nothing will be: the shot's hold is given back."""
        self.reserved -= self._held.pop(shot.id, Decimal(0))

    def heed_bill(self, shot: Shot, billed: Decimal | None) -> None:
        """A bill the gateway reported (in a submit's answer, as it will charge; or once rendered): the shot's hold
        rises to it, and later reservations of its model follow its ratio to the estimate."""
        if billed is None:
            return
        estimate = self.quotes[shot.id].cost_usd
        held = self._held.get(shot.id, estimate or Decimal(0))
        if billed > held:
            self.reserved += billed - held
            self._held[shot.id] = billed
        if estimate and billed / estimate > self.bill_ratio.get(shot.model, Decimal(1)):
            self.bill_ratio[shot.model] = billed / estimate

    async def after_first_submit(self, shot: Shot) -> None:
        """Under a cap, the first submit of each model goes alone: its answer may say the bill (Wan's does, before
        anything is charged), and the shots after it reserve by that bill, not by the estimate alone."""
        if self.cap is None:
            return
        first = self._first_submit.get(shot.model)
        if first is None:
            self._first_submit[shot.model] = (shot.id, asyncio.get_running_loop().create_future())
        elif first[0] != shot.id and not first[1].done():
            await asyncio.wait([first[1]])  # not `await`: a stop cancelling this shot must not cancel the future

    def first_answered(self, shot: Shot) -> None:
        """The model's first submit has its answer (or will not send): the others go on."""
        first = self._first_submit.get(shot.model)
        if first is not None and first[0] == shot.id and not first[1].done():
            first[1].set_result(None)
