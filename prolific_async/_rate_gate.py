"""The rate gate of one client: its 429 hold and its send pacer.

Every request of a client passes its gate before it is sent (the retry middleware
asks it, and the bulk layer before journaling a send): a 429 holds all of them back
for the ``Retry-After`` it asked, and once 429s show a rate limit the pacer
(:mod:`prolific_async._pacer`) spaces the sends at the rate it learnt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ._call import GateClosedError
from ._logging import logger
from ._pacer import Pacer
from ._testing import testing_enabled

__all__ = ["LONG_RETRY_AFTER_HOLD", "RateGate", "gate_hold", "sleep"]

#: Every wait of the request path (the gate's holds and paces, the middleware's
#: backoffs); replaced by tests that run on a fake clock.
sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep

#: A ``Retry-After`` longer than ``RetryPolicy.retry_after_cap`` fails its own request and
#: shuts the gate for at most this many seconds, not for what it asked: one such answer
#: must not hold back every later call of a long-running service.
LONG_RETRY_AFTER_HOLD: Final = 1.0


def gate_hold(retry_after: float, cap: float) -> float:
    """How long a 429 asking for ``retry_after`` seconds shuts the gate."""
    return min(retry_after, LONG_RETRY_AFTER_HOLD) if retry_after > cap else retry_after


def _clock_stood_still(loop: asyncio.AbstractEventLoop, before: float, slept: float) -> bool:
    """Whether a sleep of ``slept`` seconds took far less (a test's ``sleep`` records it).

    A real sleep then goes round again: the hold may have grown meanwhile.
    """
    return loop.time() - before < slept / 2


class RateGate:
    """The rate gate of one client: its send pacer, and its 429 hold.

    * The 429 hold: a 429 seen by any request holds back every request of the client
      until the wait the server asked for is over, instead of letting the others run
      into the same 429. Nothing is sent before a ``Retry-After`` the client was given
      has passed.
    * The pacer (:class:`~prolific_async._pacer.Pacer`): once 429s show a rate limit,
      sends go out at the rate the client learnt from them, one at a time, in order.

    A call that would be held past its own deadline fails at once (``RateLimitError``).
    In test mode (:func:`set_testing`) nothing waits.
    """

    def __init__(self) -> None:
        self._resume_at = 0.0
        """``loop.time()`` before which no request of this client is sent."""
        self._resume_wall = datetime.now(UTC)
        """The same moment on the wall clock, for messages."""
        self.rate_limited_total = 0
        """How many 429 answers this client has met (shown by the command line)."""
        self.pacer: Final = Pacer()
        """The client's send pacer."""
        self._turn = asyncio.Lock()  # first come, first sent: only the head waits on the clock
        self._queued = 0

    def rate(self) -> float | None:
        """The pace in sends a second now, or ``None`` while sends are not paced."""
        return self.pacer.rate(asyncio.get_running_loop().time())

    def holding(self) -> bool:
        """Whether a 429 holds the client's requests back now (then :meth:`wait_open`)."""
        return self._resume_at > asyncio.get_running_loop().time() and not testing_enabled()

    async def wait_open(self, *, rounds: int = 100) -> None:
        """Wait until the 429 hold is over (the bulk layer does this before journaling)."""
        loop = asyncio.get_running_loop()
        for _ in range(rounds):  # a gate that keeps closing again is left to the call
            now = loop.time()
            delay = self._resume_at - now
            if delay <= 0 or testing_enabled():
                return
            await sleep(delay)
            if _clock_stood_still(loop, now, delay):
                return

    async def wait_within(self, loop: asyncio.AbstractEventLoop, deadline: float) -> float:
        """Wait for the hold and for this send's turn in the pace; return when it went.

        Raises:
            GateClosedError: the send could go only after the call's deadline
                (``loop.time()``): waiting would only end in a timeout that hides the
                429 behind it.
        """
        now = loop.time()
        if testing_enabled() or (not self._queued and self._ready_at(now) <= now):
            self.pacer.took(now)
            return now
        return await self._wait_turn(loop, now, deadline)

    def pass_open(self, loop: asyncio.AbstractEventLoop) -> float | None:
        """When the gate is open and nothing is paced nor queued: the send goes now.

        The happy path of :meth:`wait_within`, without a coroutine: returns the moment
        the send went, or ``None`` when it must wait (then await :meth:`wait_within`).
        """
        now = loop.time()
        if self._queued or self._resume_at > now or not self.pacer.take_now(now):
            return None
        return now

    async def _wait_turn(
        self, loop: asyncio.AbstractEventLoop, now: float, deadline: float
    ) -> float:
        rate = self.pacer.rate(now)
        expected = self._ready_at(now) + (self._queued / rate if rate else 0.0)
        if expected > deadline:
            raise self._closed_error(loop, expected)
        self._queued += 1
        try:
            async with self._turn:
                for _ in range(100):  # a gate that keeps closing again is left to the call
                    now = loop.time()
                    ready = self._ready_at(now)
                    if ready <= now:
                        break
                    if ready > deadline:
                        raise self._closed_error(loop, ready)
                    await sleep(ready - now)
                    if _clock_stood_still(loop, now, ready - now):
                        break
        finally:
            self._queued -= 1
        now = loop.time()
        self.pacer.took(now)
        return now

    def _ready_at(self, now: float) -> float:
        return max(self._resume_at, self.pacer.ready_at(now))

    def _closed_error(self, loop: asyncio.AbstractEventLoop, at: float) -> GateClosedError:
        if at <= self._resume_at:
            return GateClosedError(self._resume_wall)
        wall = datetime.now(UTC) + timedelta(seconds=at - loop.time())
        return GateClosedError(wall, reason="the client's pace after 429s")

    def answered(self, sent_at: float, now: float, status: int) -> None:
        """Tell the pacer how a send that went at ``sent_at`` was answered."""
        self.pacer.answered(sent_at, now, throttled=status == 429)

    def hold_back(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        """Close the gate for ``wait`` seconds from now (never shortening a longer hold)."""
        if loop.time() + wait > self._resume_at:
            self._resume_at = loop.time() + wait
            self._resume_wall = datetime.now(UTC) + timedelta(seconds=wait)
            self.pacer.held(self._resume_at)
            logger.info(
                "429: holding back every request of this client for %.2fs (until %s)",
                wait,
                self._resume_wall.isoformat(timespec="seconds"),
            )

    def count_rate_limited(self) -> None:
        """Count one 429 answer."""
        self.rate_limited_total += 1
