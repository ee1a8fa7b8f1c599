"""Turning what went wrong with a request into a :mod:`prolific_async.errors` exception.

Non-2xx answers become the :class:`APIStatusError` subclass for their status; aiohttp's
exceptions and the call's deadline become :class:`APIConnectionError` and its subclasses,
chosen by :mod:`prolific_async._outcome` (whether the request may have taken effect).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp
from yarl import URL

from ._call import CallState, ClientClosingError, GateClosedError
from ._deadline import as_timeout
from ._error_body import decode_error_body, describe_error_body, layout_issues
from ._headers import request_id_of
from ._json import shortened_url
from ._outcome import Outcome, exception_outcome, may_have_acted
from ._redact import frameless
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProlificError,
    RateLimitError,
    UnprocessableEntityError,
)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the :class:`APIStatusError` subclass for an HTTP status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def _redirect_note(location: str | None) -> str:
    """What a 3xx error adds: where it pointed (its origin only) and why it was not followed."""
    where = ""
    if location:
        try:
            target = URL(location)
            where = f" to {target.origin()}" if target.is_absolute() and target.host else ""
        except ValueError:  # a Location no URL parser takes: the note goes without it
            where = ""
    return (
        f"; the redirect{where} was not followed (the client follows none, so the token "
        "never goes to another host): check the base URL"
    )


def make_status_error(
    *,
    status_code: int,
    reason: str | None,
    raw_body: bytes,
    headers: Mapping[str, str],
    method: str,
    url: str,
) -> APIStatusError:
    """Build the :class:`APIStatusError` subclass for one non-2xx response."""
    body = decode_error_body(raw_body)
    lowered = {key.lower(): value for key, value in headers.items()}
    request_id = request_id_of(headers)
    status_text = f"{status_code} {reason}" if reason else str(status_code)
    message = (
        f"{method} {shortened_url(url)} failed with {status_text}: {describe_error_body(body)}"
    )
    if 300 <= status_code < 400:
        message += _redirect_note(lowered.get("location"))
    if request_id:
        message += f" (request id {request_id})"
    return status_error_class(status_code)(
        message,
        status_code=status_code,
        body=body,
        request_id=request_id,
        method=method,
        url=url,
        headers=headers,
        issues=layout_issues(body),
    )


def closed_error(method: str = "", url: str = "", state: CallState | None = None) -> ProlificError:
    """The error for a call that the client's ``aclose()`` cut short (or came after it)."""
    outcome = exception_outcome(
        ClientClosingError(), maybe_sent=state is not None and state.maybe_sent
    )
    if may_have_acted(outcome, method):
        return OutcomeUnknownError(
            f"{method} {shortened_url(url)}: the client was closed while the request may "
            "have reached the server; check whether it took effect before sending it again.",
            method=method,
            url=url,
        )
    return ClientClosedError("This ProlificClient was closed with aclose(); create a new one.")


def connection_error(
    exc: aiohttp.ClientError,
    method: str,
    url: str,
    state: CallState,
    *,
    closed: bool,
    redact: Callable[[str], str] = str,
) -> ProlificError:
    """The error for a call whose last attempt raised ``exc`` (no HTTP answer).

    ``redact`` masks the token in what it quotes of ``exc``: aiohttp's parser quotes the
    line it refused, which may be a header echoing ``Authorization``.
    """
    text = str(exc)
    shown = redact(text)
    # Not chained: a response error (it carries our headers), or one quoting the token.
    quotes = isinstance(exc, aiohttp.ClientResponseError) or shown != text
    cause = None if quotes else frameless(exc)
    if closed or isinstance(exc, ClientClosingError):
        failure: ProlificError = closed_error(method, url, state)
        failure.__cause__ = cause
        return failure
    if isinstance(exc, GateClosedError):
        return RateLimitError(
            f"{method} {shortened_url(url)}: {exc}, later than the call's deadline "
            "(RetryPolicy.timeout); the request was not sent",
            status_code=429,
            body=None,
            request_id=None,
            method=method,
            url=url,
        )
    attempts = f"after {state.sent} attempt{'s' if state.sent != 1 else ''}"
    detail = f"{type(exc).__name__}: {shown}" if text else type(exc).__name__
    outcome = exception_outcome(exc)
    if outcome is Outcome.NOT_SENT:
        cls = (
            APITimeoutError
            if isinstance(exc, aiohttp.ConnectionTimeoutError)
            else APIConnectionError
        )
        failure = cls(
            f"{method} {shortened_url(url)}: could not connect {attempts} ({detail}); the "
            "request was not sent",
            method=method,
            url=url,
        )
    elif may_have_acted(outcome, method):
        failure = OutcomeUnknownError(
            f"{method} {shortened_url(url)}: the connection failed after the request may "
            f"have reached the server ({detail}). It was not retried, because repeating it could "
            "create a duplicate: check whether it took effect before sending it again.",
            method=method,
            url=url,
        )
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        failure = APITimeoutError(
            f"{method} {shortened_url(url)}: timed out reading the response {attempts} ({detail})",
            method=method,
            url=url,
        )
    else:
        failure = APIConnectionError(
            f"{method} {shortened_url(url)}: connection failed {attempts} ({detail})",
            method=method,
            url=url,
        )
    failure.__cause__ = cause
    return failure


def deadline_error(
    exc: TimeoutError | asyncio.CancelledError,
    method: str,
    url: str,
    state: CallState,
    seconds: float,
) -> APIConnectionError:
    """The error for a call that ran out of its whole deadline (``RetryPolicy.timeout``).

    ``exc`` is the timeout, or the deadline's own cancellation (the timeout it stands for).
    """
    exc = as_timeout(exc)
    failure: APIConnectionError
    if may_have_acted(exception_outcome(exc, maybe_sent=state.maybe_sent), method):
        failure = OutcomeUnknownError(
            f"{method} {shortened_url(url)}: no answer within the call's {seconds:g}s deadline "
            "(RetryPolicy.timeout) after the request may have reached the server. It "
            "was not retried: check whether it took effect before sending it again.",
            method=method,
            url=url,
        )
    else:
        failure = APITimeoutError(
            f"{method} {shortened_url(url)}: no answer within the call's {seconds:g}s deadline "
            f"(RetryPolicy.timeout), {state.sent} attempt(s)",
            method=method,
            url=url,
        )
    failure.__cause__ = frameless(exc)  # not its frames: they may hold the response
    return failure
