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
from typing import Any

from . import errors
from ._body import APIResponse
from ._bulk_progress import BulkProgress
from ._call import CallState
from ._client import ProlificClient
from ._journal import Journal
from ._loaders import load_layout, load_schema
from ._raw import RawResponse
from ._retry import RateGate, RetryPolicy
from ._sentinel import NOT_GIVEN, NotGiven
from ._testing import set_testing
from ._version import __version__
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


def __getattr__(name: str) -> Any:
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
