"""The emulator's in-memory state: stored batches and datasets, validation, rendering.

Nothing here knows about HTTP. Operations take decoded JSON bodies, check them the way
the real API does (all field errors at once, Django REST framework wording) and raise
:class:`APIError` with the status and ``detail`` the routes turn into an error body.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from attrs import define, field

from ..models.batches import BatchStatus, TaskDetails

if TYPE_CHECKING:
    from ._datasets import StoredDataset

__all__ = [
    "APIError",
    "EmulatorState",
    "StoredBatch",
    "error_body",
    "status_phrase",
]

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status ("Bad Request"), or "Error" for an unlisted one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_code(status: int) -> int:
    """Return the ``error_code`` the emulator sends with a status.

    Prolific's internal codes are not published; the one documented example pairs 400
    with 140100, so 4xx statuses map to ``140100 + (status - 400)`` and 5xx statuses to
    ``140500 + (status - 500)``.
    """
    base, first = (140500, 500) if status >= 500 else (140100, 400)
    return base + status - first


def error_body(status: int, detail: Any) -> dict[str, Any]:
    """Build Prolific's nested error body: ``{"error": {status, error_code, title, detail}}``."""
    return {
        "error": {
            "status": status,
            "error_code": error_code(status),
            "title": status_phrase(status),
            "detail": detail,
        }
    }


class APIError(Exception):
    """An error answer: raised by the state and the routes, rendered by the server.

    Attributes:
        status: the HTTP status to answer with.
        detail: the ``detail`` of the error body (a string or ``{field: [messages]}``).
    """

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@define(kw_only=True)
class StoredBatch:
    """One batch as the emulator stores it; mutate it to stage a scenario.

    Every field of the API's Batch object is here. ``dataset_ids`` refers to
    :attr:`FakeProlific.datasets`, so a duplicate that shares its dataset shares the
    record (as the real API does).
    """

    id: str
    """The batch's id (a UUID4 string drawn from the seeded generator)."""
    created_at: datetime
    """When the batch was created, timezone-aware UTC, from the fake's clock."""
    created_by: str
    """The fake user's id (24 hex characters)."""
    name: str
    """The batch's name."""
    workspace_id: str
    """The workspace the batch belongs to (any string is accepted)."""
    task_details: TaskDetails
    """What participants are shown."""
    dataset_ids: list[str] = field(factory=list)
    """Ids of the attached datasets, in :attr:`FakeProlific.datasets`."""
    status: BatchStatus | str = BatchStatus.UNINITIALISED
    """The batch status; set it to stage a READY or ERROR batch."""
    total_task_count: int = 0
    """Rendered as ``total_task_count``."""
    total_instruction_count: int = 0
    """Rendered as ``total_instruction_count``."""
    schema_version: int = 1
    """Rendered by get, update and list only."""
    total_task_groups: int = 0
    """Rendered by get, update and list only."""
    tasks_per_group: int | None = None
    """Set by setup (default 1); not rendered, as the API's Batch object has no such field."""


def _field_str(
    body: dict[str, Any], key: str, errors: dict[str, Any], *, required: bool, blank: bool = False
) -> str | None:
    """Return ``body[key]`` if it is a valid string, else record why in ``errors``."""
    if key not in body:
        if required:
            errors[key] = [REQUIRED]
        return None
    value = body[key]
    if value is None:
        errors[key] = [NOT_NULL]
    elif not isinstance(value, str):
        errors[key] = [NOT_STRING]
    elif not blank and not value.strip():
        errors[key] = [NOT_BLANK]
    else:
        return value
    return None


def _field_task_details(
    body: dict[str, Any], errors: dict[str, Any], *, required: bool
) -> TaskDetails | None:
    if "task_details" not in body:
        if required:
            errors["task_details"] = [REQUIRED]
        return None
    value = body["task_details"]
    if value is None:
        errors["task_details"] = [NOT_NULL]
        return None
    if not isinstance(value, dict):
        kind = type(value).__name__
        errors["task_details"] = {
            "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]
        }
        return None
    nested: dict[str, Any] = {}
    task_name = _field_str(value, "task_name", nested, required=True)
    # The HTML fields may be empty; only their presence and type are checked.
    introduction = _field_str(value, "task_introduction", nested, required=True, blank=True)
    steps = _field_str(value, "task_steps", nested, required=True, blank=True)
    if nested or task_name is None or introduction is None or steps is None:
        errors["task_details"] = nested
        return None
    return TaskDetails(task_name=task_name, task_introduction=introduction, task_steps=steps)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body as a JSON object; an empty body is ``{}`` (as in DRF).

    Raises:
        APIError: 400 for a body that is not JSON or not an object.
    """
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise APIError(400, f"JSON parse error - {exc}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise APIError(
            400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    return data


class EmulatorState:
    """Batches and datasets in memory, and the operations the routes call.

    Args:
        rng: the seeded generator ids are drawn from.
        clock: returns the current time (aware; a naive value is taken as UTC).
        user_id: the ``created_by`` of every batch.
        fractional_seconds: keep microseconds in ``created_at`` instead of whole seconds.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        clock: Callable[[], datetime],
        user_id: str,
        fractional_seconds: bool,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.user_id = user_id
        self.fractional_seconds = fractional_seconds
        self.batches: dict[str, StoredBatch] = {}
        self.datasets: dict[str, StoredDataset] = {}

    def new_id(self) -> str:
        """Draw a UUID4 string from the seeded generator, so runs replay."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> datetime:
        """The clock's time in UTC, truncated to whole seconds unless configured not to."""
        value = self.clock()
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value if self.fractional_seconds else value.replace(microsecond=0)

    # -- operations ------------------------------------------------------------------

    def get(self, batch_id: str) -> StoredBatch:
        """Return a stored batch, or raise a 404."""
        batch = self.batches.get(batch_id)
        if batch is None:
            raise APIError(404, "Not found.")
        return batch

    def create(self, body: dict[str, Any]) -> StoredBatch:
        """Validate a Create a Batch body and store the new batch."""
        errors: dict[str, Any] = {}
        name = _field_str(body, "name", errors, required=True)
        workspace_id = _field_str(body, "workspace_id", errors, required=True)
        task_details = _field_task_details(body, errors, required=True)
        dataset_id = self._field_dataset(body, errors)
        if errors or name is None or workspace_id is None or task_details is None:
            raise APIError(400, errors)
        batch = StoredBatch(
            id=self.new_id(),
            created_at=self.now(),
            created_by=self.user_id,
            name=name,
            workspace_id=workspace_id,
            task_details=task_details,
            dataset_ids=[dataset_id] if dataset_id is not None else [],
        )
        self.batches[batch.id] = batch
        return batch

    def update(self, batch_id: str, body: dict[str, Any]) -> StoredBatch:
        """Validate an Update a Batch body and apply only the fields it gives."""
        batch = self.get(batch_id)
        errors: dict[str, Any] = {}
        name = _field_str(body, "name", errors, required=False)
        task_details = _field_task_details(body, errors, required=False)
        dataset_id = self._field_dataset(body, errors)
        if errors:
            raise APIError(400, errors)
        if name is not None:
            batch.name = name
        if task_details is not None:
            batch.task_details = task_details
        if dataset_id is not None:
            batch.dataset_ids = [dataset_id]
        return batch

    def duplicate(self, batch_id: str, body: dict[str, Any]) -> StoredBatch:
        """Copy a batch: ``"<name> (Copy)"`` by default, sharing its dataset unless asked.

        The copy is UNINITIALISED with a new id and creation time. Instruction counts are
        copied; task counts are copied when the dataset is shared and reset to 0 when
        ``upload_new_dataset`` leaves it behind (no data, no tasks).
        """
        original = self.get(batch_id)
        errors: dict[str, Any] = {}
        name = _field_str(body, "name", errors, required=False)
        fresh_dataset = body.get("upload_new_dataset", False)
        if not isinstance(fresh_dataset, bool):
            errors["upload_new_dataset"] = [NOT_BOOLEAN]
        if errors:
            raise APIError(400, errors)
        copy = StoredBatch(
            id=self.new_id(),
            created_at=self.now(),
            created_by=self.user_id,
            name=name if name is not None else f"{original.name} (Copy)",
            workspace_id=original.workspace_id,
            task_details=original.task_details,
            dataset_ids=[] if fresh_dataset else list(original.dataset_ids),
            total_instruction_count=original.total_instruction_count,
            total_task_count=0 if fresh_dataset else original.total_task_count,
            total_task_groups=0 if fresh_dataset else original.total_task_groups,
            schema_version=original.schema_version,
        )
        self.batches[copy.id] = copy
        return copy

    def list_batches(self, workspace_id: str | None) -> list[StoredBatch]:
        """Return a workspace's batches, oldest first (the order they were stored in)."""
        if workspace_id is None:
            raise APIError(400, {"workspace_id": [REQUIRED]})
        if not workspace_id.strip():
            raise APIError(400, {"workspace_id": [NOT_BLANK]})
        return [batch for batch in self.batches.values() if batch.workspace_id == workspace_id]

    def _field_dataset(self, body: dict[str, Any], errors: dict[str, Any]) -> str | None:
        # The real answer for an unknown dataset is undocumented; a 400 naming the field
        # tells a caller exactly what to fix (seed it with FakeProlific.add_dataset).
        dataset_id = _field_str(body, "dataset_id", errors, required=False)
        if dataset_id is not None and dataset_id not in self.datasets:
            errors["dataset_id"] = [f'Invalid pk "{dataset_id}" - object does not exist.']
            return None
        return dataset_id

    # -- rendering -------------------------------------------------------------------

    def render(self, batch: StoredBatch, *, full: bool) -> dict[str, Any]:
        """Render a batch as the API does, key order included.

        Args:
            batch: the stored batch.
            full: True for get, update and list. False for create and duplicate, whose
                responses leave out ``schema_version``, ``total_task_groups`` and the
                datasets' ``filename``.
        """
        datasets = []
        for dataset_id in batch.dataset_ids:
            dataset = self.datasets.get(dataset_id)
            if dataset is None:
                continue
            item: dict[str, Any] = {
                "id": dataset.id,
                "total_datapoint_count": dataset.total_datapoint_count,
            }
            if full:
                item["filename"] = dataset.filename
            datasets.append(item)
        data: dict[str, Any] = {
            "id": batch.id,
            "created_at": batch.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "created_by": batch.created_by,
            "datasets": datasets,
            "name": batch.name,
            "status": str(batch.status),
            "total_task_count": batch.total_task_count,
            "total_instruction_count": batch.total_instruction_count,
            "workspace_id": batch.workspace_id,
        }
        if full:
            data["schema_version"] = batch.schema_version
        data["task_details"] = {
            "task_name": batch.task_details.task_name,
            "task_introduction": batch.task_details.task_introduction,
            "task_steps": batch.task_details.task_steps,
        }
        if full:
            data["total_task_groups"] = batch.total_task_groups
        return data
