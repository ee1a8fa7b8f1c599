"""Batches: the stored record, create, get, update, duplicate and list, and their routes.

Operations take decoded JSON bodies, check them the way the real API does (every field
error at once, in Django REST framework's wording; the readers are in
:mod:`._validation`, the layout's rules in :mod:`._layout`) and raise
:class:`~._errors.APIError` with the status and ``detail`` of the error answer. What
happens to a batch after it is created (setup, tasks, responses) is in :mod:`._workflow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from attrs import define, field

from .._sentinel import NOT_GIVEN
from ..models.batches import BatchStatus, TaskDetails
from ._errors import APIError
from ._layout import (
    assign_ids,
    check_layout,
    copy_layout,
    instruction_count,
    layout_ids,
    schema_fields,
)
from ._layout_issues import describe_issues, layout_error_body
from ._stamps import Stamps
from ._validation import (
    NOT_BLANK,
    NOT_BOOLEAN,
    REQUIRED,
    field_bool,
    field_layout,
    field_str,
    field_task_details,
    parse_json_object,
)

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from ._datasets import StoredDataset

__all__ = ["BATCHES_PATH", "BatchService", "StoredBatch"]

BATCHES_PATH: Final = "/api/v1/data-collection/batches"


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
    batch_items: list[dict[str, Any]] | None = None
    """The layout as served, every page, row, column and item with an ``id``; ``None``
    for a batch without one (see :mod:`._layout`)."""
    auto_sync_enabled: bool = False
    """Whether datapoints appended to the dataset become tasks automatically."""


class BatchService:
    """The stored batches, their operations and the batch endpoints.

    Args:
        stamps: ids and creation times.
        datasets: the stored datasets by id (the dataset service's), which batches
            attach and layouts are checked against.
    """

    def __init__(self, *, stamps: Stamps, datasets: Mapping[str, StoredDataset]) -> None:
        self.stamps = stamps
        self.datasets = datasets
        self.batches: dict[str, StoredBatch] = {}
        """The stored batches by id, in the order they were stored."""

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The batch routes: ``(method, path, handler, stats name)``."""
        one = BATCHES_PATH + "/{batch_id}"
        return [
            ("GET", BATCHES_PATH, self.list_batches, "list_batches"),
            # The official CLI lists with a trailing slash; the API accepts both.
            ("GET", BATCHES_PATH + "/", self.list_batches, "list_batches"),
            ("POST", BATCHES_PATH, self.create_batch, "create_batch"),
            ("GET", one, self.get_batch, "get_batch"),
            ("PATCH", one, self.update_batch, "update_batch"),
            ("POST", one + "/duplicate", self.duplicate_batch, "duplicate_batch"),
        ]

    # -- operations ------------------------------------------------------------------

    def get(self, batch_id: str) -> StoredBatch:
        """Return a stored batch, or raise a 404."""
        batch = self.batches.get(batch_id)
        if batch is None:
            raise APIError(404, "Not found.")
        return batch

    def create(self, body: dict[str, Any]) -> StoredBatch:
        """Validate a Create a Batch body and store the new batch.

        Field errors answer 400; then a ``batch_items`` layout failing validation, 422.
        """
        errors: dict[str, Any] = {}
        name = field_str(body, "name", errors, required=True)
        workspace_id = field_str(body, "workspace_id", errors, required=True)
        task_details = field_task_details(body, errors, required=True)
        dataset_id = self._field_dataset(body, errors)
        layout = field_layout(body, errors, nullable=False)
        auto_sync = field_bool(body, "auto_sync_enabled", errors)
        if errors or name is None or workspace_id is None or task_details is None:
            raise APIError(400, errors)
        if layout is not NOT_GIVEN:
            self.check_layout(layout, [dataset_id] if dataset_id is not None else [], None)
        batch = StoredBatch(
            id=self.stamps.new_id(),
            created_at=self.stamps.now(),
            created_by=self.stamps.user_id,
            name=name,
            workspace_id=workspace_id,
            task_details=task_details,
            dataset_ids=[dataset_id] if dataset_id is not None else [],
            auto_sync_enabled=bool(auto_sync),
        )
        if layout is not NOT_GIVEN:
            self.set_layout(batch, layout)
        self.batches[batch.id] = batch
        return batch

    def check_seeded_layout(self, layout: list[Any] | None, dataset_ids: list[str]) -> None:
        """Check a layout given to ``add_batch`` as a create's is.

        Raises:
            ValueError: the API would refuse it (the message lists each problem's location).
        """
        if layout is None:
            return
        issues = check_layout(
            layout, fields=schema_fields(self._schemas(dataset_ids)), known_ids=None
        )
        if issues:
            raise ValueError(f"invalid batch_items: {describe_issues(issues)}")

    def seed(self, batch: StoredBatch, layout: list[Any] | None) -> StoredBatch:
        """Store a batch staged by ``add_batch`` with its checked layout."""
        if layout is not None:
            self.set_layout(batch, layout)
        self.batches[batch.id] = batch
        return batch

    def update(self, batch_id: str, body: dict[str, Any]) -> StoredBatch:
        """Validate an Update a Batch body and apply only the fields it gives, or none.

        A ``batch_items`` list replaces the whole layout (422 if it fails validation,
        ids included); ``batch_items: null`` removes it and its instructions.
        """
        batch = self.get(batch_id)
        errors: dict[str, Any] = {}
        name = field_str(body, "name", errors, required=False)
        task_details = field_task_details(body, errors, required=False)
        dataset_id = self._field_dataset(body, errors)
        layout = field_layout(body, errors, nullable=True)
        auto_sync = field_bool(body, "auto_sync_enabled", errors)
        if errors:
            raise APIError(400, errors)
        if layout is not NOT_GIVEN and layout is not None:
            datasets = [dataset_id] if dataset_id is not None else batch.dataset_ids
            self.check_layout(layout, datasets, layout_ids(batch.batch_items))
        if layout is not NOT_GIVEN:
            self.set_layout(batch, layout)
        if auto_sync is not None:
            batch.auto_sync_enabled = auto_sync
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
        name = field_str(body, "name", errors, required=False)
        fresh_dataset = body.get("upload_new_dataset", False)
        if not isinstance(fresh_dataset, bool):
            errors["upload_new_dataset"] = [NOT_BOOLEAN]
        if errors:
            raise APIError(400, errors)
        copy = StoredBatch(
            id=self.stamps.new_id(),
            created_at=self.stamps.now(),
            created_by=self.stamps.user_id,
            name=name if name is not None else f"{original.name} (Copy)",
            workspace_id=original.workspace_id,
            task_details=original.task_details,
            dataset_ids=[] if fresh_dataset else list(original.dataset_ids),
            total_instruction_count=original.total_instruction_count,
            total_task_count=0 if fresh_dataset else original.total_task_count,
            total_task_groups=0 if fresh_dataset else original.total_task_groups,
            schema_version=original.schema_version,
            auto_sync_enabled=original.auto_sync_enabled,
        )
        if original.batch_items is not None:
            copy.batch_items = copy_layout(original.batch_items, self.stamps.new_id)
        self.batches[copy.id] = copy
        return copy

    def in_workspace(self, workspace_id: str | None) -> list[StoredBatch]:
        """Return a workspace's batches, oldest first (the order they were stored in)."""
        if workspace_id is None:
            raise APIError(400, {"workspace_id": [REQUIRED]})
        if not workspace_id.strip():
            raise APIError(400, {"workspace_id": [NOT_BLANK]})
        return [batch for batch in self.batches.values() if batch.workspace_id == workspace_id]

    def check_layout(
        self, layout: list[Any], dataset_ids: list[str], known_ids: dict[str, set[str]] | None
    ) -> None:
        """Raise the 422 listing every problem of a layout (flat issues), if it has any.

        Args:
            layout: the ``batch_items`` list of a request.
            dataset_ids: the datasets its ``dataset_field`` items are checked against.
            known_ids: on update, the current layout's ids per level; ``None`` on create.
        """
        fields = schema_fields(self._schemas(dataset_ids))
        issues = check_layout(layout, fields=fields, known_ids=known_ids)
        if issues:
            body = layout_error_body(layout, issues)
            raise APIError(422, body["issues"], body=body)

    def set_layout(self, batch: StoredBatch, layout: list[Any] | None) -> None:
        """Store a checked layout (ids assigned) and its instruction count; ``None`` clears."""
        batch.batch_items = None if layout is None else assign_ids(layout, self.stamps.new_id)
        batch.total_instruction_count = instruction_count(batch.batch_items or [])

    def _schemas(self, dataset_ids: list[str]) -> list[dict[str, Any] | None]:
        """The V4 schema (``None`` for V3 or unknown) of each dataset."""
        return [getattr(self.datasets.get(key), "schema", None) for key in dataset_ids]

    def _field_dataset(self, body: dict[str, Any], errors: dict[str, Any]) -> str | None:
        # The real answer for an unknown dataset is undocumented; a 400 naming the field
        # tells a caller exactly what to fix (seed it with FakeProlific.add_dataset).
        dataset_id = field_str(body, "dataset_id", errors, required=False)
        if dataset_id is not None and dataset_id not in self.datasets:
            errors["dataset_id"] = [f'Invalid pk "{dataset_id}" - object does not exist.']
            return None
        return dataset_id

    # -- rendering -------------------------------------------------------------------

    def render(
        self, batch: StoredBatch, *, full: bool, layout_keys: bool = False
    ) -> dict[str, Any]:
        """Render a batch as the API does, key order included.

        Args:
            batch: the stored batch.
            full: True for get, update and list. False for create and duplicate, whose
                responses leave out ``schema_version``, ``total_task_groups`` and the
                datasets' ``filename``.
            layout_keys: add ``batch_items`` and ``auto_sync_enabled`` to a create or
                duplicate answer (``full`` answers always have them).
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
                item["filename"] = dataset.batch_filename
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
        if full or layout_keys:
            data["batch_items"] = batch.batch_items
            data["auto_sync_enabled"] = batch.auto_sync_enabled
        return data

    # -- handlers --------------------------------------------------------------------

    async def list_batches(self, request: web.Request) -> web.Response:
        """``GET /batches?workspace_id=``: 200 ``{"results": [...], "meta": {"count"}}``."""
        batches = self.in_workspace(request.query.get("workspace_id"))
        results = [self.render(batch, full=True) for batch in batches]
        return web.json_response({"results": results, "meta": {"count": len(results)}})

    async def create_batch(self, request: web.Request) -> web.Response:
        """``POST /batches``: 201 with the new batch (create-response shape)."""
        body = parse_json_object(await request.read())
        batch = self.create(body)
        # The docs' create schema predates the layout: its keys come back when given.
        given = body.get("batch_items") is not None or "auto_sync_enabled" in body
        return web.json_response(self.render(batch, full=False, layout_keys=given), status=201)

    async def get_batch(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}``: 200 with the full batch."""
        batch = self.get(request.match_info["batch_id"])
        return web.json_response(self.render(batch, full=True))

    async def update_batch(self, request: web.Request) -> web.Response:
        """``PATCH /batches/{id}``: 200 with the full batch after the update."""
        batch_id = self.get(request.match_info["batch_id"]).id  # 404 before 400
        batch = self.update(batch_id, parse_json_object(await request.read()))
        return web.json_response(self.render(batch, full=True))

    async def duplicate_batch(self, request: web.Request) -> web.Response:
        """``POST /batches/{id}/duplicate``: 201 with the copy (create-response shape)."""
        batch_id = self.get(request.match_info["batch_id"]).id  # 404 before 400
        batch = self.duplicate(batch_id, parse_json_object(await request.read()))
        layout_keys = batch.batch_items is not None or batch.auto_sync_enabled
        return web.json_response(
            self.render(batch, full=False, layout_keys=layout_keys), status=201
        )
