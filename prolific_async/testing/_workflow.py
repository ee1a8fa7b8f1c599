"""A batch's life after creation: setup and status, tasks, responses and the report.

Setup attaches the given dataset and moves the batch ``PROCESSING`` at once; after
``setup_delay`` it is ``READY`` with one task per datapoint and ``ceil(tasks /
tasks_per_group)`` task groups (or one group per distinct value of a V4 schema's
``task_group_id`` field), or ``ERROR`` when it has no dataset or its dataset is not usable
by then. Task and task-group ids are derived from the batch id, so they are stable and
need no storage. Responses are seeded by tests (:meth:`FakeProlific.add_response`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from ..models.batches import BatchStatus
from ._batches import BATCHES_PATH, BatchService, StoredBatch
from ._errors import APIError
from ._stamps import Stamps, iso_z
from ._storage import Storage
from ._timeline import Timeline, WorkflowConfig
from ._validation import NOT_NULL, field_str, parse_json_object

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from ._datasets import StoredDataset

__all__ = ["WorkflowService", "derived_id"]

NOT_INTEGER: Final = "A valid integer is required."
AT_LEAST_ONE: Final = "Ensure this value is greater than or equal to 1."
#: The columns the report adds to the dataset's own.
REPORT_COLUMNS: Final = (
    "task_id",
    "participant_id",
    "submission_id",
    "instruction_id",
    "response_type",
    "answer",
)


def derived_id(*parts: str) -> str:
    """A UUID4-shaped id derived from ``parts``: stable, and no draw from the seeded stream."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _cell(value: Any) -> str:
    """A CSV cell: strings as they are, ``None`` empty, anything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class WorkflowService:
    """Batch setup, status, tasks, task groups, responses and the report.

    Args:
        stamps: ids and creation times.
        batches: the batches set up here.
        datasets: the stored datasets by id, which setup attaches and counts.
        timeline: schedules the end of setup.
        storage: publishes the report CSV.
        config: ``setup_delay``.
    """

    def __init__(
        self,
        *,
        stamps: Stamps,
        batches: BatchService,
        datasets: Mapping[str, StoredDataset],
        timeline: Timeline,
        storage: Storage,
        config: WorkflowConfig,
    ) -> None:
        self.stamps = stamps
        self.batches = batches
        self.datasets = datasets
        self.timeline = timeline
        self.storage = storage
        self.config = config
        self.responses: dict[str, list[dict[str, Any]]] = {}
        # Bumped by each setup: only the latest one of a batch may finish it.
        self._setups: dict[str, int] = {}

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The workflow routes: ``(method, path, handler, stats name)``."""
        one = BATCHES_PATH + "/{batch_id}"
        return [
            ("GET", one + "/status", self.get_batch_status, "get_batch_status"),
            ("POST", one + "/setup", self.setup_batch, "setup_batch"),
            ("GET", one + "/tasks", self.list_tasks, "list_tasks"),
            ("GET", one + "/task-groups", self.list_task_groups, "list_task_groups"),
            ("GET", one + "/responses", self.list_responses, "list_responses"),
            # The one data-collection path with a trailing slash; without it: 404.
            ("GET", one + "/report/", self.get_report, "get_report"),
        ]

    # -- setup -----------------------------------------------------------------------

    def setup(self, batch_id: str, body: dict[str, Any]) -> None:
        """Validate a setup body, attach its dataset and start PROCESSING (restarts)."""
        batch = self.batches.get(batch_id)
        errors: dict[str, Any] = {}
        dataset_id = field_str(body, "dataset_id", errors, required=False)
        if dataset_id is not None and dataset_id not in self.datasets:
            errors["dataset_id"] = [f'Invalid pk "{dataset_id}" - object does not exist.']
        tasks_per_group = body.get("tasks_per_group")
        if "tasks_per_group" in body:
            if tasks_per_group is None:
                errors["tasks_per_group"] = [NOT_NULL]
            elif isinstance(tasks_per_group, bool) or not isinstance(tasks_per_group, int):
                errors["tasks_per_group"] = [NOT_INTEGER]
            elif tasks_per_group < 1:
                errors["tasks_per_group"] = [AT_LEAST_ONE]
        if errors:
            raise APIError(400, errors)
        if dataset_id is not None:
            batch.dataset_ids = [dataset_id]
        if isinstance(tasks_per_group, int):
            batch.tasks_per_group = tasks_per_group
        elif batch.tasks_per_group is None:
            batch.tasks_per_group = 1
        batch.status = BatchStatus.PROCESSING
        setup = self._setups[batch.id] = self._setups.get(batch.id, 0) + 1

        def finish() -> None:
            if self._setups.get(batch.id) == setup and batch.status == BatchStatus.PROCESSING:
                self._finish_setup(batch)

        self.timeline.after(self.config.setup_delay, finish)

    def _finish_setup(self, batch: StoredBatch) -> None:
        """End a setup: READY with its tasks and groups, or ERROR without a usable dataset."""
        datasets = [self.datasets.get(dataset_id) for dataset_id in batch.dataset_ids]
        usable = [dataset for dataset in datasets if dataset is not None and dataset.is_usable]
        if not datasets or len(usable) != len(datasets):
            batch.status = BatchStatus.ERROR
            return
        per_group = batch.tasks_per_group or 1
        batch.total_task_count = sum(dataset.total_datapoint_count for dataset in usable)
        batch.total_task_groups = sum(_group_count(dataset, per_group) for dataset in usable)
        batch.status = BatchStatus.READY

    def task_ids(self, batch: StoredBatch) -> list[str]:
        """The batch's task ids: one per task once READY, none before."""
        if batch.status != BatchStatus.READY:
            return []
        return [derived_id(batch.id, "task", str(n)) for n in range(batch.total_task_count)]

    def task_group_ids(self, batch: StoredBatch) -> list[str]:
        """The batch's task-group ids: one per task group once READY, none before."""
        if batch.status != BatchStatus.READY:
            return []
        return [derived_id(batch.id, "group", str(n)) for n in range(batch.total_task_groups)]

    # -- responses -------------------------------------------------------------------

    def add_response(self, batch_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Store a response for a batch: defaults for every field, ``fields`` on top.

        The default task is the batch's next task in turn (once READY); ``datetime``
        values are rendered as ISO-8601 ``Z`` strings.

        Raises:
            ValueError: an unknown batch.
        """
        batch = self.batches.batches.get(batch_id)
        if batch is None:
            raise ValueError(f"unknown batch id {batch_id!r}: add it with add_batch() first")
        stored = self.responses.setdefault(batch_id, [])
        tasks = self.task_ids(batch)
        response: dict[str, Any] = {
            "id": self.stamps.new_id(),
            "batch_id": batch_id,
            "participant_id": f"{self.stamps.rng.getrandbits(96):024x}",
            "task_id": tasks[len(stored) % len(tasks)] if tasks else self.stamps.new_id(),
            "correlation_id": self.stamps.new_id(),
            "submission_id": f"{self.stamps.rng.getrandbits(96):024x}",
            "metadata": {},
            "response": {
                "instruction_id": self.stamps.new_id(),
                "type": "free_text",
                "answer": [{"value": "An example answer."}],
            },
            "created_at": iso_z(self.stamps.now()),
            "schema_version": 1,
        }
        for key, value in fields.items():
            response[key] = iso_z(value) if isinstance(value, datetime) else value
        stored.append(response)
        return response

    # -- report ----------------------------------------------------------------------

    def report_csv(self, batch: StoredBatch) -> bytes:
        """The report: each datapoint with its responses' columns (one row per response).

        Datapoint *n* is task *n*; a datapoint without a response has one row with empty
        response columns; responses to unknown tasks come last, without dataset columns.
        """
        records = [
            record
            for dataset_id in batch.dataset_ids
            for record in getattr(self.datasets.get(dataset_id), "records", [])
        ]
        columns = list(dict.fromkeys(key for record in records for key in record))
        by_task: dict[str, list[dict[str, Any]]] = {}
        for response in self.responses.get(batch.id, []):
            by_task.setdefault(str(response.get("task_id")), []).append(response)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*columns, *REPORT_COLUMNS])
        tasks = self.task_ids(batch)
        for index, record in enumerate(records):
            task_id = tasks[index] if index < len(tasks) else ""
            data = [_cell(record.get(column)) for column in columns]
            for response in by_task.pop(task_id, None) or [{"task_id": task_id or None}]:
                writer.writerow([*data, *_response_cells(response)])
        for responses in by_task.values():
            for response in responses:
                writer.writerow([""] * len(columns) + _response_cells(response))
        return buffer.getvalue().encode()

    # -- handlers --------------------------------------------------------------------

    async def get_batch_status(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/status``: 200 ``{"status": ...}``."""
        batch = self.batches.get(request.match_info["batch_id"])
        return web.json_response({"status": str(batch.status)})

    async def setup_batch(self, request: web.Request) -> web.Response:
        """``POST /batches/{id}/setup``: 202 with an empty body."""
        batch_id = self.batches.get(request.match_info["batch_id"]).id  # 404 before 400
        self.setup(batch_id, parse_json_object(await request.read()))
        return web.Response(status=202)

    async def list_tasks(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/tasks``: 200 with a bare JSON array of task ids.

        A bare array, the official CLI's shape (``[]string``), not a ``{"results": ...}``
        envelope: the stricter ``results`` rule of the list calls does not apply, as
        there is no envelope whose missing key could read as an empty list.
        """
        return web.json_response(self.task_ids(self.batches.get(request.match_info["batch_id"])))

    async def list_task_groups(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/task-groups``: 200 with a bare JSON array of task-group ids.

        A bare array, as for tasks (the CLI's ``[]string``): the ``results`` rule does
        not apply.
        """
        batch = self.batches.get(request.match_info["batch_id"])
        return web.json_response(self.task_group_ids(batch))

    async def list_responses(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/responses``: 200 ``{"results": [...], "meta": {"count"}}``."""
        batch = self.batches.get(request.match_info["batch_id"])
        results = self.responses.get(batch.id, [])
        return web.json_response({"results": results, "meta": {"count": len(results)}})

    async def get_report(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/report/``: 200 with a presigned link to the report CSV."""
        batch = self.batches.get(request.match_info["batch_id"])
        url, expires_at, _ = self.storage.publish(
            "reports", ".csv", self.report_csv(batch), "text/csv"
        )
        return web.json_response({"url": url, "expires_at": expires_at, "http_method": "GET"})


def _group_count(dataset: StoredDataset, per_group: int) -> int:
    """Task groups for a dataset: by ``task_group_id`` values (V4), else by size."""
    grouping = dataset.task_group_field
    if grouping is not None and dataset.records:
        # A datapoint without a value is a group of its own.
        values = [record.get(grouping) for record in dataset.records]
        present = {json.dumps(value, sort_keys=True) for value in values if value not in (None, "")}
        return len(present) + sum(1 for value in values if value in (None, ""))
    return math.ceil(dataset.total_datapoint_count / per_group)


def _response_cells(response: Mapping[str, Any]) -> list[str]:
    """The report's response columns for one response (empty for "no response")."""
    inner = response.get("response")
    inner = inner if isinstance(inner, Mapping) else {}
    values = (
        response.get("task_id"),
        response.get("participant_id"),
        response.get("submission_id"),
        inner.get("instruction_id"),
        inner.get("type"),
        inner.get("answer"),
    )
    return [_cell(value) for value in values]
