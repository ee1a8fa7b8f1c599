"""Retry with exponential backoff, as an aiohttp client middleware.

The rule that shapes this module: the API has no idempotency keys, so a POST (create,
duplicate) is only ever sent again when it provably did not take effect, i.e. the
connection was never established, or the server answered 429. Anything that happens after
the request may have reached the server (a dropped connection, a read timeout, a 5xx)
ends the call at once; the client reports it as
:class:`~prolific_async.errors.OutcomeUnknownError` or the status error.

GET and PATCH are safe to repeat and are retried on 408, 429, 500, 502, 503, 504,
connection errors and read timeouts.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import random
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from attrs import define, field, frozen, validators

__all__ = ["RetryPolicy", "set_testing"]

#: Methods the server treats as safe to repeat (PATCH sets fields to given values).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES_IDEMPOTENT: Final = frozenset({408, 429, 500, 502, 503, 504})
#: A 429 is refused before the server acts, so even a POST may be sent again.
RETRY_STATUSES_NON_IDEMPOTENT: Final = frozenset({429})

#: Replaced by tests that run on a fake clock.
sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep

_non_negative = validators.ge(0.0)


@frozen(kw_only=True)
class RetryPolicy:
    """How a request is retried: how often, how long to wait, and for how long in all.

    The wait before retry *n* (n = 1, 2, ...) is::

        min(wait_max, wait_initial * wait_exp_base ** (n - 1) + uniform(0, wait_jitter))

    unless the response carries ``Retry-After`` (seconds or an HTTP date): then that is
    the wait. A ``Retry-After`` longer than ``retry_after_cap`` ends the call at once
    with the status error instead of sleeping through it.
    """

    attempts: int = field(default=5, validator=validators.ge(1))
    """How many times a request is sent at most (1 turns retries off)."""
    timeout: float = field(default=60.0, validator=validators.gt(0.0))
    """Seconds for the whole call: every attempt, every wait and reading the body."""
    wait_initial: float = field(default=0.5, validator=_non_negative)
    """The first backoff wait, in seconds, before jitter."""
    wait_max: float = field(default=8.0, validator=_non_negative)
    """No backoff wait is longer than this, in seconds."""
    wait_jitter: float = field(default=1.0, validator=_non_negative)
    """Up to this many random seconds are added to each backoff wait."""
    wait_exp_base: float = field(default=2.0, validator=validators.ge(1.0))
    """Each backoff wait is this many times the one before (before jitter)."""
    retry_after_cap: float = field(default=60.0, validator=_non_negative)
    """A ``Retry-After`` longer than this fails the call instead of waiting."""

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Return the wait in seconds before retry ``retry_number`` (1-based)."""
        jitter = (rng or random).uniform(0.0, self.wait_jitter)
        return min(
            self.wait_max, self.wait_initial * self.wait_exp_base ** (retry_number - 1) + jitter
        )


_testing = False


class _TestingRestorer:
    """Returned by :func:`set_testing`; as a context manager it restores the old state."""

    def __init__(self, previous: bool) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        global _testing
        _testing = self._previous


def set_testing(testing: bool = True) -> _TestingRestorer:
    """Turn test mode on or off for every client in this process.

    In test mode retries happen as the policy says, but without sleeping: backoff waits
    and ``Retry-After`` waits are zero (a ``Retry-After`` above the cap still fails the
    call), and the ``wait_*`` methods poll every 10 ms whatever their ``poll_interval``.
    Use it once in a test suite, or as a context manager, which puts the previous mode
    back on exit::

        with prolific_async.set_testing():
            ...
    """
    global _testing
    previous, _testing = _testing, testing
    return _TestingRestorer(previous)


def testing_enabled() -> bool:
    """Whether :func:`set_testing` has turned test mode on."""
    return _testing


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds, or ``None``."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def never_sent(exc: BaseException) -> bool:
    """Whether an aiohttp error proves the request never reached the server."""
    if isinstance(exc, aiohttp.ClientSSLError):
        return True
    return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def _retryable_error(exc: aiohttp.ClientError, idempotent: bool) -> bool:
    if isinstance(exc, aiohttp.ClientSSLError):
        return False  # a certificate problem does not fix itself
    if never_sent(exc):
        return True
    return idempotent and isinstance(
        exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError
    )


@define
class CallState:
    """What one call through the middleware did; read by the client and the bulk layer."""

    deadline: float
    """``loop.time()`` after which no retry is started."""
    sent: int = 0
    """How many attempts were handed to aiohttp (for a POST: how many POSTs it cost)."""
    in_flight: bool = False
    """True while an attempt is under way (connecting, sending or awaiting the answer)."""
    tracks_connection: bool = False
    """Whether ``connected`` is reported (by the trace hooks of a session we created)."""
    connected: bool = False
    """Whether the running attempt has a connection; before that nothing can be sent."""
    rate_limited: int = 0
    """How many 429 answers the call met (the bulk layer slows down on them)."""
    sent_at: datetime | None = None
    """When the last attempt was handed to aiohttp (wall clock, for reconciliation)."""
    last_failure: aiohttp.ClientError | None = None
    """The error the middleware last let through, if aiohttp calls it again."""
    throttle_round: int = 1
    """With ``return_rate_limited``: how many 429s the request met before, plus one
    (the gate then backs off exponentially when the answer has no ``Retry-After``)."""
    return_rate_limited: bool = False
    """Hand a 429 back at once (after closing the gate) instead of retrying it here.

    The bulk layer sets this: it frees the request's send slot while the gate is shut,
    so that fewer requests go out together when it opens.
    """

    @property
    def maybe_sent(self) -> bool:
        """Whether the running attempt may have reached the server."""
        return self.in_flight and (self.connected or not self.tracks_connection)


class ClientClosingError(aiohttp.ClientConnectionError):
    """Raised by the middleware instead of retrying once its client is closing."""


async def _mark_connected(*_: object) -> None:
    state = current_call.get()
    if state is not None:
        state.connected = True


def connection_trace() -> aiohttp.TraceConfig:
    """Trace hooks that tell the middleware when an attempt got its connection.

    Until then nothing can have reached the server, so a deadline that expires while
    a create waits for DNS, a pooled connection or the TCP handshake is a plain
    timeout, not an unknown outcome.
    """
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_mark_connected)
    trace.on_connection_reuseconn.append(_mark_connected)
    return trace


current_call: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "prolific_async_current_call", default=None
)


class RateGate:
    """The 429 gate of one client: a 429 seen by any request holds back every request.

    Instead of letting the others run into the same 429, every request of the client
    waits until the wait the server asked for is over.
    """

    def __init__(self) -> None:
        self._resume_at = 0.0
        """``loop.time()`` before which no request of this client is sent."""
        self.rate_limited_total = 0
        """How many 429 answers this client has met (shown by the command line)."""

    async def wait_open(self, *, rounds: int = 100) -> None:
        """Wait until the gate is open (the bulk layer does this before journaling)."""
        loop = asyncio.get_running_loop()
        for _ in range(rounds):  # a gate that keeps closing again is left to the call
            delay = self._resume_at - loop.time()
            if delay <= 0 or _testing:
                return
            await sleep(delay)

    async def wait_within(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Wait for the gate, but not past ``deadline`` (``loop.time()``)."""
        delay = self._resume_at - loop.time()
        if delay > 0 and not _testing:
            # Past the deadline the caller's own timeout ends the call (nothing was sent).
            await sleep(min(delay, max(0.0, deadline - loop.time())))

    def hold_back(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        """Close the gate for ``wait`` seconds from now (never shortening a longer hold)."""
        self._resume_at = max(self._resume_at, loop.time() + wait)

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
        idempotent = req.method in IDEMPOTENT_METHODS
        retry_statuses = RETRY_STATUSES_IDEMPOTENT if idempotent else RETRY_STATUSES_NON_IDEMPOTENT
        if state.sent >= self.policy.attempts and state.last_failure is not None:
            # aiohttp resends a GET once after a dropped connection, running this
            # middleware again: the attempts already spent still count.
            raise state.last_failure
        for attempt in range(state.sent + 1, self.policy.attempts + 1):
            is_last = attempt == self.policy.attempts
            response: ClientResponse | None = None
            failure: aiohttp.ClientError | None = None
            retry_after: float | None = None
            await self.gate.wait_within(loop, state.deadline)
            if self.closing:
                raise ClientClosingError("the client was closed; the request was not sent")
            state.sent += 1
            state.sent_at = datetime.now(UTC)
            state.connected = False
            state.in_flight = True
            try:
                response = await handler(req)
                if response.status not in retry_statuses:
                    await response.read()
                    state.in_flight = False
                    return response
            except aiohttp.ClientError as exc:
                if response is not None:
                    response.release()
                    response = None
                if never_sent(exc):
                    state.in_flight = False
                if is_last or not _retryable_error(exc, idempotent):
                    state.last_failure = exc
                    raise
                failure = exc
            else:
                retry_after = parse_retry_after(response.headers)
                if response.status == 429:
                    state.rate_limited += 1
                    self.gate.count_rate_limited()
                    if state.return_rate_limited:
                        wait = (
                            retry_after
                            if retry_after is not None
                            else self.policy.backoff(state.throttle_round)
                        )
                        self.gate.hold_back(
                            loop, 0.0 if _testing else min(wait, self.policy.retry_after_cap)
                        )
                        state.in_flight = False
                        return response
                if is_last or (
                    retry_after is not None and retry_after > self.policy.retry_after_cap
                ):
                    state.in_flight = False
                    if response.status == 429:
                        self.gate.hold_back(
                            loop, min(retry_after or 0.0, self.policy.retry_after_cap)
                        )
                    return response
            state.in_flight = False
            if _testing:
                wait = 0.0
            elif retry_after is not None:
                wait = retry_after
            else:
                wait = self.policy.backoff(attempt)
            if loop.time() + wait >= state.deadline:
                # Out of time: the caller sees the last failure as it was.
                if failure is not None:
                    state.last_failure = failure
                    raise failure
                return response  # type: ignore[return-value]
            if response is not None:
                response.release()  # never pin a pooled connection on a discarded body
                if response.status == 429:
                    # The gate is the wait, for this request and every other one.
                    self.gate.hold_back(loop, wait)
                    continue
            await sleep(wait)
        raise AssertionError("unreachable: the last attempt always returns or raises")
