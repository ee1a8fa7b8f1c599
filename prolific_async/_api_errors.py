"""The errors of a request: the root, the client's own, connection and status errors.

Re-exported, with the tree that shows how they relate, by :mod:`prolific_async.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, CIMultiDictProxy

from ._redact import KNOWN, mask_known, mask_optional

if TYPE_CHECKING:
    from .models.layout_issues import LayoutIssue

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "CreatedButUnreadableError",
    "InternalServerError",
    "JournalError",
    "MissingTokenError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificError",
    "RateLimitError",
    "ReconciliationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "UnprocessableEntityError",
]


class ProlificError(Exception):
    """Base class of every error raised by prolific_async.

    Its message has the token of every live client (and of the last few closed) masked,
    as a log line has, whatever a server put in what it quotes.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_known(arg) if isinstance(arg, str) else arg for arg in args))


class MissingTokenError(ProlificError):
    """No API token was given and the ``PROLIFIC_TOKEN`` environment variable is unset."""


class ClientClosedError(ProlificError, RuntimeError):
    """The client was used after :meth:`ProlificClient.aclose`; a closed client cannot reopen.

    Also raised when a client is used in another event loop than the one it was opened
    in (a second ``asyncio.run()``): it cannot be used there; open one per loop.
    """


class ResponseValidationError(ProlificError):
    """A response body could not be parsed into the expected model.

    Attributes:
        status_code: the HTTP status of the response.
        method: the HTTP method of the request.
        url: the URL of the request.
        errors: one line per bad field, each naming its path (``$.datasets[0].id``).
    """

    def __init__(
        self, message: str, *, status_code: int, method: str, url: str, errors: list[str]
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = url
        self.errors = [mask_known(error) for error in errors]  # they quote the body's keys


class CreatedButUnreadableError(ResponseValidationError):
    """A create or duplicate succeeded (2xx), but its answer could not be read.

    The batch **was created**: do not send the request again. ``batch_id`` is its id
    when the answer carries one (``client.batches.get(batch_id)`` may read it), or
    ``None`` when it does not (look for it with ``client.batches.list``).

    Attributes:
        batch_id: the new batch's id, when the answer names it.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        url: str,
        errors: list[str],
        batch_id: str | None,
    ) -> None:
        super().__init__(message, status_code=status_code, method=method, url=url, errors=errors)
        self.batch_id = batch_id


class ResponseTooLargeError(ResponseValidationError):
    """An answer's body was larger than its cap, so it was not read to the end.

    Counted on the decompressed bytes; the connection it came on is closed, not reused.
    The caps are the client's ``max_response_bytes`` (one object) and
    ``max_listing_bytes`` (a listing).

    Attributes:
        limit: the cap, in bytes, the body went past.
    """

    def __init__(
        self, message: str, *, status_code: int, method: str, url: str, limit: int
    ) -> None:
        errors = [f"body is larger than {limit} bytes @ $"]
        super().__init__(message, status_code=status_code, method=method, url=url, errors=errors)
        self.limit = limit


class JournalError(ProlificError, ValueError):
    """A bulk journal cannot be used: corrupt, in use, or written for another manifest."""


class ReconciliationError(ProlificError):
    """A bulk item's batch may exist, but the workspace cannot tell which one it is.

    After an ambiguous failure the bulk layer lists the workspace and found more
    unclaimed matching batches than this run's own unresolved requests explain (another
    process may be creating the same batches). Nothing was adopted and nothing was sent
    again: a human should look at the batches named in the message.

    Attributes:
        candidates: the ids of the matching batches that were found.
    """

    def __init__(self, message: str, *, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class APIConnectionError(ProlificError):
    """The request did not produce an HTTP response (refused, reset, DNS, timeout).

    For a POST raised as this class itself (not :class:`OutcomeUnknownError`), the
    connection was never established, so the server cannot have acted on it.

    Attributes:
        method: the HTTP method of the request.
        url: the URL of the request.
    """

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError, TimeoutError):
    """An attempt (connect or read) or the whole call (``RetryPolicy.timeout``) timed out."""


class OutcomeUnknownError(APIConnectionError):
    """A non-idempotent request (create, duplicate) may or may not have taken effect.

    The request may have reached the server before the connection dropped or the read
    timed out, and the API has no idempotency keys, so it was not retried: retrying could
    create a second batch. Check (for example with ``client.batches.list``) before
    sending it again. The underlying error is chained as ``__cause__``.
    """


class APIStatusError(ProlificError):
    """The server answered with a status outside 2xx.

    Attributes:
        status_code: the HTTP status.
        body: the parsed JSON body, or the raw text when it is not JSON (``""`` if empty).
        request_id: the server's request id header, when it sends one.
        method: the HTTP method of the request.
        url: the URL of the request.
        headers: the response headers.
        issues: for a refused batch layout (``"type": "INVALID_BATCH_ITEMS"``, which the
            API answers with 422 and, on some endpoints, 400), one
            :class:`~prolific_async.models.LayoutIssue` per problem in the server's order;
            empty when the body lists none.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any,
        request_id: str | None,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        issues: Iterable[LayoutIssue] = (),
    ) -> None:
        super().__init__(message)
        self.issues: tuple[LayoutIssue, ...] = tuple(issues)
        self.status_code = status_code
        self.body = body
        # What the server sent back, masked for every live client's token (as the message).
        self.request_id = mask_optional(request_id)
        self.method = method
        self.url = url
        # Case-insensitive, like HTTP: headers["retry-after"] finds "Retry-After".
        known = list(KNOWN.values())
        masked = [
            (mask_known(name, known), mask_known(value, known))
            for name, value in (headers or {}).items()
        ]
        self.headers: Mapping[str, str] = CIMultiDictProxy(CIMultiDict(masked))


class BadRequestError(APIStatusError):
    """400: the request was malformed (a missing or wrongly typed field)."""


class AuthenticationError(APIStatusError):
    """401: the token is missing or invalid."""


class PermissionDeniedError(APIStatusError):
    """403: the token has no access to this resource."""


class NotFoundError(APIStatusError):
    """404: no such resource."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is well formed but failed validation (a layout's ``issues``)."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically while the retry policy allows."""


class InternalServerError(APIStatusError):
    """500 and above: a fault on Prolific's side."""
