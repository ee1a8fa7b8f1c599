"""The bulk layer's AIMD limit on sends in flight, on a clock the test controls."""

from __future__ import annotations

import asyncio

from prolific_async._limiter import GROWTH_PERIOD, Limiter

from .conftest import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_429_halves_the_limit_once_per_round() -> None:
    """Only a send started since the last cut may cut again."""
    limiter = Limiter(32, clock=Clock())
    assert limiter.slots == 32
    epoch = limiter.epoch
    limiter.observe(epoch, throttled=True)
    assert limiter.slots == 16
    limiter.observe(epoch, throttled=True)  # sent before the cut: no second cut
    assert limiter.slots == 16
    limiter.observe(limiter.epoch, throttled=True)
    assert limiter.slots == 8


def test_the_limit_never_falls_below_one() -> None:
    """However many rounds of 429s, one send may still go out."""
    limiter = Limiter(32, clock=Clock())
    for _ in range(10):
        limiter.observe(limiter.epoch, throttled=True)
    assert limiter.slots == 1


def test_successes_grow_the_limit_one_slot_per_period_up_to_the_ceiling() -> None:
    """Growth is additive and slow: one slot per GROWTH_PERIOD of successes, at most the ceiling."""
    clock = Clock()
    limiter = Limiter(32, clock=clock)
    for _ in range(3):
        limiter.observe(limiter.epoch, throttled=True)
    assert limiter.slots == 4
    for _ in range(100):  # successes within the same period do not grow it
        limiter.observe(limiter.epoch, throttled=False)
    assert limiter.slots == 4
    clock.now += GROWTH_PERIOD
    limiter.observe(limiter.epoch, throttled=False)
    assert limiter.slots == 5
    for _ in range(100):
        clock.now += GROWTH_PERIOD
        limiter.observe(limiter.epoch, throttled=False)
    assert limiter.slots == 32


def test_a_failed_send_does_not_grow_the_limit() -> None:
    """A 5xx or a dropped connection says nothing good about capacity."""
    clock = Clock()
    limiter = Limiter(8, clock=clock)
    limiter.observe(limiter.epoch, throttled=True)
    clock.now += 10 * GROWTH_PERIOD
    limiter.observe(limiter.epoch, throttled=False, succeeded=False)
    assert limiter.slots == 4


async def test_slots_bound_sends_in_flight() -> None:
    """Sends beyond the current limit wait for a slot to be freed."""
    limiter = Limiter(2)
    peak = 0
    release = asyncio.Event()

    async def send() -> None:
        nonlocal peak
        async with limiter.slot():
            peak = max(peak, limiter.in_flight)
            await release.wait()

    tasks = [asyncio.create_task(send()) for _ in range(5)]
    await wait_until(lambda: limiter.in_flight == 2)
    for _ in range(10):  # let every waiter run: none may take a third slot
        await asyncio.sleep(0)
    assert limiter.in_flight == 2
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 2
    assert limiter.in_flight == 0


async def test_a_cut_holds_back_sends_already_waiting() -> None:
    """After a cut, waiters get a slot only as sends in flight drop below the new limit."""
    limiter = Limiter(4)
    release = asyncio.Event()
    started: list[int] = []

    async def send(number: int) -> None:
        async with limiter.slot():
            started.append(number)
            await release.wait()

    tasks = [asyncio.create_task(send(i)) for i in range(4)]
    await wait_until(lambda: limiter.in_flight == 4)
    limiter.observe(limiter.epoch, throttled=True)  # limit 2 with 4 in flight
    late = asyncio.create_task(send(99))
    for _ in range(10):
        await asyncio.sleep(0)
    assert 99 not in started
    release.set()
    await asyncio.gather(*tasks, late)
    assert started[-1] == 99
