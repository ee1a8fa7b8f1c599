"""Retry with exponential backoff, as an aiohttp client middleware.

Whether an attempt may be sent again is :mod:`prolific_async._outcome`'s answer: a POST
(create, duplicate) only when it provably did not take effect (no connection was made,
or the server answered 429); GET, PATCH and DELETE also after a dropped connection, a
read timeout, a 408 or a 500/502/503/504. Anything else ends the call at once (a TLS,
certificate or URL error too); the client reports it as
:class:`~prolific_async.errors.OutcomeUnknownError` or the status error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

from ._body import read_body
from ._call import CallState, ClientClosingError, GateClosedError, current_call
from ._logging import log_attempt, logger
from ._outcome import (
    TRANSIENT_STATUSES,
    Outcome,
    exception_outcome,
    retry_exception,
    retry_status,
)
from ._pacer import Pacer
from ._retry_policy import RetryPolicy, parse_retry_after
from ._testing import set_testing, testing_enabled

__all__ = ["RateGate", "RetryMiddleware", "RetryPolicy", "parse_retry_after", "set_testing"]

#: Replaced by tests that run on a fake clock.
sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep

#: A ``Retry-After`` longer than ``RetryPolicy.retry_after_cap`` fails its own request and
#: shuts the gate for at most this many seconds, not for what it asked: one such answer
#: must not hold back every later call of a long-running service.
LONG_RETRY_AFTER_HOLD: Final = 1.0


def _gate_hold(retry_after: float, cap: float) -> float:
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


class RetryMiddleware:
    """The aiohttp client middleware applying one :class:`RetryPolicy`.

    It also reads the body of the response it returns, so a connection that breaks
    mid-body is classified (and, for a GET, retried) like any other connection error.

    One instance serves one client and shares that client's :class:`RateGate`.
    """

    def __init__(self, policy: RetryPolicy, gate: RateGate | None = None) -> None:
        self.policy = policy
        self.gate = gate if gate is not None else RateGate()
        self.closing = False
        """Set when the client closes: no attempt starts after that."""

    async def __call__(self, req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        loop = asyncio.get_running_loop()
        state = current_call.get()
        if state is None:
            state = CallState(deadline=loop.time() + self.policy.timeout)
        if state.sent >= self.policy.attempts and state.last_failure is not None:
            # aiohttp resends a GET once after a dropped connection, running this
            # middleware again: the attempts already spent still count.
            raise state.last_failure
        for attempt in range(state.sent + 1, self.policy.attempts + 1):
            is_last = attempt == self.policy.attempts
            started = loop.time()
            try:
                answer = await self._attempt(req, handler, loop, state, is_last=is_last)
            except BaseException as exc:
                # Every attempt handed to aiohttp gets its line, however it ended: an
                # error, a body past its cap, or a cut by the call's deadline (a cancel).
                if state.sent >= attempt:
                    self._log(req, exc, attempt, None, loop.time() - started)
                raise
            if isinstance(answer, BaseException):  # an error worth another attempt
                wait = self._backoff(attempt, None)
            elif answer.status not in TRANSIENT_STATUSES:  # the happy path: never retried
                state.in_flight = False
                if logger.isEnabledFor(logging.DEBUG):
                    self._log(req, answer, attempt, None, loop.time() - started)
                return answer
            else:
                retry_after = parse_retry_after(answer.headers)
                if not self._retry_status(req, answer, loop, state, retry_after, is_last=is_last):
                    state.in_flight = False
                    self._log(req, answer, attempt, None, loop.time() - started)
                    return answer
                wait = self._backoff(attempt, retry_after)
            state.in_flight = False
            if loop.time() + wait >= state.deadline:
                # Out of time: the caller sees the last failure as it was, and a 429's
                # wait still holds back the client's other calls.
                self._log(req, answer, attempt, None, loop.time() - started)
                if isinstance(answer, BaseException):
                    raise answer
                if answer.status == 429:
                    self.gate.hold_back(loop, wait)
                return answer
            self._log(req, answer, attempt, wait, loop.time() - started)
            logger.info(
                "retrying %s %s in %.2fs (attempt %d of %d: %s)",
                req.method,
                req.url.raw_path,
                wait,
                attempt + 1,
                self.policy.attempts,
                answer.status if isinstance(answer, ClientResponse) else type(answer).__name__,
            )
            if not isinstance(answer, BaseException):
                answer.release()  # never pin a pooled connection on a discarded body
                if answer.status == 429:
                    # The gate is the wait, for this request and every other one.
                    self.gate.hold_back(loop, wait)
                    continue
            await sleep(wait)
        raise AssertionError("unreachable: the last attempt always returns or raises")

    @staticmethod
    def _log(
        req: ClientRequest,
        answer: ClientResponse | BaseException,
        attempt: int,
        wait: float | None,
        elapsed: float,
    ) -> None:
        """The per-attempt DEBUG line (aiohttp's own trace hooks fire once per call)."""
        outcome: int | BaseException
        headers: Mapping[str, str] | None
        if isinstance(answer, ClientResponse):
            outcome, headers = answer.status, answer.headers
        else:
            outcome, headers = answer, None
        log_attempt(
            req.method,
            req.url.raw_path,
            outcome,
            attempt=attempt,
            wait=wait,
            headers=headers,
            elapsed=elapsed,
        )

    async def _attempt(
        self,
        req: ClientRequest,
        handler: ClientHandlerType,
        loop: asyncio.AbstractEventLoop,
        state: CallState,
        *,
        is_last: bool,
    ) -> ClientResponse | aiohttp.ClientError:
        """Send once. Returns the response, or the error when it is worth retrying.

        A response whose status is not worth retrying has its body read here, so a
        connection that breaks mid-body counts as this attempt's error.
        """
        paced_at = self.gate.pass_open(loop)
        if paced_at is None:
            paced_at = await self.gate.wait_within(loop, state.deadline)
        if self.closing:
            raise ClientClosingError("the client was closed; the request was not sent")
        state.sent += 1
        state.sent_at = datetime.now(UTC)
        state.connected = False
        state.in_flight = True
        state.body = None
        response: ClientResponse | None = None
        try:
            response = await handler(req)
            self.gate.answered(paced_at, loop.time(), response.status)
            if response.status not in TRANSIENT_STATUSES or not retry_status(
                response.status, req.method
            ):
                # read_body itself, not state.read_capped: one coroutine fewer per call.
                cap, error_cap = state.max_body_bytes, state.max_error_bytes
                state.body = await read_body(response, cap, error_limit=error_cap)
            return response
        except aiohttp.ClientError as exc:
            if response is not None:
                response.release()
            if exception_outcome(exc) is Outcome.NOT_SENT:
                state.in_flight = False
            state.last_failure = exc
            if is_last or not retry_exception(exc, req.method):
                raise
            return exc
        except BaseException:
            # Cancelled mid-body (the call's deadline): never leave the connection unreleased.
            if response is not None:
                response.close()
            raise

    def _retry_status(
        self,
        req: ClientRequest,
        response: ClientResponse,
        loop: asyncio.AbstractEventLoop,
        state: CallState,
        retry_after: float | None,
        *,
        is_last: bool,
    ) -> bool:
        """Whether to send again after ``response``; counts 429s and closes the gate."""
        if not retry_status(response.status, req.method):
            return False
        cap = self.policy.retry_after_cap
        too_long = retry_after is not None and retry_after > cap
        if response.status == 429:
            state.rate_limited += 1
            self.gate.count_rate_limited()
            if state.return_rate_limited:
                # The bulk layer waits at the gate itself, without holding its send slot.
                if retry_after is None:
                    retry_after = self.policy.backoff(state.throttle_round)
                hold = _gate_hold(retry_after, cap)
                self.gate.hold_back(loop, 0.0 if testing_enabled() else hold)
                return False
        if is_last or too_long:
            if response.status == 429:
                self.gate.hold_back(loop, _gate_hold(retry_after or 0.0, cap))
            return False
        return True

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if testing_enabled():
            return 0.0
        return retry_after if retry_after is not None else self.policy.backoff(attempt)
