"""Waiting for the server's asynchronous work: polls with capped backoff, under one deadline.

Batch setup, dataset processing and exports all run server-side after the request that
starts them; the client learns the outcome only by asking again. The wait before poll
*n* + 1 is::

    min(max_poll_interval, poll_interval * BACKOFF_FACTOR ** (n - 1)) * uniform(1, 1 + JITTER)

so thousands of concurrent waits neither hammer the API nor poll in lockstep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar

from attrs import frozen

from ._testing import testing_enabled
from .errors import ProlificError, WaitTimeoutError

__all__ = ["WaitSettings", "poll_until", "require_wait_settings"]

T = TypeVar("T")

#: Each wait between polls is this many times the one before, up to the cap.
BACKOFF_FACTOR: Final = 1.5
#: Up to this fraction is added to each wait, so concurrent waits drift apart.
JITTER: Final = 0.1
#: Replaced by tests that record the waits.
sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep

#: In test mode (:func:`~prolific_async.set_testing`) every wait between polls is this.
TEST_MODE_POLL_INTERVAL: Final = 0.01
#: The default ``timeout`` of every ``wait_*`` method, in seconds.
DEFAULT_WAIT_TIMEOUT: Final = 900.0
#: The default first wait between polls, in seconds.
DEFAULT_POLL_INTERVAL: Final = 2.0
#: The default cap on the wait between polls, in seconds.
DEFAULT_MAX_POLL_INTERVAL: Final = 30.0
#: The longest the last look at a deadline that passed between polls may take, in
#: seconds (and never longer than the wait's own timeout).
LAST_LOOK_TIMEOUT: Final = 5.0


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


@frozen
class WaitSettings:
    """How long a wait may take in all, and how often it polls."""

    timeout: float
    poll_interval: float
    max_poll_interval: float


def require_wait_settings(
    timeout: object, poll_interval: object, max_poll_interval: object
) -> WaitSettings:
    """Validate a wait's settings.

    Raises:
        ValueError: a setting is not a positive number.
    """
    interval = _positive(poll_interval, "poll_interval")
    # A cap below the first interval would shrink the waits: the first interval wins.
    cap = max(_positive(max_poll_interval, "max_poll_interval"), interval)
    return WaitSettings(_positive(timeout, "timeout"), interval, cap)


async def poll_until(
    fetch: Callable[[], Awaitable[T]],
    *,
    finished: Callable[[T], bool],
    status_of: Callable[[T], str],
    resource: str,
    goal: str,
    settings: WaitSettings,
) -> T:
    """Call ``fetch`` until ``finished`` says so; return that last value.

    ``finished`` may raise to end the wait with an error (a batch in ``ERROR``). The
    settings' ``timeout`` covers every poll and every wait; a poll in flight when it
    passes is cancelled. When it passes between polls, one last poll (at most
    :data:`LAST_LOOK_TIMEOUT` seconds) reads the status at the deadline: a batch that
    went ``ERROR`` during the last wait raises as such, not as a timeout.

    Raises:
        WaitTimeoutError: ``timeout`` seconds passed first.
    """
    last_status: str | None = None
    polling = False

    async def run() -> T:
        nonlocal last_status, polling
        interval = settings.poll_interval
        while True:  # bounded by the deadline around it
            polling = True
            value = await fetch()
            polling = False
            last_status = status_of(value)
            if finished(value):
                return value
            if testing_enabled():
                await sleep(TEST_MODE_POLL_INTERVAL)
            else:
                await sleep(interval * random.uniform(1.0, 1.0 + JITTER))  # noqa: S311 (jitter)
            interval = min(settings.max_poll_interval, interval * BACKOFF_FACTOR)

    timeout = settings.timeout
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await run()
    except TimeoutError:
        if not scope.expired():
            raise  # a request's own timeout (APITimeoutError), not this wait's
        if not polling:  # the last status is a wait old: look once more, bounded
            try:
                async with asyncio.timeout(min(LAST_LOOK_TIMEOUT, timeout)):
                    value = await fetch()
            except (TimeoutError, ProlificError):
                pass  # no answer in time, or a failed one: the status seen before stands
            else:
                last_status = status_of(value)
                if finished(value):
                    return value
        seen = f"last status {last_status}" if last_status is not None else "no answer yet"
        raise WaitTimeoutError(
            f"{resource} was not {goal} after {timeout:g} s ({seen}); the work may still "
            "finish server-side: wait again or check later.",
            resource=resource,
            timeout=timeout,
            last_status=last_status,
        ) from None
