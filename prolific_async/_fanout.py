"""Bounded, lazy fan-out: start work for each input, at most ``limit`` at once.

The bulk layer runs one task per request with it, and ``provision_many`` one task per
dataset: both read their input only as slots free up, so the inputs held and the tasks
running are bounded by the limit, not by the length of the input.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
)
from typing import Any, TypeVar

__all__ = ["fan_out"]

T = TypeVar("T")
R = TypeVar("R")


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    """A plain iterable read with ``async for``, so both kinds of input read alike."""
    for item in items:
        yield item


async def fan_out(
    inputs: Iterable[T] | AsyncIterable[T],
    start: Callable[[int, T], Coroutine[Any, Any, R] | R],
    *,
    limit: int,
) -> AsyncGenerator[R, None]:
    """Yield the result for each input as it finishes, with at most ``limit`` running.

    ``start(index, input)`` is called at once for each input read, in input order, so
    it may check the input and raise before anything else starts. It returns either a
    coroutine, run as a task, or the result itself when no work is needed (yielded at
    once). The next input is read only while fewer than ``limit`` tasks run.

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
    index = 0
    try:
        async for item in source:
            outcome = start(index, item)
            index += 1
            if asyncio.iscoroutine(outcome):
                running.add(asyncio.create_task(outcome))
            else:
                yield outcome
            while len(running) >= limit:
                for result in await _next_finished(running):
                    yield result
        while running:
            for result in await _next_finished(running):
                yield result
    finally:
        await _stop(running, source)


async def _next_finished(running: set[asyncio.Task[R]]) -> list[R]:
    """Wait for one task or more to finish, take them out of ``running``, return results."""
    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    running -= done
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
