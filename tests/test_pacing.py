"""Adaptive polling and adaptive rate control, as pure logic."""

from __future__ import annotations

import asyncio
from argparse import ArgumentTypeError

import pytest

from batchvid.argtypes import rate as parse_rate
from batchvid.gateway import MAX_RETRY_AFTER, retry_after_seconds
from batchvid.polling import PollPlanner, Progress, RenderTimes
from batchvid.ratelimit import Ceiling, RateLimiter

KEY = ("wan2.5-t2v-preview", "720p", 5)


def test_cold_start_polls_at_the_documented_interval_then_up_to_twice_it() -> None:
    """Nothing known of the model's renders: the first half-minute at the documented interval, when a render of minutes
    seldom ends, then sparser, to twice it (bench/polling.py: 11.4 -> 10.0 polls a task, 0.34x -> 0.29x the fixed
    poller's, median latency 0.93-1.06x -> 0.82-0.96x of its)."""
    planner = PollPlanner(4.0, RenderTimes())
    assert [planner.next(KEY, elapsed, Progress()) for elapsed in (0.0, 32.0, 48.0, 64.0, 600.0)] == [
        4.0, 4.0, 6.0, 8.0, 8.0]


def test_progress_is_extrapolated_to_the_finish() -> None:
    planner = PollPlanner(4.0, RenderTimes())
    progress = Progress()
    progress.add(10.0, 20)
    progress.add(20.0, 40)  # 2 %/s: 100 % at 50 s
    # 30 s left: a dense interval (3.4 s) before the finish, as 90 % of it (27 s) would be later
    assert planner.next(KEY, 20.0, progress) == pytest.approx(26.6)
    # 6 s before an extrapolated finish, which may be late by seconds: dense from now, not 90 % of the way (5.4 s),
    # one step that a task finishing a little early would wait out (bench/polling.py: Sora's median latency 1.9 s
    # -> 1.2 s)
    assert planner.next(KEY, 44.0, progress) == pytest.approx(3.4)
    progress.add(48.0, 96)
    assert planner.next(KEY, 48.0, progress) == pytest.approx(3.4)  # near the end: a little under the interval


def test_a_task_that_waited_in_a_providers_queue_is_extrapolated_from_its_start() -> None:
    """Queued for 60 s (its provider renders only so many at once), then 20 % 10 s later: 40 s more, not 280 s (the
    first progress counted from the submit kept such a task's slot long after it finished: bench/queued.py)."""
    progress = Progress()
    for elapsed in (20.0, 40.0, 60.0):
        progress.add(elapsed, 0, queued=True)
    progress.add(70.0, 20)
    assert progress.eta() == pytest.approx(110.0)
    plain = Progress()
    plain.add(70.0, 20)  # never seen queued: from the submit
    assert plain.eta() == pytest.approx(350.0)


def test_learned_render_times_delay_the_first_poll() -> None:
    times = RenderTimes()
    for seconds in (100, 120, 140, 160, 180):
        times.add(KEY, seconds)
    planner = PollPlanner(4.0, times)
    assert planner.next(KEY, 0.0, Progress()) == 60.0  # capped at 15 intervals
    assert planner.next(KEY, 90.0, Progress()) == 9.0  # a low quantile: early already, 90 % of the way
    assert planner.next(KEY, 120.0, Progress()) == pytest.approx(3.4)
    assert planner.next(("sora-2", "720p", 4), 0.0, Progress()) == 4.0  # another model knows nothing yet
    assert planner.next(("wan2.5-t2v-preview", "480p", 5), 0.0, Progress()) == 60.0  # same model: its fastest


def test_fixed_polling_ignores_everything() -> None:
    times = RenderTimes()
    for seconds in (100, 120, 140):
        times.add(KEY, seconds)
    assert PollPlanner(3.0, times, fixed=True).next(KEY, 0.0, Progress()) == 3.0


async def test_rate_is_cut_on_429_and_recovers_to_the_ceiling_only() -> None:
    limiter = RateLimiter(10.0)
    limiter.throttled(None)
    limiter.throttled(0.0)
    assert (limiter.rate, limiter.cuts) == (2.5, 2)
    for _ in range(100):
        limiter.succeeded()
    assert limiter.rate == 10.0


async def test_slots_are_evenly_spaced_without_burst() -> None:
    limiter = RateLimiter(50.0)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(6):
        await limiter.acquire()
        times.append(loop.time())
    # The k-th request never leaves before the k-th slot: no burst, however late any earlier wake-up was (a late
    # one is followed by a shorter gap, still on the schedule, so the gaps themselves say nothing).
    interval = 1 / (50.0 * 0.99)
    assert all(t - times[0] >= k * interval - 1e-3 for k, t in enumerate(times)), times


async def test_a_429_holds_back_callers_already_waiting_for_their_slot() -> None:
    """Callers that took a slot before the 429 came must not send during the pause, nor above the cut rate."""
    limiter = RateLimiter(20.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent: list[float] = []

    async def request() -> None:
        await limiter.acquire()
        sent.append(loop.time() - start)

    callers = [asyncio.create_task(request()) for _ in range(6)]  # slots at 0, 0.05, ..., 0.25 s
    await asyncio.sleep(0.07)  # two have gone
    limiter.throttled(0.3)  # the gateway says: nothing for 0.3 s; the rate halves to 10/s
    await asyncio.gather(*callers)
    early, late = sent[:2], sorted(sent[2:])
    # the k-th of the others leaves no sooner than k slots of the cut rate after the pause ends
    interval = 1 / (10.0 * 0.99)
    assert max(early) < 0.07 and all(t >= 0.07 + 0.3 + k * interval - 1e-3 for k, t in enumerate(late)), sent


async def test_a_429_without_a_pause_keeps_the_spacing_from_the_request_just_sent() -> None:
    limiter = RateLimiter(10.0)
    loop = asyncio.get_running_loop()
    await limiter.acquire()
    sent = loop.time()
    limiter.throttled(0.0)  # Retry-After: 0
    await limiter.acquire()
    assert loop.time() - sent >= 1 / (5.0 * 0.99) - 1e-3  # a full interval of the halved rate


async def test_families_keep_their_own_pace_within_the_gateways_ceiling() -> None:
    """A provider's 429 passed through by the gateway slows that family alone; together they never pass the ceiling."""
    ceiling = Ceiling(20.0)
    veo, wan = RateLimiter(20.0, within=ceiling), RateLimiter(20.0, within=ceiling)
    veo.throttled(0.3)  # Veo's provider: nothing for 0.3 s, and half the pace after
    assert (veo.rate, veo.cuts, wan.rate, wan.cuts) == (10.0, 1, 20.0, 0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent: dict[str, list[float]] = {"veo": [], "wan": []}

    async def requests(name: str, limiter: RateLimiter, count: int) -> None:
        for _ in range(count):
            await limiter.acquire()
            sent[name].append(loop.time() - start)

    await asyncio.gather(requests("veo", veo, 3), requests("wan", wan, 5))  # Wan: 0 to 0.2 s, at 20/s
    assert max(sent["wan"]) < 0.3 <= min(sent["veo"]), sent  # Wan went on through Veo's pause
    together = sorted(sent["veo"] + sent["wan"])
    interval = 1 / (20.0 * 0.99)  # the ceiling's spacing holds for both families together
    assert all(t - together[0] >= k * interval - 1e-3 for k, t in enumerate(together)), together


async def test_a_paused_family_gives_its_places_at_the_ceiling_back() -> None:
    """Slots booked before a 429 are void; left booked at the ceiling, they held the other families back for as
    long as the paused family's queue was (bench/ratelimit.py, a stricter gateway: 0.69x of its limit, not 0.76x)."""
    ceiling = Ceiling(20.0)
    veo, wan = RateLimiter(20.0, within=ceiling), RateLimiter(20.0, within=ceiling)
    loop = asyncio.get_running_loop()
    start = loop.time()
    waiting = [asyncio.create_task(veo.acquire()) for _ in range(8)]  # Veo's slots: 0, 0.05, ..., 0.35 s
    await asyncio.sleep(0.01)
    veo.throttled(1.0)
    await wan.acquire()
    assert loop.time() - start < 0.1  # the next place, not one after Veo's eight
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_429s_of_two_families_together_cut_the_pace_of_all() -> None:
    """The gateway's own limit is shared: each family finding it alone drew 4x the 429s of one family (45 against
    11 in bench/ratelimit.py). A provider's 429s, one family's alone, leave the others' pace as it was."""
    ceiling = Ceiling(20.0)
    veo, wan, vidu = (RateLimiter(20.0, within=ceiling) for _ in range(3))
    veo.throttled(0.1)
    veo.throttled(0.1)  # one family's provider, however often: not the gateway's limit
    assert (ceiling.rate, ceiling.cuts) == (20.0, 0)
    wan.throttled(0.1)  # another family at once: a limit they share
    assert (ceiling.rate, ceiling.cuts) == (10.0, 1)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.15)
    start = loop.time()
    for limiter in (veo, wan, vidu, veo):  # all of them together at the cut pace, whatever each one's own
        await limiter.acquire()
    assert loop.time() - start >= 3 / (10.0 * 0.99) - 1e-3
    for _ in range(10):
        vidu.succeeded()  # won back step by step, as a family's rate is, up to the user's limit and no further
    assert ceiling.rate == 20.0


def test_429s_of_two_families_far_apart_are_their_providers() -> None:
    ceiling = Ceiling(20.0)
    ceiling.throttled("veo", 100.0)
    ceiling.throttled("wan", 100.0 + Ceiling.SHARED_WITHIN + 0.1)
    assert (ceiling.rate, ceiling.cuts) == (20.0, 0)
    slow = Ceiling(0.1)  # --rate 6/min: requests 10 s apart, so 429s of one episode come seconds apart too
    slow.throttled("veo", 100.0)
    slow.throttled("wan", 115.0)
    assert (slow.rate, slow.cuts) == (0.05, 1)
    unlimited = Ceiling(None)
    unlimited.throttled("veo", 100.0)
    unlimited.throttled("wan", 100.0)
    assert unlimited.rate is None and unlimited.interval == 0.0


def test_parse_rate() -> None:
    assert parse_rate("2/s") == 2.0 and parse_rate("120/min") == 2.0 and parse_rate("3") == 3.0
    assert parse_rate("unlimited") is None
    with pytest.raises(ArgumentTypeError, match="unknown unit 'fortnight'"):
        parse_rate("2/fortnight")
    with pytest.raises(ArgumentTypeError, match="want a rate above 0"):
        parse_rate("inf/s")


def test_retry_after_is_read_as_seconds_or_a_date_and_kept_within_bounds() -> None:
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds("0.5") == 0.5
    assert retry_after_seconds("-3") == 0.0 and retry_after_seconds("inf") == MAX_RETRY_AFTER
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date gone by
    assert retry_after_seconds("nan") is None and retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None and retry_after_seconds("") is None
