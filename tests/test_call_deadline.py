"""Deadline: the call's deadline as one timer, with ``asyncio.timeout_at``'s semantics."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest

from prolific_async._deadline import Deadline, Deadlines


async def test_a_passed_deadline_leaves_the_block_as_timeout_error() -> None:
    """The task is cancelled at the deadline and the block raises TimeoutError, not a cancel."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time())  # already due: fires at the next turn
    with pytest.raises(TimeoutError), deadline:
        await asyncio.sleep(30)
    assert deadline.expired
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_block_that_ends_in_time_cancels_its_timer() -> None:
    """Leaving the block early cancels the timer: it never fires later on the task."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time())  # due at the next turn of the loop
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
        with Deadline(loop, loop.time() + 3600):
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
        with Deadline(loop, loop.time()):
            asyncio.current_task().cancel()  # type: ignore[union-attr]
            await asyncio.sleep(30)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(call())


async def test_an_error_inside_the_block_is_not_replaced() -> None:
    """An exception other than the deadline's cancel leaves the block as it is."""
    loop = asyncio.get_running_loop()
    with pytest.raises(KeyError), Deadline(loop, loop.time() + 3600):
        raise KeyError("x")


def test_outside_a_task_it_is_refused() -> None:
    """Made with no running task, it says so instead of timing nothing."""
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="inside a task"):
            Deadline(loop, 0.0)
    finally:
        loop.close()


async def test_of_two_queued_calls_only_the_due_one_expires() -> None:
    """An earlier deadline (out of the queue's order: its own timer) cuts its call only."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    later_entered = asyncio.Event()
    release = asyncio.Event()

    async def later() -> str:
        with deadlines.start(loop, loop.time() + 3600):
            later_entered.set()
            await release.wait()
        return "done"

    later_task = asyncio.create_task(later())
    await later_entered.wait()
    with pytest.raises(TimeoutError), deadlines.start(loop, loop.time()):
        await asyncio.sleep(30)
    release.set()
    assert await later_task == "done"
    assert len(deadlines) == 0


async def test_the_shared_timer_expires_a_call_in_the_queue() -> None:
    """A queued call whose deadline passes is cut with TimeoutError by the shared timer."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    with pytest.raises(TimeoutError), deadlines.start(loop, loop.time()):
        await asyncio.sleep(30)
    assert len(deadlines) == 0
    # The queue works on after an expiry: the next due call is cut too.
    with pytest.raises(TimeoutError), deadlines.start(loop, loop.time()):
        await asyncio.sleep(30)


async def test_finished_calls_leave_the_queue_behind_a_long_one() -> None:
    """Calls ending behind a long-running first one are cleaned away: memory stays bounded."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    first = deadlines.start(loop, loop.time() + 3600)
    with first:
        for _ in range(2000):
            with deadlines.start(loop, loop.time() + 3600):
                pass
        assert len(deadlines) <= 2 * 1 + 257
    assert len(deadlines) == 0  # the first one's end empties what was behind it


async def test_calls_ending_in_order_leave_the_queue_at_once() -> None:
    """A call that ends while first in the queue leaves it at once."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    for _ in range(100):
        with deadlines.start(loop, loop.time() + 3600):
            assert len(deadlines) == 1
    assert len(deadlines) == 0


def test_deadlines_keep_working_in_a_second_event_loop() -> None:
    """Used from a new event loop (asyncio.run twice), calls still time out."""
    deadlines = Deadlines()

    async def one_call(seconds: float) -> None:
        loop = asyncio.get_running_loop()
        with deadlines.start(loop, loop.time() + seconds):
            await asyncio.sleep(30)

    async def timed_out(seconds: float) -> bool:
        try:
            await one_call(seconds)
        except TimeoutError:
            return True
        return False

    async def arm_and_leave() -> None:  # leaves the timer armed in the first loop
        loop = asyncio.get_running_loop()
        with deadlines.start(loop, loop.time() + 3600):
            pass

    asyncio.run(arm_and_leave())
    assert asyncio.run(timed_out(0.0))


async def test_the_shared_timer_moves_on_from_a_call_that_ended_to_the_next_one() -> None:
    """The timer armed for a call that ended re-arms for the next queued one and cuts it."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    with deadlines.start(loop, loop.time() + 0.01):
        pass  # ends at once: the timer stays armed for its deadline
    with pytest.raises(TimeoutError), deadlines.start(loop, loop.time() + 0.03):
        await asyncio.sleep(30)
    assert len(deadlines) == 0


async def test_behind_a_due_first_call_an_ended_one_is_skipped_and_a_later_one_cut() -> None:
    """First call due (cut), second ended early (left alone), third due later (cut)."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    first_in = asyncio.Event()

    async def first() -> None:
        with deadlines.start(loop, loop.time() + 0.02):
            first_in.set()
            await asyncio.sleep(30)

    first_task = asyncio.create_task(first())
    await first_in.wait()
    with deadlines.start(loop, loop.time() + 0.025):
        pass
    with pytest.raises(TimeoutError), deadlines.start(loop, loop.time() + 0.03):
        await asyncio.sleep(30)
    with pytest.raises(TimeoutError):
        await first_task
    assert len(deadlines) == 0


def test_a_call_of_a_second_loop_while_the_first_loop_has_calls_gets_its_own_timer() -> None:
    """Calls queued in a live loop stay; a call of another loop still times out meanwhile."""
    deadlines = Deadlines()
    first_loop = asyncio.new_event_loop()
    try:

        async def stuck() -> None:
            loop = asyncio.get_running_loop()
            with deadlines.start(loop, loop.time() + 3600):
                await asyncio.Event().wait()

        stuck_task = first_loop.create_task(stuck())
        first_loop.run_until_complete(asyncio.sleep(0))  # the call is queued, and waits
        assert len(deadlines) == 1

        async def other() -> bool:
            loop = asyncio.get_running_loop()
            try:
                with deadlines.start(loop, loop.time()):
                    await asyncio.sleep(30)
            except TimeoutError:
                return True
            return False

        assert asyncio.run(other())
        assert len(deadlines) == 1  # the first loop's call was left in its queue
        stuck_task.cancel()
        first_loop.run_until_complete(asyncio.gather(stuck_task, return_exceptions=True))
    finally:
        first_loop.close()


def test_the_queue_of_a_closed_loop_is_dropped_for_the_next_loop() -> None:
    """Calls left queued in a loop that was closed pin nothing once another loop calls."""
    deadlines = Deadlines()
    first_loop = asyncio.new_event_loop()

    async def stuck() -> None:
        loop = asyncio.get_running_loop()
        with deadlines.start(loop, loop.time() + 3600):
            await asyncio.Event().wait()

    async def one_call() -> int:
        loop = asyncio.get_running_loop()
        with deadlines.start(loop, loop.time() + 3600):
            return len(deadlines)

    try:
        stuck_task = first_loop.create_task(stuck())
        first_loop.run_until_complete(asyncio.sleep(0))
        assert len(deadlines) == 1
        # As if closed with its call never ended (a closed loop's task cannot be cleaned up).
        with mock.patch.object(first_loop, "is_closed", return_value=True):
            assert asyncio.run(one_call()) == 1  # queued alone in the new loop's queue
        assert len(deadlines) == 0
        stuck_task.cancel()
        first_loop.run_until_complete(asyncio.gather(stuck_task, return_exceptions=True))
    finally:
        first_loop.close()
