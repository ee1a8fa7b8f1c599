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
import time
from collections.abc import Mapping
from typing import Final

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

from . import _rate_gate
from ._body import read_body
from ._call import CallState, ClientClosingError, current_call
from ._logging import log_attempt, logger
from ._outcome import (
    TRANSIENT_STATUSES,
    Outcome,
    exception_outcome,
    retry_exception,
    retry_status,
)
from ._rate_gate import RateGate, gate_hold
from ._retry_policy import RetryPolicy, parse_retry_after
from ._testing import testing_enabled

__all__ = ["RetryMiddleware", "RetryPolicy", "parse_retry_after", "read_timeout_error"]

#: aiohttp's words for its ``sock_read`` timeout, which the call deadline's read timeout
#: replaces on the client's own session.
_READ_TIMEOUT: Final = "Timeout on reading data from socket"


def read_timeout_error(req: ClientRequest, state: CallState) -> aiohttp.ClientError:
    """An attempt's read timeout as aiohttp raises its own: a connect or a read timeout.

    Before the connection was made nothing was sent (the outcome is known); after, the
    request may have reached the server.
    """
    if not state.connected:
        return aiohttp.ConnectionTimeoutError(f"Connection timeout to host {req.url}")
    return aiohttp.SocketTimeoutError(_READ_TIMEOUT)


class RetryMiddleware:
    """The aiohttp client middleware applying one :class:`RetryPolicy`.

    It also reads the body of the response it returns, so a connection that breaks
    mid-body is classified (and, for a GET, retried) like any other connection error.

    One instance serves one client and shares that client's :class:`RateGate`.

    On the client's own session the call's deadline (``CallState.watch``, with
    ``idle``) times each attempt's reads: an attempt fails after ``idle`` seconds
    without progress (its connection made, the answer's headers, each chunk of the
    body read), with aiohttp's own errors for a read or a connect timeout. On a
    caller's ``session=``, and for a raw request body (its upload is not the answer's
    time), the request's ``sock_read`` does.
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
        attempts = self.policy.attempts
        if state.sent >= attempts and state.last_failure is not None:
            # aiohttp resends a GET once after a dropped connection, running this
            # middleware again: the attempts already spent still count.
            raise state.last_failure
        for attempt in range(state.sent + 1, attempts + 1):
            is_last = attempt == attempts
            try:
                answer = await self._attempt(req, handler, loop, state, is_last)
            except BaseException as exc:
                # Every attempt handed to aiohttp gets its line, however it ended: an
                # error, a body past its cap, or a cut by the call's deadline (a cancel).
                if state.sent >= attempt:
                    self._log(req, exc, attempt, None, loop.time() - state.attempt_started)
                raise
            if isinstance(answer, BaseException):  # an error worth another attempt
                wait = self._backoff(attempt, None)
            elif answer.status not in TRANSIENT_STATUSES:  # the happy path: never retried
                state.in_flight = False
                if logger.isEnabledFor(logging.DEBUG):
                    self._log(req, answer, attempt, None, loop.time() - state.attempt_started)
                return answer
            else:
                retry_after = parse_retry_after(answer.headers)
                if not self._retry_status(req, answer, loop, state, retry_after, is_last=is_last):
                    state.in_flight = False
                    self._log(req, answer, attempt, None, loop.time() - state.attempt_started)
                    return answer
                wait = self._backoff(attempt, retry_after)
            state.in_flight = False
            if loop.time() + wait >= state.deadline:
                # Out of time: the caller sees the last failure as it was, and a 429's
                # wait still holds back the client's other calls.
                self._log(req, answer, attempt, None, loop.time() - state.attempt_started)
                if isinstance(answer, BaseException):
                    raise answer
                if answer.status == 429:
                    self.gate.hold_back(loop, wait)
                return answer
            self._log(req, answer, attempt, wait, loop.time() - state.attempt_started)
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
            await _rate_gate.sleep(wait)
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
        is_last: bool,
    ) -> ClientResponse | aiohttp.ClientError:
        """Send once. Returns the response, or the error when it is worth retrying.

        A response whose status is not worth retrying has its body read here, so a
        connection that breaks mid-body, or a read timeout, counts as this attempt's error.
        """
        paced_at = self.gate.pass_open(loop)
        if paced_at is None:
            paced_at = await self.gate.wait_within(loop, state.deadline)
        if self.closing:
            raise ClientClosingError("the client was closed; the request was not sent")
        state.sent += 1
        state.sent_time = time.time()
        state.attempt_started = paced_at
        state.connected = False
        state.in_flight = True
        state.body = None
        reads = state.watch  # the call's deadline, which times the reads (our session)
        if reads is not None and reads.idle is None:
            reads = None  # a caller's session: aiohttp's sock_read times them
        if reads is not None:
            reads.begin_reads(paced_at)
        response: ClientResponse | None = None
        try:
            response = await handler(req)
            now = loop.time()
            status = response.status
            self.gate.answered(paced_at, now, status)
            if status not in TRANSIENT_STATUSES or not retry_status(status, req.method):
                if reads is not None:
                    reads.touched = now  # the headers came: the body has its own time
                # read_body itself, not state.read_capped: one coroutine fewer per call.
                cap, error_cap = state.max_body_bytes, state.max_error_bytes
                state.body = await read_body(response, cap, error_limit=error_cap, progress=reads)
            return response
        except aiohttp.ClientError as exc:
            if response is not None:
                response.release()
            return self._failed(exc, req, state, is_last=is_last)
        except BaseException as exc:
            # Cancelled mid-answer (the call's deadline or the read timeout): never leave
            # the connection unreleased, nor reuse it.
            if response is not None:
                response.close()
            if not isinstance(exc, asyncio.CancelledError) or not (reads and reads.idled_out()):
                raise
            return self._failed(read_timeout_error(req, state), req, state, is_last=is_last)
        finally:
            if reads is not None:
                reads.reading = False

    @staticmethod
    def _failed(
        exc: aiohttp.ClientError, req: ClientRequest, state: CallState, *, is_last: bool
    ) -> aiohttp.ClientError:
        """Note an attempt's error; raise it unless it is worth another attempt."""
        if exception_outcome(exc) is Outcome.NOT_SENT:
            state.in_flight = False
        state.last_failure = exc
        if is_last or not retry_exception(exc, req.method):
            raise exc
        return exc

    async def read_left(self, response: ClientResponse, state: CallState) -> bytes:
        """Read the body of an answer returned unread, within the attempts' read timeout.

        The middleware returns unread a status it would have retried, once out of
        attempts or of time; the client reads it here.
        """
        reads = state.watch
        if reads is None or reads.idle is None:
            return await state.read_capped(response)
        reads.begin_reads(asyncio.get_running_loop().time())
        try:
            return await state.read_capped(response, reads)
        except asyncio.CancelledError:
            if not reads.idled_out():
                raise
            response.close()
            raise aiohttp.SocketTimeoutError(_READ_TIMEOUT) from None
        finally:
            reads.reading = False

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
                hold = gate_hold(retry_after, cap)
                self.gate.hold_back(loop, 0.0 if testing_enabled() else hold)
                return False
        if is_last or too_long:
            if response.status == 429:
                self.gate.hold_back(loop, gate_hold(retry_after or 0.0, cap))
            return False
        return True

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if testing_enabled():
            return 0.0
        return retry_after if retry_after is not None else self.policy.backoff(attempt)
