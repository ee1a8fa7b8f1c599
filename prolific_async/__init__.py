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

from . import errors
from ._client import ProlificClient
from ._journal import Journal
from ._retry import RetryPolicy, set_testing
from ._sentinel import NOT_GIVEN, NotGiven
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    JournalError,
    MissingTokenError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProlificError,
    RateLimitError,
    ReconciliationError,
    ResponseValidationError,
    UnprocessableEntityError,
)
from .models import Batch, BatchDataset, BatchStatus, TaskDetails
from .models.bulk import BulkResult, CreateBatchRequest, DuplicateBatchRequest

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchDataset",
    "BatchStatus",
    "BulkResult",
    "ClientClosedError",
    "ConflictError",
    "CreateBatchRequest",
    "DuplicateBatchRequest",
    "InternalServerError",
    "Journal",
    "JournalError",
    "MissingTokenError",
    "NotFoundError",
    "NotGiven",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProlificClient",
    "ProlificError",
    "RateLimitError",
    "ReconciliationError",
    "ResponseValidationError",
    "RetryPolicy",
    "TaskDetails",
    "UnprocessableEntityError",
    "__version__",
    "errors",
    "set_testing",
]
