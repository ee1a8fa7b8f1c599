"""Each call's deadline and its attempts' read timeouts, under one timer per client.

A call must end by its deadline (``RetryPolicy.timeout`` after it got its slot), however
its attempts, backoffs and reads go; on the client's own session an attempt also fails
after ``timeout`` seconds without progress (its read timeout; not for a raw request
body, whose upload aiohttp's ``sock_read`` leaves out). ``asyncio.timeout_at``
and aiohttp's ``sock_read`` would do, but each arms a timer: a push into the loop's
heap, a pop once cancelled, and ``TimerHandle`` objects compared in Python, about as
much as the rest of a call's own work. ``sock_read`` arms one when the request is sent
and again on every read.

:class:`Deadlines` keeps the deadlines of one client's calls under one timer instead,
one :class:`Deadline` a call, which also times the reads of its attempts (``idle``).
They are all first due at ``loop.time()`` plus the client's one ``timeout`` (or its
read timeout, if shorter), so they come in order: a queue, whose first unfinished
entry the timer waits for. A call that ends leaves the queue at once when it is first,
else at the next cleaning; the timer fires about once per ``timeout``, whatever the
number of calls. A call still running when it is first due (it made progress, or is
between attempts) waits on, on a timer of its own.

The hot paths use an entry without ``with`` (a context manager costs more than the
rest of it): ``entry = deadlines.start(...)``; ``except CancelledError`` asks
:meth:`Deadline.timed_out` (the attempt: :meth:`Deadline.idled_out`); ``finally``
calls :meth:`Deadline.end`. ``with entry:`` does the same, raising ``TimeoutError`` as
``asyncio.timeout_at`` does.
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
    """One call's deadline, and with ``idle`` its attempts' read timeouts.

    At ``deadline`` (``loop.time()``) the running task is cancelled; the block that
    caught the cancellation asks :meth:`timed_out` whether it was this deadline's, as
    opposed to a cancel from outside (which propagates, as with ``asyncio.timeout_at``).

    With ``idle``, an attempt reads between :meth:`begin_reads` and setting ``reading``
    back to ``False``: ``idle`` seconds with no progress (no :meth:`touch`) cancel the
    task too, and the attempt asks :meth:`idled_out`; the call goes on, its deadline
    still kept. Made alone (no ``owner``) it arms its own timer; made by
    :class:`Deadlines`, it shares theirs until it is first due (``when``), and waits on
    after that (a long call: rare) on a timer of its own.
    """

    __slots__ = (
        "_cancelling",
        "_cuts",
        "_handle",
        "_loop",
        "_owner",
        "_task",
        "deadline",
        "expired",
        "finished",
        "idle",
        "idled",
        "queued",
        "reading",
        "touched",
        "when",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deadline: float,
        owner: Deadlines | None = None,
        idle: float | None = None,
        now: float | None = None,
    ) -> None:
        task = _current_task(loop)
        if task is None:
            raise RuntimeError("a call's deadline must run inside a task")
        self._task: asyncio.Task[Any] | None = task  # dropped at the end: pins nothing
        self._cancelling = task.cancelling()
        self._cuts = 0  # the task's cancellations made here and not yet taken back
        self._loop = loop
        self._owner = owner
        self.deadline = deadline
        """When the call must have ended."""
        if now is None or idle is None:
            self.idle = None
            """Seconds an attempt may read without progress (``None``: no read timeout)."""
            self.when = deadline
            """When it is first due: the deadline, or an attempt's read timeout."""
        else:
            self.idle = idle
            read_due = now + idle
            self.when = read_due if read_due < deadline else deadline
        self.touched = deadline if now is None else now
        """When the reading attempt last made progress (``loop.time()``)."""
        self.reading = False
        """Whether an attempt's reads are timed (set back to ``False`` when it ends)."""
        self.expired = False
        """Whether the call's deadline cut the block."""
        self.idled = False
        """Whether a read timeout cut the block (until :meth:`idled_out` takes it)."""
        self.finished = False
        """Whether the block has been left."""
        self.queued = owner is not None
        """Whether it waits in its owner's queue."""
        self._handle: asyncio.Handle | None = None
        if owner is None:
            self.arm()

    def arm(self) -> None:
        """Wait on a timer of its own, outside any queue, for ``when``."""
        self.queued = False
        self._handle = self._loop.call_at(self.when, self.expire)

    def begin_reads(self, now: float) -> None:
        """An attempt starts at ``now``: it fails after ``idle`` seconds without a touch."""
        self.reading = True
        self.touched = now
        if self.idle is None or self.queued:
            return  # no read timeout, or the shared timer comes first
        due = now + self.idle
        handle = self._handle
        if handle is None:  # off the queue with no timer (its cut was swallowed)
            self._handle = self._loop.call_at(min(due, self.deadline), self.expire)
        elif isinstance(handle, asyncio.TimerHandle) and handle.when() > due:
            handle.cancel()  # on its own timer, for later (a retry after a read timeout)
            self._handle = self._loop.call_at(due, self.expire)

    def touch(self) -> None:
        """The attempt made progress now: it has ``idle`` seconds from here."""
        self.touched = self._loop.time()

    def expire(self) -> None:
        """It is due: cut the block for its deadline or an idle read, else wait on."""
        self._handle = None  # the timer that called (if any) is spent
        task = self._task
        if self.finished or task is None:
            return
        now = self._loop.time()
        due = self.deadline
        if self.reading and self.idle is not None:
            read_due = self.touched + self.idle
            if read_due <= now:
                # An answer that came in this turn of the loop wakes the task only in
                # the next: look again after that (aiohttp's sock_read, pushed back as
                # the data comes, never cuts an answer that came).
                self._handle = self._loop.call_soon(self._cut_if_idle)
                return
            due = min(due, read_due)
        if due <= now:
            self.expired = True
            self._cut(task)
            return
        self._handle = self._loop.call_at(due, self.expire)

    def _cut_if_idle(self) -> None:
        self._handle = None
        task = self._task
        if self.finished or task is None:
            return
        idle = self.idle
        if self.reading and idle is not None and self.touched + idle <= self._loop.time():
            self.idled = True
            self._cut(task)
            return
        self.expire()  # it made progress, or its attempt ended: wait on

    def _cut(self, task: asyncio.Task[Any]) -> None:
        self._cuts += 1
        task.cancel()

    def timed_out(self) -> bool:
        """Whether the cancellation caught in the block is the call's deadline's own.

        Then the task's cancellation is taken back (``Task.uncancel``); a cancel from
        outside as well leaves it a cancellation, as ``asyncio.timeout_at`` does.
        """
        task = self._task
        if not self.expired or task is None:
            return False
        self._task = None
        self._cuts -= 1
        return task.uncancel() <= self._cancelling

    def idled_out(self) -> bool:
        """Whether the cancellation caught in an attempt is its read timeout's own.

        Then it is taken back, and the call's deadline is kept on (a timer of its own);
        a cancel from outside as well leaves it a cancellation.
        """
        task = self._task
        if not self.idled or task is None:
            return False
        self.idled = False
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(self.deadline, self.expire)
        self._cuts -= 1
        return task.uncancel() <= self._cancelling

    def end(self) -> None:
        """The block is left: no expiry after this; the entry leaves its queue."""
        self.finished = True
        task, self._task = self._task, None
        if task is not None and self._cuts:
            for _ in range(self._cuts):
                task.uncancel()  # a cancellation of its own that never came out of the block
        if self._handle is not None:
            self._handle.cancel()
        if self.queued and self._owner is not None:
            self._owner.leave(self)

    def __enter__(self) -> Deadline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        own = cancelled and (self.timed_out() or self.idled_out())
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

    With ``idle``, each entry also times its attempts' reads (see :class:`Deadline`)
    and is first due at its start plus ``idle`` (if that comes before its deadline): in
    order all the same, for the client's one ``idle`` and one ``RetryPolicy.timeout``.
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

    def start(
        self, loop: asyncio.AbstractEventLoop, deadline: float, now: float | None = None
    ) -> Deadline:
        """The deadline at ``deadline`` of a call starting ``now``, in the running task.

        ``now`` (``loop.time()``) is where read timeouts count from; ``None``: this call's
        reads are not timed here (an upload's: aiohttp's ``sock_read`` starts after it).
        """
        queue = self._queue
        entry = Deadline(loop, deadline, self, self.idle, now)
        when = entry.when
        if loop is not self._loop:
            old = self._loop
            if queue and old is not None and not old.is_closed():
                return self._alone(entry)  # another loop's calls run: its own timer
            # Ours now: a closed loop's calls will never end, nor its timer fire.
            queue.clear()
            self._finished = 0
            self._loop, self._timer = loop, None
            self._armed = float("-inf")
        elif when < (queue[-1].when if queue else self._armed):
            return self._alone(entry)  # out of order: its own timer
        if now is None and self.idle is not None:
            return self._alone(entry)  # reads not timed (an upload): due after the rest
        queue.append(entry)
        if self._timer is None:
            self._arm(loop, when)
        return entry

    def close(self) -> None:
        """Its client is closed: with no call left running, drop the timer now.

        Else it keeps timing them as before (a call between attempts still needs it);
        once every call has finished it is not armed again.
        """
        timer = self._timer
        if timer is not None and all(entry.finished for entry in self._queue):
            timer.cancel()  # a cancelled handle keeps nothing of ours alive
            self._timer = None
            self._queue.clear()
            self._finished = 0

    @staticmethod
    def _alone(entry: Deadline) -> Deadline:
        entry.arm()
        return entry

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
                head.queued = False
                head.expire()
