"""--max-cost's bookkeeping during a run: holds, bills that raise them, and the first submit of a model alone."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from batchvid.budget import Budget
from batchvid.pricing import Quote
from batchvid.shot import Shot


def shot(shot_id: str, model: str = "wan2.5-t2v-preview") -> Shot:
    return Shot(id=shot_id, model=model, fields={"duration": 5, "resolution": "720p"}, line=0)


def quotes(*ids: str, usd: str = "1.00") -> dict[str, Quote]:
    return {i: Quote(unit_usd=None, cost_usd=Decimal(usd), source="test", unit_label="") for i in ids}


def test_shots_hold_their_estimates_until_the_cap_and_give_them_back_when_nothing_was_made() -> None:
    budget = Budget(Decimal("2.50"), quotes("a", "b", "c"))
    assert budget.reserve(shot("a")) and budget.reserve(shot("b"))
    assert not budget.reserve(shot("c")) and budget.held_back == 1  # 3.00 would pass 2.50
    budget.release(shot("b"))
    assert budget.reserved == Decimal("1.00") and budget.reserve(shot("c"))


def test_a_bill_above_the_estimate_raises_the_hold_and_the_next_shots_reservations() -> None:
    budget = Budget(Decimal("5"), quotes("a", "b", "c"))
    assert budget.reserve(shot("a"))
    budget.heed_bill(shot("a"), Decimal("2.00"))  # an account billed twice the table's price
    assert budget.reserved == Decimal("2.00") and budget.bill_ratio == {"wan2.5-t2v-preview": Decimal(2)}
    assert budget.reserve(shot("b")) and budget.reserved == Decimal("4.00")  # held at 2x its estimate
    assert not budget.reserve(shot("c"))
    budget.heed_bill(shot("b"), Decimal("0.50"))  # a bill below the hold lowers nothing
    assert budget.reserved == Decimal("4.00")


def test_without_a_cap_every_shot_goes_and_the_ratios_are_still_kept() -> None:
    budget = Budget(None, quotes("a", "b"))
    assert budget.reserve(shot("a")) and budget.reserve(shot("b"))
    budget.heed_bill(shot("a"), Decimal("1.50"))
    assert budget.held_back == 0 and budget.bill_ratio == {"wan2.5-t2v-preview": Decimal("1.5")}


async def test_under_a_cap_a_models_first_submit_goes_alone() -> None:
    budget = Budget(Decimal("10"), quotes("a", "b", "v"))
    await budget.after_first_submit(shot("a"))  # the first of its model: no wait
    second = asyncio.create_task(budget.after_first_submit(shot("b")))
    other_model = asyncio.create_task(budget.after_first_submit(shot("v", "viduq3p-720p")))
    await asyncio.sleep(0.01)
    assert not second.done() and other_model.done()
    budget.first_answered(shot("b"))  # not the first: changes nothing
    await asyncio.sleep(0.01)
    assert not second.done()
    budget.first_answered(shot("a"))
    await asyncio.wait_for(second, 1)
