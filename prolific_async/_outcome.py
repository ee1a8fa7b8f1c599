"""The one answer to "did this request take effect?", and what may follow from it.

The API has no idempotency keys, so every layer must agree on when a request may be
sent again. The retry middleware, the client's error mapping and the bulk layer all ask
this module; none of them decides it alone.

=====================================  =============  =========================================
what happened                          outcome        what follows
=====================================  =============  =========================================
no connection was made (refused, DNS,  NOT_SENT       any method may be sent again (but a TLS
connect timeout, closed before send)                  or certificate error is not transient)
429, 408                               REFUSED        any method may be sent again (the server
                                                      says it did not act)
2xx (even with a body we cannot read,  APPLIED        done; never send again
when it names the new id)
dropped after sending, read timeout,   MAYBE_APPLIED  GET/PATCH/DELETE are retried; a POST is
5xx, a 2xx without a readable id                      not: the bulk layer reconciles it
any other 4xx                          REJECTED       sending again gives the same answer
=====================================  =============  =========================================
"""

from __future__ import annotations

import enum
from typing import Final

import aiohttp

from .errors import (
    APIConnectionError,
    APIStatusError,
    ClientClosedError,
    CreatedButUnreadableError,
    OutcomeUnknownError,
    ProlificError,
    ResponseValidationError,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "Outcome",
    "error_may_resend",
    "error_outcome",
    "exception_outcome",
    "is_transient",
    "may_resend",
    "status_outcome",
]

#: Methods the server treats as safe to repeat (PATCH sets fields to given values).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
#: Statuses with which the server says it did not act on the request.
REFUSED_STATUSES: Final = frozenset({408, 429})


class Outcome(enum.Enum):
    """Whether one attempt of a request took effect on the server."""

    NOT_SENT = "not sent"
    """No connection was made: the server cannot have seen the request."""
    REFUSED = "refused"
    """The server answered that it did not act (429, 408)."""
    APPLIED = "applied"
    """A 2xx: the request took effect."""
    MAYBE_APPLIED = "maybe applied"
    """The request may have taken effect: only a look at the server can tell."""
    REJECTED = "rejected"
    """A definitive 4xx: the server refused it and will refuse it again."""


def status_outcome(status: int) -> Outcome:
    """The outcome of an attempt answered with ``status``."""
    if 200 <= status < 300:
        return Outcome.APPLIED
    if status in REFUSED_STATUSES:
        return Outcome.REFUSED
    if status >= 500:
        return Outcome.MAYBE_APPLIED
    if 400 <= status < 500:
        return Outcome.REJECTED
    return Outcome.MAYBE_APPLIED  # 1xx/3xx where a JSON answer was due: not understood


def exception_outcome(exc: BaseException, *, maybe_sent: bool = True) -> Outcome:
    """The outcome of an attempt that ended in ``exc`` (an aiohttp error or a timeout).

    ``maybe_sent`` is what connection tracking knows: ``False`` when the attempt never
    got a connection (a deadline that expired while waiting for one, or a client closed
    before it started).
    """
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return Outcome.NOT_SENT  # includes TLS handshake and certificate failures
    if isinstance(exc, aiohttp.InvalidURL):
        return Outcome.NOT_SENT  # refused before any connection was attempted
    return Outcome.MAYBE_APPLIED if maybe_sent else Outcome.NOT_SENT


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may end differently (a certificate problem does not fix itself)."""
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.InvalidURL):
        return False
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return True
    return isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError)


def may_resend(outcome: Outcome, method: str) -> bool:
    """Whether a request whose attempt had ``outcome`` may be sent again as it is."""
    if outcome in (Outcome.NOT_SENT, Outcome.REFUSED):
        return True
    return outcome is Outcome.MAYBE_APPLIED and method in IDEMPOTENT_METHODS


def error_outcome(error: ProlificError) -> Outcome:
    """The outcome of a whole call that raised ``error`` (what the bulk layer asks).

    The client raises :class:`OutcomeUnknownError` exactly when a non-idempotent request
    may have taken effect, and a plain :class:`APIConnectionError` for a POST only when
    nothing was sent; a 2xx whose body could not be read is :class:`ResponseValidationError`
    (:class:`CreatedButUnreadableError` after a create: applied when it names the id).
    """
    if isinstance(error, APIStatusError):
        return status_outcome(error.status_code)
    if isinstance(error, CreatedButUnreadableError) and error.batch_id is not None:
        return Outcome.APPLIED  # the answer names the batch it made
    if isinstance(error, OutcomeUnknownError | ResponseValidationError):
        return Outcome.MAYBE_APPLIED
    if isinstance(error, APIConnectionError | ClientClosedError):
        return Outcome.NOT_SENT
    return Outcome.REJECTED  # not an answer about the request: trying again will not help


def error_may_resend(error: ProlificError) -> bool:
    """Whether a call that raised ``error`` may be made again as it is, and may then succeed."""
    outcome = error_outcome(error)
    return outcome in (Outcome.NOT_SENT, Outcome.REFUSED) and not isinstance(
        error, ClientClosedError
    )
