"""The scheduler's task slots (a limit in all and per family, and a wait for the next one freed) and its poll heap."""

from __future__ import annotations

import asyncio

from batchvid.primitives import Slots


def test_slots_hold_the_limit_in_all_and_each_familys_own() -> None:
    slots = Slots(3, {"vidu": 1})
    assert slots.free_for("vidu") and slots.free_for("wan")
    slots.take("vidu")
    assert not slots.free_for("vidu")  # its own limit
    assert slots.free_for("wan")
    slots.take("wan")
    slots.take("wan")
    assert not slots.free_for("wan") and slots.used == 3  # the limit in all
    slots.release("vidu")
    assert slots.free_for("vidu") and slots.free_for("wan")
    assert Slots(2, {"vidu": 5}).free_for("vidu")  # a family's own above the whole run's is the run's


async def test_a_wait_for_a_free_slot_ends_at_the_next_release() -> None:
    slots = Slots(1)
    slots.take("wan")
    waiting = asyncio.create_task(slots.freed())
    await asyncio.sleep(0)
    assert not waiting.done()
    slots.release("wan")
    await asyncio.wait_for(waiting, 1)
    assert slots.free_for("wan")

    slots.take("wan")
    cancelled = asyncio.create_task(slots.freed())  # a waiter cancelled (a stop) does not spoil the next wait
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    after = asyncio.create_task(slots.freed())
    await asyncio.sleep(0)
    slots.release("wan")
    await asyncio.wait_for(after, 1)


def test_a_task_from_an_earlier_run_counts_over_the_limit() -> None:
    slots = Slots(1, {"vidu": 1})
    slots.take("vidu")
    slots.take("vidu")
    assert slots.used == 2 and not slots.free_for("vidu") and not slots.free_for("wan")
    slots.release("vidu")
    assert not slots.free_for("vidu")
    slots.release("vidu")
    assert slots.used == 0 and slots.free_for("vidu")


async def test_polls_put_off_while_the_gateway_is_down_go_as_it_answers_again() -> None:
    """A poll backed off during an outage (up to a minute) went only when its time came, long after another poll
    had found the gateway back."""
    from batchvid.gateway import Reach
    from batchvid.primitives import PollQueue

    polls, reach, loop = PollQueue(), Reach(), asyncio.get_running_loop()
    reach.down()
    put_off = [asyncio.create_task(polls.turn(loop.time() + 60, until=reach.returned)) for _ in range(3)]
    due_soon = asyncio.create_task(polls.turn(loop.time() + 0.05, until=reach.returned))
    await asyncio.wait_for(due_soon, 1)  # its own time comes first
    assert not any(task.done() for task in put_off)
    reach.back("http://gateway.example")  # that poll was answered
    await asyncio.wait_for(asyncio.gather(*put_off), 1)
    assert reach.returned is None and reach.down_since is None
    later = asyncio.create_task(polls.turn(loop.time() + 0.05))  # the heap still serves, past the cancelled entries
    await asyncio.wait_for(later, 1)
