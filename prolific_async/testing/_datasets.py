"""Datasets: V3 (status-tracked) and V4 (schema, import jobs), their uploads and processing.

A dataset without a ``schema`` is V3: an upload moves it ``PROCESSING``, then, after
``processing_delay``, ``READY`` with one datapoint per CSV data row (a ``.zip`` counts as
one) or ``ERROR`` for an empty or unparsable file; its upload URL names an import job
that follows it (``complete`` or ``failed``), as the official CLI requires, unless
``legacy_v3_uploads``. A dataset with a schema is V4: every upload URL creates an import
job, which an upload moves ``processing`` (``queued`` while an earlier import of the
dataset is still running), then ``complete``, ``partial`` or ``failed`` after the delay,
according to which records the schema accepts.
An upload URL answer names the ``content_type`` its URL is signed for (the storage
stand-in refuses any other) and the object's ``file_key``, as the official CLI reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from attrs import define, field

from ._dataset_files import field_schema, upload_content_type
from ._dataset_processing import UploadProcessing
from ._errors import APIError
from ._stamps import Stamps, iso_z
from ._storage import Storage
from ._timeline import Timeline, WorkflowConfig
from ._validation import field_str, parse_json_object

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["DATASETS_PATH", "DatasetService", "StoredDataset", "StoredImport"]

DATASETS_PATH: Final = "/api/v1/data-collection/datasets"
DATASET_STATUSES: Final = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")
#: The terminal import statuses that leave usable datapoints behind.
USABLE_IMPORTS: Final = frozenset({"complete", "partial"})
#: Import statuses a seeded V4 dataset gets for each dataset-level ``status``.
_SEEDED_IMPORT: Final = {"PROCESSING": "processing", "READY": "complete", "ERROR": "failed"}


@define(kw_only=True)
class StoredImport:
    """One import job: created by an upload-URL request, driven by the upload.

    A V3 dataset's job follows its dataset's processing (``complete`` when it is
    ``READY``, ``failed`` when ``ERROR``); only a V4 dataset renders its jobs.
    """

    import_id: str
    """The job's id."""
    dataset_id: str
    """The dataset it feeds."""
    filename: str
    """The filename the upload URL was requested for."""
    created_at: datetime
    """When the upload URL was issued."""
    updated_at: datetime | None = None
    """When the job last changed status (``None`` until the upload arrives)."""
    status: str = "uninitialised"
    """``uninitialised``, ``processing`` (rendered ``queued`` while waiting its turn),
    ``complete``, ``partial`` or ``failed``; set it to stage another."""
    accepted_count: int | None = None
    """Records accepted, once terminal."""
    rejected_count: int | None = None
    """Records rejected, once terminal."""
    errors: list[dict[str, Any]] = field(factory=list)
    """One ``{record_index, field, reason}`` per rejected record."""
    reason: str | None = None
    """Why a ``failed`` job ingested nothing."""


@define(kw_only=True)
class StoredDataset:
    """A dataset the emulator knows: created through the API or with ``add_dataset``."""

    id: str
    """The dataset's id."""
    name: str = "Dataset"
    """Its name."""
    workspace_id: str = "6278acb09062db3b35bcbeb0"
    """Its workspace (any string is accepted)."""
    created_at: datetime | None = None
    """When it was created (``None`` renders as the fake's current time)."""
    created_by: str = ""
    """The fake user's id."""
    total_datapoint_count: int = 0
    """Datapoints processed so far; a batch set up on it gets this many tasks."""
    filename: str | None = "dataset.csv"
    """V3: the uploaded file's name (``None`` before an upload)."""
    status: str = "READY"
    """V3: ``UNINITIALISED``, ``PROCESSING``, ``READY`` or ``ERROR`` (V4 derives it)."""
    schema: dict[str, Any] | None = None
    """V4: ``{"strict": bool, "fields": {name: {"type": ...}}}``; ``None`` for V3."""
    records: list[dict[str, Any]] = field(factory=list)
    """The processed datapoints (CSV rows or JSON objects), for reports and grouping."""
    imports: list[StoredImport] = field(factory=list)
    """The import jobs, oldest first (a V3 dataset's are never rendered in its answer)."""
    has_predetermined_grouping_id: bool = False
    """V3: rendered as is."""

    @property
    def schema_version(self) -> int:
        """4 for a dataset with a schema, 3 for a legacy one."""
        return 3 if self.schema is None else 4

    @property
    def batch_filename(self) -> str:
        """A batch's ``datasets[].filename``: a string, as the spec requires.

        The upload's name (V3, or the latest V4 import), else the dataset's name.
        """
        v4 = self.schema is not None
        latest = self.imports[-1].filename if self.imports and v4 else self.name
        return self.filename if self.filename is not None else latest

    @property
    def is_usable(self) -> bool:
        """Whether a batch can be set up on it: READY (V3) or an import done (V4)."""
        if self.schema is None:
            return self.status == "READY"
        return any(job.status in USABLE_IMPORTS for job in self.imports)

    @property
    def task_group_field(self) -> str | None:
        """The V4 schema field of type ``task_group_id``, if there is one."""
        fields = (self.schema or {}).get("fields", {})
        for name, definition in fields.items():
            if definition.get("type") == "task_group_id":
                return str(name)
        return None


# -- the service -----------------------------------------------------------------------


class DatasetService:
    """The stored datasets, their endpoints and the processing of uploads.

    Args:
        stamps: ids and creation times.
        timeline: schedules the end of processing.
        storage: issues the presigned upload URLs.
        config: ``processing_delay``.
    """

    def __init__(
        self, *, stamps: Stamps, timeline: Timeline, storage: Storage, config: WorkflowConfig
    ) -> None:
        self.stamps = stamps
        self.datasets: dict[str, StoredDataset] = {}
        """The stored datasets by id, created through the API or ``add_dataset``."""
        self.timeline = timeline
        self.storage = storage
        self.config = config
        self.processing: Final = UploadProcessing(stamps=stamps, timeline=timeline, config=config)
        """What an upload does: V3 processing, V4 imports one after another."""

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The dataset routes: ``(method, path, handler, stats name)``."""
        one = DATASETS_PATH + "/{dataset_id}"
        return [
            ("POST", DATASETS_PATH, self.create_dataset, "create_dataset"),
            ("GET", one, self.get_dataset, "get_dataset"),
            ("GET", one + "/status", self.get_dataset_status, "get_dataset_status"),
            ("GET", one + "/upload-url/{filename}", self.get_upload_url, "get_upload_url"),
            ("GET", one + "/imports/{import_id}", self.get_import, "get_dataset_import"),
        ]

    # -- operations ------------------------------------------------------------------

    def get(self, dataset_id: str) -> StoredDataset:
        """Return a dataset, or raise a 404."""
        dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise APIError(404, "Not found.")
        return dataset

    def create(self, body: dict[str, Any]) -> StoredDataset:
        """Validate a Create a Dataset body and store the new, UNINITIALISED dataset."""
        errors: dict[str, Any] = {}
        name = field_str(body, "name", errors, required=True)
        workspace_id = field_str(body, "workspace_id", errors, required=True)
        schema = field_schema(body, errors)
        if errors or name is None or workspace_id is None:
            raise APIError(400, errors)
        dataset = StoredDataset(
            id=self.stamps.new_id(),
            name=name,
            workspace_id=workspace_id,
            created_at=self.stamps.now(),
            created_by=self.stamps.user_id,
            filename=None,
            status="UNINITIALISED",
            schema=schema,
        )
        self.datasets[dataset.id] = dataset
        return dataset

    def seed(self, dataset: StoredDataset) -> StoredDataset:
        """Store a dataset staged by ``add_dataset``; a V4 one gets an import per status."""
        if dataset.schema is not None and dataset.status in _SEEDED_IMPORT:
            job = StoredImport(
                import_id=self.stamps.new_id(),
                dataset_id=dataset.id,
                filename=dataset.filename or "dataset.jsonl",
                created_at=self.stamps.now(),
                updated_at=self.stamps.now(),
                status=_SEEDED_IMPORT[dataset.status],
            )
            if job.status == "complete":
                job.accepted_count, job.rejected_count = dataset.total_datapoint_count, 0
            elif job.status == "failed":
                job.accepted_count, job.reason = 0, "Seeded as failed."
            dataset.imports.append(job)
        self.datasets[dataset.id] = dataset
        return dataset

    def status_of(self, dataset: StoredDataset) -> str:
        """The dataset status: stored for V3, derived from the imports for V4."""
        if dataset.schema is None:
            return dataset.status
        if dataset.is_usable:
            return "READY"
        running = any(job.status == "processing" for job in dataset.imports)
        return "PROCESSING" if running else "UNINITIALISED"

    def upload_url(self, dataset: StoredDataset, filename: str) -> dict[str, Any]:
        """Issue an upload URL with a new import job (not for V3 with ``legacy_v3_uploads``)."""
        content_type = upload_content_type(dataset.schema_version, filename)
        job: StoredImport | None = None
        if dataset.schema is not None or not self.config.legacy_v3_uploads:
            job = StoredImport(
                import_id=self.stamps.new_id(),
                dataset_id=dataset.id,
                filename=filename,
                created_at=self.stamps.now(),
            )
            dataset.imports.append(job)
        url, expires_at = self.storage.issue_upload(
            self.processing.receiver(dataset, job, filename), content_type=content_type
        )
        answer: dict[str, Any] = {"dataset_id": dataset.id}
        folder = f"datasets/{dataset.id}/"  # a V3 file's, with a job or without
        if job is not None:
            answer["import_id"] = job.import_id
            if dataset.schema is not None:
                folder += f"imports/{job.import_id}/"
        answer.update(upload_url=url, http_method="PUT", content_type=content_type)
        answer.update(expires_at=expires_at, file_key=folder + filename)
        return answer

    def get_import_job(self, dataset_id: str, import_id: str) -> StoredImport:
        """Return an import job of a dataset, or raise a 404."""
        for job in self.get(dataset_id).imports:
            if job.import_id == import_id:
                return job
        raise APIError(404, "Not found.")

    # -- rendering -------------------------------------------------------------------

    def render(self, dataset: StoredDataset, *, full: bool) -> dict[str, Any]:
        """Render a dataset: the create shape, or the get shape when ``full``.

        A V4 dataset has the ``status`` both specs require in the create answer only.
        """
        legacy = dataset.schema is None
        data: dict[str, Any] = {
            "id": dataset.id,
            "name": dataset.name,
            "created_at": iso_z(dataset.created_at or self.stamps.now()),
            "created_by": dataset.created_by or self.stamps.user_id,
        }
        if legacy or not full:
            data["status"] = self.status_of(dataset)
        data["total_datapoint_count"] = dataset.total_datapoint_count
        data["workspace_id"] = dataset.workspace_id
        if legacy and full:
            data["schema_version"] = dataset.schema_version
            data["filename"] = dataset.filename
            data["has_predetermined_grouping_id"] = dataset.has_predetermined_grouping_id
        elif not legacy:
            data["schema_version"] = dataset.schema_version
            data["schema"] = dataset.schema
            if full:
                data["imports"] = [self.render_import(job) for job in dataset.imports]
        return data

    def render_import(self, job: StoredImport) -> dict[str, Any]:
        """Render an import job; counts appear once it is terminal."""
        status = "queued" if self.processing.is_queued(job) else job.status
        data: dict[str, Any] = {
            "dataset_id": job.dataset_id,
            "import_id": job.import_id,
            "filename": job.filename,
            "created_at": iso_z(job.created_at),
            "updated_at": iso_z(job.updated_at) if job.updated_at else None,
            "status": status,
        }
        if job.accepted_count is not None:
            data["accepted_count"] = job.accepted_count
        if job.rejected_count is not None:
            data["rejected_count"] = job.rejected_count
            data["errors"] = job.errors
        if job.reason is not None:
            data["reason"] = job.reason
        return data

    # -- handlers --------------------------------------------------------------------

    async def create_dataset(self, request: web.Request) -> web.Response:
        """``POST /datasets``: 201 with the new dataset (V4 when a schema is given)."""
        dataset = self.create(parse_json_object(await request.read()))
        return web.json_response(self.render(dataset, full=False), status=201)

    async def get_dataset(self, request: web.Request) -> web.Response:
        """``GET /datasets/{id}``: 200 with the dataset (V4: its imports too)."""
        return web.json_response(self.render(self.get(request.match_info["dataset_id"]), full=True))

    async def get_dataset_status(self, request: web.Request) -> web.Response:
        """``GET /datasets/{id}/status``: 200 ``{"status": ...}``."""
        dataset = self.get(request.match_info["dataset_id"])
        return web.json_response({"status": self.status_of(dataset)})

    async def get_upload_url(self, request: web.Request) -> web.Response:
        """``GET /datasets/{id}/upload-url/{filename}``: 201 with a presigned PUT URL."""
        dataset = self.get(request.match_info["dataset_id"])
        return web.json_response(
            self.upload_url(dataset, request.match_info["filename"]), status=201
        )

    async def get_import(self, request: web.Request) -> web.Response:
        """``GET /datasets/{id}/imports/{import_id}``: 200 with the import job."""
        job = self.get_import_job(request.match_info["dataset_id"], request.match_info["import_id"])
        return web.json_response(self.render_import(job))
