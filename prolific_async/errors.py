"""Every exception prolific_async raises, rooted at one :class:`ProlificError`.

Hierarchy::

    ProlificError
    +-- MissingTokenError ............ no token given and PROLIFIC_TOKEN unset
    +-- ClientClosedError ............ the client was used after aclose() (also RuntimeError)
    +-- ResponseValidationError ...... a response body we could not parse into a model
    +-- JournalError ................. a bulk journal that is corrupt or for another run
    +-- ReconciliationError .......... a bulk item whose batch cannot be told apart
    +-- APIConnectionError ........... the request never produced an HTTP response
    |   +-- APITimeoutError .......... an attempt or the whole call timed out (also TimeoutError)
    |   +-- OutcomeUnknownError ...... a create/duplicate whose fate is unknown: it may exist
    +-- APIStatusError ............... the server answered with a non-2xx status
        +-- BadRequestError .......... 400
        +-- AuthenticationError ...... 401
        +-- PermissionDeniedError .... 403
        +-- NotFoundError ............ 404
        +-- ConflictError ............ 409
        +-- UnprocessableEntityError . 422
        +-- RateLimitError ........... 429
        +-- InternalServerError ...... 500 and above

No message, repr or attribute of these exceptions contains the API token: they carry
the method, the URL (which never holds the token) and the server's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InternalServerError",
    "JournalError",
    "MissingTokenError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificError",
    "RateLimitError",
    "ReconciliationError",
    "ResponseValidationError",
    "UnprocessableEntityError",
]


class ProlificError(Exception):
    """Base class of every error raised by prolific_async."""


class MissingTokenError(ProlificError):
    """No API token was given and the ``PROLIFIC_TOKEN`` environment variable is unset."""


class ClientClosedError(ProlificError, RuntimeError):
    """The client was used after :meth:`ProlificClient.aclose`; a closed client cannot reopen."""


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
        self.errors = errors


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
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.method = method
        self.url = url
        # Case-insensitive, like HTTP: headers["retry-after"] finds "Retry-After".
        self.headers: Mapping[str, str] = CIMultiDictProxy(CIMultiDict(headers or {}))


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
    """422: the request is well formed but failed validation."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically while the retry policy allows."""


class InternalServerError(APIStatusError):
    """500 and above: a fault on Prolific's side."""
