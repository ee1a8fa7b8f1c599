"""Each call's deadline and each attempt's read timeout, under one timer per client.

A call must end by its deadline (``RetryPolicy.timeout`` after it got its slot), however
its attempts, backoffs and reads go; an attempt on the client's own session fails after
``timeout`` seconds without progress (its read timeout). ``asyncio.timeout_at`` and
aiohttp's ``sock_read`` would do, but each arms a timer: a push into the loop's heap,
a pop once cancelled, and ``TimerHandle`` objects compared in Python, about as much as
the rest of a call's own work. ``sock_read`` arms one when the request is sent and
again on every read.

:class:`Deadlines` keeps the deadlines of one client's calls under one timer instead.
They all are ``loop.time() + timeout`` for the client's one ``timeout``, so they come in
order: a queue, whose first unfinished entry the timer waits for. A call that ends
leaves the queue at once when it is first, else at the next cleaning; the timer fires
about once per ``timeout``, whatever the number of calls. ``Deadlines(idle=timeout)``
keeps one retry middleware's read timeouts the same way, each of them an entry that
its attempt touches (:meth:`Deadline.touch`) as it makes progress.

The hot paths use an entry without ``with`` (a context manager costs more than the
rest of it): ``entry = deadlines.start(...)``; ``except CancelledError`` asks
:meth:`Deadline.timed_out`; ``finally`` calls :meth:`Deadline.end`. ``with entry:``
does the same, raising :class:`TimeoutError` as ``asyncio.timeout_at`` does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Any, Final

__all__ = ["Deadline", "Deadlines", "as_timeout"]

#: Finished calls kept behind a longer one before the queue is cleaned (and at least
#: as many as the unfinished ones): memory stays within twice the calls in flight.
_CLEAN_AFTER: Final = 256

_current_task: Final = asyncio.current_task


class Deadline:
    """One call's deadline, or one attempt's read timeout (with ``idle``).

    At ``when`` (``loop.time()``) the running task is cancelled; the block that caught
    the cancellation asks :meth:`timed_out` whether it was this deadline's, as opposed
    to a cancel from outside (which propagates, as with ``asyncio.timeout_at``). With
    ``idle``, an entry touched (:meth:`touch`) since it started waits on at ``when``, to its
    last touch plus ``idle``, on a timer of its own (a slow transfer: rare). Made alone
    (no ``owner``) it arms its own timer; made by :class:`Deadlines`, it shares theirs.
    """

    __slots__ = (
        "_cancelling",
        "_handle",
        "_loop",
        "_owner",
        "_task",
        "expired",
        "finished",
        "idle",
        "touched",
        "when",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        when: float,
        owner: Deadlines | None = None,
        idle: float | None = None,
    ) -> None:
        task = _current_task(loop)
        if task is None:
            raise RuntimeError("a call's deadline must run inside a task")
        self._task: asyncio.Task[Any] | None = task  # dropped at the end: pins nothing
        self._cancelling = task.cancelling()
        self._loop = loop
        self._owner = owner
        self.when = when
        self.idle = idle
        """A read timeout's seconds without progress (``None``: a call's deadline)."""
        self.touched = when - idle if idle is not None else when
        """When a read timeout's attempt last made progress (``loop.time()``)."""
        self.expired = False
        """Whether the deadline passed while the block ran."""
        self.finished = False
        """Whether the block has been left."""
        self._handle = None if owner is not None else loop.call_at(when, self.expire)

    def touch(self) -> None:
        """The attempt made progress now: it has ``idle`` seconds from here."""
        self.touched = self._loop.time()

    def expire(self) -> None:
        """The deadline has come: cancel the block's task (a read timeout: if idle)."""
        if self.finished or self._task is None:
            return
        if self.idle is not None:
            due = self.touched + self.idle
            if due > self._loop.time():
                self._handle = self._loop.call_at(due, self.expire)
                return
        self.expired = True
        self._task.cancel()

    def timed_out(self) -> bool:
        """Whether the cancellation caught in the block is this deadline's own.

        Then the task's cancellation is taken back (``Task.uncancel``); a cancel from
        outside as well leaves it a cancellation, as ``asyncio.timeout_at`` does.
        """
        task = self._task
        if not self.expired or task is None:
            return False
        self._task = None
        return task.uncancel() <= self._cancelling

    def end(self) -> None:
        """The block is left: no expiry after this; the entry leaves its queue."""
        self.finished = True
        task, self._task = self._task, None
        if self.expired and task is not None:
            task.uncancel()  # expired, but its cancellation never came out of the block
        if self._handle is not None:
            self._handle.cancel()
        elif self._owner is not None and not self.expired:  # an expired one left already
            self._owner.leave(self)

    def __enter__(self) -> Deadline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        own = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        own = own and self.timed_out()
        self.end()
        if own:
            raise TimeoutError from exc


def as_timeout(exc: BaseException) -> TimeoutError:
    """``exc`` as a timeout (a deadline's cancellation: the ``TimeoutError`` it stands for).

    As ``with`` raises it; a ``TimeoutError`` stays itself.
    """
    if isinstance(exc, TimeoutError):
        return exc
    error = TimeoutError()
    error.__cause__ = exc
    return error


class Deadlines:
    """The deadlines of one client's calls, kept by one timer (see the module).

    With ``idle``, the read timeouts of one retry middleware's attempts instead, of
    ``idle`` seconds each: every entry is due at its attempt's start plus ``idle``, in
    order as the calls' deadlines are, so they share one timer the same way.
    """

    def __init__(self, *, idle: float | None = None) -> None:
        self.idle: Final = idle
        self._queue: deque[Deadline] = deque()
        self._finished = 0
        """Finished calls still queued behind an unfinished one."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed = float("-inf")
        """When the timer fires (once it has: when it last did)."""

    def __len__(self) -> int:
        """How many calls are queued (finished ones too, until they are cleaned away)."""
        return len(self._queue)

    def start(self, loop: asyncio.AbstractEventLoop, when: float) -> Deadline:
        """The deadline at ``when`` of a call starting now, in the running task."""
        queue = self._queue
        if loop is not self._loop:
            old = self._loop
            if queue and old is not None and not old.is_closed():
                return Deadline(loop, when, None, self.idle)  # another loop's calls
            # Ours now: a closed loop's calls will never end, nor its timer fire.
            queue.clear()
            self._finished = 0
            self._loop, self._timer = loop, None
            self._armed = float("-inf")
        elif when < (queue[-1].when if queue else self._armed):
            return Deadline(loop, when, None, self.idle)  # out of order: its own timer
        deadline = Deadline(loop, when, self, self.idle)
        queue.append(deadline)
        if self._timer is None:
            self._arm(loop, when)
        return deadline

    def leave(self, deadline: Deadline) -> None:
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
