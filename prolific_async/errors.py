"""The exceptions prolific_async raises, rooted at one :class:`ProlificError`.

An invalid argument (an unusable id, a setting out of range, a value of the wrong type)
is a plain ``ValueError`` or ``TypeError`` instead, raised before anything is sent.

Hierarchy::

    ProlificError
    +-- MissingTokenError ............ no token given and PROLIFIC_TOKEN unset
    +-- ClientClosedError ............ used after aclose(), or in another event loop (RuntimeError)
    +-- ResponseValidationError ...... a response body we could not parse into a model
    |   +-- CreatedButUnreadableError  a batch was created, but its answer could not be read
    |   +-- ResponseTooLargeError .... a body past its size cap (max_response_bytes ...)
    +-- JournalError ................. a bulk journal that is corrupt or for another run
    +-- InputFileError ............... a layout or schema file we could not read (also ValueError)
    +-- ReconciliationError .......... a bulk item whose batch cannot be told apart
    +-- RunStoppedError .............. a bulk item not attempted: its run stopped sending
    +-- WaitTimeoutError ............. a wait for the server's work timed out (also TimeoutError)
    +-- JobFailedError ............... the server's background work failed
    |   +-- BatchSetupError .......... a batch ended setup in ERROR (no usable dataset?)
    |   +-- DatasetProcessingError ... an upload that became no usable data (V3 ERROR, V4 failed)
    |   |   +-- DatasetSchemaPendingError  a V4 import paused until the dataset has a schema
    |   +-- ExportFailedError ........ a batch export job ended failed
    |   +-- BatchSyncFailedError ..... a batch sync job ended failed
    |   +-- SchemaMigrationFailedError  a dataset's schema migration ended failed
    +-- ProvisionError ............... a dataset-to-READY pipeline stopped at one step
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

from pathlib import Path

from ._api_errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    CreatedButUnreadableError,
    InternalServerError,
    JournalError,
    MissingTokenError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProlificError,
    RateLimitError,
    ReconciliationError,
    ResponseTooLargeError,
    ResponseValidationError,
    UnprocessableEntityError,
)
from ._job_errors import (
    BatchSetupError,
    BatchSyncFailedError,
    DatasetProcessingError,
    DatasetSchemaPendingError,
    ExportFailedError,
    JobFailedError,
    ProvisionError,
    SchemaMigrationFailedError,
    WaitTimeoutError,
)

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchSetupError",
    "BatchSyncFailedError",
    "ClientClosedError",
    "ConflictError",
    "CreatedButUnreadableError",
    "DatasetProcessingError",
    "DatasetSchemaPendingError",
    "ExportFailedError",
    "InputFileError",
    "InternalServerError",
    "JobFailedError",
    "JournalError",
    "MissingTokenError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificError",
    "ProvisionError",
    "RateLimitError",
    "ReconciliationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "RunStoppedError",
    "SchemaMigrationFailedError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
]


class InputFileError(ProlificError, ValueError):
    """A layout or schema file could not be read: missing, not JSON, or of the wrong shape.

    Raised by :func:`~prolific_async.load_layout` and :func:`~prolific_async.load_schema`
    before anything is sent. The message starts with the file and says where in it the
    problem is (a line and column, or a JSON path such as ``$[0].rows[0]``).

    Attributes:
        path: the file.
        errors: one line per problem, each ending with where it is.
    """

    def __init__(self, message: str, *, path: Path, errors: list[str]) -> None:
        super().__init__(message)
        self.path = path
        self.errors = errors


class RunStoppedError(ProlificError):
    """A bulk item was not attempted: its run stopped sending before its turn.

    A bulk run stops after many sends in a row failed before reaching the server (the
    ``max_consecutive_unsent`` of ``create_many``), or at a 401; a 403 stops the items
    of its workspace or duplicate source. Nothing was made for the item, and the
    journal records nothing final for it: a plain re-run does it.

    Attributes:
        cause: the error that stopped the run (the last unsent send's, the 401, the 403).
    """

    def __init__(self, message: str, *, cause: ProlificError) -> None:
        super().__init__(message)
        self.cause = cause
