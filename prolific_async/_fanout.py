"""Bounded, lazy fan-out: start work for each input, at most ``limit`` at once.

The bulk layer runs one task per request with it, and ``provision_many`` one task per
dataset: both read their input only as slots free up, so the inputs held and the tasks
running are bounded by the limit, not by the length of the input. A task that waits
for a long time without using its slot (a bulk item waiting to reconcile) can *park*
(:class:`Parking`): while it is parked the next input is read as if its slot were free.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from typing import Any, TypeVar

__all__ = ["Parking", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    """A plain iterable read with ``async for``, so both kinds of input read alike."""
    for item in items:
        yield item


class Parking:
    """The tasks of a fan-out that wait without holding one of its slots.

    At most ``limit`` parked tasks are excused at once; more count toward the fan-out's
    limit again, so the tasks running never exceed its limit plus this one.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.wake = asyncio.Event()
        """Set when a task parks (the fan-out it serves sets it too, as a task finishes)."""

    @contextlib.contextmanager
    def parked(self) -> Iterator[None]:
        """Hold the calling task parked: the fan-out may start another in its place."""
        self.count += 1
        self.wake.set()
        try:
            yield
        finally:
            self.count -= 1

    async def waiting(self, work: Awaitable[T]) -> T:
        """Await ``work`` parked, as :meth:`parked` does (with no context manager to build)."""
        self.count += 1
        self.wake.set()
        try:
            return await work
        finally:
            self.count -= 1

    @property
    def excused(self) -> int:
        """How many running tasks do not count toward the fan-out's limit now."""
        return min(self.count, self.limit)


async def fan_out(
    inputs: Iterable[T] | AsyncIterable[T],
    start: Callable[[int, T], Coroutine[Any, Any, R] | R],
    *,
    limit: int,
    parking: Parking | None = None,
) -> AsyncGenerator[R, None]:
    """Yield the result for each input as it finishes, with at most ``limit`` running.

    ``start(index, input)`` is called at once for each input read, in input order, so
    it may check the input and raise before anything else starts. It returns either a
    coroutine, run as a task, or the result itself when no work is needed (yielded at
    once). The next input is read only while fewer than ``limit`` tasks run, not
    counting the tasks ``parking`` excuses.

    A task that raises stops the fan-out with its exception (the first of the tasks that
    finished together; every one is retrieved). However it ends, the tasks still running
    are cancelled and awaited, and an async generator given as input is closed.

    Raises:
        ValueError: ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit!r}")
    source = inputs if isinstance(inputs, AsyncIterable) else _aiter(inputs)
    running: set[asyncio.Task[R]] = set()
    # Each task reports itself as it finishes (no wait over every running task each
    # time): ``wake`` is set by a task finishing, or parking.
    finished: list[asyncio.Task[R]] = []
    wake = parking.wake if parking is not None else asyncio.Event()

    def report(task: asyncio.Task[R]) -> None:
        finished.append(task)
        wake.set()

    index = 0
    try:
        async for item in source:
            outcome = start(index, item)
            index += 1
            if asyncio.iscoroutine(outcome):
                task = asyncio.create_task(outcome)
                running.add(task)
                task.add_done_callback(report)
            else:
                yield outcome
            while len(running) - (parking.excused if parking else 0) >= limit:
                for result in await _next_finished(running, finished, wake):
                    yield result
        while running:
            for result in await _next_finished(running, finished, wake):
                yield result
    finally:
        await _stop(running, source)


async def _next_finished(
    running: set[asyncio.Task[R]], finished: list[asyncio.Task[R]], wake: asyncio.Event
) -> list[R]:
    """Wait for one task or more to finish, take them out of ``running``, return results.

    A task parking ends the wait too (with no result, perhaps).
    """
    if not finished:
        await wake.wait()
    wake.clear()
    done = [task for task in finished if task in running]
    finished.clear()
    running.difference_update(done)
    failures = [task.exception() for task in done]  # retrieves every one
    failure = next((error for error in failures if error is not None), None)
    if failure is not None:
        raise failure
    return [task.result() for task in done]


async def _stop(running: set[asyncio.Task[Any]], source: AsyncIterable[Any]) -> None:
    """Cancel and await what still runs, then close the input, even when cancelled again."""
    for task in running:
        task.cancel()
    try:
        if running:
            await asyncio.wait(running)
    finally:
        for task in running:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" noise
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
