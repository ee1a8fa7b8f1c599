"""Slots: the client's connection slots (a semaphore whose free slot costs no coroutine)."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest

from prolific_async._slots import Slots


def test_free_slots_are_taken_at_once_and_then_refused() -> None:
    """take_now takes while slots are free and says False once none is."""
    slots = Slots(2)
    assert slots.take_now()
    assert slots.take_now()
    assert not slots.take_now()
    slots.give()
    assert slots.take_now()


async def test_waiters_are_served_first_come_first_served() -> None:
    """A slot given back goes to the first waiter, not to a later one or a newcomer."""
    slots = Slots(1)
    assert slots.take_now()
    order: list[int] = []

    async def wait(index: int) -> None:
        await slots.take()
        order.append(index)

    tasks = [asyncio.create_task(wait(index)) for index in range(3)]
    await asyncio.sleep(0)  # all three are in line
    for _ in range(3):
        slots.give()
        assert not slots.take_now()  # handed over: a newcomer does not get it
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    """A waiter cancelled in line gets no slot, and the next one gets it instead."""
    slots = Slots(1)
    assert slots.take_now()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    slots.give()
    await asyncio.wait_for(second, timeout=5)
    assert not slots.take_now()  # the second one holds it


async def test_a_slot_handed_to_a_waiter_cancelled_meanwhile_is_passed_on() -> None:
    """Given a slot just as it is cancelled, the waiter passes it on: no slot is lost."""
    slots = Slots(1)
    assert slots.take_now()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # hands the slot to the first...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, timeout=5)
    slots.give()
    assert slots.take_now()  # the one slot is still there: nothing leaked or doubled
    assert not slots.take_now()


async def test_no_more_than_size_hold_a_slot_at_once() -> None:
    """Many tasks taking and giving back never hold more slots than there are."""
    slots = Slots(3)
    holding = 0
    most = 0

    async def work() -> None:
        nonlocal holding, most
        if not slots.take_now():
            await slots.take()
        try:
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0)
        finally:
            holding -= 1
            slots.give()

    await asyncio.gather(*(work() for _ in range(50)))
    assert most == 3
    assert [slots.take_now() for _ in range(4)] == [True, True, True, False]


def test_a_negative_number_of_slots_is_refused() -> None:
    """Slots(-1) is a ValueError, as for asyncio.Semaphore."""
    with pytest.raises(ValueError, match=">= 0"):
        Slots(-1)


def test_a_waiter_of_a_closed_loop_is_skipped_when_a_slot_is_given_back() -> None:
    """A slot given back skips a waiter whose loop was closed: no error, no lost slot."""
    slots = Slots(1)
    assert slots.take_now()
    dead_loop = asyncio.new_event_loop()
    try:
        waiter = dead_loop.create_task(slots.take())
        dead_loop.run_until_complete(asyncio.sleep(0))  # it waits in line
        with mock.patch.object(dead_loop, "is_closed", return_value=True):
            slots.give()  # neither raises nor hands the slot to the dead waiter
        assert slots.take_now()
        waiter.cancel()
        dead_loop.run_until_complete(asyncio.gather(waiter, return_exceptions=True))
    finally:
        dead_loop.close()
