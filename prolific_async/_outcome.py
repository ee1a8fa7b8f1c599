"""The one answer to "did this request take effect?", and what may follow from it.

The API has no idempotency keys, so every layer must agree on when a request may be
sent again. The retry middleware, the client's error mapping, storage transfers and the
bulk layer all ask this module; none of them decides it alone.

=====================================  =============  =========================================
what happened                          outcome        what follows
=====================================  =============  =========================================
no connection was made (refused, DNS,  NOT_SENT       any method may be sent again (but a TLS,
connect timeout, a bad URL, closed                    certificate or URL error is not
before send)                                          transient: it is not retried)
429                                    REFUSED        any method may be sent again (the server
                                                      says it did not act)
2xx (even with a body we cannot read,  APPLIED        done; never send again
when it names the new id)
dropped after sending, read timeout,   MAYBE_APPLIED  GET/PATCH/DELETE are retried on a
408, 5xx, a 2xx without a readable id                 transient one (a drop, a read timeout,
                                                      408, 500/502/503/504); a POST is not:
                                                      the bulk layer reconciles it
any other 4xx                          REJECTED       sending again gives the same answer
=====================================  =============  =========================================

A 408 is MAYBE_APPLIED, not REFUSED: a proxy may answer it after the server got the
request. Every exception of ``aiohttp.client_exceptions`` has its row in
:data:`EXCEPTION_RULES` (``tests/README.md`` shows the whole table).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

import aiohttp
from aiohttp import client_exceptions as aio

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
    "EXCEPTION_RULES",
    "IDEMPOTENT_METHODS",
    "TRANSIENT_STATUSES",
    "BulkStep",
    "Outcome",
    "bulk_step",
    "error_may_resend",
    "error_outcome",
    "exception_outcome",
    "is_transient",
    "is_transient_status",
    "may_have_acted",
    "may_resend",
    "retry_exception",
    "retry_status",
    "retry_transfer",
    "status_outcome",
]

#: Methods the server treats as safe to repeat (PATCH sets fields to given values).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
#: Statuses with which the server says it did not act on the request.
REFUSED_STATUSES: Final = frozenset({429})
#: Statuses worth another attempt, when the outcome lets the request be sent again.
TRANSIENT_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


class Outcome(enum.Enum):
    """Whether one attempt of a request took effect on the server."""

    NOT_SENT = "not sent"
    """No connection was made: the server cannot have seen the request."""
    REFUSED = "refused"
    """The server answered that it did not act (429)."""
    APPLIED = "applied"
    """A 2xx: the request took effect."""
    MAYBE_APPLIED = "maybe applied"
    """The request may have taken effect: only a look at the server can tell."""
    REJECTED = "rejected"
    """A definitive 4xx: the server refused it and will refuse it again."""


_NOT_SENT, _MAYBE = Outcome.NOT_SENT, Outcome.MAYBE_APPLIED

#: Each aiohttp exception (and a plain timeout) -> (outcome, transient), found along the
#: raised exception's class hierarchy, most specific first. Read from where aiohttp
#: raises each one (3.14).
_RULES_OF_3_14_3: Final[Mapping[type[BaseException], tuple[Outcome, bool]]] = {
    # Raised before a connection exists: nothing reached the server.
    aio.InvalidURL: (_NOT_SENT, False),  # a bad request or proxy URL, checked up front
    aio.InvalidUrlClientError: (_NOT_SENT, False),
    aio.NonHttpUrlClientError: (_NOT_SENT, False),  # not http(s): no connector takes it
    aio.ClientConnectorError: (_NOT_SENT, True),  # connect refused, unreachable
    aio.ClientConnectorDNSError: (_NOT_SENT, True),  # a failed lookup may succeed later
    aio.ClientProxyConnectionError: (_NOT_SENT, True),  # could not reach the proxy
    aio.ClientHttpProxyError: (_NOT_SENT, True),  # the proxy refused CONNECT (see below)
    aio.ClientSSLError: (_NOT_SENT, False),  # the TLS handshake failed
    aio.ClientConnectorSSLError: (_NOT_SENT, False),
    aio.ClientConnectorCertificateError: (_NOT_SENT, False),  # an untrusted certificate
    aio.ServerFingerprintMismatch: (_NOT_SENT, False),  # checked after the handshake
    aio.ConnectionTimeoutError: (_NOT_SENT, True),  # no connection within the timeout
    # Raised once the request may have gone out.
    aio.ClientError: (_MAYBE, False),  # anything else aiohttp raises
    aio.ClientConnectionError: (_MAYBE, True),
    aio.ClientConnectionResetError: (_MAYBE, True),  # writing to a closed connection
    aio.ClientOSError: (_MAYBE, True),  # a reset mid-request
    aio.ServerConnectionError: (_MAYBE, True),
    aio.ServerDisconnectedError: (_MAYBE, True),  # closed before the answer
    aio.ServerTimeoutError: (_MAYBE, True),
    aio.SocketTimeoutError: (_MAYBE, True),  # no answer within the read timeout
    aio.ClientPayloadError: (_MAYBE, True),  # the answer's body broke off
    # Raised after an answer came: asking again gets the same answer.
    aio.ClientResponseError: (_MAYBE, False),  # raise_for_status (the client turns it off)
    aio.ContentTypeError: (_MAYBE, False),  # .json() on a body of another type
    aio.TooManyRedirects: (_MAYBE, False),  # 3xx answers (the client follows none)
    aio.RedirectClientError: (_MAYBE, False),  # a 3xx pointing where we cannot go
    aio.InvalidUrlRedirectClientError: (_MAYBE, False),
    aio.NonHttpUrlRedirectClientError: (_MAYBE, False),
    aio.WSServerHandshakeError: (_MAYBE, False),  # websockets: not used by the client
    aio.WSMessageTypeError: (_MAYBE, False),
    # The call's own deadline (the client maps it) or a transfer's timeout.
    TimeoutError: (_MAYBE, True),
}


#: Exceptions of newer aiohttp releases than the oldest we support (3.14.3), when present.
_NEWER_RULES: Final = {
    "UploadAbortedError": (_MAYBE, True),  # 3.14.4+: the body broke off, like a drop
}
EXCEPTION_RULES: Final[Mapping[type[BaseException], tuple[Outcome, bool]]] = {
    **_RULES_OF_3_14_3,
    **{
        getattr(aio, name): rule
        for name, rule in _NEWER_RULES.items()
        if isinstance(getattr(aio, name, None), type)
    },
}


def _rule(exc: BaseException) -> tuple[Outcome, bool]:
    for cls in type(exc).__mro__:
        rule = EXCEPTION_RULES.get(cls)
        if rule is not None:
            return rule
    return _MAYBE, False  # not an aiohttp error: assume the worst, do not repeat it


def is_transient_status(status: int) -> bool:
    """Whether an answer with ``status`` may be different next time (408, 429, 500/502/503/504)."""
    return status in TRANSIENT_STATUSES


def status_outcome(status: int) -> Outcome:
    """The outcome of an attempt answered with ``status``."""
    if 200 <= status < 300:
        return Outcome.APPLIED
    if status in REFUSED_STATUSES:
        return Outcome.REFUSED
    if status == 408 or status >= 500:
        return Outcome.MAYBE_APPLIED  # a proxy's 408 may come after the server got it
    if 400 <= status < 500:
        return Outcome.REJECTED
    return Outcome.MAYBE_APPLIED  # 1xx/3xx where a JSON answer was due: not understood


def exception_outcome(exc: BaseException, *, maybe_sent: bool = True) -> Outcome:
    """The outcome of an attempt that ended in ``exc`` (an aiohttp error or a timeout).

    ``maybe_sent`` is what connection tracking knows: ``False`` when the attempt never
    got a connection (a deadline that expired while waiting for one, or a client closed
    before it started).
    """
    return _rule(exc)[0] if maybe_sent else Outcome.NOT_SENT


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may end differently (a certificate problem does not fix itself)."""
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return is_transient_status(exc.status)  # a 407 stays, a 503 may pass
    return _rule(exc)[1]


def may_resend(outcome: Outcome, method: str) -> bool:
    """Whether a request whose attempt had ``outcome`` may be sent again as it is."""
    if outcome in (Outcome.NOT_SENT, Outcome.REFUSED):
        return True
    return outcome is Outcome.MAYBE_APPLIED and method in IDEMPOTENT_METHODS


def may_have_acted(outcome: Outcome, method: str) -> bool:
    """Whether a request that cannot be repeated may have acted: its fate is unknown.

    The client then raises :class:`OutcomeUnknownError` instead of a plain error.
    """
    return outcome is Outcome.MAYBE_APPLIED and method not in IDEMPOTENT_METHODS


def retry_status(status: int, method: str) -> bool:
    """Whether the retry middleware sends ``method`` again after an answer with ``status``."""
    return is_transient_status(status) and may_resend(status_outcome(status), method)


def retry_exception(exc: BaseException, method: str) -> bool:
    """Whether the retry middleware sends ``method`` again after an attempt raised ``exc``."""
    return is_transient(exc) and may_resend(exception_outcome(exc), method)


def retry_transfer(failure: int | BaseException) -> bool:
    """Whether a storage transfer is tried again after ``failure`` (a status or an exception).

    A transfer to or from a presigned URL writes the same bytes to the same key (or
    reads them), so it is idempotent whatever its verb: only transience decides.
    """
    if isinstance(failure, int):
        return is_transient_status(failure)
    return is_transient(failure)


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
    """Whether a call that raised ``error`` may be made again as it is, and may then succeed.

    Not after a closed client, nor after a connection error that is not transient (a
    certificate the client does not trust stays untrusted).
    """
    if error_outcome(error) not in (Outcome.NOT_SENT, Outcome.REFUSED):
        return False
    if isinstance(error, ClientClosedError):
        return False
    if isinstance(error, APIConnectionError) and error.__cause__ is not None:
        return is_transient(error.__cause__)  # what the connection failed with
    return True


class BulkStep(enum.Enum):
    """What the bulk layer does after one send of a create or duplicate failed."""

    RESEND = "resend"
    """It provably did not act, and may succeed: send it again."""
    RECONCILE = "reconcile"
    """It may have acted: look for the batch before sending again."""
    READ = "read"
    """It acted and the answer names the batch: read that batch."""
    FAIL = "fail"
    """It was refused for good, or trying again cannot help: report the failure."""


def bulk_step(error: ProlificError) -> BulkStep:
    """The bulk layer's next step after a send raised ``error``.

    (A 429 whose ``Retry-After`` exceeds the policy's cap also fails; that is the
    policy's call, not the outcome's.)
    """
    outcome = error_outcome(error)
    if outcome is Outcome.APPLIED:
        return BulkStep.READ
    if outcome is Outcome.MAYBE_APPLIED:
        return BulkStep.RECONCILE
    return BulkStep.RESEND if error_may_resend(error) else BulkStep.FAIL
