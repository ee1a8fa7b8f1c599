"""The bounded lazy fan-out the bulk layer and provision_many read their input with."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from prolific_async._fanout import Parking, fan_out


class Counting:
    """Inputs 0..count-1, counting how many were read; tasks that wait for a release."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.read = 0
        self.running = 0
        self.peak = 0
        self.release = asyncio.Event()

    def inputs(self) -> Iterator[int]:
        for number in range(self.count):
            self.read += 1
            yield number

    async def work(self, number: int) -> int:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.release.wait()
            return number * 10
        finally:
            self.running -= 1


async def test_every_input_gets_its_result() -> None:
    """Each input's work runs once and its result is yielded."""
    counting = Counting(50)
    counting.release.set()
    results = [r async for r in fan_out(counting.inputs(), lambda _, n: counting.work(n), limit=4)]
    assert sorted(results) == [n * 10 for n in range(50)]


async def test_at_most_limit_run_and_the_input_is_read_lazily() -> None:
    """With every task held, exactly ``limit`` inputs are read and running."""
    counting = Counting(1_000)
    stream = fan_out(counting.inputs(), lambda _, n: counting.work(n), limit=8)
    first = asyncio.create_task(anext(stream))
    for _ in range(20):
        await asyncio.sleep(0)
    assert counting.read == 8
    assert counting.running == 8
    counting.release.set()
    await first
    rest = [r async for r in stream]
    assert len(rest) == 999
    assert counting.peak == 8


async def test_start_gets_the_index_and_may_answer_at_once() -> None:
    """A start that returns a plain value has it yielded without a task or a slot."""
    seen: list[tuple[int, str]] = []

    def start(index: int, item: str) -> object:
        seen.append((index, item))
        return f"now:{item}" if item.startswith("done") else asyncio.sleep(0, f"later:{item}")

    items = ["done-a", "b", "done-c", "d"]
    results = [r async for r in fan_out(items, start, limit=1)]
    assert seen == list(enumerate(items))
    assert sorted(results) == ["later:b", "later:d", "now:done-a", "now:done-c"]


async def test_a_start_that_raises_stops_before_more_is_read() -> None:
    """A refused input raises at once: nothing after it is read, tasks are cancelled."""
    counting = Counting(100)

    def start(index: int, number: int) -> object:
        if index == 3:
            raise TypeError("request 3 is not a request")
        return counting.work(number)

    with pytest.raises(TypeError, match="request 3"):
        [r async for r in fan_out(counting.inputs(), start, limit=10)]
    assert counting.read == 4
    assert counting.running == 0


async def test_a_failing_task_stops_the_fan_out_and_cancels_the_rest() -> None:
    """The first failure is raised; the tasks still running are cancelled and awaited."""
    counting = Counting(10)

    async def work(number: int) -> int:
        if number == 5:
            raise RuntimeError("boom")
        return await counting.work(number)

    with pytest.raises(RuntimeError, match="boom"):
        [r async for r in fan_out(counting.inputs(), lambda _, n: work(n), limit=10)]
    assert counting.running == 0


async def test_closing_early_cancels_tasks_and_closes_an_async_input() -> None:
    """aclose() cancels what runs and closes the caller's async generator."""
    counting = Counting(0)
    closed = asyncio.Event()

    async def inputs() -> AsyncIterator[int]:
        try:
            for number in range(100):
                yield number
        finally:
            closed.set()

    async def work(number: int) -> int:
        if number == 0:
            return 0
        return await counting.work(number)

    async with contextlib.aclosing(fan_out(inputs(), lambda _, n: work(n), limit=4)) as stream:
        async for result in stream:
            assert result == 0
            break
    assert counting.running == 0
    assert closed.is_set()


async def test_a_limit_below_one_is_refused() -> None:
    """limit=0 would never start anything: ValueError."""
    with pytest.raises(ValueError, match="limit"):
        [r async for r in fan_out([1], lambda _, n: asyncio.sleep(0, n), limit=0)]


async def test_parked_tasks_free_their_slot_up_to_the_parking_limit() -> None:
    """A parked task lets the next input start; beyond the parking limit, parked ones count."""
    counting = Counting(10)
    parking = Parking(2)

    async def work(number: int) -> int:
        with parking.parked():
            return await counting.work(number)

    stream = fan_out(counting.inputs(), lambda _, n: work(n), limit=1, parking=parking)
    first = asyncio.create_task(anext(stream))
    for _ in range(20):
        await asyncio.sleep(0)
    # One slot, two parked tasks excused: three run, and no fourth starts.
    assert (counting.read, counting.running, parking.excused) == (3, 3, 2)
    counting.release.set()
    await first
    assert len([r async for r in stream]) == 9
    assert counting.peak == 3
