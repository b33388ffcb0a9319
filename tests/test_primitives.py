"""The scheduler's task slots: a limit, first come first served, and no slot lost to a cancellation."""

from __future__ import annotations

import asyncio

from batchvid.primitives import Slots


async def test_slots_hold_the_limit_and_serve_waiters_in_order() -> None:
    slots = Slots(2)
    order: list[int] = []

    async def worker(n: int) -> None:
        await slots.acquire()
        order.append(n)
        assert slots.used <= 2
        await asyncio.sleep(0.01)
        slots.release()

    await asyncio.gather(*(worker(n) for n in range(6)))
    assert order == list(range(6)) and slots.used == 0


async def test_a_cancelled_waiter_does_not_keep_or_lose_a_slot() -> None:
    slots = Slots(1)
    await slots.acquire()
    waiting = asyncio.create_task(slots.acquire())
    after = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    waiting.cancel()  # cancelled while still queued
    slots.release()
    await asyncio.wait_for(after, 1)  # the slot went to the next waiter
    assert slots.used == 1

    handed = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # the slot is handed over...
    handed.cancel()  # ...and the receiver is cancelled before it runs: the slot must be passed on
    await asyncio.gather(handed, return_exceptions=True)
    assert slots.used == 0
    await asyncio.wait_for(slots.acquire(), 1)
    assert slots.used == 1


def test_a_task_from_an_earlier_run_counts_over_the_limit() -> None:
    slots = Slots(1)
    slots.take()
    slots.take()
    assert slots.used == 2
    slots.release()
    slots.release()
    assert slots.used == 0
