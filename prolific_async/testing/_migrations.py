"""Updating a V4 dataset (``PATCH``) and the schema migration a new schema starts.

``PATCH /datasets/{id}`` takes a new ``name``, a new ``schema`` or both (the API
reference documents ``schema``; ``name`` is accepted too) and answers 200 with the dataset.
A V3 dataset answers 400, as does a change of the ``task_group_id`` field once the
dataset holds datapoints. Each new schema is a new schema version (the first V4 schema is
version 1); as a V4 dataset always has a schema here, each one starts a migration job,
whose id the answer carries as ``migration_job_id``. The job is ``processing`` for
``migration_delay`` seconds, then ``complete`` with ``reprocessed_count``, or ``partial``
when the new schema is ``strict`` and some datapoints lack one of its fields (their
``failed_count`` and one ``errors`` entry each). Set a job's ``status`` to stage another
outcome (``failed`` with a ``reason``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from attrs import define, field

from ._dataset_files import field_schema
from ._datasets import DATASETS_PATH, DatasetService, StoredDataset
from ._errors import APIError
from ._stamps import Stamps, iso_z
from ._timeline import Timeline, WorkflowConfig
from ._validation import REQUIRED, field_str, parse_json_object

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["MigrationService", "StoredMigration"]

V4_ONLY: Final = "Only V4 datasets (datasets with a schema) can be updated."
GROUPING_FIXED: Final = "The task_group_id field cannot be changed once the dataset has datapoints."


@define(kw_only=True)
class StoredMigration:
    """One schema migration job of a dataset."""

    job_id: str
    """The job's id."""
    dataset_id: str
    """The dataset it migrates."""
    schema_version: int
    """The schema version it re-normalises the datapoints to."""
    created_at: datetime
    """When the update started it."""
    updated_at: datetime | None = None
    """When it last changed status."""
    status: str = "processing"
    """``processing``, ``complete``, ``partial`` or ``failed``; set it to stage another."""
    reprocessed_count: int | None = None
    """Datapoints re-normalised, once ``complete`` or ``partial``."""
    failed_count: int | None = None
    """Datapoints with a field that could not be re-normalised (``partial``)."""
    errors: list[dict[str, Any]] = field(factory=list)
    """One ``{record_index, field, reason}`` per such datapoint (``partial``)."""
    reason: str | None = None
    """Why a ``failed`` job migrated nothing."""


class MigrationService:
    """Dataset updates and their schema migration jobs.

    Args:
        stamps: ids and times.
        datasets: the dataset service (its datasets and their rendering).
        timeline: schedules the end of each migration.
        config: ``migration_delay``.
    """

    def __init__(
        self,
        *,
        stamps: Stamps,
        datasets: DatasetService,
        timeline: Timeline,
        config: WorkflowConfig,
    ) -> None:
        self.stamps = stamps
        self.datasets = datasets
        self.timeline = timeline
        self.config = config
        self.jobs: dict[str, list[StoredMigration]] = {}
        """Each dataset's migration jobs, oldest first."""
        self._versions: dict[str, int] = {}

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The routes: ``(method, path, handler, stats name)``."""
        one = DATASETS_PATH + "/{dataset_id}"
        return [
            ("PATCH", one, self.update_dataset, "update_dataset"),
            (
                "GET",
                one + "/schema-migrations/{job_id}",
                self.get_migration,
                "get_schema_migration",
            ),
        ]

    def busy(self, dataset_id: str) -> bool:
        """Whether a migration of the dataset is still ``processing``."""
        return any(job.status == "processing" for job in self.jobs.get(dataset_id, []))

    # -- operations ------------------------------------------------------------------

    def update(self, dataset: StoredDataset, body: dict[str, Any]) -> StoredMigration | None:
        """Validate an update, apply it, and start a migration for a new schema."""
        errors: dict[str, Any] = {}
        name = field_str(body, "name", errors, required=False)
        schema = field_schema(body, errors)
        if not errors and "name" not in body and "schema" not in body:
            errors["schema"] = [REQUIRED]
        if errors:
            raise APIError(400, errors)
        if dataset.schema is None:
            raise APIError(400, V4_ONLY)
        if (
            schema is not None
            and dataset.records
            and _grouping(schema) != _grouping(dataset.schema)
        ):
            raise APIError(400, {"schema": [GROUPING_FIXED]})
        if name is not None:
            dataset.name = name
        if schema is None:
            return None
        dataset.schema = schema
        version = self._versions[dataset.id] = self._versions.get(dataset.id, 1) + 1
        job = StoredMigration(
            job_id=self.stamps.new_id(),
            dataset_id=dataset.id,
            schema_version=version,
            created_at=self.stamps.now(),
            updated_at=self.stamps.now(),
        )
        self.jobs.setdefault(dataset.id, []).append(job)

        def finish() -> None:
            if job.status == "processing":  # not restaged by a test
                self._finish(dataset, job)

        self.timeline.after(self.config.migration_delay, finish)
        return job

    def _finish(self, dataset: StoredDataset, job: StoredMigration) -> None:
        """End a migration: datapoints missing a strict schema's field are ``partial``."""
        schema = dataset.schema or {}
        required = list(schema.get("fields", {})) if schema.get("strict") else []
        job.errors = []
        for index, record in enumerate(dataset.records):
            missing = next((name for name in required if record.get(name) in (None, "")), None)
            if missing is not None:
                reason = "The field could not be re-normalised and was set to null."
                job.errors.append({"record_index": index, "field": missing, "reason": reason})
        job.failed_count = len(job.errors)
        job.reprocessed_count = dataset.total_datapoint_count
        job.status = "partial" if job.errors else "complete"
        job.updated_at = self.stamps.now()

    def get_job(self, dataset_id: str, job_id: str) -> StoredMigration:
        """Return a migration job of a dataset, or raise a 404."""
        for job in self.jobs.get(self.datasets.get(dataset_id).id, []):
            if job.job_id == job_id:
                return job
        raise APIError(404, "Not found.")

    def render(self, job: StoredMigration) -> dict[str, Any]:
        """Render a job; counts appear once it is terminal."""
        data: dict[str, Any] = {
            "dataset_id": job.dataset_id,
            "job_id": job.job_id,
            "schema_version": job.schema_version,
            "status": job.status,
            "created_at": iso_z(job.created_at),
            "updated_at": iso_z(job.updated_at) if job.updated_at else None,
        }
        if job.reprocessed_count is not None:
            data["reprocessed_count"] = job.reprocessed_count
        if job.status == "partial":
            data["failed_count"] = job.failed_count or 0
            data["errors"] = job.errors
        if job.reason is not None:
            data["reason"] = job.reason
        return data

    # -- handlers --------------------------------------------------------------------

    async def update_dataset(self, request: web.Request) -> web.Response:
        """``PATCH /datasets/{id}``: 200 with the dataset (and ``migration_job_id``)."""
        dataset = self.datasets.get(request.match_info["dataset_id"])  # 404 before 400
        job = self.update(dataset, parse_json_object(await request.read()))
        data = self.datasets.render(dataset, full=True)
        if job is not None:
            data["migration_job_id"] = job.job_id
        return web.json_response(data)

    async def get_migration(self, request: web.Request) -> web.Response:
        """``GET /datasets/{id}/schema-migrations/{job_id}``: 200 with the job."""
        job = self.get_job(request.match_info["dataset_id"], request.match_info["job_id"])
        return web.json_response(self.render(job))


def _grouping(schema: dict[str, Any]) -> str | None:
    """The schema's ``task_group_id`` field, if it has one."""
    for name, definition in schema.get("fields", {}).items():
        if definition.get("type") == "task_group_id":
            return str(name)
    return None
