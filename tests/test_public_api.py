"""The curated public surface: __all__ lists exactly the public names."""

from __future__ import annotations

import types

import prolific_async
from prolific_async import errors

EXPECTED = {
    "ProvisionResult",
    "ProvisionRequest",
    "ProvisionError",
    "ReconciliationError",
    "JournalError",
    "Journal",
    "DuplicateBatchRequest",
    "CreateBatchRequest",
    "BulkResult",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchDataset",
    "BatchStatus",
    "ClientClosedError",
    "ConflictError",
    "InternalServerError",
    "MissingTokenError",
    "NotFoundError",
    "NotGiven",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificClient",
    "ProlificError",
    "RateLimitError",
    "ResponseValidationError",
    "RetryPolicy",
    "TaskDetails",
    "UnprocessableEntityError",
    "__version__",
    "errors",
    "set_testing",
    # Issue 6: datasets, setup, responses, exports and the batch layout.
    "BatchExport",
    "BatchReport",
    "ChoiceOption",
    "Column",
    "ContentFormat",
    "Dataset",
    "DatasetFieldItem",
    "DatasetSchema",
    "DatasetStatus",
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
    "SchemaField",
    "SchemaFieldType",
    "TaskResponse",
    "UnitOption",
    "UnitPosition",
    "UnknownItem",
    "UploadURL",
    "ValidationRule",
    "VideoNarrationItem",
    "BatchSetupError",
    "DatasetProcessingError",
    "DatasetSchemaPendingError",
    "ExportFailedError",
    "WaitTimeoutError",
}


def test_all_is_exactly_the_public_names() -> None:
    """__all__ equals the set of public names the package defines."""
    # "@py_..." names come from pytest rewriting the package of our pytest plugin.
    public = {name for name in vars(prolific_async) if not name.startswith(("_", "@"))}
    public |= {"__version__"}
    # Submodules (bulk, models, testing ...) become attributes when imported; of them
    # only `errors` is a curated name.
    public = {
        name
        for name in public
        if name == "errors" or not isinstance(getattr(prolific_async, name), types.ModuleType)
    }
    assert set(prolific_async.__all__) == EXPECTED
    assert public == EXPECTED


def test_every_error_is_reexported_at_top_level() -> None:
    """Every exception in prolific_async.errors is importable from the top level too."""
    for name in errors.__all__:
        assert getattr(prolific_async, name) is getattr(errors, name)
