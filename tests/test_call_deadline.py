"""CallDeadline: the call's deadline as one timer, with ``asyncio.timeout_at``'s semantics."""

from __future__ import annotations

import asyncio

import pytest

from prolific_async._call import CallDeadline


async def test_a_passed_deadline_leaves_the_block_as_timeout_error() -> None:
    """The task is cancelled at the deadline and the block raises TimeoutError, not a cancel."""
    loop = asyncio.get_running_loop()
    deadline = CallDeadline(loop, loop.time())  # already due: fires at the next turn
    with pytest.raises(TimeoutError), deadline:
        await asyncio.sleep(30)
    assert deadline.expired
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_block_that_ends_in_time_cancels_its_timer() -> None:
    """Leaving the block early cancels the timer: it never fires later on the task."""
    loop = asyncio.get_running_loop()
    deadline = CallDeadline(loop, loop.time())  # due at the next turn of the loop
    with deadline:
        pass
    for _ in range(3):  # turns of the loop in which a live timer would have fired
        await asyncio.sleep(0)
    assert not deadline.expired


async def test_a_cancel_from_outside_propagates_as_a_cancel() -> None:
    """A caller's cancel is never turned into TimeoutError, even once the deadline passed."""
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()

    async def call() -> None:
        with CallDeadline(loop, loop.time() + 3600):
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(call())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outside_cancel_and_an_expired_deadline_together_stay_a_cancel() -> None:
    """Both at once: the outer cancellation wins, as with ``asyncio.timeout_at``."""
    loop = asyncio.get_running_loop()

    async def call() -> None:
        with CallDeadline(loop, loop.time()):
            asyncio.current_task().cancel()  # type: ignore[union-attr]
            await asyncio.sleep(30)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(call())


async def test_an_error_inside_the_block_is_not_replaced() -> None:
    """An exception other than the deadline's cancel leaves the block as it is."""
    loop = asyncio.get_running_loop()
    with pytest.raises(KeyError), CallDeadline(loop, loop.time() + 3600):
        raise KeyError("x")


def test_outside_a_task_it_is_refused() -> None:
    """Made with no running task, it says so instead of timing nothing."""
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="inside a task"):
            CallDeadline(loop, 0.0)
    finally:
        loop.close()
