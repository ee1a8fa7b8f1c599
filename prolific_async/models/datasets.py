"""Task Builder datasets: the dataset, its schema (V4), upload URLs and import jobs.

A dataset created without a schema is a V3 dataset: one upload (``.csv`` or ``.zip``),
tracked by the dataset's own :class:`DatasetStatus`. A dataset created with a
:class:`DatasetSchema` is a V4 dataset: each upload (``.csv`` or ``.jsonl``) is an
:class:`ImportJob` with its own :class:`ImportStatus`; a V4 dataset's own status says
only ``UNINITIALISED`` in the create answer, and get answers leave it out.
"""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import Factory, field, frozen

from ._base import Model
from ._text import usable_id_field

__all__ = [
    "Dataset",
    "DatasetSchema",
    "DatasetStatus",
    "DatasetUpload",
    "ImportJob",
    "ImportRecordError",
    "ImportStatus",
    "SchemaField",
    "SchemaFieldType",
    "UploadURL",
]


class DatasetStatus(enum.StrEnum):
    """Where a V3 dataset is: ``UNINITIALISED`` → upload → ``PROCESSING`` → ``READY``/``ERROR``.

    A status this library does not know yet is kept as a plain ``str``.
    """

    UNINITIALISED = "UNINITIALISED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


class ImportStatus(enum.StrEnum):
    """Where one V4 upload is (lower case on the wire, unlike the other statuses).

    Still running: ``uninitialised`` (URL issued, nothing uploaded yet), ``queued``,
    ``processing``. Finished: ``complete`` (every record accepted), ``partial`` (some
    records rejected; the accepted ones are usable), ``failed`` (nothing ingested) and
    ``pending_schema`` (paused until the dataset has a schema). A status this library
    does not know yet is kept as a plain ``str``.
    """

    UNINITIALISED = "uninitialised"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    PENDING_SCHEMA = "pending_schema"


class SchemaFieldType(enum.StrEnum):
    """The type of one V4 schema field.

    ``text``, ``image_url``, ``audio_url`` and ``video_url`` can be shown to participants
    (``dataset_field`` layout items); ``metadata`` travels into exports only;
    ``task_group_id`` puts records with the same value in the same task group (at most one
    such field per schema).
    """

    TEXT = "text"
    IMAGE_URL = "image_url"
    AUDIO_URL = "audio_url"
    VIDEO_URL = "video_url"
    METADATA = "metadata"
    TASK_GROUP_ID = "task_group_id"


@frozen(kw_only=True)
class SchemaField(Model):
    """One named field of a V4 dataset schema."""

    type: SchemaFieldType | str
    """What the field holds; a type this library does not know is kept as ``str``."""
    label: str | None = None
    """A human-readable name shown to participants next to the value."""


@frozen(kw_only=True)
class DatasetSchema(Model):
    """The named, typed fields of a V4 dataset; creating a dataset with one makes it V4."""

    fields: dict[str, SchemaField]
    """The fields by name (at most 200; names of 1 to 128 characters)."""
    strict: bool | None = None
    """Reject records missing a field at import; ``None`` leaves the server's default."""


@frozen(kw_only=True)
class ImportRecordError(Model):
    """Why one record of a V4 upload was rejected."""

    reason: str
    """What was wrong with the record."""
    record_index: int | None = None
    """The record's 0-based position in the uploaded file."""
    field: str | None = None
    """The schema field at fault, when one is."""


@frozen(kw_only=True)
class ImportJob(Model):
    """One upload into a V4 dataset and how its processing went."""

    import_id: str = field(validator=usable_id_field)
    """The job's id, as returned with the upload URL."""
    status: ImportStatus | str
    """An :class:`ImportStatus`, or the raw string for one this library does not know."""
    dataset_id: str | None = None
    """The dataset the records go into."""
    filename: str | None = None
    """The name the upload URL was requested for."""
    created_at: datetime | None = None
    """When the upload URL was issued."""
    updated_at: datetime | None = None
    """When the job last changed."""
    accepted_count: int | None = None
    """How many records were accepted (set once finished)."""
    rejected_count: int | None = None
    """How many records were rejected (``partial``)."""
    duplicate_count: int | None = None
    """How many records duplicated ones already in the dataset."""
    errors: list[ImportRecordError] = Factory(list)
    """Why records were rejected (``partial``); empty otherwise."""
    reason: str | None = None
    """Why the job ``failed`` (or is ``pending_schema``)."""


@frozen(kw_only=True)
class Dataset(Model):
    """A Task Builder dataset (V3 without a schema, V4 with one)."""

    id: str
    """The dataset's id."""
    name: str
    """The dataset's name."""
    created_at: datetime
    """When the dataset was created (timezone-aware, UTC)."""
    created_by: str
    """The id of the Prolific user who created it."""
    workspace_id: str
    """The workspace the dataset belongs to."""
    total_datapoint_count: int
    """How many datapoints (records) the dataset holds."""
    schema_version: int | None = None
    """The dataset format version; absent (``None``) in some responses."""
    status: DatasetStatus | str | None = None
    """The V3 processing status. A V4 dataset has ``UNINITIALISED`` when just created and
    ``None`` when read with ``get`` (follow its :attr:`imports` instead)."""
    filename: str | None = None
    """The uploaded file's name (V3)."""
    has_predetermined_grouping_id: bool | None = None
    """Whether the V3 file carried its own task grouping column."""
    schema: DatasetSchema | None = None
    """The V4 schema; ``None`` for a V3 dataset."""
    imports: list[ImportJob] | None = None
    """The V4 dataset's upload jobs (in ``get`` responses only)."""


@frozen(kw_only=True)
class UploadURL(Model):
    """A presigned URL to upload one file to; it holds its own credentials and expires."""

    upload_url: str
    """Where to send the file; never send the Prolific token there."""
    http_method: str = "PUT"
    """The method to send the file with (``PUT`` in every documented case)."""
    expires_at: datetime | None = None
    """When the URL stops working."""
    dataset_id: str | None = None
    """The dataset the file goes into."""
    import_id: str | None = field(default=None, validator=usable_id_field)
    """The import job this upload starts (every V4 one; a V3 one where the server names
    one, as the official CLI expects); ``None``: a V3 upload followed by its status."""
    content_type: str | None = None
    """The ``Content-Type`` the URL was signed for (``text/csv``, ``application/x-ndjson``),
    when the server names one: storage refuses an upload with any other."""
    file_key: str | None = None
    """The storage key the file is written to."""


@frozen(kw_only=True)
class DatasetUpload(Model):
    """What :meth:`DatasetsResource.upload` did: a usable dataset, and any rejected records.

    Where the upload URL named an import job (every V4 upload; a V3 one where the
    server names one) ``status`` is its ``complete`` or ``partial`` and ``import_job``
    holds the details; a V3 upload without one ends ``READY``.
    """

    dataset_id: str
    """The dataset the file went into."""
    filename: str
    """The name the file was uploaded as."""
    status: DatasetStatus | ImportStatus | str
    """``complete``/``partial`` (the import job's), or ``READY`` (V3 without a job)."""
    import_job: ImportJob | None = None
    """The finished import job; ``None`` for a V3 upload without one."""

    @property
    def rejected_records(self) -> list[ImportRecordError]:
        """The records a ``partial`` V4 import rejected (empty otherwise)."""
        return list(self.import_job.errors) if self.import_job is not None else []

    @property
    def is_partial(self) -> bool:
        """Whether some records were rejected (the accepted ones are usable)."""
        return self.status == ImportStatus.PARTIAL
