"""What the emulator observes and limits about traffic: the request log, counters, rate limit."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from attrs import define, evolve, field, frozen, validators

__all__ = [
    "EmulatorStats",
    "RateLimit",
    "RecordedRequest",
    "TokenBucket",
    "record_answer",
    "redact_headers",
]

REDACTED = "***"


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy headers with the credentials of ``Authorization`` replaced by ``***``.

    The scheme is kept (``Token ***``), so a log still shows a client sending the
    wrong one (``Bearer ***``).
    """
    redacted = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, credentials = value.partition(" ")
            value = f"{scheme} {REDACTED}" if credentials else REDACTED
        redacted[name] = value
    return redacted


def decode_json(raw: bytes) -> Any:
    """The JSON value of a body, or ``None`` when it is empty, not JSON or nested too deeply."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


@frozen(kw_only=True)
class RecordedRequest:
    """One request as the emulator received it; it never holds the API token."""

    method: str
    """The HTTP method."""
    path: str
    """The path, without the query string."""
    query: dict[str, str]
    """The query parameters (the first value of a repeated one)."""
    headers: dict[str, str]
    """The request headers, ``Authorization`` redacted to ``Token ***``."""
    json: Any
    """The decoded JSON body, or ``None`` when the body was empty or not JSON."""
    response_status: int | None = None
    """The status answered; ``None`` until the answer is sent, or when the connection
    was cut instead (a ``drop_*`` or ``truncated`` fault, the fake stopping)."""
    response_json: Any = None
    """The answer's decoded JSON body; ``None`` without an answer or a JSON one."""


def record_answer(
    log: list[RecordedRequest], recorded: RecordedRequest, *, status: int | None, body: Any
) -> None:
    """Put the answer to ``recorded`` into ``log``, where it was appended on arrival.

    The record is frozen, so the log gets a copy in its place. Searched from the end
    (the request is recent); if the log was cleared meanwhile, nothing is put back.
    """
    for index in range(len(log) - 1, -1, -1):
        if log[index] is recorded:
            log[index] = evolve(recorded, response_status=status, response_json=body)
            return


@frozen(kw_only=True)
class RateLimit:
    """A token bucket: ``burst`` requests at once, refilled at ``rate`` per second.

    A request finding the bucket empty is answered 429 with an integer ``Retry-After``
    (at least 1): the seconds until a token is back.
    """

    rate: float = field(validator=validators.gt(0.0))
    """Requests per second, sustained."""
    burst: int = field(default=1, validator=validators.ge(1))
    """How many requests may arrive at once after a quiet spell."""


class TokenBucket:
    """The state of one :class:`RateLimit`, on the event loop's monotonic clock."""

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self._tokens = float(limit.burst)
        self._updated = now

    def take(self, now: float) -> int | None:
        """Spend a token; return ``None`` if one was there, else the ``Retry-After`` seconds."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.limit.burst), self._tokens + elapsed * self.limit.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / self.limit.rate))


#: A request arriving this soon after a 429 was answered may have been sent before the
#: client read it: :class:`RetryAfterWatch` does not count it.
RETRY_AFTER_GRACE: Final = 0.05


class RetryAfterWatch:
    """Counts requests that arrive while a ``Retry-After`` the fake gave is running.

    Each 429 answered at ``t`` with ``Retry-After: n`` opens the window
    ``[t + RETRY_AFTER_GRACE, t + n)``; a request arriving inside one is a violation
    (for one client per fake: the fake does not tell clients apart). The grace leaves
    out requests already on their way when the 429 went out.
    """

    def __init__(self) -> None:
        self._start = 0.0
        self._end = 0.0

    def answered(self, now: float, retry_after: float) -> None:
        """A 429 with ``retry_after`` seconds was answered at ``now``."""
        if now + RETRY_AFTER_GRACE > self._end:
            self._start = now + RETRY_AFTER_GRACE
        self._end = max(self._end, now + retry_after)

    def violates(self, now: float) -> bool:
        """Whether a request arriving at ``now`` comes before a ``Retry-After`` is over."""
        return self._start <= now < self._end


@define
class EmulatorStats:
    """Counters of what the emulator served, for assertions and benchmarks.

    ``in_flight`` counts requests from arrival to answer, including those waiting for
    a ``max_concurrency`` slot: its peak is the concurrency the *client* produced.
    ``serving`` counts only those holding a slot: its peak never exceeds
    ``max_concurrency``.
    """

    requests: Counter[tuple[str, str]] = field(factory=Counter)
    """Requests by ``(method, route)``, e.g. ``("POST", "create_batch")``. Route names:
    ``list_batches``, ``create_batch``, ``get_batch``, ``update_batch``,
    ``duplicate_batch``; ``get_batch_status``, ``setup_batch``, ``list_tasks``,
    ``list_task_groups``, ``list_responses``, ``get_report``; ``request_export``,
    ``list_exports``, ``get_export``, ``delete_export``; ``create_dataset``,
    ``get_dataset``, ``get_dataset_status``, ``get_upload_url``, ``get_dataset_import``;
    the storage stand-in's ``storage_upload``, ``storage_report``, ``storage_export``;
    plus ``unknown`` (no such path) and ``method_not_allowed``."""
    in_flight: int = 0
    """Requests received and not yet answered."""
    in_flight_peak: int = 0
    """The highest ``in_flight`` seen since the start or the last :meth:`reset`."""
    serving: int = 0
    """Requests holding a concurrency slot."""
    serving_peak: int = 0
    """The highest ``serving`` seen since the start or the last :meth:`reset`."""
    rate_limited: int = 0
    """Requests answered 429 by the rate limit (:class:`RateLimit`)."""
    retry_after_violations: int = 0
    """Requests that arrived before a rate limit's ``Retry-After`` given earlier was over
    (from more than ``RETRY_AFTER_GRACE`` after the 429 until its end; see
    :class:`RetryAfterWatch`)."""

    @property
    def total(self) -> int:
        """Every request received since the start or the last :meth:`reset`."""
        return sum(self.requests.values())

    def reset(self) -> None:
        """Zero the counters; peaks restart from the requests open right now."""
        self.requests.clear()
        self.rate_limited = 0
        self.retry_after_violations = 0
        self.in_flight_peak = self.in_flight
        self.serving_peak = self.serving

    def arrived(self, method: str, route: str) -> None:
        """Count a request on arrival."""
        self.requests[method, route] += 1
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)

    def started_serving(self) -> None:
        """Count a request that got a concurrency slot."""
        self.serving += 1
        self.serving_peak = max(self.serving_peak, self.serving)

    def finished_serving(self) -> None:
        """Give a concurrency slot back."""
        self.serving -= 1

    def answered(self) -> None:
        """Count a request as done (answered, cut or abandoned)."""
        self.in_flight -= 1
