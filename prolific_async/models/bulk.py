"""Inputs and outputs of bulk creation: one request per batch, one result per request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import Attribute, field, frozen, validators

from ._base import Model
from ._text import first_bad_text, valid_text_field
from .batches import Batch, TaskDetails
from .layout import Page

if TYPE_CHECKING:
    from ..errors import ProlificError

__all__ = [
    "BulkRequest",
    "BulkResult",
    "CreateBatchRequest",
    "DuplicateBatchRequest",
]

# A lone surrogate would be sent (a name) or break the journal (a key) after earlier
# items were made: refused when the request is built, before any item is sent.
_non_empty = validators.and_(validators.instance_of(str), validators.min_len(1), valid_text_field)
_optional_non_empty = validators.optional(_non_empty)


def _path_safe(_: object, attribute: Attribute[str], value: str) -> None:
    if value in (".", ".."):
        raise ValueError(f"{attribute.name} must not be {value!r}: it would change the path")


# The three checks below word their errors as ``client.batches.create`` does, which builds
# its body from a request: the same mistake reads the same either way.


def _task_details(_: object, attribute: Attribute[Any], value: object) -> None:
    if not isinstance(value, TaskDetails):
        raise TypeError(f"{attribute.name} must be a TaskDetails, got {type(value).__name__}")


def _bool(_: object, attribute: Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be a bool, got {type(value).__name__}")


def _layout(value: Sequence[Page] | None) -> tuple[Page, ...] | None:
    """Check a ``batch_items`` layout and keep it as a tuple (the request is frozen)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(page, Page) for page in value):
        raise TypeError(f"batch_items must be a list of Page, got {value!r:.80}")
    if not value:
        raise ValueError("batch_items must hold at least one Page (None leaves it out)")
    where = first_bad_text(value, "batch_items")
    if where is not None:
        raise ValueError(f"{where} must be valid text: it holds a lone surrogate")
    return tuple(value)


@frozen
class CreateBatchRequest(Model):
    """One batch for :meth:`~prolific_async.resources.batches.BatchesResource.create_many`."""

    name: str = field(validator=_non_empty)
    """The new batch's name."""
    workspace_id: str = field(validator=_non_empty)
    """The workspace to create it in."""
    task_details: TaskDetails = field(validator=_task_details)
    """What participants are shown."""
    dataset_id: str | None = field(default=None, validator=_optional_non_empty)
    """A dataset to attach at creation, or ``None``."""
    batch_items: tuple[Page, ...] | None = field(default=None, kw_only=True, converter=_layout)
    """The configurable layout (a list or tuple of pages, at least one), or ``None``.

    It is not part of what reconciliation matches a listed batch by (see
    :func:`~prolific_async.bulk.fingerprint`).
    """
    auto_sync_enabled: bool | None = field(
        default=None, kw_only=True, validator=validators.optional(_bool)
    )
    """Turn new dataset datapoints into tasks automatically; ``None``: the server's default."""
    key: str | None = field(default=None, kw_only=True, validator=_optional_non_empty)
    """Your id for this item in the journal (unique in the manifest); default: its index."""


@frozen
class DuplicateBatchRequest(Model):
    """One copy for :meth:`~prolific_async.resources.batches.BatchesResource.duplicate_many`."""

    batch_id: str = field(validator=[_non_empty, _path_safe])
    """The batch to copy."""
    name: str | None = field(default=None, validator=_optional_non_empty)
    """The copy's name; ``None`` lets the server name it ``"<source name> (Copy)"``."""
    upload_new_dataset: bool = field(default=False, validator=_bool)
    """Leave the dataset behind instead of sharing the source's."""
    key: str | None = field(default=None, kw_only=True, validator=_optional_non_empty)
    """Your id for this item in the journal (unique in the manifest); default: its index."""


BulkRequest = CreateBatchRequest | DuplicateBatchRequest


@frozen(kw_only=True)
class BulkResult(Model):
    """What happened to one request of a bulk run."""

    index: int
    """The request's position in the input, from 0."""
    request: CreateBatchRequest | DuplicateBatchRequest
    """The request itself."""
    batch: Batch | None = None
    """The batch that exists for this request, or ``None`` if it failed."""
    error: ProlificError | None = None
    """Why it failed, or ``None``."""
    attempts: int = 0
    """How many POSTs this request cost in this run (429 retries included)."""
    unsent_attempts: int = 0
    """Of ``attempts``, how many provably never reached the server (no connection)."""
    reconciled: bool = False
    """True when the batch was found by listing the workspace rather than from a 201."""
    resumed: bool = False
    """True when the outcome was read from the journal; no request was sent for it."""
    request_id: str | None = None
    """The server's request id of the answer that made or decided it: the create's 201,
    the error answer it failed on, or the ambiguous answer (a 5xx) of the send whose
    batch a listing then found. ``None`` when no answer was read (a lost connection, a
    resumed item)."""

    @property
    def ok(self) -> bool:
        """Whether the batch exists."""
        return self.batch is not None

    @property
    def server_attempts(self) -> int:
        """Of ``attempts``, how many may have reached the server."""
        return self.attempts - self.unsent_attempts
