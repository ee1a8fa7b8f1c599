"""The retry policy: how often a request is sent, how long it waits, for how long in all.

:class:`RetryPolicy` is the user's setting; :func:`parse_retry_after` reads the wait a
server asks for. The middleware that applies them is :mod:`prolific_async._retry`.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from datetime import UTC, datetime

from attrs import field, frozen, validators

__all__ = ["RetryPolicy", "parse_retry_after"]

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
