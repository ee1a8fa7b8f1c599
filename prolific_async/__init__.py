"""prolific_async: an async-first client for Prolific's AI Task Builder API.

Quick start::

    import asyncio
    from prolific_async import ProlificClient

    async def main() -> None:
        async with ProlificClient() as client:  # token from PROLIFIC_TOKEN
            batch = await client.batches.get("a3f47c2e-9d4b-4f1a-8b2e-3c9d7f5a1b2c")
            print(batch.name, batch.status)

    asyncio.run(main())
"""

import warnings
from typing import TYPE_CHECKING, Any

from ._lazy import resolve as _resolve
from ._version import __version__

if TYPE_CHECKING:  # for mypy and IDEs; at run time each name loads on first use
    from . import errors
    from ._body import APIResponse
    from ._bulk_progress import BulkProgress
    from ._call import CallState
    from ._client import ProlificClient
    from ._journal import Journal
    from ._loaders import load_layout, load_schema
    from ._rate_gate import RateGate
    from ._raw import RawResponse
    from ._retry import RetryPolicy
    from ._sentinel import NOT_GIVEN, NotGiven
    from ._testing import set_testing
    from .errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BatchSetupError,
        BatchSyncFailedError,
        ClientClosedError,
        ConflictError,
        CreatedButUnreadableError,
        DatasetProcessingError,
        DatasetSchemaPendingError,
        ExportFailedError,
        InputFileError,
        InternalServerError,
        JobFailedError,
        JournalError,
        MissingTokenError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        ProlificError,
        ProvisionError,
        RateLimitError,
        ReconciliationError,
        ResponseTooLargeError,
        ResponseValidationError,
        RunStoppedError,
        SchemaMigrationFailedError,
        UnprocessableEntityError,
        WaitTimeoutError,
    )
    from .models import (
        Batch,
        BatchDataset,
        BatchStatus,
        Dataset,
        DatasetSchema,
        DatasetStatus,
        SchemaField,
        SchemaFieldType,
        TaskDetails,
    )
    from .models.bulk import BulkResult, CreateBatchRequest, DuplicateBatchRequest
    from .models.provision import ProvisionRequest, ProvisionResult

del TYPE_CHECKING  # not a name of this package

#: Where each public name lives, ``name: (submodule, attribute)`` (``None``: the module
#: itself): resolved on first use by :func:`__getattr__`, so importing this package (as
#: the pytest plugin does on every pytest run) loads nothing until a name is asked for.
_LAZY: dict[str, tuple[str, str | None]] = {
    "APIConnectionError": ("errors", "APIConnectionError"),
    "APIResponse": ("_body", "APIResponse"),
    "APIStatusError": ("errors", "APIStatusError"),
    "APITimeoutError": ("errors", "APITimeoutError"),
    "AuthenticationError": ("errors", "AuthenticationError"),
    "BadRequestError": ("errors", "BadRequestError"),
    "Batch": ("models", "Batch"),
    "BatchDataset": ("models", "BatchDataset"),
    "BatchSetupError": ("errors", "BatchSetupError"),
    "BatchStatus": ("models", "BatchStatus"),
    "BatchSyncFailedError": ("errors", "BatchSyncFailedError"),
    "BulkProgress": ("_bulk_progress", "BulkProgress"),
    "BulkResult": ("models.bulk", "BulkResult"),
    "CallState": ("_call", "CallState"),
    "ClientClosedError": ("errors", "ClientClosedError"),
    "ConflictError": ("errors", "ConflictError"),
    "CreateBatchRequest": ("models.bulk", "CreateBatchRequest"),
    "CreatedButUnreadableError": ("errors", "CreatedButUnreadableError"),
    "Dataset": ("models", "Dataset"),
    "DatasetProcessingError": ("errors", "DatasetProcessingError"),
    "DatasetSchema": ("models", "DatasetSchema"),
    "DatasetSchemaPendingError": ("errors", "DatasetSchemaPendingError"),
    "DatasetStatus": ("models", "DatasetStatus"),
    "DuplicateBatchRequest": ("models.bulk", "DuplicateBatchRequest"),
    "ExportFailedError": ("errors", "ExportFailedError"),
    "InputFileError": ("errors", "InputFileError"),
    "InternalServerError": ("errors", "InternalServerError"),
    "JobFailedError": ("errors", "JobFailedError"),
    "Journal": ("_journal", "Journal"),
    "JournalError": ("errors", "JournalError"),
    "MissingTokenError": ("errors", "MissingTokenError"),
    "NOT_GIVEN": ("_sentinel", "NOT_GIVEN"),
    "NotFoundError": ("errors", "NotFoundError"),
    "NotGiven": ("_sentinel", "NotGiven"),
    "OutcomeUnknownError": ("errors", "OutcomeUnknownError"),
    "PermissionDeniedError": ("errors", "PermissionDeniedError"),
    "ProlificClient": ("_client", "ProlificClient"),
    "ProlificError": ("errors", "ProlificError"),
    "ProvisionError": ("errors", "ProvisionError"),
    "ProvisionRequest": ("models.provision", "ProvisionRequest"),
    "ProvisionResult": ("models.provision", "ProvisionResult"),
    "RateGate": ("_rate_gate", "RateGate"),
    "RawResponse": ("_raw", "RawResponse"),
    "RateLimitError": ("errors", "RateLimitError"),
    "ReconciliationError": ("errors", "ReconciliationError"),
    "ResponseTooLargeError": ("errors", "ResponseTooLargeError"),
    "ResponseValidationError": ("errors", "ResponseValidationError"),
    "RetryPolicy": ("_retry", "RetryPolicy"),
    "RunStoppedError": ("errors", "RunStoppedError"),
    "SchemaField": ("models", "SchemaField"),
    "SchemaFieldType": ("models", "SchemaFieldType"),
    "SchemaMigrationFailedError": ("errors", "SchemaMigrationFailedError"),
    "TaskDetails": ("models", "TaskDetails"),
    "UnprocessableEntityError": ("errors", "UnprocessableEntityError"),
    "WaitTimeoutError": ("errors", "WaitTimeoutError"),
    "errors": ("errors", None),
    "load_layout": ("_loaders", "load_layout"),
    "load_schema": ("_loaders", "load_schema"),
    "set_testing": ("_testing", "set_testing"),
}

#: Names that moved to :mod:`prolific_async.models`; they still resolve here until 0.3.0.
_MOVED_TO_MODELS = frozenset(
    {
        "BatchExport",
        "BatchReport",
        "ChoiceOption",
        "Column",
        "ContentFormat",
        "DatasetFieldItem",
        "DatasetUpload",
        "DisplayPosition",
        "ExportStatus",
        "FileUploadItem",
        "FreeTextItem",
        "FreeTextWithUnitItem",
        "ImageItem",
        "ImportJob",
        "ImportRecordError",
        "ImportStatus",
        "InstructionResponse",
        "InstructionType",
        "ItemType",
        "LayoutItem",
        "MultipleChoiceItem",
        "MultipleChoiceWithFreeTextItem",
        "Page",
        "ResponseAnswer",
        "RichTextItem",
        "Row",
        "TaskResponse",
        "UnitOption",
        "UnitPosition",
        "UnknownItem",
        "UploadURL",
        "ValidationRule",
        "VideoNarrationItem",
    }
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _resolve(__name__, globals(), name)
    if name in _MOVED_TO_MODELS:
        from . import models

        warnings.warn(
            f"prolific_async.{name} is deprecated and leaves the top level in 0.3.0: "
            f"import it from prolific_async.models instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(models, name)
    raise AttributeError(f"module 'prolific_async' has no attribute {name!r}")


__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchDataset",
    "BatchSetupError",
    "BatchStatus",
    "BatchSyncFailedError",
    "BulkProgress",
    "BulkResult",
    "CallState",
    "ClientClosedError",
    "ConflictError",
    "CreateBatchRequest",
    "CreatedButUnreadableError",
    "Dataset",
    "DatasetProcessingError",
    "DatasetSchema",
    "DatasetSchemaPendingError",
    "DatasetStatus",
    "DuplicateBatchRequest",
    "ExportFailedError",
    "InputFileError",
    "InternalServerError",
    "JobFailedError",
    "Journal",
    "JournalError",
    "MissingTokenError",
    "NotFoundError",
    "NotGiven",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificClient",
    "ProlificError",
    "ProvisionError",
    "ProvisionRequest",
    "ProvisionResult",
    "RateGate",
    "RateLimitError",
    "RawResponse",
    "ReconciliationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "RetryPolicy",
    "RunStoppedError",
    "SchemaField",
    "SchemaFieldType",
    "SchemaMigrationFailedError",
    "TaskDetails",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
    "errors",
    "load_layout",
    "load_schema",
    "set_testing",
]
