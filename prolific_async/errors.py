"""Every exception prolific_async raises, rooted at one :class:`ProlificError`.

Hierarchy::

    ProlificError
    +-- MissingTokenError ............ no token given and PROLIFIC_TOKEN unset
    +-- ClientClosedError ............ the client was used after aclose() (also RuntimeError)
    +-- ResponseValidationError ...... a response body we could not parse into a model
    |   +-- CreatedButUnreadableError  a batch was created, but its answer could not be read
    +-- JournalError ................. a bulk journal that is corrupt or for another run
    +-- InputFileError ............... a layout or schema file we could not read (also ValueError)
    +-- ReconciliationError .......... a bulk item whose batch cannot be told apart
    +-- WaitTimeoutError ............. a wait for the server's work timed out (also TimeoutError)
    +-- JobFailedError ............... the server's background work failed
    |   +-- BatchSetupError .......... a batch ended setup in ERROR (no usable dataset?)
    |   +-- DatasetProcessingError ... an upload that became no usable data (V3 ERROR, V4 failed)
    |   |   +-- DatasetSchemaPendingError  a V4 import paused until the dataset has a schema
    |   +-- ExportFailedError ........ a batch export job ended failed
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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchSetupError",
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
    "ResponseValidationError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
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


class JournalError(ProlificError, ValueError):
    """A bulk journal cannot be used: corrupt, in use, or written for another manifest."""


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


# -- Waiting for the server's asynchronous work -------------------------------------------


class WaitTimeoutError(ProlificError, TimeoutError):
    """A wait for the server's asynchronous work did not end within its ``timeout``.

    Batch setup, dataset processing or an export may still finish: the work goes on
    server-side, so wait again or check later.

    Attributes:
        resource: what was waited for (``"batch 3f2a..."``).
        timeout: the seconds allowed.
        last_status: the last status seen, or ``None`` if no poll answered.
    """

    def __init__(
        self, message: str, *, resource: str, timeout: float, last_status: str | None
    ) -> None:
        super().__init__(message)
        self.resource = resource
        self.timeout = timeout
        self.last_status = last_status


class JobFailedError(ProlificError):
    """Work the server does in the background (setup, dataset processing, an export) failed.

    Catch this to handle every such failure at once; the subclasses say which work and
    carry its ids.
    """


class BatchSetupError(JobFailedError):
    """A batch ended setup in ``ERROR``: its tasks could not be built.

    The usual cause is the dataset: none attached, or not usable yet (a V3 dataset not
    ``READY``, a V4 dataset without a ``complete`` or ``partial`` import).

    Attributes:
        batch_id: the batch.
        status: the status it ended in (``"ERROR"``).
    """

    def __init__(self, message: str, *, batch_id: str, status: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.status = status


class DatasetProcessingError(JobFailedError):
    """An uploaded file did not become usable data.

    A V3 dataset ended in ``ERROR``, or a V4 import job ended ``failed`` (nothing was
    ingested; ``reason`` says why).

    Attributes:
        dataset_id: the dataset.
        import_id: the V4 import job, or ``None`` for a V3 dataset.
        status: the status it ended in (``"ERROR"``, ``"failed"``, ``"pending_schema"``).
        reason: the server's reason, when it gives one.
        import_job: the finished V4 :class:`~prolific_async.models.ImportJob`, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset_id: str,
        import_id: str | None,
        status: str,
        reason: str | None = None,
        import_job: Any = None,
    ) -> None:
        super().__init__(message)
        self.dataset_id = dataset_id
        self.import_id = import_id
        self.status = status
        self.reason = reason
        self.import_job = import_job


class DatasetSchemaPendingError(DatasetProcessingError):
    """A V4 import is paused (``pending_schema``) until the dataset has a schema."""


class ExportFailedError(JobFailedError):
    """A batch export job ended ``failed``; request a new one.

    Attributes:
        batch_id: the batch.
        export_id: the failed job.
    """

    def __init__(self, message: str, *, batch_id: str, export_id: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.export_id = export_id


class ProvisionError(ProlificError):
    """A provisioning pipeline stopped at ``step``; nothing made before it is lost.

    ``dataset`` and ``batch`` are what exists already (``None`` if not made), so you can
    resume by hand instead of creating them again. The step's own error is the
    ``__cause__`` (an :class:`OutcomeUnknownError` there means the step may have
    happened).

    Attributes:
        step: ``"read dataset file"``, ``"create dataset"``, ``"upload dataset"``,
            ``"create batch"``, ``"set up batch"`` or ``"wait until ready"``.
        dataset: the :class:`~prolific_async.Dataset` created, if any.
        batch: the :class:`~prolific_async.Batch` created, if any.
    """

    def __init__(self, message: str, *, step: str, dataset: Any = None, batch: Any = None) -> None:
        super().__init__(message)
        self.step = step
        self.dataset = dataset
        self.batch = batch

    @classmethod
    def at(
        cls, step: str, error: BaseException, *, dataset: Any = None, batch: Any = None
    ) -> ProvisionError:
        """Describe a failure of ``step``, naming what was made before it."""
        made = [f"{kind} {obj.id}" for kind, obj in (("dataset", dataset), ("batch", batch)) if obj]
        exists = f"; already made: {', '.join(made)}" if made else ""
        return cls(f"{step} failed: {error}{exists}", step=step, dataset=dataset, batch=batch)
