"""Each call's deadline: ``asyncio.timeout_at``'s rule, at a fraction of its cost.

A call must end by its deadline (``RetryPolicy.timeout`` after it got its slot), however
its attempts, backoffs and reads go. ``asyncio.timeout_at`` would do, but it is entered
on every call: two coroutines and a timer each time, and the timer alone is a push into
the loop's heap and, once cancelled, a pop from it, each comparing timers in Python.

:class:`Deadlines` keeps the deadlines of one client's calls under one timer instead.
They all are ``loop.time() + timeout`` for the client's one ``timeout``, so they come in
order: a queue, whose first unfinished entry the timer waits for. A call that ends
leaves the queue at once when it is first, else at the next cleaning; the timer fires
about once per ``timeout``, whatever the number of calls.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Any, Final

__all__ = ["CallDeadline", "Deadlines"]

#: Finished calls kept behind a longer one before the queue is cleaned (and at least
#: as many as the unfinished ones): memory stays within twice the calls in flight.
_CLEAN_AFTER: Final = 256


class CallDeadline:
    """One call's deadline, as a plain context manager around the call.

    At ``when`` (``loop.time()``) the running task is cancelled, and the cancellation
    leaves the block as :class:`TimeoutError`, unless the task was also cancelled from
    outside (that cancellation propagates, as with ``asyncio.timeout_at``). Made
    alone, it arms its own timer; made by :class:`Deadlines`, it shares theirs.
    """

    __slots__ = ("_cancelling", "_handle", "_owner", "_task", "expired", "finished", "when")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, when: float, owner: Deadlines | None = None
    ) -> None:
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a call's deadline must run inside a task")
        self._task: asyncio.Task[Any] | None = task  # dropped on exit: queued ones pin nothing
        self._cancelling = task.cancelling()
        self._owner = owner
        self.when: Final = when
        self.expired = False
        """Whether the deadline passed while the block ran."""
        self.finished = False
        """Whether the block has been left."""
        self._handle = None if owner is not None else loop.call_at(when, self.expire)

    def expire(self) -> None:
        """The deadline has come: cancel the call's task (if it is still running)."""
        if not self.finished and self._task is not None:
            self.expired = True
            self._task.cancel()

    def __enter__(self) -> CallDeadline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finished = True
        task, self._task = self._task, None
        if self._handle is not None:
            self._handle.cancel()
        elif self._owner is not None and not self.expired:  # an expired one left already
            self._owner.leave(self)
        if (
            self.expired
            and task is not None
            and task.uncancel() <= self._cancelling
            and exc_type is not None
            and issubclass(exc_type, asyncio.CancelledError)
        ):
            raise TimeoutError from exc


class Deadlines:
    """The deadlines of one client's calls, kept by one timer (see the module)."""

    def __init__(self) -> None:
        self._queue: deque[CallDeadline] = deque()
        self._finished = 0
        """Finished calls still queued behind an unfinished one."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed = float("-inf")
        """When the timer fires (once it has: when it last did)."""

    def __len__(self) -> int:
        """How many calls are queued (finished ones too, until they are cleaned away)."""
        return len(self._queue)

    def start(self, loop: asyncio.AbstractEventLoop, when: float) -> CallDeadline:
        """The deadline at ``when`` of a call starting now, in the running task."""
        queue = self._queue
        if loop is not self._loop:
            old = self._loop
            if queue and old is not None and not old.is_closed():
                return CallDeadline(loop, when)  # another loop's calls run: its own timer
            # Ours now: a closed loop's calls will never end, nor its timer fire.
            queue.clear()
            self._finished = 0
            self._loop, self._timer = loop, None
            self._armed = float("-inf")
        elif when < (queue[-1].when if queue else self._armed):
            return CallDeadline(loop, when)  # out of order (not the one timeout): its own
        deadline = CallDeadline(loop, when, self)
        queue.append(deadline)
        if self._timer is None:
            self._arm(loop, when)
        return deadline

    def leave(self, deadline: CallDeadline) -> None:
        """A call has ended before its deadline: take it off the queue (soon, if not first)."""
        queue = self._queue
        if queue and queue[0] is deadline:
            queue.popleft()
            while queue and queue[0].finished:
                queue.popleft()
                self._finished -= 1
            return
        self._finished += 1
        if self._finished > _CLEAN_AFTER and 2 * self._finished > len(queue):
            self._queue = deque(entry for entry in queue if not entry.finished)
            self._finished = 0

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._armed = when
        self._timer = loop.call_at(when, self._due, loop, when)

    def _due(self, loop: asyncio.AbstractEventLoop, armed: float) -> None:
        """The timer armed for ``armed``: expire every call due by then, wait for the next."""
        if loop is not self._loop:
            return
        self._timer = None
        queue = self._queue
        while queue:
            head = queue[0]
            if head.finished:
                queue.popleft()
                self._finished -= 1
            elif head.when > armed:
                self._arm(loop, head.when)
                return
            else:
                queue.popleft()
                head.expire()
